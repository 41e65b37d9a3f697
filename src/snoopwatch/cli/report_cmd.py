"""`snoopwatch report` (the HTML report from detection's files) and `snoopwatch demo` (the whole flow)."""

from __future__ import annotations

from pathlib import Path

import click

from snoopwatch.console import stdout_console


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--scores", "scores_file", required=True, type=click.Path(path_type=Path), metavar="FILE",
              help="Scores file written by `snoopwatch detect` (CSV or Parquet).")
@click.option("--alerts", "alerts_file", required=True, type=click.Path(path_type=Path), metavar="FILE",
              help="Alerts file (JSON lines) written by `snoopwatch detect`.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("report.html"), show_default=True,
              help="Where to write the HTML report.")
@click.option("--reveal", is_flag=True,
              help="Trainer mode: show the answer key (planted cases caught or missed, false alarms). "
                   "Needs a data set with labels.")
@click.option("--max-people", type=click.IntRange(min=1), default=25, show_default=True,
              help="Draw a card for this many of the highest-risk people (the table lists all).")
@click.option("--display-timezone", "timezone", metavar="ZONE",
              help="Show times in this IANA zone (default: the data set's, else UTC).")
@click.option("--timezone", "source_timezone", metavar="ZONE",
              help="IANA zone of data-set times written without an offset, as given to validate, train and detect.")
def report(dataset: Path, scores_file: Path, alerts_file: Path, out: Path, reveal: bool, max_people: int,
           timezone: str | None, source_timezone: str | None) -> None:
    """Write a self-contained HTML report for investigators from DATASET and detection's output.

    One file with no network requests: an overview, then one card per alerted person with the reasons,
    who the subjects are to them, a timeline against their duty periods, and charts.
    """
    from snoopwatch.report.html import report_from_files

    path, alerts = report_from_files(dataset, scores_file, alerts_file, out, reveal=reveal, max_people=max_people,
                                     timezone=timezone, source_timezone=source_timezone)
    people = len({a["user_id"] for a in alerts})
    stdout_console().print(f"Report on {people} {'person' if people == 1 else 'people'} "
                           f"({len(alerts)} alert{'' if len(alerts) == 1 else 's'}) written to {path}",
                           highlight=False, markup=False)


@click.command()
@click.option("--staff", type=click.IntRange(min=40), help="Generate a fresh force of this many staff (default 120) instead of using the committed sample.")
@click.option("--days", type=click.IntRange(min=14), help="Days of activity for a fresh force (default 90).")
@click.option("--seed", type=int, help="Seed for a fresh force (default 7; same seed, same force).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("demo-out"), show_default=True,
              help="Directory for the model, scores, alerts and report.")
@click.option("--limit", type=click.IntRange(min=1), default=15, show_default=True, help="People shown in the table.")
def demo(staff: int | None, days: int | None, seed: int | None, out_dir: Path, limit: int) -> None:
    """Generate a force (or take the sample), train, detect and write the report, in one go.

    Ends with the ranked table of people to look at and the path of the HTML report (in trainer mode:
    the force's planted cases are revealed beside the detections).
    """
    from snoopwatch.console import progress, stderr_console
    from snoopwatch.report.demo import run_demo
    from snoopwatch.report.terminal import render_people_table

    with progress() as bar:
        # One bar per stage: a stage ends when the total changes or the count starts again; the
        # description follows the library's latest words ("features: history", ...).
        stage: dict = {"task": None, "total": None, "done": -1}

        def report_progress(description: str, done: int, total: int) -> None:
            total = max(total, 1)
            if stage["task"] is None or total != stage["total"] or done < stage["done"]:
                if stage["task"] is not None:
                    bar.update(stage["task"], completed=stage["total"])
                stage["task"] = bar.add_task(description, total=total)
            stage.update(total=total, done=done)
            bar.update(stage["task"], description=description, completed=done)

        result = run_demo(out_dir, staff=staff, days=days, seed=seed, progress=report_progress)
    notes = stderr_console()
    source = f"generated force in {result.dataset}" if result.generated else f"sample force {result.dataset}"
    notes.print(f"{source}: {result.events:,} events; trained before {result.since:%Y-%m-%d}, scored "
                f"{result.scored:,} events since; " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()),
                highlight=False, markup=False)
    console = stdout_console()
    render_people_table(result.alerts, console, staff=result.staff, limit=limit)
    kind = "trainer-mode report (answers revealed)" if result.reveal else "report"
    console.print(f"\nHTML {kind}: {result.report}", highlight=False, markup=False)
    console.print(f"Alerts for a SIEM (ECS JSON lines): {result.ecs_file}", highlight=False, markup=False)
