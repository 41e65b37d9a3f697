"""Read and normalise what detection wrote (shared/DATASET.md, "Scores and alerts written by detection").

The report accepts alerts as `Alert` objects or as plain dicts (a line of the alerts file); everything
downstream sees one shape: a dict with parsed UTC window times, `event_ids` as a list of strings and
`reasons` as a list of dicts with `code`, `text`, `weight`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from snoopwatch.errors import SnoopwatchError

SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
SCORE_COLUMNS = ("event_id", "user_id", "timestamp", "score")
ALERT_KEYS = ("alert_id", "user_id", "window_start", "window_end", "risk", "severity", "event_ids", "reasons")


class ReportInputError(SnoopwatchError):
    """A scores or alerts file (or object) does not follow the documented shape."""


def utc(value: Any) -> pd.Timestamp:
    """A timestamp in UTC from an ISO string, datetime or Timestamp (naive values are taken as UTC)."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def iso(stamp: pd.Timestamp | None) -> str | None:
    """ISO 8601 with a `Z`, to the second; None stays None."""
    if stamp is None or pd.isna(stamp):
        return None
    return utc(stamp).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise_alert(alert: Any) -> dict:
    """One alert (an `Alert` or a dict) as a plain dict with parsed window times; raises on missing keys."""
    data = alert.to_dict() if hasattr(alert, "to_dict") else dict(alert)
    missing = [key for key in ALERT_KEYS if key not in data]
    if missing:
        name = data.get("alert_id", "an alert")
        raise ReportInputError(f"{name} has no {', '.join(missing)}; alerts must be written by `snoopwatch detect` "
                               "or follow the alerts format in DATASET.md")
    out = dict(data)
    out["user_id"] = str(data["user_id"])
    out["window_start"] = utc(data["window_start"])
    out["window_end"] = utc(data["window_end"])
    out["risk"] = float(data["risk"])
    out["severity"] = str(data["severity"]).lower()
    out["event_ids"] = [str(e) for e in data["event_ids"]]
    reasons = []
    for reason in data["reasons"] or []:
        item = reason if isinstance(reason, dict) else {
            "code": getattr(reason, "code", ""), "text": getattr(reason, "text", ""),
            "weight": getattr(reason, "weight", 0.0)}
        reasons.append({"code": str(item.get("code", "")), "text": str(item.get("text", "")),
                        "weight": float(item.get("weight") or 0.0)})
    out["reasons"] = sorted(reasons, key=lambda r: -abs(r["weight"]))
    out["summary"] = str(data.get("summary") or "")
    out["model"] = dict(data.get("model") or {})
    return out


def normalise_alerts(alerts: Iterable[Any]) -> list[dict]:
    """All alerts normalised, highest risk first (ties by severity, then alert id, for a stable order)."""
    items = [normalise_alert(a) for a in alerts]
    return sorted(items, key=lambda a: (-a["risk"], SEVERITY_RANK.get(a["severity"], 9), str(a["alert_id"])))


def read_alerts_file(path: str | Path) -> list[dict]:
    """Read an alerts JSON-lines file into normalised dicts; a broken line is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"{path}: no such alerts file; give the JSON-lines file `snoopwatch detect` wrote")
    raw = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ReportInputError(f"{path}, line {number}: not valid JSON ({error.msg}); "
                                       "the alerts file must hold one JSON object per line") from None
    return normalise_alerts(raw)


def normalise_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Scores with the documented columns, string ids, UTC timestamps and float scores."""
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise ReportInputError(f"the scores have no column {', '.join(missing)}; scores need "
                               f"{', '.join(SCORE_COLUMNS)} (and optionally reasons)")
    out = pd.DataFrame({
        "event_id": scores["event_id"].astype("string"),
        "user_id": scores["user_id"].astype("string"),
        "timestamp": pd.to_datetime(scores["timestamp"], utc=True, format="ISO8601").astype("datetime64[ns, UTC]"),
        "score": pd.to_numeric(scores["score"], errors="coerce").astype("float64"),
        "reasons": (scores["reasons"].astype("string").fillna("") if "reasons" in scores.columns
                    else pd.Series("", index=scores.index, dtype="string")),
    })
    return out.reset_index(drop=True)


def read_scores_file(path: str | Path) -> pd.DataFrame:
    """Read a scores file (CSV, CSV.gz or Parquet, by extension)."""
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"{path}: no such scores file; give the file `snoopwatch detect` wrote")
    name = path.name.lower()
    if name.endswith(".parquet"):
        frame = pd.read_parquet(path)
    elif name.endswith((".csv", ".csv.gz")):
        frame = pd.read_csv(path, dtype={"event_id": "string", "user_id": "string", "reasons": "string"},
                            keep_default_na=False, na_values={"score": [""]})
    else:
        raise ReportInputError(f"{path}: unknown scores file type; use .csv, .csv.gz or .parquet")
    return normalise_scores(frame)
