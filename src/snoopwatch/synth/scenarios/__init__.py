"""The misuse scenario catalogue: one TOML data file per scenario (S1.toml .. S13.toml) in this package.

This folder is the single source of truth: it ships inside the installed package (pyproject ships
`**/*.toml` as package data) and `synthetic/scenarios/README.md` in a source checkout points here. Each
file holds the scenario's story, the real case it mirrors, its parameters (read by the generator), a
narrative template for the answer key and what a detector can see.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from snoopwatch.errors import ScenarioError

REQUIRED_KEYS = ("id", "name", "mirrors", "story", "shape", "detector_sees", "narrative", "roles", "parameters")


@dataclass(frozen=True)
class Scenario:
    """One catalogue entry, as written in its data file."""

    id: str
    name: str
    mirrors: str
    story: str
    shape: str
    detector_sees: tuple[str, ...]
    narrative: str
    roles: tuple[str, ...]
    parameters: dict = field(default_factory=dict)
    long_horizon: bool = False
    source: str = ""

    def param(self, name: str):
        """A parameter from the data file; a missing one is a broken catalogue, not a user error."""
        if name not in self.parameters:
            raise ScenarioError(f"scenario {self.id} has no parameter {name!r} in {self.source}; add it to the data file")
        return self.parameters[name]


def _number(scenario_id: str) -> int:
    return int(scenario_id[1:]) if scenario_id[1:].isdigit() else 10**6


@lru_cache(maxsize=1)
def load_catalogue() -> list[Scenario]:
    """Every scenario data file of the package, in catalogue order (S1, S2, ... S13)."""
    folder = resources.files(__name__)
    out: list[Scenario] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".toml"):
            continue
        try:
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ScenarioError(f"scenario file {entry.name} is not valid TOML ({error}); fix the file") from error
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise ScenarioError(f"scenario file {entry.name} lacks {', '.join(missing)}; add them")
        out.append(Scenario(
            id=data["id"], name=data["name"], mirrors=data["mirrors"].strip(), story=data["story"].strip(),
            shape=data["shape"].strip(), detector_sees=tuple(data["detector_sees"]), narrative=data["narrative"].strip(),
            roles=tuple(data["roles"]), parameters=dict(data["parameters"]), long_horizon=bool(data.get("long_horizon", False)),
            source=entry.name,
        ))
    out.sort(key=lambda s: _number(s.id))
    return out


def scenario_ids() -> tuple[str, ...]:
    return tuple(s.id for s in load_catalogue())


def get_scenario(scenario_id: str) -> Scenario:
    """One scenario by id (case-insensitive)."""
    wanted = scenario_id.strip().upper()
    for scenario in load_catalogue():
        if scenario.id == wanted:
            return scenario
    raise ScenarioError(f"unknown scenario {scenario_id!r}; choose from {', '.join(scenario_ids())}")


__all__ = ["Scenario", "get_scenario", "load_catalogue", "scenario_ids"]
