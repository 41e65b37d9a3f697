"""Plain result objects: Reason, Alert (JSON-ready, versioned) and Detection (everything detect returns)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

ALERT_VERSION = 1
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Reason:
    """One named piece of evidence: a stable code, a plain sentence, and its share of the evidence (0-1)."""

    code: str
    text: str
    weight: float


@dataclass(frozen=True)
class Alert:
    """One person to look at over one time window, with the events and the reasons."""

    alert_id: str
    user_id: str
    window_start: str
    window_end: str
    risk: int
    severity: str
    event_ids: list[str]
    reasons: list[Reason]
    summary: str
    model: dict[str, str]
    window: str = "day"
    evidence: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the alerts-file shape of shared/DATASET.md, with a version key."""
        data = asdict(self)
        data["reasons"] = [asdict(r) for r in self.reasons]
        return {"version": ALERT_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["reasons"] = [Reason(**{k: r[k] for k in ("code", "text", "weight")}) for r in data.get("reasons", [])]
        fields["event_ids"] = list(data.get("event_ids", []))
        return cls(**fields)


def alert_id(user_id: str, window_start: str, window_end: str, model_hash: str, event_ids: list[str],
             window: str = "") -> str:
    """Stable id: the same user, window (kind and dates), model and events always give the same id."""
    text = "\x1f".join([user_id, window, window_start, window_end, model_hash, *sorted(event_ids)])
    return "A" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def severity_for(risk: float) -> str:
    if risk >= 80:
        return "critical"
    if risk >= 60:
        return "high"
    if risk >= 40:
        return "medium"
    return "low"


@dataclass
class Detection:
    """What detect returns: event scores, ranked alerts, rows it could not score, the allow-list report."""

    scores: pd.DataFrame
    alerts: list[Alert]
    rejects: pd.DataFrame
    suppressed: pd.DataFrame
    features_used: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    budget_per_day: int = 0
    days: int = 0
    staff: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
