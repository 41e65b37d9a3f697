"""The synthetic police force generator.

    >>> from snoopwatch.synth import SynthConfig, generate, write_world
    >>> world = generate(SynthConfig(staff=150, days=120, seed=7))
    >>> write_world(world, "out/force")
"""

from snoopwatch.synth.generator import (
    SynthConfig,
    SynthConfigError,
    World,
    generate,
    generate_dataset,
    write_world,
)

__all__ = ["SynthConfig", "SynthConfigError", "World", "generate", "generate_dataset", "write_world"]
