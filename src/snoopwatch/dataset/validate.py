"""`validate`: every problem in a data set, plus a summary of what it holds and which features it allows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from snoopwatch.dataset.capabilities import feature_groups_allowed
from snoopwatch.dataset.load import load_dataset
from snoopwatch.dataset.model import Dataset, Problem
from snoopwatch.dataset.save import write_rejects
from snoopwatch.errors import DatasetError


@dataclass(frozen=True)
class ValidationReport:
    """What `validate` found. `ok` is False when any problem is an error."""

    path: str
    tables: dict[str, int]  # table -> rows (after lenient loading)
    rejected: dict[str, int]  # table -> rows set aside
    time_span: tuple[pd.Timestamp, pd.Timestamp] | None
    users: int
    subjects_seen: int
    features: dict[str, str | None]  # group -> None if allowed, else why dropped
    problems: tuple[Problem, ...]
    rejects_written: dict[str, str] = field(default_factory=dict)  # table -> rejects file, when asked for

    @property
    def ok(self) -> bool:
        return not any(p.level == "error" for p in self.problems)


def summarize(dataset: Dataset) -> ValidationReport:
    events = dataset.events
    span = None
    if events is not None and len(events) and events["timestamp"].notna().any():
        span = (events["timestamp"].min(), events["timestamp"].max())
    return ValidationReport(
        path=str(dataset.path),
        tables={name: len(frame) for name, frame in dataset.tables.items()},
        rejected={name: len(frame) for name, frame in dataset.rejects.items()},
        time_span=span,
        users=int(events["user_id"].nunique()) if events is not None else 0,
        subjects_seen=int(events["subject_id"].nunique()) if events is not None and "subject_id" in events else 0,
        features=feature_groups_allowed(dataset.present_columns(), dataset.tables_not_used()),
        problems=tuple(dataset.problems),
    )


def validate_dataset(directory: str | Path, *, source_timezone: str | None = None,
                     rejects_dir: str | Path | None = None) -> ValidationReport:
    """Load leniently so that every problem is found at once, then summarise; with `rejects_dir`, write the
    rows that were set aside there as NAME.rejects.csv."""
    try:
        dataset = load_dataset(directory, strict=False, source_timezone=source_timezone)
    except DatasetError as error:
        if not error.problems and "no events table" not in str(error):
            raise
        return ValidationReport(str(directory), {}, {}, None, 0, 0, {}, tuple(error.problems) + (
            Problem("error", Path(directory).name, None, str(error).splitlines()[0].split(": ", 1)[-1], "see the problems above"),))
    report = summarize(dataset)
    if rejects_dir is not None and dataset.rejects:
        written = write_rejects(dataset.rejects, rejects_dir)
        report = replace(report, rejects_written={name: str(path) for name, path in written.items()})
    return report
