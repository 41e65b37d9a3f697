"""Any CSV, JSON lines or Parquet export to data-set events, by naming which column holds what.

The export is read as text exactly as the data-set reader reads a table, its columns are renamed by the
mapping (`timestamp=ts,user_id=officer,...`), values can be translated (`action: QRY=search`) or set
(`system=PNC`), and the result goes through the data-set reader's own typing, time-zone and rejects rules:
a row the reader would set aside is set aside here, with the same reason.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from snoopwatch.convert.common import EVENT_COLUMNS, SOURCE_COLUMN, ConversionReport, finish
from snoopwatch.dataset.io import as_text, read_raw_table, table_format
from snoopwatch.errors import ConversionError, DatasetError


def parse_pairs(items: list[str] | tuple[str, ...], what: str) -> dict[str, str]:
    """`a=b,c=d` items (repeatable, comma-separated) as a dict; a ConversionError names a bad item."""
    out: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ConversionError(f"{what} {part!r}: write it as name=value")
            out[key.strip()] = value.strip()
    return out


def parse_value_maps(items: list[str] | tuple[str, ...]) -> dict[str, dict[str, str]]:
    """`action:QRY=search,DSP=view` items as {column: {from: to}}."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        column, sep, pairs = item.partition(":")
        if not sep or column.strip() not in EVENT_COLUMNS:
            raise ConversionError(f"--value {item!r}: write it as COLUMN:FROM=TO,... with an events column "
                                  f"({', '.join(EVENT_COLUMNS)})")
        out.setdefault(column.strip(), {}).update(parse_pairs([pairs], "--value"))
    return out


def table_rows(path: str | Path, columns: dict[str, str], *, values: dict[str, dict[str, str]] | None = None,
               constants: dict[str, str] | None = None) -> tuple[list[dict], ConversionReport]:
    """Event rows (text) from an export: `columns` maps events column -> export column."""
    path = Path(path)
    if not path.exists():
        raise ConversionError(f"{path}: no such file")
    bad = [c for c in [*columns, *(constants or {})] if c not in EVENT_COLUMNS]
    if bad:
        raise ConversionError(f"{', '.join(bad)}: not events columns; map to {', '.join(EVENT_COLUMNS)}")
    try:
        table_format(path)
        raw = read_raw_table(path)
    except DatasetError as error:  # (it says where and what to do)
        raise ConversionError(str(error)) from error
    missing = [source for source in columns.values() if source not in raw.columns]
    if missing:
        raise ConversionError(f"{path.name} has no column {', '.join(map(repr, missing))}; it has "
                              f"{', '.join(map(str, raw.columns))}")
    report = ConversionReport("table export", files=[str(path)], records=len(raw), physical_lines=len(raw))
    frame = pd.DataFrame(index=raw.index)

    def cells(values: pd.Series) -> pd.Series:
        """An export column as the data-set reader reads its text: stripped, and a whole number held as a
        float (a numeric id beside an empty cell, in JSON or Parquet) written without ".0". Instants stay
        instants."""
        return values if pd.api.types.is_datetime64_any_dtype(values.dtype) else as_text(values)

    for target, source in columns.items():
        frame[target] = cells(raw[source])
    for column in raw.columns:  # columns already named as the format names them come along
        if column in EVENT_COLUMNS and column not in frame.columns and column not in columns.values():
            frame[column] = cells(raw[column])
    for column, value in (constants or {}).items():
        frame[column] = value
    for column, translation in (values or {}).items():
        if column in frame.columns:
            text = frame[column].astype(object)
            frame[column] = text.map(lambda v, t=translation: t.get(str(v), v) if v is not None and v == v else v)
    dropped = [c for c in raw.columns if c not in columns.values() and c not in EVENT_COLUMNS]
    if dropped:
        report.notes[f"export column(s) not mapped and left out: {', '.join(map(str, dropped))}"] += 1
    frame[SOURCE_COLUMN] = [f"{path.name}:row {i + 1}" for i in range(len(frame))]
    report.converted = len(frame)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return rows, report


def convert_table(path: str | Path, columns: dict[str, str], out: str | Path, *, timezone: str | None = None,
                  values: dict[str, dict[str, str]] | None = None, constants: dict[str, str] | None = None,
                  fmt: str = "parquet", context: str | Path | None = None,
                  answer_key: bool = True) -> ConversionReport:
    """Convert an export into a data set at `out`; rows the data-set reader cannot use are set aside with
    their reasons (out/rejects/events.rejects.csv). timezone: the zone of times written without an offset."""
    rows, report = table_rows(path, columns, values=values, constants=constants)
    return finish(rows, report, out, fmt=fmt, context=context, answer_key=answer_key, source_timezone=timezone)
