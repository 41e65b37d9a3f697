"""Write a whole data set directory: every table in one format, plus manifest.json."""

from __future__ import annotations

from pathlib import Path

from snoopwatch.csvsafe import neutralise_csv_frame
from snoopwatch.dataset.io import write_manifest, write_table
from snoopwatch.dataset.schema import FORMAT_VERSION, TABLES
from snoopwatch.errors import DatasetError

FORMATS = {"parquet": ".parquet", "csv": ".csv", "csv.gz": ".csv.gz", "jsonl": ".jsonl"}


def save_dataset(tables: dict, directory: str | Path, *, fmt: str = "parquet", manifest: dict | None = None) -> dict[str, Path]:
    """Write `tables` (name -> DataFrame) to `directory` in format `fmt`; JSON lines applies to events only
    (other tables are then written as CSV). Returns name -> path written."""
    if fmt not in FORMATS:
        raise DatasetError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, frame in tables.items():
        if name not in TABLES:
            raise DatasetError(f"unknown table {name!r}; the format has {', '.join(TABLES)}")
        ext = FORMATS[fmt] if (fmt != "jsonl" or name == "events") else ".csv"
        for other in FORMATS.values():  # never leave an older copy of the same table in another format
            stale = directory / f"{name}{other}"
            if other != ext and stale.exists():
                stale.unlink()
        written[name] = write_table(frame, directory / f"{name}{ext}", name)
    manifest = dict(manifest or {})
    manifest.setdefault("format_version", FORMAT_VERSION)
    manifest.setdefault("rows", {name: int(len(frame)) for name, frame in tables.items()})
    write_manifest(directory, manifest)
    return written


def write_rejects(rejects: dict, directory: str | Path) -> dict[str, Path]:
    """Write rows set aside by lenient loading as `NAME.rejects.csv` (with `source_row` and `reject_reason`)."""
    directory = Path(directory)
    written: dict[str, Path] = {}
    for name, frame in rejects.items():
        if len(frame):
            # Rejected rows are raw log text that analysts open in a spreadsheet: formulas made inert.
            written[name] = write_table(neutralise_csv_frame(frame), directory / f"{name}.rejects.csv", name)
    return written
