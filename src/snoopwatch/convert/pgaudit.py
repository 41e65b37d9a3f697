"""PostgreSQL pgaudit logs to data-set events.

pgaudit writes its record as CSV inside the log message (`AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.people,
"select ...",<params>`), and with `pgaudit.log_parameter` the parameter field is itself a CSV list. Both are
read with the csv module (a statement may hold commas, quotes and newlines), never by splitting strings.

With `pgaudit.log_relation` pgaudit writes one line per table a statement touched, and a statement may have
sub-statements (COPY (SELECT ...) gives a SELECT and a COPY line). All lines of one statement, identified by
(session, statement id), become ONE event: query type from the first mapped table in the mapping's order,
subject from the statement (see mapping.py), action from the commands seen on any of its lines. SESSION and
OBJECT audit lines of the same statement merge the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from snoopwatch.convert.common import RECORDS_KEY, ConversionReport, finish, zone
from snoopwatch.convert.mapping import Mapping, Statement, interpret, load_mapping
from snoopwatch.convert.pglog import LogRecord, RecordError, read_pg_log

AUDIT_PREFIX = "AUDIT: "
CONVERTED_CLASSES = frozenset({"READ", "WRITE"})
PREVIOUSLY_LOGGED = "<previously logged>"
_NO_PARAMETERS = {"<not logged>", "<none>", PREVIOUSLY_LOGGED}


@dataclass(frozen=True)
class AuditRecord:
    """The fields of one pgaudit record (rows only with pgaudit.log_rows)."""

    audit_type: str
    statement_id: str
    substatement_id: str
    audit_class: str
    command: str
    object_type: str
    object_name: str
    statement: str
    parameter: str
    rows: str | None = None


def _one_csv_row(text: str, what: str) -> list[str]:
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as error:
        raise RecordError(f"malformed {what} ({error})") from error
    if len(rows) != 1:
        raise RecordError(f"malformed {what} (expected one CSV record, found {len(rows)})")
    return rows[0]


def parse_audit_message(message: str) -> AuditRecord:
    """The pgaudit record in a log message that starts with 'AUDIT: '."""
    fields = _one_csv_row(message[len(AUDIT_PREFIX):], "pgaudit record")
    if len(fields) not in (9, 10):
        raise RecordError(f"pgaudit record has {len(fields)} fields (expected 9, or 10 with log_rows)")
    return AuditRecord(*fields)


def parse_parameters(field_text: str) -> list[str] | None:
    """The bind parameters of a statement (pgaudit.log_parameter), or None when not logged or none.
    A NULL parameter and an empty string both come back as ''."""
    if field_text in _NO_PARAMETERS:
        return None
    if field_text == "":  # one parameter, NULL or empty: pgaudit writes an empty list
        return [""]
    return _one_csv_row(field_text, "pgaudit parameter list")


@dataclass
class _Group:
    """The lines of one statement (same session and statement id) collected so far."""

    lines: list[tuple[LogRecord, AuditRecord]] = field(default_factory=list)


class PgauditConverter:
    """Turns LogRecords into event rows, keeping the per-record accounting in `report`."""

    def __init__(self, mapping: Mapping, report: ConversionReport) -> None:
        self.mapping = mapping
        self.report = report
        self.rows: list[dict] = []
        self.open: dict[str, tuple[str, _Group]] = {}

    def feed(self, item: LogRecord | RecordError) -> None:
        report = self.report
        report.records += 1
        if isinstance(item, RecordError):
            report.physical_lines += getattr(item, "lines", 1)
            report.reject(item.source, item.line, str(item), item.raw)  # type: ignore[attr-defined]
            return
        report.physical_lines += item.lines
        if not item.message.startswith(AUDIT_PREFIX):
            report.skip(f"not a pgaudit record ({item.severity or 'no severity'})")
            return
        try:
            audit = parse_audit_message(item.message)
        except RecordError as error:
            report.reject(item.source, item.line, str(error), item.raw)
            return
        session = item.session or f"{item.source}:unknown-session"
        current = self.open.get(session)
        if current is not None and current[0] != audit.statement_id:
            self._close(current[1])
            current = None
        if current is None:
            current = (audit.statement_id, _Group())
            self.open[session] = current
        current[1].lines.append((item, audit))

    def close_all(self) -> None:
        for _, group in self.open.values():
            self._close(group)
        self.open.clear()

    def _close(self, group: _Group) -> None:
        report = self.report
        relevant = [(rec, audit) for rec, audit in group.lines if audit.audit_class.upper() in CONVERTED_CLASSES]
        for _, audit in group.lines:
            if audit.audit_class.upper() not in CONVERTED_CLASSES:
                report.skip(f"pgaudit class {audit.audit_class or '(empty)'} (only READ and WRITE are accesses)")
        if not relevant:
            return
        first, _ = relevant[0]
        text = next((a.statement for _, a in relevant if a.statement != PREVIOUSLY_LOGGED), "")
        param_field = next((a.parameter for _, a in relevant if a.parameter != PREVIOUSLY_LOGGED), "<none>")
        try:
            params = parse_parameters(param_field)
        except RecordError as error:
            for rec, _ in relevant:
                report.reject(rec.source, rec.line, str(error), rec.raw)
            return
        rows = next((a.rows for _, a in relevant if a.rows not in (None, "")), None)
        stmt = Statement(
            timestamp=first.timestamp, role=first.user, application=first.application,
            commands={a.command.upper() for _, a in relevant if a.command},
            tables=[a.object_name for _, a in relevant if a.object_name],
            text=text, params=params, rows=int(rows) if rows and rows.isdigit() else None,
            source=f"{first.source}:{first.line}",
        )
        outcome, value = interpret(self.mapping, stmt)
        if outcome == "event" and not value.get("timestamp"):
            outcome, value = "reject", first.time_error or "no time"
        if outcome == "event":
            report.converted += len(relevant)
            value[RECORDS_KEY] = len(relevant)
            self.rows.append(value)
        elif outcome == "skip":
            report.skip(value, len(relevant))
        else:
            for rec, _ in relevant:
                report.reject(rec.source, rec.line, value, rec.raw)


def pgaudit_rows(logs: Iterable[str | Path], mapping: Mapping, *, log_format: str = "auto",
                 prefix: str | None = None, timezone: str | None = None) -> tuple[list[dict], ConversionReport]:
    """Event rows (text values) and the accounting for pgaudit records in PostgreSQL logs, without writing."""
    report = ConversionReport("pgaudit")
    converter = PgauditConverter(mapping, report)
    tz = zone(timezone)
    for log in logs:
        path = Path(log)
        report.files.append(str(path))
        for item in read_pg_log(path, log_format, prefix, tz):
            converter.feed(item)
        # A statement's lines are written together, so statements never continue into the next file.
        converter.close_all()
    converter.close_all()
    return converter.rows, report


def convert_pgaudit(logs: Iterable[str | Path], mapping: Mapping | str | Path, out: str | Path, *,
                    log_format: str = "auto", prefix: str | None = None, timezone: str | None = None,
                    fmt: str = "parquet", context: str | Path | None = None,
                    answer_key: bool = True) -> ConversionReport:
    """Convert PostgreSQL logs (csvlog, jsonlog or stderr with `prefix`) holding pgaudit records into a data
    set at `out`. Returns the report: every record converted, skipped (by kind) or rejected (with reason)."""
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    rows, report = pgaudit_rows(logs, mapping, log_format=log_format, prefix=prefix, timezone=timezone)
    return finish(rows, report, out, fmt=fmt, context=context, answer_key=answer_key)
