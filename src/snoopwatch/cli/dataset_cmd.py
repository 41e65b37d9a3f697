"""`snoopwatch validate`: check a data set against the format before anything else reads it."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from snoopwatch.console import stdout_console
from snoopwatch.dataset import validate_dataset


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--timezone", "source_timezone", metavar="ZONE",
              help="IANA zone of times written without an offset (e.g. Europe/London). Without it such times are errors.")
@click.option("--rejects", "rejects_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Write the rows that could not be used to DIR/TABLE.rejects.csv, each with its reason.")
def validate(dataset: Path, source_timezone: str | None, rejects_dir: Path | None) -> None:
    """Check DATASET (a data-set directory) and list every problem with what to do about it.

    Prints the tables and row counts, the time span, how many users, and which detector features the
    present tables allow. Exits 1 when there is any error, 0 otherwise (warnings do not fail).
    """
    report = validate_dataset(dataset, source_timezone=source_timezone, rejects_dir=rejects_dir)
    console = stdout_console()
    console.print(f"[bold]{report.path}[/bold]")
    if report.tables:
        table = Table("table", "rows", "set aside", title=None, box=None)
        for name, rows in report.tables.items():
            table.add_row(name, f"{rows:,}", f"{report.rejected.get(name, 0):,}")
        console.print(table)
    if report.time_span:
        start, end = report.time_span
        console.print(f"time span: {start:%Y-%m-%d %H:%M}Z to {end:%Y-%m-%d %H:%M}Z; "
                      f"{report.users:,} users; {report.subjects_seen:,} subjects looked up")
    if report.features:
        allowed = [g for g, why in report.features.items() if why is None]
        dropped = {g: why for g, why in report.features.items() if why is not None}
        console.print(f"features available ({len(allowed)}): {', '.join(allowed) or 'none'}")
        for group, why in dropped.items():
            console.print(f"  dropped {group}: {why}")
    errors = [p for p in report.problems if p.level == "error"]
    for problem in report.problems:
        console.print(f"[{'red' if problem.level == 'error' else 'yellow'}]{problem}[/]", markup=True, highlight=False)
    for name, path in report.rejects_written.items():
        console.print(f"{report.rejected[name]:,} {name} row(s) set aside, with reasons, in {path}")
    console.print(f"{len(errors)} error(s), {len(report.problems) - len(errors)} warning(s)")
    sys.exit(1 if errors else 0)
