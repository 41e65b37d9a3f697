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
@click.option("--timezone", metavar="ZONE", help="Show times in this IANA zone (default: the data set's, else UTC).")
@click.option("--source-timezone", metavar="ZONE",
              help="IANA zone of data-set times written without an offset (as given to detect).")
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
