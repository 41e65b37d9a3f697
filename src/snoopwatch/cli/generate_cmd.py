"""`snoopwatch generate` (a synthetic force with planted misuse) and `snoopwatch scenarios` (the catalogue)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from snoopwatch.console import progress, stdout_console


@click.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--staff", type=int, default=300, show_default=True, help="Members of staff (at least 40).")
@click.option("--days", type=int, default=180, show_default=True, help="Length of the audit window in days.")
@click.option("--start", default="2025-01-06", show_default=True, help="First day of the window (YYYY-MM-DD; it starts at 00:00 UTC).")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed: the same seed gives the same files.")
@click.option("--scenarios", "scenario_list", default="all", show_default=True,
              help="Misuse scenarios to plant: 'all' or ids such as S2,S9 (see `snoopwatch scenarios`).")
@click.option("--insiders", type=int, default=None,
              help="Misuse episodes to plant, cycling through the scenarios (default: one per scenario; 0 = none).")
@click.option("--stealth", type=float, default=0.5, show_default=True,
              help="0..1: how often misusers type plausible reasons and real case references and stay on shift.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--force", is_flag=True, help="Write into OUT_DIR even when it is not empty.")
def generate(out_dir: Path, staff: int, days: int, start: str, seed: int, scenario_list: str, insiders: int | None,
             stealth: float, fmt: str, force: bool) -> None:
    """Generate a synthetic police force with planted misuse cases into OUT_DIR (a data-set directory)."""
    from snoopwatch.synth import generate_dataset

    with progress() as bar:
        task = bar.add_task("generating", total=8)

        def report(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=total)

        path = generate_dataset(out_dir, fmt=fmt, progress=report, force=force, staff=staff, days=days, start=start,
                                seed=seed, scenarios=scenario_list, insiders=insiders, stealth=stealth)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    console = stdout_console()
    from rich.table import Table

    rows = Table(title="tables written", show_edge=False)
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, count in manifest["rows"].items():
        rows.add_row(name, f"{count:,}")
    console.print(rows)
    cases = Table(title="planted misuse cases", show_edge=False)
    cases.add_column("scenario")
    cases.add_column("cases", justify="right")
    planted = manifest.get("misuse_instances", {})
    for scenario in sorted(planted, key=lambda sid: int(sid[1:]) if sid[1:].isdigit() else 10**6):
        cases.add_row(scenario, str(planted[scenario]))
    for scenario, count in manifest.get("misuse_not_planted", {}).items():
        cases.add_row(scenario, f"{count} not planted (no suitable insider or case in this force and window)")
    console.print(cases)
    first, last = manifest["time_range"]
    console.print(f"{manifest['rows']['events']:,} events ({manifest['events_per_staff_day']} per staff-day) "
                  f"from {first} to {last}; {manifest['misuse_events']:,} misuse events labelled.")
    console.print(f"Data set written to {path}")


@click.group(invoke_without_command=True)
@click.pass_context
def scenarios(ctx: click.Context) -> None:
    """The misuse scenario catalogue (S1..S13): `snoopwatch scenarios` lists it, `show ID` tells one story."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from snoopwatch.synth.scenarios import load_catalogue

    table = Table(title="misuse scenarios", show_lines=False)
    table.add_column("id", no_wrap=True)
    table.add_column("scenario")
    table.add_column("mirrors")
    table.add_column("shape")
    for s in load_catalogue():
        table.add_row(s.id, s.name, s.mirrors, s.shape)
    stdout_console().print(table)


@scenarios.command("show")
@click.argument("scenario_id")
def show(scenario_id: str) -> None:
    """The story, the real case it mirrors, its parameters and what a detector can see."""
    from snoopwatch.synth.scenarios import get_scenario

    s = get_scenario(scenario_id)
    console = stdout_console()
    console.print(f"[bold]{s.id}: {s.name}[/bold]")
    console.print(f"\n[bold]Mirrors[/bold]  {s.mirrors}")
    console.print(f"\n[bold]Story[/bold]\n{' '.join(s.story.split())}")
    console.print(f"\n[bold]Shape[/bold]  {s.shape}")
    console.print("\n[bold]What a detector can see[/bold]")
    for item in s.detector_sees:
        console.print(f"  - {item}")
    console.print("\n[bold]Parameters[/bold] (from the scenario data file " + s.source + ")")
    for key, value in s.parameters.items():
        console.print(f"  {key} = {value}")
    console.print(f"  eligible roles = {', '.join(s.roles)}")
    if s.long_horizon:
        console.print("\nLong-horizon: in a window shorter than its span, the span and the number of look-ups are "
                      "compressed to fit, and the case's narrative says so.")
    console.print(f"\n[bold]Narrative template[/bold]\n{s.narrative}")
