"""`snoopwatch train` and `snoopwatch detect`: parse, call the library once, render."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import pandas as pd

from snoopwatch.console import progress, stderr_console, stdout_console
from snoopwatch.dataset import load_dataset
from snoopwatch.errors import DatasetError

DEFAULT_MODEL = Path("models") / "snoopwatch.skops"


def _progress_callback(bar):
    tasks: dict[str, int] = {}

    def report(description: str, done: int, total: int) -> None:
        head = description.split(":")[0]
        if head not in tasks:
            tasks[head] = bar.add_task(head, total=total)
        bar.update(tasks[head], completed=done, total=total, description=description)

    return report


source_timezone_option = click.option(
    "--timezone", "source_timezone", metavar="ZONE",
    help="IANA zone of times written without an offset (e.g. Europe/London); without it such times are errors.")


def _set_aside_note(data, dataset: Path, skip: tuple[str, ...] = ()) -> str | None:
    """'N row(s) could not be read ... (table n, ...)' for the rows loading set aside, or None."""
    counts = {name: len(frame) for name, frame in data.rejects.items() if name not in skip and len(frame)}
    if not counts:
        return None
    tables = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    return (f"{sum(counts.values()):,} row(s) could not be read and were left out ({tables}); "
            f"`snoopwatch validate {dataset} --rejects DIR` lists them with reasons")


def _load(path: Path, source_timezone: str | None = None):
    """Lenient load without the answer key: bad rows are set aside (and written out), never dropped silently."""
    return load_dataset(path, strict=False, answer_key=False, source_timezone=source_timezone)


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--until", metavar="DATE", help="Train on events before DATE (YYYY-MM-DD or ISO 8601); default all.")
@click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_MODEL, show_default=True,
              help="Where to write the model file.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same data and seed, same model).")
@source_timezone_option
def train(dataset: Path, until: str | None, model_path: Path, seed: int, source_timezone: str | None) -> None:
    """Learn what normal access looks like in DATASET and write a model file.

    Prints the rows used, the features used and dropped (with why), and the time taken.
    """
    from snoopwatch.detect import save_model
    from snoopwatch.detect import train as train_model

    started = time.perf_counter()
    data = _load(dataset, source_timezone)
    with progress() as bar:
        model = train_model(data, until=until, seed=seed, progress=_progress_callback(bar))
    save_model(model, model_path)
    out = stdout_console()
    env = model.envelope
    start, end = env["training_window"]
    out.print(f"trained on {env['rows']:,} events from {env['users']:,} users, {start[:16]} to {end[:16]} UTC")
    out.print(f"features used ({len(model.features)}): {', '.join(model.features)}")
    for name, why in env.get("dropped", {}).items():
        out.print(f"  dropped {name}: {why}")
    note = _set_aside_note(data, dataset)
    if note:
        out.print(note)
    out.print(f"model: {model_path} ({model.file_hash[:19]}...) in {time.perf_counter() - started:.1f} s")


def _write_rejects(frame: pd.DataFrame, path: Path) -> Path:
    from snoopwatch.atomic import atomic_path
    from snoopwatch.csvsafe import neutralise_csv_frame
    with atomic_path(path) as tmp:
        neutralise_csv_frame(frame).to_csv(tmp, index=False)
    return path


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Model file from `snoopwatch train`.")
@click.option("--since", metavar="DATE", help="Score events at or after DATE; earlier events are history only.")
@click.option("--scores", "scores_path", type=click.Path(path_type=Path), help="Write every scored event (.csv, .csv.gz or .parquet).")
@click.option("--alerts", "alerts_path", type=click.Path(path_type=Path), help="Write alerts as JSON lines.")
@click.option("--budget", type=float, default=10.0, show_default=True, help="Alerts per day per 1,000 staff.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "ecs"]), default="table", show_default=True,
              help="What to print: ranked people (table), alerts as JSON lines (json), alerts as CSV, or ECS lines for a SIEM.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Also write an HTML report.")
@click.option("--allowlist", type=click.Path(path_type=Path), help="TOML or CSV allow-list of known legitimate patterns.")
@click.option("--rejects", "rejects_path", type=click.Path(path_type=Path),
              help="Where to write rows that could not be scored (default: beside --scores, else ./snoopwatch-rejects.csv).")
@source_timezone_option
def detect(dataset: Path, model_path: Path, since: str | None, scores_path: Path | None, alerts_path: Path | None,
           budget: float, fmt: str, html_path: Path | None, allowlist: Path | None, rejects_path: Path | None,
           source_timezone: str | None) -> None:
    """Score DATASET with a trained model and list the people to look at, with reasons.

    Events before --since are history (context for the features) and are not scored; every event at or
    after it is scored and written to --scores.
    """
    from snoopwatch.csvsafe import neutralise_csv_frame
    from snoopwatch.detect import detect as run_detect
    from snoopwatch.detect import load_model
    from snoopwatch.detect.io import write_alerts, write_scores

    if scores_path is not None and not str(scores_path).lower().endswith((".csv", ".csv.gz", ".parquet")):
        raise DatasetError(f"{scores_path}: scores are written as .csv, .csv.gz or .parquet")
    model = load_model(model_path)
    data = _load(dataset, source_timezone)
    with progress() as bar:
        result = run_detect(data, model, since=since, budget=budget, allowlist=allowlist,
                            progress=_progress_callback(bar))
    err = stderr_console()
    if scores_path is not None:
        write_scores(result.scores, scores_path)
    if alerts_path is not None:
        write_alerts(result.alerts, alerts_path)
    if len(result.rejects):
        target = rejects_path or (scores_path.with_name(scores_path.name.split(".")[0] + ".rejects.csv") if scores_path
                                  else Path("snoopwatch-rejects.csv"))
        _write_rejects(result.rejects, target)
        err.print(f"{len(result.rejects):,} event row(s) could not be scored; written with reasons to {target}")
    note = _set_aside_note(data, dataset, skip=("events",))  # context rows: the features lacked them
    if note:
        err.print(f"context: {note}")
    for note in result.notes:
        err.print(f"note: {note}")
    for row in result.suppressed.itertuples(index=False):
        err.print(f"allow-list {row.entry} ({row.why}): {row.events:,} event(s) and {row.alerts:,} alert(s) suppressed")
    if html_path is not None:
        from snoopwatch.report.html import write_html_report
        write_html_report(data, result.scores, result.alerts, html_path)

    out = stdout_console()
    if fmt == "json":
        for alert in result.alerts:
            sys.stdout.write(json.dumps(alert.to_dict(), ensure_ascii=False) + "\n")
    elif fmt == "ecs":
        from snoopwatch.report.ecs import alerts_to_ecs_lines
        sys.stdout.write(alerts_to_ecs_lines(result.alerts))
    elif fmt == "csv":
        rows = pd.DataFrame([{
            "alert_id": a.alert_id, "user_id": a.user_id, "window": a.window, "window_start": a.window_start,
            "window_end": a.window_end, "risk": a.risk, "severity": a.severity, "events": len(a.event_ids),
            "reasons": ";".join(r.code for r in a.reasons), "summary": a.summary} for a in result.alerts],
            columns=["alert_id", "user_id", "window", "window_start", "window_end", "risk", "severity", "events",
                     "reasons", "summary"])
        sys.stdout.write(neutralise_csv_frame(rows).to_csv(index=False))
    else:
        from snoopwatch.report.terminal import render_people_table
        render_people_table(result.alerts, out, staff=data.staff, limit=25)
        out.print(f"{len(result.scores):,} events scored over {result.days} day(s); {len(result.alerts)} alert(s) "
                  f"(budget {result.budget_per_day} a day for {result.staff:,} staff)")
    if html_path is not None:
        err.print(f"HTML report: {html_path}")
