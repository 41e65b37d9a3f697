"""MariaDB `server_audit` plugin logs (file output) to data-set events.

A line is `timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode`
(MariaDB 12 writes host:port in the host field). `object` is the query text in single quotes for QUERY lines,
with \\' \\\\ \\n \\r \\t escapes, or a table name for TABLE lines (READ, WRITE, CREATE ...), which share the
query's connection and query id and become part of the same event. Timestamps (`20250304 19:41:07`) carry no
zone, so the server's zone must be named; RDS-style microsecond epoch stamps are UTC. Query text longer than
`server_audit_query_log_limit` (1024 by default) is cut by the server: such statements are counted and
reported, and converted when the parts that matter (table, subject, tag) survived.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from snoopwatch.convert.common import RECORDS_KEY, ConversionReport, finish, iso_utc, localise, zone
from snoopwatch.convert.mapping import Mapping, Statement, interpret, load_mapping
from snoopwatch.errors import ConversionError

CONNECTION_OPERATIONS = {"CONNECT", "DISCONNECT", "FAILED_CONNECT", "CHANGEUSER", "PROXY_CONNECT"}
TABLE_OPERATIONS = {"READ", "WRITE", "CREATE", "ALTER", "RENAME", "DROP"}
DATA_COMMANDS = {"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "CALL", "HANDLER", "LOAD", "TABLE"}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "\\": "\\", "'": "'", '"': '"'}
_LOCAL_TIME = re.compile(r"^\d{8} \d{2}:\d{2}:\d{2}$")
_EPOCH_MICROS = re.compile(r"^\d{16}$")
_LEADING_COMMENTS = re.compile(r"^\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*|#[^\n]*\n\s*)*", re.S)


class LineError(ValueError):
    """A server_audit line that cannot be read; the message is the reject reason."""


@dataclass
class AuditLine:
    line: int
    raw: str
    timestamp: str
    user: str
    connection: str
    query_id: str
    operation: str
    database: str
    obj: str
    retcode: str


def unescape_query(quoted: str) -> str:
    """The query text of a QUERY line's object field ('...' with server_audit's backslash escapes)."""
    if len(quoted) < 2 or quoted[0] != "'" or quoted[-1] != "'":
        raise LineError("query text is not in single quotes")
    body = quoted[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.S)


def parse_time(text: str, tz: ZoneInfo | None) -> str:
    if _EPOCH_MICROS.match(text):
        return iso_utc(dt.datetime.fromtimestamp(int(text) / 1_000_000, dt.UTC))
    if not _LOCAL_TIME.match(text):
        raise LineError(f"unreadable timestamp {text[:40]!r} (expected YYYYMMDD HH:MM:SS)")
    if tz is None:
        raise ConversionError("MariaDB audit timestamps have no time zone: name the server's zone with --timezone "
                              "(e.g. --timezone Europe/London)")
    return iso_utc(localise(dt.datetime.strptime(text, "%Y%m%d %H:%M:%S"), tz))


def parse_line(number: int, raw: str, tz: ZoneInfo | None) -> AuditLine:
    """The fields of one server_audit line: eight fixed fields, the object, and the return code last."""
    parts = raw.split(",", 8)
    if len(parts) < 9:
        raise LineError(f"server_audit line has {len(parts)} fields (expected 10)")
    stamp, _serverhost, user, _host, connection, query_id, operation, database, rest = parts
    obj, sep, retcode = rest.rpartition(",")
    if not sep:
        raise LineError("server_audit line has no return code field")
    if not connection.isdigit() or not query_id.isdigit():
        raise LineError("connection id and query id must be numbers")
    return AuditLine(number, raw, parse_time(stamp.strip(), tz), user, connection, query_id,
                     operation.strip().upper(), database, obj, retcode.strip())


@dataclass
class _Group:
    query: AuditLine | None = None
    tables: list[AuditLine] = field(default_factory=list)

    @property
    def lines(self) -> list[AuditLine]:
        return ([self.query] if self.query else []) + self.tables


def _command(text: str) -> str:
    stripped = _LEADING_COMMENTS.sub("", text, count=1).lstrip("( \t\r\n")
    match = re.match(r"[A-Za-z]+", stripped)
    return match.group(0).upper() if match else ""


def _tables_in_text(mapping: Mapping, text: str, database: str) -> list[str]:
    """Mapped tables named in the statement (used when the log has no TABLE lines)."""
    found = []
    for rule in mapping.tables:
        short = rule.name.rsplit(".", 1)[-1]
        if re.search(rf"(?i)(?<![\w$]){'`?' + re.escape(short) + '`?'}(?![\w$])", text):
            found.append(rule.name if "." in rule.name else f"{database}.{short}" if database else short)
    return found


class MariadbConverter:
    def __init__(self, mapping: Mapping, report: ConversionReport, query_log_limit: int) -> None:
        self.mapping = mapping
        self.report = report
        self.limit = query_log_limit
        self.rows: list[dict] = []
        self.open: dict[str, tuple[str, _Group]] = {}
        self.source = ""

    def feed(self, number: int, raw: str, tz: ZoneInfo | None) -> None:
        report = self.report
        report.records += 1
        report.physical_lines += 1
        if not raw.strip():
            report.skip("empty line")
            return
        try:
            line = parse_line(number, raw, tz)
        except LineError as error:
            report.reject(self.source, number, str(error), raw)
            return
        if line.operation in CONNECTION_OPERATIONS:
            report.skip(f"connection event ({line.operation})")
            return
        if line.operation != "QUERY" and line.operation not in TABLE_OPERATIONS:
            report.skip(f"operation {line.operation or '(empty)'}")
            return
        current = self.open.get(line.connection)
        if current is not None and current[0] != line.query_id:
            self._close(current[1])
            current = None
        if current is None:
            current = (line.query_id, _Group())
            self.open[line.connection] = current
        group = current[1]
        if line.operation == "QUERY":
            if group.query is not None:  # the same query id twice: close the first statement
                self._close(group)
                group = _Group()
                self.open[line.connection] = (line.query_id, group)
            group.query = line
        else:
            group.tables.append(line)

    def close_all(self) -> None:
        for _, group in self.open.values():
            self._close(group)
        self.open.clear()

    def _close(self, group: _Group) -> None:
        report = self.report
        lines = group.lines
        if group.query is None:
            report.skip("table line without its query", len(lines))
            return
        query = group.query
        try:
            text = unescape_query(query.obj)
        except LineError as error:
            for line in lines:
                report.reject(self.source, line.line, str(error), line.raw)
            return
        command = _command(text)
        if command not in DATA_COMMANDS:
            report.skip(f"not a data access ({command or 'unknown command'})", len(lines))
            return
        if query.retcode not in ("", "0"):
            report.skip(f"query failed (return code {query.retcode})", len(lines))
            return
        truncated = self.limit > 0 and len(text) >= self.limit
        if truncated:
            report.notes[f"statement(s) cut at the query log limit ({self.limit} characters)"] += 1
        tables = [f"{t.database}.{t.obj}" if t.database else t.obj
                  for t in group.tables if t.operation in ("READ", "WRITE")]
        if not tables:
            tables = _tables_in_text(self.mapping, text, query.database)
        stmt = Statement(timestamp=query.timestamp, role=query.user, application=None, commands={command},
                         tables=tables, text=text, source=f"{self.source}:{query.line}", backslash_escapes=True)
        outcome, value = interpret(self.mapping, stmt)
        if outcome == "event":
            report.converted += len(lines)
            value[RECORDS_KEY] = len(lines)
            self.rows.append(value)
        elif outcome == "skip":
            report.skip(value, len(lines))
        else:
            reason = value + (" (statement cut at the query log limit)" if truncated else "")
            for line in lines:
                report.reject(self.source, line.line, reason, line.raw)


def mariadb_rows(logs: Iterable[str | Path], mapping: Mapping, *, timezone: str | None,
                 query_log_limit: int = 1024) -> tuple[list[dict], ConversionReport]:
    """Event rows and accounting for MariaDB server_audit files, without writing."""
    report = ConversionReport("mariadb server_audit")
    converter = MariadbConverter(mapping, report, query_log_limit)
    tz = zone(timezone)
    for log in logs:
        path = Path(log)
        if not path.exists():
            raise ConversionError(f"{path}: no such log file")
        report.files.append(str(path))
        converter.source = path.name
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            for number, raw in enumerate(handle, start=1):
                converter.feed(number, raw.rstrip("\r\n"), tz)
        converter.close_all()
    return converter.rows, report


def convert_mariadb(logs: Iterable[str | Path], mapping: Mapping | str | Path, out: str | Path, *,
                    timezone: str | None, query_log_limit: int = 1024, fmt: str = "parquet",
                    context: str | Path | None = None, answer_key: bool = True) -> ConversionReport:
    """Convert MariaDB server_audit files into a data set at `out` (timezone: the server's IANA zone)."""
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    rows, report = mariadb_rows(logs, mapping, timezone=timezone, query_log_limit=query_log_limit)
    return finish(rows, report, out, fmt=fmt, context=context, answer_key=answer_key)
