"""Read PostgreSQL server logs: csvlog (23, 24 or 26 columns: PostgreSQL <=12, 13, 14+), jsonlog (15+) and the
plain stderr log with a named `log_line_prefix`. Each yields LogRecords: one per log entry, however many
physical lines its message spans, with the line numbers kept for the rejects file.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from snoopwatch.convert.common import iso_utc, localise
from snoopwatch.errors import ConversionError

# csvlog columns. PostgreSQL <= 12 writes 23; 13 adds backend_type; 14+ add leader_pid and query_id.
CSVLOG_COLUMNS_23 = (
    "log_time", "user_name", "database_name", "process_id", "connection_from", "session_id",
    "session_line_num", "command_tag", "session_start_time", "virtual_transaction_id", "transaction_id",
    "error_severity", "sql_state_code", "message", "detail", "hint", "internal_query", "internal_query_pos",
    "context", "query", "query_pos", "location", "application_name",
)
CSVLOG_COLUMNS = {23: CSVLOG_COLUMNS_23, 24: CSVLOG_COLUMNS_23 + ("backend_type",),
                  26: CSVLOG_COLUMNS_23 + ("backend_type", "leader_pid", "query_id")}
LOG_FORMATS = ("auto", "csvlog", "jsonlog", "stderr")

_PG_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?:\s*(\S+))?$")
_NUMERIC_ZONE = re.compile(r"^([+-])(\d{2}):?(\d{2})?$")
_UTC_NAMES = {"UTC", "GMT", "UCT", "Z", "ZULU", "UNIVERSAL"}


class RecordError(ValueError):
    """A log record that cannot be read; the message is the reject reason."""


@dataclass
class LogRecord:
    """One PostgreSQL log entry (fields the format lacks are None)."""

    source: str
    line: int
    lines: int
    timestamp: str | None  # ISO 8601 UTC, or None when unreadable (see time_error)
    time_error: str | None
    user: str | None
    application: str | None
    session: str | None
    severity: str | None
    message: str
    raw: str


def parse_pg_time(text: str, tz: ZoneInfo | None) -> str:
    """PostgreSQL's log time ('2025-03-04 19:41:07.123 UTC', '... +01', '... BST') as ISO 8601 UTC.

    UTC/GMT and numeric offsets are exact. A zone abbreviation (BST, CET ...) is ambiguous in general, so it
    needs the server's `log_timezone` as `tz`; the abbreviation then picks the reading in the repeated hour.
    """
    match = _PG_TIME.match(text.strip())
    if match is None:
        raise RecordError(f"unreadable log time {text!r}")
    stamp, zone_text = match.groups()
    if zone_text == "UTC":  # the common case, kept cheap: the text is already the UTC instant
        return stamp.replace(" ", "T") + "Z"
    naive = dt.datetime.fromisoformat(stamp.replace(" ", "T"))
    if zone_text is None or zone_text.upper() not in _UTC_NAMES:
        numeric = _NUMERIC_ZONE.match(zone_text or "")
        if numeric:
            sign, hours, minutes = numeric.groups()
            offset = dt.timedelta(hours=int(hours), minutes=int(minutes or 0)) * (1 if sign == "+" else -1)
            return iso_utc(naive.replace(tzinfo=dt.timezone(offset)))
        if tz is None:
            what = f"zone {zone_text!r}" if zone_text else "no zone"
            raise RecordError(f"log time has {what}; name the server's log_timezone with --timezone")
        local = localise(naive, tz, zone_text)
        if zone_text and local.tzname() != zone_text:
            # The server wrote another zone than the one named (a CET log read as Europe/London): refuse
            # rather than shift every event by the difference.
            raise RecordError(f"log time is in {zone_text}, which {tz.key} does not use at that time; name the "
                              "server's log_timezone with --timezone")
        return iso_utc(local)
    return iso_utc(naive.replace(tzinfo=dt.UTC))


def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def detect_format(path: Path) -> str:
    """csvlog, jsonlog or stderr, from the file's first non-empty line."""
    with _open_text(path) as handle:
        for line in handle:
            if line.strip():
                first = line.lstrip()
                if first.startswith("{"):
                    return "jsonlog"
                if re.match(r'^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? \S+,', first):
                    return "csvlog"
                return "stderr"
    return "csvlog"


def _time(text: str | None, tz: ZoneInfo | None) -> tuple[str | None, str | None]:
    if not text:
        return None, "log record has no time"
    try:
        return parse_pg_time(text, tz), None
    except RecordError as error:
        return None, str(error)


class _LineCounter:
    """Feeds a csv reader while remembering the physical lines of the record being read."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.count = 0
        self.buffer: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.handle)
        self.count += 1
        self.buffer.append(line)
        return line


def read_csvlog(path: Path, tz: ZoneInfo | None = None) -> Iterator[LogRecord | RecordError]:
    """Records of a csvlog file; a malformed record comes out as a RecordError carrying its position."""
    source = path.name
    with _open_text(path) as handle:
        feed = _LineCounter(handle)
        reader = csv.reader(feed, strict=True)
        while True:
            start = feed.count + 1
            feed.buffer = []
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield _record_error(source, start, feed.count - start + 1, f"malformed csvlog record ({error})", "".join(feed.buffer))
                continue
            raw = "".join(feed.buffer)
            lines = feed.count - start + 1
            if not fields or fields == [""]:
                yield _record_error(source, start, lines, "empty line", raw)
                continue
            columns = CSVLOG_COLUMNS.get(len(fields))
            if columns is None:
                yield _record_error(source, start, lines,
                                    f"csvlog record has {len(fields)} columns (expected 23, 24 or 26)", raw)
                continue
            row = dict(zip(columns, fields, strict=True))
            timestamp, time_error = _time(row["log_time"], tz)
            yield LogRecord(source, start, lines, timestamp, time_error, row["user_name"] or None,
                            row["application_name"] or None, row["session_id"] or None,
                            row["error_severity"] or None, row["message"], raw)


def _record_error(source: str, line: int, lines: int, reason: str, raw: str) -> RecordError:
    error = RecordError(reason)
    error.source, error.line, error.lines, error.raw = source, line, lines, raw  # type: ignore[attr-defined]
    return error


def read_jsonlog(path: Path, tz: ZoneInfo | None = None) -> Iterator[LogRecord | RecordError]:
    """Records of a jsonlog file (one JSON object per line)."""
    source = path.name
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                yield _record_error(source, number, 1, "empty line", line)
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                yield _record_error(source, number, 1, f"malformed jsonlog record ({error.msg})", line)
                continue
            if not isinstance(row, dict):
                yield _record_error(source, number, 1, "jsonlog record is not an object", line)
                continue
            timestamp, time_error = _time(row.get("timestamp"), tz)
            session = row.get("session_id") or (f"pid{row['pid']}" if row.get("pid") is not None else None)
            yield LogRecord(source, number, 1, timestamp, time_error, row.get("user"), row.get("application_name"),
                            session, row.get("error_severity"), str(row.get("message", "")), line)


_PREFIX_ESCAPES = {
    "a": ("application", r".*?"),
    "u": ("user", r".*?"),
    "d": (None, r".*?"),
    "r": (None, r"\S*"),
    "h": (None, r"\S*"),
    "b": (None, r".*?"),
    "p": ("pid", r"\d+"),
    "P": (None, r"\d*"),
    "t": ("time", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?: \S+)?"),
    "m": ("time", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+(?: \S+)?"),
    "n": ("epoch", r"\d+(?:\.\d+)?"),
    "i": (None, r".*?"),
    "e": (None, r"[0-9A-Z]{5}"),
    "c": ("session", r"[0-9a-f]+\.[0-9a-f]+"),
    "l": (None, r"\d+"),
    "s": (None, r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?: \S+)?"),
    "v": (None, r"\S*"),
    "x": (None, r"\d+"),
    "Q": (None, r"-?\d+"),
}


# A line's prefix ends where its severity does, at the first ":  " (colon, two spaces) that follows a
# severity word (LOG, ERROR, DEBUG1) and leaves a text the prefix fits. Only the first _PREFIX_REACH
# characters are searched: a prefix expands to far less, and the prefix's lazy wildcards (%u, %d, %a) then
# never backtrack over a long message (on a line the prefix does not fit, that took time cubic in its length).
_SEVERITY_END = re.compile(r"[A-Z]+[0-9]?:  ")
_SEVERITY_WORD = re.compile(r"[A-Z]+[0-9]?")
_PREFIX_REACH = 1000
_RECORD_START = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}|\d{10}(?:\.\d+)? ")


@dataclass(frozen=True)
class PrefixPattern:
    """Lines written with one `log_line_prefix`: match(line) gives the prefix's fields, the severity and the
    message, or None when the line does not start with the prefix."""

    # The prefix alone (what precedes the severity), in the order tried: with its %q part, then without
    # (the order the one regex with an optional group would try them in).
    heads: tuple[re.Pattern, ...]
    time_first: bool = False  # the prefix starts with the time (%m, %t, %n)

    def starts_like_a_record(self, line: str) -> bool:
        """True for a line that begins as the prefix's lines do (with a time) although the prefix did not fit
        it: a record of its own, never the continuation of another (those begin with a tab)."""
        return self.time_first and _RECORD_START.match(line) is not None

    def match(self, line: str) -> dict[str, str] | None:
        if self.heads[-1].match(line) is None:  # (the last head begins every other: no line can start so)
            return None
        tried = []  # (the candidates are found as the first head needs them: a line's first usually fits)
        for candidate in _severity_candidates(line):
            found = self._fit(self.heads[0], line, *candidate)
            if found is not None:
                return found
            tried.append(candidate)
        for head in self.heads[1:]:
            for candidate in tried:
                found = self._fit(head, line, *candidate)
                if found is not None:
                    return found
        return None

    @staticmethod
    def _fit(head: re.Pattern, line: str, start: int, end: int) -> dict[str, str] | None:
        """The fields when `head` is the whole text before a severity at line[start:end - 3]."""
        fields = head.fullmatch(line, 0, start)
        if fields is None:
            return None
        return {**fields.groupdict(), "severity": line[start:end - 3], "message": line[end:]}


def _severity_candidates(line: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each place a severity and its ":  " may be, among the first _PREFIX_REACH characters:
    in order, and within a run of capitals leftmost first (the order the one regex would try)."""
    for found in _SEVERITY_END.finditer(line, 0, _PREFIX_REACH):
        colon = found.end() - 3
        for start in range(found.start(), colon):
            if _SEVERITY_WORD.fullmatch(line, start, colon):
                yield start, found.end()


def compile_prefix(prefix: str) -> PrefixPattern:
    """The pattern of lines written with `log_line_prefix` = prefix (the prefix, then the severity)."""
    out: list[str] = []
    used: set[str] = set()
    optional_from: int | None = None
    i = 0
    while i < len(prefix):
        char = prefix[i]
        if char != "%":
            out.append(re.escape(char))
            i += 1
            continue
        match = re.match(r"%(-?\d+)?(.)", prefix[i:])
        if match is None:
            raise ConversionError(f"log_line_prefix {prefix!r} ends with a lone %")
        padding, escape = match.groups()
        i += match.end()
        if escape == "%":
            out.append("%")
            continue
        if escape == "q":
            optional_from = len(out)
            continue
        if escape not in _PREFIX_ESCAPES:
            raise ConversionError(f"log_line_prefix {prefix!r}: unknown escape %{escape}")
        name, pattern = _PREFIX_ESCAPES[escape]
        if padding:
            pattern = rf"\s*{pattern}\s*"
        if name and name not in used:
            used.add(name)
            out.append(f"(?P<{name}>{pattern})")
        else:
            out.append(f"(?:{pattern})")
    if "time" not in used and "epoch" not in used:
        raise ConversionError(f"log_line_prefix {prefix!r} has no time (%m, %t or %n); the log cannot be dated")
    heads = ["".join(out)] + (["".join(out[:optional_from])] if optional_from is not None else [])
    return PrefixPattern(tuple(re.compile(head, re.S) for head in heads), prefix.startswith(("%m", "%t", "%n")))


def read_stderr(path: Path, prefix: str, tz: ZoneInfo | None = None) -> Iterator[LogRecord | RecordError]:
    """Records of a plain (stderr) log. A line that does not start with the prefix continues the previous
    record: PostgreSQL writes the later lines of a multi-line message after a tab."""
    pattern = compile_prefix(prefix)
    source = path.name
    current: dict | None = None

    def emit(entry: dict) -> LogRecord:
        groups = entry["match"]
        if groups.get("time"):
            timestamp, time_error = _time(groups["time"], tz)
        elif groups.get("epoch"):
            timestamp, time_error = iso_utc(dt.datetime.fromtimestamp(float(groups["epoch"]), dt.UTC)), None
        else:
            timestamp, time_error = None, "log record has no time"
        message = groups["message"] + "".join(
            "\n" + (extra[1:] if extra.startswith("\t") else extra) for extra in entry["more"])
        session = groups.get("session") or (f"pid{groups['pid']}" if groups.get("pid") else None)
        return LogRecord(source, entry["line"], 1 + len(entry["more"]), timestamp, time_error,
                         groups.get("user") or None, groups.get("application") or None, session,
                         groups["severity"], message, "\n".join([entry["text"], *entry["more"]]))

    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            match = pattern.match(line)
            if match is not None:
                if current is not None:
                    yield emit(current)
                current = {"match": match, "line": number, "text": line, "more": []}
            elif current is not None and not pattern.starts_like_a_record(line):
                current["more"].append(line)
            else:
                if current is not None:  # (a dated line the prefix does not fit ends the record before it)
                    yield emit(current)
                    current = None
                reason = ("line does not start with the log_line_prefix" if not pattern.starts_like_a_record(line)
                          else "line is dated but does not fit the log_line_prefix (a line without a session, "
                               "e.g. a checkpoint, needs %q before the session fields, e.g. %m [%p] %q%u@%d)")
                yield _record_error(source, number, 1, reason, line)
        if current is not None:
            yield emit(current)


def read_pg_log(path: Path, log_format: str = "auto", prefix: str | None = None,
                tz: ZoneInfo | None = None) -> Iterator[LogRecord | RecordError]:
    """Records of one PostgreSQL log file in any of the supported formats."""
    if log_format not in LOG_FORMATS:
        raise ConversionError(f"unknown log format {log_format!r}; use one of {', '.join(LOG_FORMATS)}")
    if not path.exists():
        raise ConversionError(f"{path}: no such log file")
    if log_format == "auto":
        log_format = detect_format(path)
    if log_format == "csvlog":
        return read_csvlog(path, tz)
    if log_format == "jsonlog":
        return read_jsonlog(path, tz)
    if prefix is None:
        raise ConversionError(f"{path.name} is a plain stderr log; give its log_line_prefix with --prefix "
                              "(e.g. --prefix '%m [%p] %q%u@%d ')")
    return read_stderr(path, prefix, tz)


__all__ = ["LogRecord", "PrefixPattern", "RecordError", "compile_prefix", "detect_format", "parse_pg_time", "read_pg_log"]
