"""The `snoopwatch` command: a thin layer that parses, calls one library function and renders.

Commands live in their own modules and are imported only when used, so `snoopwatch --help` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from snoopwatch import __version__
from snoopwatch.errors import SnoopwatchError

# command name -> (module, attribute). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("snoopwatch.cli.report_cmd", "demo"),
    "generate": ("snoopwatch.cli.generate_cmd", "generate"),
    "scenarios": ("snoopwatch.cli.generate_cmd", "scenarios"),
    "validate": ("snoopwatch.cli.dataset_cmd", "validate"),
    "train": ("snoopwatch.cli.detect_cmd", "train"),
    "detect": ("snoopwatch.cli.detect_cmd", "detect"),
    "report": ("snoopwatch.cli.report_cmd", "report"),
    "evaluate": ("snoopwatch.cli.evaluate_cmd", "evaluate"),
    "convert": ("snoopwatch.cli.convert_cmd", "convert"),
    "replay": ("snoopwatch.cli.convert_cmd", "replay"),
}


def _available(name: str) -> bool:
    module = COMMANDS[name][0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module, attr = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SnoopwatchError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(error.exit_code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="snoopwatch")
def cli() -> None:
    """Find people who search personal-data systems for no legitimate reason.

    \b
    Typical day for a professional-standards team:
      snoopwatch validate LOGS/            check an exported log before use
      snoopwatch train LOGS/ --until 2025-06-01
      snoopwatch detect LOGS/ --model models/snoopwatch.skops --since 2025-06-01 --html report.html

    \b
    For trainers and researchers:
      snoopwatch demo                      generate a small force, detect, write a report
      snoopwatch generate OUT/ --staff 500 --days 365 --seed 7
      snoopwatch scenarios show S9         the story behind one planted misuse case
      snoopwatch evaluate OUT/ --since 2025-09-01
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="snoopwatch")
