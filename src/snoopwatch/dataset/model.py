"""The in-memory data set: one object holding every table that was present, typed, plus what was wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from snoopwatch.dataset.io import table_name
from snoopwatch.dataset.schema import ANSWER_KEY_TABLES, TABLES


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a data set, precise enough for a security team to fix it.

    `rows` are the first few 1-based data rows (row 1 is the first row after a CSV header), `count` how
    many rows in all; both are empty for file-level problems.
    """

    level: str  # "error" or "warning"
    file: str
    column: str | None
    message: str
    hint: str
    rows: tuple[int, ...] = ()
    count: int = 0

    def __str__(self) -> str:
        where = self.file + (f", column {self.column}" if self.column else "")
        if self.count:
            shown = ", ".join(str(r) for r in self.rows)
            more = f" and {self.count - len(self.rows)} more" if self.count > len(self.rows) else ""
            where += f", row{'s' if self.count > 1 else ''} {shown}{more}"
        return f"{self.level}: {where}: {self.message}. {self.hint}"


@dataclass
class Dataset:
    """A loaded data set. Tables are pandas DataFrames with UTC timestamps and typed columns.

    Missing optional tables are None. `problems` lists everything found on loading; `rejects` holds the
    rows that lenient loading set aside (table name -> rows with a `reject_reason` and `source_row`).
    """

    tables: dict[str, pd.DataFrame]
    manifest: dict = field(default_factory=dict)
    path: Path | None = None
    problems: list[Problem] = field(default_factory=list)
    rejects: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame | None:
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}")
        return self.tables.get(name)

    def has(self, name: str, column: str | None = None) -> bool:
        """True when the table is present (and, if given, has the column with at least one value)."""
        frame = self.tables.get(name)
        if frame is None:
            return False
        if column is None:
            return True
        return column in frame.columns and bool(frame[column].notna().any())

    def tables_not_used(self) -> dict[str, str]:
        """Table -> why the data set's file of it gave nothing to use (a required column missing, no rows,
        every row set aside), so that what is dropped for want of it can say why."""
        why: dict[str, str] = {}
        for problem in self.problems:  # (file-level problems have no rows)
            name = table_name(Path(problem.file))
            if not problem.count and name and name not in self.tables:  # (an empty file is only a warning)
                column = f", column {problem.column}" if problem.column else ""
                why.setdefault(name, f"{problem.file}{column}: {problem.message}")
        for name, frame in self.tables.items():
            if not len(frame):
                rejected = self.rejects.get(name)
                if rejected is not None and len(rejected):
                    reason = rejected["reject_reason"].value_counts().index[0]
                    why[name] = f"every one of its {len(rejected):,} rows was set aside ({reason})"
                else:
                    why[name] = "it has no rows"
        return why

    def present_columns(self) -> dict[str, set[str]]:
        """Table -> columns that hold at least one value."""
        return {
            name: {c for c in frame.columns if frame[c].notna().any()}
            for name, frame in self.tables.items()
        }

    def without_answer_key(self) -> Dataset:
        """A copy that train and detect may see: labels and instances removed."""
        tables = {k: v for k, v in self.tables.items() if k not in ANSWER_KEY_TABLES}
        return Dataset(tables, dict(self.manifest), self.path, list(self.problems), dict(self.rejects), dict(self.files))

    @property
    def staff_count(self) -> int:
        """Members of staff: distinct users in the staff table, or in the events when there is none (the
        denominator of every analyst budget)."""
        if self.staff is not None and len(self.staff):
            return int(self.staff["user_id"].nunique())
        return int(self.events["user_id"].nunique()) if self.events is not None else 0

    @property
    def has_labels(self) -> bool:
        return "labels" in self.tables

    # Convenience accessors, one per table of the format.
    events = property(lambda self: self.tables.get("events"))
    staff = property(lambda self: self.tables.get("staff"))
    subjects = property(lambda self: self.tables.get("subjects"))
    cases = property(lambda self: self.tables.get("cases"))
    case_subjects = property(lambda self: self.tables.get("case_subjects"))
    case_staff = property(lambda self: self.tables.get("case_staff"))
    rosters = property(lambda self: self.tables.get("rosters"))
    associations = property(lambda self: self.tables.get("associations"))
    labels = property(lambda self: self.tables.get("labels"))
    instances = property(lambda self: self.tables.get("instances"))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]
