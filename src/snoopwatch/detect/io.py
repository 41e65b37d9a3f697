"""Scores and alerts files (shared/DATASET.md): scores as CSV or Parquet, alerts as JSON lines.

CSV cells that a spreadsheet would run as a formula (starting = + - @) are neutralised on writing: the ids
come from the log and are attacker-controlled.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from snoopwatch.atomic import atomic_path, write_text_atomic
from snoopwatch.csvsafe import neutralise_csv_frame, restore_csv_value
from snoopwatch.detect.alerts import ALERT_VERSION, Alert
from snoopwatch.errors import SnoopwatchError

SCORE_COLUMNS = ("event_id", "user_id", "timestamp", "score", "reasons")


def write_scores(scores: pd.DataFrame, path: str | Path) -> Path:
    """Write the scores file; .parquet or .csv (optionally .csv.gz) by extension."""
    path = Path(path)
    name = path.name.lower()
    frame = scores[list(SCORE_COLUMNS)]
    with atomic_path(path) as tmp:
        if name.endswith(".parquet"):
            frame.to_parquet(tmp, index=False)
        elif name.endswith(".csv") or name.endswith(".csv.gz"):
            out = neutralise_csv_frame(frame.astype({"event_id": object, "user_id": object, "reasons": object}))
            out = out.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
            out.to_csv(tmp, index=False, compression="gzip" if name.endswith(".gz") else None,
                       float_format="%.6g")
        else:
            raise SnoopwatchError(f"{path}: scores are written as .csv, .csv.gz or .parquet")
    return path


def read_scores(path: str | Path) -> pd.DataFrame:
    """Read a scores file back (timestamps as UTC, reasons as text, empty reasons as '')."""
    path = Path(path)
    if not path.exists():
        raise SnoopwatchError(f"{path}: no such scores file")
    if path.name.lower().endswith(".parquet"):
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype={"event_id": str, "user_id": str, "reasons": str}, keep_default_na=False)
        frame["score"] = frame["score"].astype("float64")
        for column in ("event_id", "user_id"):  # undo the CSV formula guard, so ids join the data set again
            frame[column] = frame[column].map(restore_csv_value)
    missing = [c for c in SCORE_COLUMNS if c not in frame.columns]
    if missing:
        raise SnoopwatchError(f"{path}: not a scores file (missing {', '.join(missing)})")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    frame["reasons"] = frame["reasons"].fillna("").astype(str)
    return frame


def write_alerts(alerts: list[Alert] | list[dict], path: str | Path) -> Path:
    """Write alerts as JSON lines (one object per alert, each with a version key)."""
    lines = [json.dumps(a.to_dict() if isinstance(a, Alert) else a, sort_keys=False, ensure_ascii=False)
             for a in alerts]
    write_text_atomic(path, "".join(line + "\n" for line in lines))
    return Path(path)


def read_alerts(path: str | Path) -> list[Alert]:
    """Read an alerts JSON-lines file written by write_alerts."""
    path = Path(path)
    if not path.exists():
        raise SnoopwatchError(f"{path}: no such alerts file")
    alerts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise SnoopwatchError(f"{path}: line {number} is not JSON ({error})") from error
        if data.get("version") != ALERT_VERSION:
            raise SnoopwatchError(f"{path}: line {number} has alert version {data.get('version')!r}; expected {ALERT_VERSION}")
        alerts.append(Alert.from_dict(data))
    return alerts
