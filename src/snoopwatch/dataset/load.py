"""Load a data-set directory: find the files, read and type every table, check the contract.

Strict loading refuses a data set with any error. Lenient loading sets bad rows aside, each with its
reason, in `Dataset.rejects` (written to a rejects folder by the caller) and reports how many.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from snoopwatch.dataset.io import (
    ColumnIssue,
    arrow_allocates_from_malloc,
    check_time_zone,
    distinct_text,
    read_table,
    strictly_ascending_text,
    table_name,
)
from snoopwatch.dataset.model import Dataset, Problem
from snoopwatch.dataset.schema import (
    ANSWER_KEY_TABLES,
    EXTENSIONS,
    FORMAT_VERSION,
    KNOWN_EXTRA_FILES,
    MANIFEST,
    PERIODS,
    REQUIRED_VALUES,
    TABLES,
    TIME,
)
from snoopwatch.errors import DatasetError

SHOW_ROWS = 5


def find_table_files(directory: Path) -> tuple[dict[str, Path], list[Problem]]:
    """Table name -> file, plus problems for ambiguous, unknown and empty files."""
    problems: list[Problem] = []
    found: dict[str, list[Path]] = {}
    for path in sorted(directory.iterdir()):
        if path.is_dir() or path.name.startswith("."):
            continue
        name = table_name(path)
        if name is None:
            if path.name not in KNOWN_EXTRA_FILES:
                stem = path.name.split(".")[0]
                guess = f"; did you mean {stem}{EXTENSIONS[-2]}?" if stem in TABLES else ""
                problems.append(Problem("warning", path.name, None, "unknown file, ignored",
                                        f"data-set files are named TABLE.csv, TABLE.csv.gz, TABLE.parquet or events.jsonl{guess}"))
            continue
        found.setdefault(name, []).append(path)
    files: dict[str, Path] = {}
    for name, paths in found.items():
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            problems.append(Problem("error", names, None, f"table {name} is stored more than once",
                                    "keep one file per table and remove the others"))
        files[name] = paths[0]
    return files, problems


def _rows(mask: np.ndarray) -> tuple[tuple[int, ...], int]:
    idx = np.flatnonzero(mask)
    return tuple(int(i) + 1 for i in idx[:SHOW_ROWS]), int(idx.size)


def _row_problem(file: str, column: str | None, mask: np.ndarray, message: str, hint: str,
                 level: str = "error") -> Problem:
    rows, count = _rows(mask)
    return Problem(level, file, column, message, hint, rows, count)


def _check_table(name: str, path: Path, frame: pd.DataFrame, issues: list[ColumnIssue]) -> tuple[list[Problem], dict[str, np.ndarray]]:
    """Problems in one table on its own, and a bad-row mask per reason (for rejects)."""
    spec = TABLES[name]
    problems: list[Problem] = []
    bad: dict[str, np.ndarray] = {}
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        problems.append(Problem("error", path.name, ", ".join(missing), "required column missing",
                                f"{name} must have columns {', '.join(spec.required)}; rename or add them"))
        return problems, bad
    if frame.empty:
        level = "error" if name == "events" else "warning"
        problems.append(Problem(level, path.name, None, "file has no rows",
                                "export the table again, or remove the file if it has nothing to say"))
        return problems, bad
    for issue in issues:
        if not issue.mask.any():
            continue
        reason, level = issue.reason, issue.level
        if level == "error" and name == "events" and issue.column not in spec.required:
            # An event is scored without an optional value: the value is read as empty, the event kept.
            reason, level = f"{reason} (read as empty; the event is kept)", "warning"
        problems.append(_row_problem(path.name, issue.column, issue.mask, reason, issue.hint, level))
        if level == "error":
            bad[f"{issue.column}: {issue.reason}"] = issue.mask
        else:  # (the readers leave such values empty already; this makes sure of it)
            frame[issue.column] = frame[issue.column].mask(pd.Series(issue.mask, index=frame.index))
    for column in REQUIRED_VALUES[name]:
        empty = frame[column].isna().to_numpy().copy()
        already = np.zeros(len(frame), dtype=bool)
        for mask in bad.values():
            already |= mask
        empty &= ~already
        if empty.any():
            problems.append(_row_problem(path.name, column, empty, "required value is empty",
                                         f"every {name} row needs a {column}"))
            bad[f"{column}: required value is empty"] = empty
    for table, first, last in PERIODS:
        if table == name and first in frame.columns and last in frame.columns:
            backwards = (frame[last] < frame[first]).to_numpy(dtype=bool)  # (an empty end compares False)
            if backwards.any():
                problems.append(_row_problem(path.name, last, backwards, f"{last} is before {first}",
                                             "check both times: such a period covers no time at all", "warning"))
    for column in spec.unique:
        if column in frame.columns:
            dup = _duplicated(frame[column])
            if dup.any():
                problems.append(_row_problem(path.name, column, dup, f"duplicate {column} (the first is kept)",
                                             f"{column} must be unique; give each row its own"))
                bad[f"{column}: duplicate"] = dup
    return problems, bad


def _check_references(tables: dict[str, pd.DataFrame], files: dict[str, Path]) -> tuple[list[Problem], dict[str, dict[str, np.ndarray]]]:
    """Dangling references between tables (a case_staff.user_id not in staff)."""
    problems: list[Problem] = []
    bad: dict[str, dict[str, np.ndarray]] = {}
    for name, frame in tables.items():
        for column, other, other_column in TABLES[name].references:
            if other not in tables or column not in frame.columns or other_column not in tables[other].columns:
                continue
            known = _text_index(tables[other][other_column].dropna().astype(str).unique())
            dangling = _not_in(frame[column], known)
            if dangling.any():
                example = str(frame[column].astype(object)[dangling].iloc[0])
                problems.append(_row_problem(files[name].name, column, dangling,
                                             f"refers to a {other_column} not in {other} (e.g. {example!r})",
                                             f"add the missing rows to {other}, or correct the references"))
                bad.setdefault(name, {})[f"{column}: not in {other}"] = dangling
    events = tables.get("events")
    if events is not None:
        # Events may name users, subjects and cases the context tables lack: legal, but worth knowing.
        for column, other, other_column in (("user_id", "staff", "user_id"), ("subject_id", "subjects", "subject_id")):
            if other in tables and column in events.columns:
                known = set(tables[other][other_column].dropna().astype(str))
                values = distinct_text(events[column])
                unknown = sorted(v for v in values if v not in known)
                if unknown:
                    problems.append(Problem("warning", files["events"].name, column,
                                            f"{len(unknown)} {column} value(s) not in {other} (e.g. {unknown[0]!r})",
                                            f"features that need {other} treat these as unknown; add them to {other} if they should be known"))
    return problems, bad


def _text_index(values) -> pd.Index:
    """An object-dtype index of text: its isin hashes Python strings, where an Arrow string index's isin
    first makes a Python string per value of the other side (a fifth of a second at 50,000 ids)."""
    return pd.Index(np.asarray(values, dtype=object), dtype=object)


def _not_in(values: pd.Series, known: pd.Index) -> np.ndarray:
    """Per row: True where the value is present and its text is not in `known`. A category column is
    judged once per category, not once per row (millions of events, a few thousand ids)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        unknown = ~_text_index(values.cat.categories.astype(str)).isin(known)
        return np.append(unknown, False)[values.cat.codes.to_numpy()]  # code -1 (missing) is never dangling
    values = values.astype(object)
    return (values.notna() & ~values.astype(str).isin(known)).to_numpy()


def _duplicated(values: pd.Series) -> np.ndarray:
    """Per row: True for a repeat of an earlier row's value (missing values are never repeats). Ids that
    strictly increase down the file (a generated or exported log usually) cannot repeat: checked in one
    vectorised comparison of neighbours before hashing millions of strings."""
    if strictly_ascending_text(values):
        return np.zeros(len(values), dtype=bool)
    return (values.duplicated(keep="first") & values.notna()).to_numpy()


def _read_manifest(directory: Path) -> tuple[dict, list[Problem]]:
    path = directory / MANIFEST
    if not path.exists():
        return {}, []
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return {}, [Problem("error", MANIFEST, None, f"not valid JSON ({error})", "fix or remove manifest.json")]
    if not isinstance(manifest, dict):
        return {}, [Problem("error", MANIFEST, None, "must be a JSON object", "fix or remove manifest.json")]
    version = manifest.get("format_version")
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version)
    if version is not None and version != FORMAT_VERSION:
        return manifest, [Problem("error", MANIFEST, "format_version", f"format version {version!r} is not supported",
                                  f"this snoopwatch reads format version {FORMAT_VERSION}")]
    return manifest, []


def load_dataset(
    directory: str | Path,
    *,
    strict: bool = True,
    source_timezone: str | None = None,
    answer_key: bool = True,
    tables: tuple[str, ...] | None = None,
) -> Dataset:
    """Read a data-set directory into a Dataset.

    strict: refuse (DatasetError listing every problem) when anything is an error; otherwise set bad rows
    aside in `Dataset.rejects` with their reasons. source_timezone: the IANA zone of times written
    without an offset. answer_key: False skips labels and instances (what train and detect use).
    tables: read only these tables (events is always read).
    """
    with arrow_allocates_from_malloc():
        return _load_dataset(Path(directory), strict, source_timezone, answer_key, tables)


def _load_dataset(directory: Path, strict: bool, source_timezone: str | None, answer_key: bool,
                  tables: tuple[str, ...] | None) -> Dataset:
    if not directory.exists():
        raise DatasetError(f"{directory}: no such directory; give the folder that holds events.csv or events.parquet")
    if not directory.is_dir():
        raise DatasetError(f"{directory}: is a file; give the folder that holds it")
    if source_timezone is not None:
        check_time_zone(source_timezone)
    files, problems = find_table_files(directory)
    if "events" not in files:
        raise DatasetError(f"{directory}: no events table; a data set needs events.csv, events.csv.gz, events.parquet or events.jsonl",
                           problems)
    manifest, manifest_problems = _read_manifest(directory)
    problems += manifest_problems
    if manifest_problems:  # a data set in another format version is not read at all, however lenient
        raise DatasetError(f"{directory}: {manifest_problems[0]}", problems)
    wanted = [n for n in TABLES if n in files and (answer_key or n not in ANSWER_KEY_TABLES)
              and (tables is None or n in tables or n == "events")]
    frames: dict[str, pd.DataFrame] = {}
    bad_rows: dict[str, dict[str, np.ndarray]] = {}
    for name in wanted:
        path = files[name]
        if path.stat().st_size == 0:
            problems.append(Problem("error" if name == "events" else "warning", path.name, None, "empty file",
                                    "export the table again with a header row, or remove the file"))
            continue
        result = read_table(path, name, source_timezone)
        table_problems, bad = _check_table(name, path, result.frame, result.issues)
        problems += table_problems
        if any(p.level == "error" and p.count == 0 for p in table_problems):
            continue  # the table is unusable as a whole (missing column, no rows)
        frames[name] = result.frame
        if bad:
            bad_rows[name] = bad
    ref_problems, ref_bad = _check_references(frames, files)
    problems += ref_problems
    for name, masks in ref_bad.items():
        bad_rows.setdefault(name, {}).update(masks)

    errors = [p for p in problems if p.level == "error"]
    if strict and errors:
        listing = "\n".join(f"  - {p}" for p in errors)
        raise DatasetError(f"{directory}: {len(errors)} problem(s) must be fixed (or load leniently to set bad rows aside):\n{listing}",
                           problems)
    if "events" not in frames:
        listing = "\n".join(f"  - {p}" for p in errors)
        raise DatasetError(f"{directory}: the events table cannot be used:\n{listing}", problems)

    rejects: dict[str, pd.DataFrame] = {}
    for name, masks in bad_rows.items():
        frame = frames[name]
        reasons = pd.Series([""] * len(frame), dtype=object)
        any_bad = np.zeros(len(frame), dtype=bool)
        for reason, mask in masks.items():
            reasons[mask] = np.where(reasons[mask] == "", reason, reasons[mask] + "; " + reason)
            any_bad |= mask
        rejected = frame[any_bad].copy()
        rejected.insert(0, "source_row", np.flatnonzero(any_bad) + 1)
        rejected.insert(1, "reject_reason", reasons[any_bad].to_numpy())
        rejects[name] = rejected
        frames[name] = frame[~any_bad].reset_index(drop=True)

    events = frames["events"]
    if "event_id" not in events.columns or events["event_id"].isna().any():
        events = with_derived_event_ids(events)
    # Time order (stable). A log already in time order (the usual export) is kept as it is: sorting it
    # would copy every column, event ids included, to the same order.
    in_order = events["timestamp"].is_monotonic_increasing and events.index.equals(pd.RangeIndex(len(events)))
    frames["events"] = events if in_order else events.sort_values("timestamp", kind="stable").reset_index(drop=True)
    del events
    # Hand the buffers Arrow decoded and sorted the tables with back to the system (malloc_trim): later
    # steps allocate through numpy.
    pa.default_memory_pool().release_unused()
    return Dataset(frames, manifest, directory, problems, rejects, {n: files[n] for n in frames})


def with_derived_event_ids(events: pd.DataFrame) -> pd.DataFrame:
    """Fill missing event_ids with ids derived from the row, so the same input always gets the same ids."""
    ids = derive_event_ids(events)
    out = events.copy()
    if "event_id" in out.columns:
        out["event_id"] = out["event_id"].fillna(pd.Series(ids, index=out.index, dtype=out["event_id"].dtype))
    else:
        out.insert(0, "event_id", pd.Series(ids, index=out.index).astype(pd.StringDtype("pyarrow")))
    return out


def derive_event_ids(events: pd.DataFrame) -> np.ndarray:
    """Deterministic ids from the row's content ("h" + 16 hex digits, then "-N" for repeats of one row)."""
    if not len(events):
        return np.zeros(0, dtype=object)
    columns = [c for c in TABLES["events"].columns if c != "event_id" and c in events.columns]
    parts = {}
    for column in columns:
        values = events[column]
        if TABLES["events"].kind(column) == TIME:
            parts[column] = values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64").where(values.notna(), -1)
        else:
            parts[column] = values.astype(object).where(values.notna(), "").astype(str)
    frame = pd.DataFrame(parts, index=events.index)
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    hex_ids = np.char.add("h", np.char.zfill(np.char.mod("%x", hashes), 16))
    repeat = pd.Series(hashes).groupby(hashes).cumcount().to_numpy()
    suffix = np.where(repeat > 0, np.char.add("-", repeat.astype(str)), "")
    return np.char.add(hex_ids, suffix).astype(object)
