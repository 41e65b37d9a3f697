"""Read and write data-set tables in CSV, CSV.gz, Parquet and JSON lines, with typed columns.

Readers coerce every column to the kind the schema gives it (UTC timestamps, categories, numbers) and
return the rows that could not be coerced as problems, never dropping them silently.
"""

from __future__ import annotations

import csv
import ctypes
import ctypes.util
import gzip
import io
import json
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from snoopwatch.atomic import atomic_path, write_text_atomic
from snoopwatch.dataset.schema import (
    CATEGORY,
    DATE,
    EXTENSIONS,
    FLOAT,
    INT,
    JSONL_TABLES,
    OPEN_ENDED,
    TABLES,
    TEXT,
    TIME,
)
from snoopwatch.errors import DatasetError

TEXT_DTYPE = pd.StringDtype("pyarrow")
# An explicit offset at the end of an ISO 8601 instant: Z, +01:00, +0100 or +01. Only a text longer than
# a date alone (YYYY-MM-DD, 10 characters) can hold one: the "-04" that ends 2025-03-04 is the day.
_OFFSET = re.compile(r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$")
_DATE_ALONE_MAX = 10


@dataclass
class ColumnIssue:
    """Rows of one column that could not be coerced, and why."""

    column: str
    mask: np.ndarray
    reason: str
    hint: str
    level: str = "error"  # "warning": the rows are kept (the value is read as empty or as said)


@dataclass
class ReadResult:
    """A table as read: the typed frame plus the rows that failed coercion (still present in the frame)."""

    frame: pd.DataFrame
    issues: list[ColumnIssue] = field(default_factory=list)


def table_format(path: Path) -> str:
    """The storage format a file name asks for: parquet, csv or jsonl."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        return "csv"
    if name.endswith(".jsonl") or name.endswith(".jsonl.gz"):
        return "jsonl"
    raise DatasetError(f"{path.name}: unknown file type; use .csv, .csv.gz, .parquet or .jsonl")


def table_name(path: Path) -> str | None:
    """The table a file holds, from its name (events.csv.gz -> events), or None if it is not a table."""
    name = path.name
    for ext in EXTENSIONS:
        if name.endswith(ext):
            stem = name[: -len(ext)]
            if stem in TABLES and (ext != ".jsonl" or stem in JSONL_TABLES):
                return stem
    return None


def one_malloc_arena() -> None:
    """On glibc, let threads allocate from the main malloc arena (mallopt M_ARENA_MAX = 1), as the
    environment variable MALLOC_ARENA_MAX=1 would. With an arena per thread, the blocks one thread frees
    stay reserved there while another allocates afresh: at 10M events, 25 bytes an event more at the
    peak of the feature steps; reading 1M events from Parquet on Arrow's threads, about 20 MB more held
    afterwards and 25 MB more at detect's peak (and no faster). Process-wide and harmless elsewhere (one arena is what a single-threaded
    process has); a no-op off glibc."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, 1)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        pass


@contextmanager
def arrow_allocates_from_malloc() -> Iterator[None]:
    """Within: Arrow allocates from the C library's malloc (its system pool), the pool numpy uses too.

    Arrow's default pool (mimalloc or jemalloc) keeps the buffers it freed while decoding for its own
    reuse, and nothing after the read allocates through Arrow: about 65 MB held for the rest of a run
    after reading 1M events. Process-wide while it lasts; the previous pool is restored on leaving.
    Arrow's decoding threads then allocate from malloc's one arena (one_malloc_arena).
    """
    one_malloc_arena()
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


# Arrow integers read as pandas' nullable integers, so a column with a missing value stays exact (not float).
_NULLABLE_INTEGERS = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                      pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
                      pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype()}


def read_raw_table(path: Path) -> pd.DataFrame:
    """Read a file without interpreting values: text stays text (empty cells become missing). A file that
    cannot be read as its format (a ragged CSV row, a broken JSON line, not UTF-8, a column named twice)
    raises DatasetError saying where and what to do."""
    try:
        raw = _read_raw(path)
    except (pa.ArrowInvalid, OSError, EOFError, ValueError, TypeError, UnicodeDecodeError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        where = _first_bad_json_line(path) if table_format(path) == "jsonl" else ""
        raise DatasetError(f"{path.name}: cannot be read{where} ({first}); check that it is valid "
                           f"{table_format(path)}" + (" in UTF-8" if isinstance(error, UnicodeDecodeError) else "")) from error
    twice = sorted({str(c) for c in raw.columns[raw.columns.duplicated()]})
    if twice:
        raise DatasetError(f"{path.name}: column {', '.join(map(repr, twice))} appears more than once in the header; "
                           "give each column its own name")
    return raw


def _first_bad_json_line(path: Path) -> str:
    """' at line N' for the first line of a JSON-lines file that is not one JSON object ('' if none is)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        if not isinstance(json.loads(line), dict):
                            return f" at line {number}"
                    except ValueError:
                        return f" at line {number}"
    except (OSError, EOFError):  # (not gzip, or cut short: the error itself says so)
        return ""
    return ""


def _read_raw(path: Path) -> pd.DataFrame:
    fmt = table_format(path)
    if fmt == "parquet":
        # Without pandas' own metadata: a frame written with Arrow-backed columns would come back with them
        # (a zoned timestamp[pyarrow] reads as naive, a date32[pyarrow] cannot be converted), and an index
        # it kept (event ids, say) comes back as the column it is.
        frame = pq.read_table(path).to_pandas(ignore_metadata=True, types_mapper=_NULLABLE_INTEGERS.get)
        return frame.drop(columns=[c for c in frame.columns if str(c).startswith("__index_level_")])
    if fmt == "csv":
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            columns = next(csv.reader(handle), [])
        if not columns:
            return pd.DataFrame()
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=columns, skip_rows=1, encoding="utf8"),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
        return table.to_pandas()
    # JSON lines: values as written (no date guessing: a time without an offset must stay visible).
    # pandas 2 needs convert_dates=False for that; pandas 3 deprecates the keyword but still honours it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*convert_dates.*")
        return pd.read_json(path, lines=True, dtype=False, convert_dates=False, compression="infer")


def as_text(series: pd.Series) -> pd.Series:
    """Values as strings with missing kept missing (numbers from Parquet/JSON become their text)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        out = series.astype(TEXT_DTYPE)
    else:
        out = series.astype(object).where(series.notna(), None).map(
            lambda v: None if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
        ).astype(TEXT_DTYPE)
    return out.str.strip().replace("", pd.NA)


def strictly_ascending_text(values: pd.Series) -> bool:
    """True when a text column (pandas' Arrow-backed strings, none missing) strictly increases down the
    rows: one vectorised comparison of neighbours in Arrow (UTF-8 order is code point order). Ids of a
    generated or exported log usually do; then none repeats and ties in time are already in id order."""
    if len(values) < 2 or not isinstance(values.dtype, pd.StringDtype) or values.isna().any():
        return len(values) < 2
    ids = pa.array(values.array)  # Arrow-backed strings: no copy
    return bool(pc.all(pc.greater(ids[1:], ids[:-1])).as_py())


def distinct_text(values: pd.Series) -> np.ndarray:
    """The distinct present values of a column as text, in order of first appearance (object array). A
    category column is read through its categories in use, once per category, not once per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        in_use = np.zeros(len(values.cat.categories) + 1, dtype=bool)
        in_use[values.cat.codes.to_numpy()] = True  # code -1 (missing) marks the extra last slot
        return np.asarray(values.cat.categories[in_use[:-1]].astype(str), dtype=object)  # category order
    return np.asarray(pd.unique(values.dropna().astype(str)), dtype=object)


def parse_instant(value: str | pd.Timestamp | None, name: str) -> pd.Timestamp | None:
    """A user-given instant (--since, --until) in UTC; a date alone means midnight UTC."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as error:
        raise DatasetError(f"{name} {value!r} is not a date; use YYYY-MM-DD or an ISO 8601 time") from error
    if stamp is pd.NaT:
        raise DatasetError(f"{name} is empty; use YYYY-MM-DD or an ISO 8601 time")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _as_category(series: pd.Series) -> pd.Series:
    """Text as a pandas category with plain-object categories (the same whatever the file type), in order of
    first appearance. Dictionary-encoded input is cleaned per distinct value, not per row."""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(as_text(series), use_na_sentinel=True)
        categories = pd.Index(np.asarray(uniques, dtype=object), dtype=object)
        return pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=series.index)
    cleaned = as_text(pd.Series(series.cat.categories))
    new_codes, uniques = pd.factorize(cleaned, use_na_sentinel=True)
    old_codes = series.cat.codes.to_numpy()
    categories = pd.Index(np.asarray(uniques, dtype=object), dtype=object)
    if np.array_equal(new_codes, np.arange(len(new_codes))):
        codes = old_codes  # cleaning merged or emptied no category: the codes stand as they are
    else:  # one look-up per row (code -1, missing, maps to the extra last slot)
        codes = np.append(new_codes, -1).astype(old_codes.dtype if len(uniques) < np.iinfo(old_codes.dtype).max
                                                 else np.int64)[old_codes]
    # The codes are valid by construction (each is -1 or a position in categories): no second check.
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories, validate=False), index=series.index)


# The instants datetime64[ns] can hold (1677-09-21 to 2262-04-11), whole seconds inside them. Tables keep
# nanoseconds, so an instant outside is never kept: a far-future end (9999-12-31) of an open-ended column
# reads as still open, with a warning; any other (a 0001-01-01 "unknown") is a row problem.
_EARLIEST = pd.Timestamp.min.ceil("s").tz_localize("UTC")
_LATEST = pd.Timestamp.max.floor("s").tz_localize("UTC")


def _clipped_ns(stamps: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Tz-aware instants (any unit) as datetime64[ns, UTC] with those outside the range emptied, and which
    were (after _LATEST, before _EARLIEST; a missing one is neither)."""
    stamps = stamps.dt.tz_convert("UTC")
    late, early = (stamps > _LATEST).to_numpy(dtype=bool), (stamps < _EARLIEST).to_numpy(dtype=bool)
    if late.any() or early.any():
        stamps = stamps.where(~(late | early))
    return stamps.astype("datetime64[ns, UTC]"), late, early


def _range_issues(column: str, late: np.ndarray, early: np.ndarray, open_ended: bool,
                  noun: str = "time") -> list[ColumnIssue]:
    """Issues for instants outside what the tables hold: in an open-ended column (an empty end means still
    open) a far-future one is a placeholder for the same, a warning; anything else outside is an error.
    noun: "time" or "date", as the column holds."""
    issues = []
    if open_ended and late.any():
        issues.append(ColumnIssue(column, late, f"far-future {noun} read as still open",
                                  "leave the cell empty for 'still open' (read the same way)", level="warning"))
        late = np.zeros_like(late)
    outside = late | early
    if outside.any():
        issues.append(ColumnIssue(column, outside, f"{noun} outside the years 1678 to 2261",
                                  "correct the value, or leave the cell empty if it is not known"))
    return issues


def _in_range_ns(stamps: pd.Series, column: str, open_ended: bool,
                 noun: str = "time") -> tuple[pd.Series, list[ColumnIssue]]:
    """Tz-aware instants (any unit) as datetime64[ns, UTC], instants outside the range emptied (_range_issues
    says which and how)."""
    stamps, late, early = _clipped_ns(stamps)
    return stamps, _range_issues(column, late, early, open_ended, noun)


def _to_utc(values: pd.Series, column: str, source_timezone: str | None,
            open_ended: bool = False) -> tuple[pd.Series, list[ColumnIssue]]:
    """Parse instants to datetime64[ns, UTC]; times without an offset need an explicit source time zone.
    open_ended: an empty value means still open (a far-future placeholder reads the same)."""
    issues: list[ColumnIssue] = []
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if getattr(values.dtype, "tz", None) is not None:
            stamps = values
        elif source_timezone is None:
            mask = values.notna().to_numpy()
            if mask.any():  # (an all-empty column without a zone lacks nothing)
                issues.append(ColumnIssue(column, mask, "timestamp has no time zone",
                                          "store it with a time zone, or name the source zone (--timezone Europe/London)"))
            stamps = values.dt.tz_localize("UTC")
        else:
            stamps = _localize(values, source_timezone)
        parsed, found = _in_range_ns(stamps, column, open_ended)
        return parsed, issues + found
    text = as_text(values)
    present = text.notna().to_numpy()
    has_offset = text.str.contains(_OFFSET, na=False).to_numpy() & (text.str.len() > _DATE_ALONE_MAX).to_numpy(
        dtype=bool, na_value=False)
    naive = present & ~has_offset
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    late, early = np.zeros(len(values), dtype=bool), np.zeros(len(values), dtype=bool)

    def read(rows: np.ndarray, offset: bool, cut: bool = False) -> np.ndarray:
        """Parse the rows' text into `parsed`, instants out of range left empty and marked late or early
        (cut: the fraction of a second to microseconds first); which rows parsed."""
        part = text[rows].str.replace(r"(\.\d{6})\d+", r"\1", regex=True) if cut else text[rows]
        if offset:
            stamps = pd.to_datetime(part, utc=True, format="ISO8601", errors="coerce")
        else:
            local = pd.to_datetime(part, format="ISO8601", errors="coerce")
            stamps = local.dt.tz_localize("UTC") if source_timezone is None else _localize(local, source_timezone)
        done = np.zeros(len(values), dtype=bool)
        done[np.flatnonzero(rows)[stamps.notna().to_numpy()]] = True
        parsed[rows], late[rows], early[rows] = _clipped_ns(stamps)
        return done

    for rows, offset in ((has_offset, True), (naive, False)):
        if not rows.any():
            continue
        done = read(rows, offset)
        # pandas parses a column in one unit: beside a value with nanoseconds, one outside the years
        # nanoseconds hold comes back empty; read again in microseconds, the range check then sees it.
        missed = rows & ~done
        if missed.any():
            done |= read(missed, offset, cut=True)
        if not offset and source_timezone is None and done.any():
            issues.append(ColumnIssue(column, done, "timestamp has no offset",
                                      "write times with an offset (2025-03-04T21:45:12Z) or name the source zone (--timezone Europe/London)"))
    issues += _range_issues(column, late, early, open_ended)
    bad_unflagged = present & parsed.isna().to_numpy() & ~late & ~early
    for issue in issues:
        bad_unflagged &= ~issue.mask
    if bad_unflagged.any():
        issues.append(ColumnIssue(column, bad_unflagged, "unparseable timestamp",
                                  "use ISO 8601 with an offset, e.g. 2025-03-04T21:45:12Z"))
    return parsed, issues


def check_time_zone(zone: str) -> None:
    """Refuse an unknown IANA zone name at once, whether or not any time turns out to need it."""
    try:
        pd.Timestamp("2025-01-01").tz_localize(zone)
    except Exception as error:  # (as in _localize: unknown names come back as several exception types)
        raise DatasetError(f"unknown time zone {zone!r}: use an IANA name such as Europe/London") from error


def _localize(values: pd.Series, zone: str) -> pd.Series:
    """Naive local times to UTC (in their own unit). In the repeated hour when clocks go back, the first
    (summer) reading is taken; a time skipped when clocks go forward is moved forward."""
    try:
        ambiguous = np.ones(len(values), dtype=bool)
        local = values.dt.tz_localize(zone, ambiguous=ambiguous, nonexistent="shift_forward")
    except Exception as error:  # unknown zone names come back as several exception types
        raise DatasetError(f"unknown time zone {zone!r}: use an IANA name such as Europe/London") from error
    return local.dt.tz_convert("UTC")


def _to_date(values: pd.Series, column: str, open_ended: bool = False) -> tuple[pd.Series, list[ColumnIssue]]:
    """Calendar dates as datetime64[ns, UTC] at midnight (open_ended as for _to_utc)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if getattr(values.dtype, "tz", None) is not None:
            return _in_range_ns(values.dt.tz_convert("UTC").dt.normalize(), column, open_ended, "date")
        return _in_range_ns(values.dt.normalize().dt.tz_localize("UTC"), column, open_ended, "date")
    text = as_text(values)
    parsed = pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    out, issues = _in_range_ns(parsed.dt.tz_localize("UTC"), column, open_ended, "date")
    flagged = np.zeros(len(values), dtype=bool)
    for issue in issues:
        flagged |= issue.mask
    bad = (text.notna() & out.isna()).to_numpy() & ~flagged
    if bad.any():
        issues.append(ColumnIssue(column, bad, "unparseable date", "write dates as YYYY-MM-DD"))
    return out, issues


def _to_number(values: pd.Series, column: str, kind: str) -> tuple[pd.Series, list[ColumnIssue]]:
    issues: list[ColumnIssue] = []
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = values
    else:
        text = as_text(values)
        numbers = pd.to_numeric(text.astype(object), errors="coerce")
        bad = (text.notna() & numbers.isna()).to_numpy()
        if bad.any():
            issues.append(ColumnIssue(column, bad, "not a number", "leave the cell empty or write a number"))
    numbers, found = _finish_number(numbers, column, kind)
    return numbers, issues + found


# Whole numbers a float64 holds exactly: an int column's value given as a float beyond it (or infinite), or
# an unsigned one beyond what Int64 holds, is not a count.
_LARGEST_WHOLE = 2.0 ** 53


def _finish_number(numbers: pd.Series, column: str, kind: str) -> tuple[pd.Series, list[ColumnIssue]]:
    """Numbers as Int64 (rounded) or float64; infinite values, floats beyond 2**53 in an int column and
    unsigned integers beyond Int64 are read as empty and reported."""
    if kind == INT and pd.api.types.is_unsigned_integer_dtype(numbers.dtype):
        numbers = numbers.astype("UInt64")
        outside = (numbers > np.iinfo(np.int64).max).fillna(False).to_numpy(dtype=bool)
        issues = [ColumnIssue(column, outside, "number out of range", "write a whole number of at most "
                              f"{np.iinfo(np.int64).max:,}")] if outside.any() else []
        return numbers.mask(outside).astype("Int64"), issues
    if kind == INT and pd.api.types.is_integer_dtype(numbers.dtype):
        return numbers.astype("Int64"), []  # (whole numbers already: no rounding, nothing out of range)
    floats = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    limit = _LARGEST_WHOLE if kind == INT else np.inf
    with np.errstate(invalid="ignore"):
        outside = ~np.isnan(floats) & (np.isinf(floats) | (np.abs(floats) > limit))
    issues = []
    if outside.any():
        floats = np.where(outside, np.nan, floats)
        issues.append(ColumnIssue(column, outside, "number out of range",
                                  "write a finite number" + (f" (whole, at most {int(_LARGEST_WHOLE):,})" if kind == INT else "")))
    out = pd.Series(floats, index=numbers.index)
    return (out.round().astype("Int64") if kind == INT else out), issues


def coerce_table(name: str, raw: pd.DataFrame, source_timezone: str | None = None) -> ReadResult:
    """Give each known column of table `name` its schema kind; unknown extra columns are kept as text."""
    spec = TABLES[name]
    frame = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    issues: list[ColumnIssue] = []
    for column in raw.columns:
        values = raw[column].reset_index(drop=True)
        kind = spec.kind(column) if column in spec.columns else TEXT
        open_ended = column in OPEN_ENDED.get(name, ())
        if kind == TIME:
            frame[column], found = _to_utc(values, column, source_timezone, open_ended)
        elif kind == DATE:
            frame[column], found = _to_date(values, column, open_ended)
        elif kind in (INT, FLOAT):
            frame[column], found = _to_number(values, column, kind)
        elif kind == CATEGORY:
            frame[column], found = _as_category(values), []
        else:
            frame[column], found = as_text(values), []
        issues.extend(found)
    return ReadResult(frame, issues)


def read_table(path: str | Path, name: str | None = None, source_timezone: str | None = None) -> ReadResult:
    """Read one table file, choosing the format by extension, with typed columns."""
    path = Path(path)
    name = name or table_name(path)
    if name is None:
        raise DatasetError(f"{path.name}: not a table of the data-set format; expected one of {', '.join(TABLES)}")
    return coerce_table(name, read_raw_table(path), source_timezone)


# ---------------------------------------------------------------- writing


def _iso_utc(values: pd.Series) -> pd.Series:
    """UTC instants as ISO 8601 text with a Z (seconds, or microseconds where they are not whole)."""
    ns = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    whole = (values.isna() | (values.dt.microsecond == 0) & (values.dt.nanosecond == 0)).all()
    text = np.datetime_as_string(ns, unit="s" if whole else "us")
    out = pd.Series(np.char.add(text.astype(str), "Z"), index=values.index, dtype=object)
    out[values.isna().to_numpy()] = None
    return out


def _for_text_output(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """A copy with instants and dates as text, ready for CSV or JSON lines."""
    spec = TABLES.get(name)
    out = frame.copy()
    for column in out.columns:
        kind = spec.kind(column) if spec and column in spec.columns else None
        if pd.api.types.is_datetime64_any_dtype(out[column].dtype):
            if kind == DATE:
                out[column] = out[column].dt.strftime("%Y-%m-%d").astype(object).where(out[column].notna(), None)
            else:
                out[column] = _iso_utc(out[column])
    return out


def write_table(frame: pd.DataFrame, path: str | Path, name: str | None = None) -> Path:
    """Write one table atomically in the format its extension names; instants are written in UTC."""
    path = Path(path)
    name = name or table_name(path) or path.name.split(".")[0]
    fmt = table_format(path)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False, engine="pyarrow", coerce_timestamps="us",
                             allow_truncated_timestamps=True, compression="zstd")
        elif fmt == "csv":
            text = _for_text_output(frame, name)
            if path.name.endswith(".gz"):
                # No file name and mtime=0 in the gzip header keep the bytes identical across runs.
                with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed, \
                        io.TextIOWrapper(packed, encoding="utf-8", newline="") as handle:
                    text.to_csv(handle, index=False, lineterminator="\n")
            else:
                text.to_csv(tmp, index=False, lineterminator="\n")
        else:
            text = _for_text_output(frame, name)
            records = text.astype(object).where(text.notna(), None).to_dict(orient="records")
            with open(tmp, "w", encoding="utf-8") as handle:
                for record in records:
                    handle.write(json.dumps(_plain(record), ensure_ascii=False) + "\n")
    return path


def _plain(record: dict) -> dict:
    """JSON-safe values (numpy numbers to Python numbers)."""
    out = {}
    for key, value in record.items():
        if isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def write_manifest(directory: Path, manifest: dict) -> Path:
    path = Path(directory) / "manifest.json"
    write_text_atomic(path, json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return path
