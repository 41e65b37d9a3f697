"""What every converter shares: the per-line accounting, the rejects file, and turning raw event rows into a
data-set directory through the data-set reader (so converted logs obey exactly the same typing, validation
and rejects rules as any other data set).

Accounting rule: every input record (a log entry, which may span several physical lines) ends in exactly one
of three places: `converted` (it became, or was merged into, an event), `skipped` (not relevant, counted by
kind) or `rejected` (relevant but unusable; written with its reason to the rejects file).
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from snoopwatch.atomic import atomic_path
from snoopwatch.csvsafe import neutralise_csv_value
from snoopwatch.dataset import load_dataset, save_dataset, write_table
from snoopwatch.dataset.io import table_name
from snoopwatch.dataset.schema import ANSWER_KEY_TABLES, CONTEXT_TABLES, TABLES
from snoopwatch.errors import ConversionError

EVENT_COLUMNS = TABLES["events"].columns
# Extra column kept on converted events: where in the log the event came from ("file:line").
SOURCE_COLUMN = "source"
REJECTS_DIR = "rejects"
LOG_REJECTS_FILE = "log-lines.rejects.csv"
# Optional key of a raw event row: how many input records it was made from (default 1).
RECORDS_KEY = "_records"


@dataclass
class Reject:
    """One input record that could not be converted, with the reason a person can act on."""

    source: str
    line: int
    reason: str
    text: str


@dataclass
class ConversionReport:
    """How every input record was accounted for, plus where the output went."""

    kind: str
    files: list[str] = field(default_factory=list)
    records: int = 0
    physical_lines: int = 0
    converted: int = 0
    skipped: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)  # things worth knowing that did not stop a record
    events: int = 0
    events_set_aside: int = 0
    out: Path | None = None
    rejects_file: Path | None = None

    def skip(self, kind: str, n: int = 1) -> None:
        self.skipped[kind] += n

    def reject(self, source: str, line: int, reason: str, text: str) -> None:
        self.rejected[reason] += 1
        self.rejects.append(Reject(source, line, reason, text))

    @property
    def accounted(self) -> int:
        return self.converted + sum(self.skipped.values()) + sum(self.rejected.values())

    def check_accounting(self) -> None:
        """Every record must be in exactly one bucket; a mismatch is a converter bug, not a user error."""
        if self.accounted != self.records:
            raise AssertionError(f"{self.kind}: {self.records} records read but {self.accounted} accounted for")

    def summary_lines(self) -> list[str]:
        """The plain-text summary the CLI prints."""
        lines = [
            f"{self.kind}: {len(self.files)} file(s), {self.records:,} record(s) read "
            f"({self.physical_lines:,} physical lines)",
            f"  converted: {self.converted:,} record(s) -> {self.events:,} event(s)",
        ]
        skipped_total = sum(self.skipped.values())
        lines.append(f"  skipped as not relevant: {skipped_total:,}")
        for kind, n in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    {n:,} {kind}")
        lines.append(f"  rejected: {sum(self.rejected.values()):,}" + (
            f" (log records in {self.rejects_file})" if self.rejects_file else ""))
        for reason, n in sorted(self.rejected.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    {n:,} {reason}")
        for note, n in sorted(self.notes.items()):
            lines.append(f"  note: {n:,} {note}")
        if self.events_set_aside:
            lines.append(f"  events set aside by data-set validation: {self.events_set_aside:,} "
                         f"(in {REJECTS_DIR}/events.rejects.csv)")
        if self.out is not None:
            lines.append(f"  written: {self.out}")
        return lines

    def as_manifest(self) -> dict:
        return {
            "kind": self.kind,
            "files": self.files,
            "records": self.records,
            "physical_lines": self.physical_lines,
            "converted": self.converted,
            "skipped": dict(self.skipped),
            "rejected": dict(self.rejected),
            "events": self.events,
            "events_set_aside": self.events_set_aside,
        }


def write_log_rejects(rejects: list[Reject], path: Path) -> Path:
    """Write rejected records (source, line, reason, text) as CSV, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["source", "line", "reason", "text"])
        for r in rejects:
            writer.writerow([r.source, r.line, r.reason, neutralise_csv_value(r.text)])
    return path


def zone(name: str | None) -> ZoneInfo | None:
    """An IANA zone, or a ConversionError that says what to write."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConversionError(f"unknown time zone {name!r}: use an IANA name such as Europe/London") from error


def iso_utc(moment: dt.datetime) -> str:
    """An aware datetime as ISO 8601 UTC text with Z (microseconds only when present)."""
    moment = moment.astimezone(dt.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def localise(naive: dt.datetime, tz: ZoneInfo, abbreviation: str | None = None) -> dt.datetime:
    """A wall-clock time in `tz`; in the repeated hour the zone abbreviation (BST/GMT) picks the reading."""
    first = naive.replace(tzinfo=tz, fold=0)
    if abbreviation:
        second = naive.replace(tzinfo=tz, fold=1)
        if second.tzname() == abbreviation and first.tzname() != abbreviation:
            return second
    return first


def _refuse_stale_tables(out: Path, writing: set[str]) -> None:
    """Refuse to convert into a folder holding tables this conversion does not write (labels or staff of an
    earlier run, or another data set): they would be read with the new events as one data set."""
    if out.exists() and not out.is_dir():
        raise ConversionError(f"{out} is a file; give a folder for the data set")
    if not out.is_dir():
        return
    stale = sorted(path.name for path in out.iterdir() if table_name(path) not in (None, *writing))
    if stale:
        raise ConversionError(f"{out} already holds {', '.join(stale)}, which this conversion does not write and which "
                              "would be read with the new events; remove them or convert into an empty folder")


def finish(
    rows: list[dict],
    report: ConversionReport,
    out: str | Path,
    *,
    fmt: str = "parquet",
    context: str | Path | None = None,
    answer_key: bool = True,
    source_timezone: str | None = None,
) -> ConversionReport:
    """Turn raw event rows (text values) into a data set at `out` via the data-set reader's lenient load.

    Rows the reader cannot use (bad timestamp, empty user) are set aside in `out/rejects/events.rejects.csv`
    with its reasons; rejected log records go to `out/rejects/log-lines.rejects.csv`. `context`: a data set
    whose context tables (staff, subjects, cases, ...) and, with answer_key, labels/instances are copied.
    """
    out = Path(out)
    report.check_accounting()
    records_per_row = [int(r.get(RECORDS_KEY, 1)) for r in rows]
    frame = pd.DataFrame(rows, columns=[*[c for c in EVENT_COLUMNS], SOURCE_COLUMN])
    frame = frame.dropna(axis=1, how="all")
    for column in ("timestamp", "user_id", "action"):
        if column not in frame.columns:
            frame[column] = pd.Series([None] * len(frame), dtype=object)
    frame = frame.astype(object).where(frame.notna(), None)
    tables: dict[str, pd.DataFrame] = {}
    rejects_dir = out / REJECTS_DIR
    if len(frame):
        with tempfile.TemporaryDirectory(prefix="snoopwatch-convert-") as tmp:
            write_table(frame.astype(pd.StringDtype("pyarrow")), Path(tmp) / "events.parquet", "events")
            loaded = load_dataset(tmp, strict=False, source_timezone=source_timezone)
        events = loaded.events
        set_aside = loaded.rejects.get("events")
        if set_aside is not None and len(set_aside):
            # Records behind an event the reader set aside move from converted to rejected, with its reason.
            report.events_set_aside = len(set_aside)
            for position, reason in zip(set_aside["source_row"], set_aside["reject_reason"], strict=True):
                n = records_per_row[int(position) - 1]
                report.converted -= n
                report.rejected[f"event set aside: {reason}"] += n
            report.check_accounting()
        tables["events"] = events
    else:
        tables["events"] = frame
        set_aside = None
    report.events = len(tables["events"])
    if context is not None:
        wanted = CONTEXT_TABLES + (ANSWER_KEY_TABLES if answer_key else ())
        ctx = load_dataset(context, strict=False, answer_key=answer_key, tables=wanted)
        for name in wanted:
            table = ctx.tables.get(name)
            if table is not None:
                tables[name] = table
        if "labels" in tables:
            known = set(tables["events"]["event_id"].dropna().astype(str)) if len(tables["events"]) else set()
            labels = tables["labels"]
            keep = labels["event_id"].astype(str).isin(known)
            if (~keep).any():
                report.notes["answer-key labels whose event is not in the converted log (dropped)"] += int((~keep).sum())
            tables["labels"] = labels[keep.to_numpy()].reset_index(drop=True)
    manifest = {"generator": "snoopwatch convert", "conversion": report.as_manifest()}
    if context is not None:
        manifest["context_from"] = str(context)
    _refuse_stale_tables(out, set(tables))
    for name in ("events.rejects.csv", LOG_REJECTS_FILE):  # (a former run's, in the folder conversions own)
        (rejects_dir / name).unlink(missing_ok=True)
    if set_aside is not None and len(set_aside):
        write_table(set_aside, rejects_dir / "events.rejects.csv", "events")
    if report.rejects:
        report.rejects_file = write_log_rejects(report.rejects, rejects_dir / LOG_REJECTS_FILE)
    if not len(tables["events"]):
        why = (report.skipped + report.rejected).most_common(3)
        found = "; ".join(f"{reason}: {count:,}" for reason, count in why) or "it holds no records"
        raise ConversionError(f"no events were converted from {', '.join(report.files) or 'the input'} "
                              f"({report.records:,} record(s); {found}); check the mapping (tables, user source) "
                              "or, for a plain stderr log, --prefix")
    save_dataset(tables, out, fmt=fmt, manifest=manifest)
    report.out = out
    return report
