"""The demo behind `snoopwatch demo`: a synthetic force, trained on, scored, and reported on, in one call.

On the committed sample force (synthetic/sample/) by default, or on a freshly generated small force when
any of staff/days/seed is given. The model learns the first part of the period and detection scores the
rest (`detect_fraction`), as a security team would train on history and score the new days. The report
is in trainer mode whenever the force has an answer key, so the demo shows what was caught and missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from snoopwatch.atomic import write_text_atomic
from snoopwatch.errors import SnoopwatchError

ProgressFn = Callable[[str, int, int], None]

DEFAULT_STAFF = 120
DEFAULT_DAYS = 90
DEFAULT_SEED = 7
DETECT_FRACTION = 1 / 3
# The generated force works UK local time (rosters, demand), so the demo shows times as its staff lived them.
DEMO_TIMEZONE = "Europe/London"
DEMO_CARDS = 12  # cards drawn in the demo's report (each costs about 0.3 s of charts); the table lists all
SAMPLE_RELATIVE = Path("synthetic") / "sample"


@dataclass
class DemoResult:
    """Where everything went, what was found, and how long each step took (seconds)."""

    out_dir: Path
    dataset: Path
    generated: bool
    model: Path
    scores: Path
    alerts_file: Path
    ecs_file: Path
    report: Path
    since: pd.Timestamp
    events: int
    scored: int
    alerts: list = field(default_factory=list)
    staff: pd.DataFrame | None = None
    reveal: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())


def sample_dataset_path() -> Path | None:
    """The committed sample force: beside the source tree (editable install or checkout), else None."""
    import snoopwatch

    package = Path(snoopwatch.__file__).resolve().parent
    for root in (package.parent.parent, package.parent, Path.cwd()):
        candidate = root / SAMPLE_RELATIVE
        if (candidate / "manifest.json").is_file():
            return candidate
    return None


@contextmanager
def _step(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - started, 2)


def run_demo(out_dir: str | Path = "demo-out", *, staff: int | None = None, days: int | None = None,
             seed: int | None = None, progress: ProgressFn | None = None,
             detect_fraction: float = DETECT_FRACTION) -> DemoResult:
    """Generate (or take the sample force), train, detect and write the report into `out_dir`."""
    from snoopwatch.dataset import load_dataset
    from snoopwatch.detect import detect, save_model, train
    from snoopwatch.detect.io import write_alerts, write_scores
    from snoopwatch.report.ecs import alerts_to_ecs_lines
    from snoopwatch.report.html import write_html_report

    if not 0.0 < detect_fraction < 1.0:
        raise SnoopwatchError(f"detect_fraction must be between 0 and 1 (got {detect_fraction})")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SnoopwatchError(f"{out} is a file; give a directory for the demo's output")
    timings: dict[str, float] = {}
    sample = None if (staff, days, seed) != (None, None, None) else sample_dataset_path()
    generated = sample is None
    if generated:
        from snoopwatch.synth import generate_dataset

        with _step(timings, "generate"):
            data_dir = generate_dataset(out / "data", staff=staff or DEFAULT_STAFF, days=days or DEFAULT_DAYS,
                                        seed=DEFAULT_SEED if seed is None else seed, progress=progress)
    else:
        data_dir = sample
    with _step(timings, "load"):
        dataset = load_dataset(data_dir)
    events = dataset.events
    first, last = events["timestamp"].min(), events["timestamp"].max()
    since = (last - (last - first) * detect_fraction).floor("D")
    with _step(timings, "train"):
        model = train(dataset.without_answer_key(), until=since, seed=DEFAULT_SEED if seed is None else seed,
                      progress=progress)
        model_path = save_model(model, out / "model.skops")
    with _step(timings, "detect"):
        result = detect(dataset.without_answer_key(), model, since=since, progress=progress)
        scores_path = out / "scores.parquet"
        alerts_path = out / "alerts.jsonl"
        write_scores(result.scores, scores_path)
        write_alerts(result.alerts, alerts_path)
        ecs_path = out / "alerts.ecs.jsonl"
        write_text_atomic(ecs_path, alerts_to_ecs_lines(result.alerts))
    with _step(timings, "report"):
        report_path = write_html_report(dataset, result.scores, result.alerts, out / "report.html",
                                        reveal=dataset.has_labels, max_people=DEMO_CARDS,
                                        timezone=str(dataset.manifest.get("timezone") or DEMO_TIMEZONE),
                                        progress=progress)
    return DemoResult(
        out_dir=out, dataset=Path(data_dir), generated=generated, model=Path(model_path or out / "model.skops"),
        scores=scores_path, alerts_file=alerts_path, ecs_file=ecs_path, report=report_path, since=since,
        events=len(events), scored=len(result.scores), alerts=list(result.alerts), staff=dataset.staff,
        reveal=dataset.has_labels, timings=timings)
