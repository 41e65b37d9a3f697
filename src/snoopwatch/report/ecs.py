"""Alerts shaped for a SIEM: Elastic Common Schema (ECS 8.x) documents, one JSON object per line.

Standard ECS fields carry what every SIEM indexes (`@timestamp`, `event.*`, `user.id`, `rule.*`); the rest
of the alert (reasons, event ids, model) sits under the custom `snoopwatch` namespace, as ECS advises for
fields it does not define. `@timestamp` is the end of the alert window (the newest event behind the
alert), so re-running detection on the same input writes the same line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from snoopwatch import __version__
from snoopwatch.report.inputs import iso, normalise_alert, normalise_alerts

ECS_VERSION = "8.11.0"
RULE_NAME = "snoopwatch: unexplained access to personal data"
# ECS event.severity is numeric; these are the values Elastic Security uses for its four levels.
SEVERITY_NUMBER = {"low": 21, "medium": 47, "high": 73, "critical": 99}


def alert_to_ecs(alert: Any) -> dict:
    """One alert (`Alert.to_dict()` or an alerts-file line) as a nested ECS document."""
    a = normalise_alert(alert)
    reasons = [{"code": r["code"], "text": r["text"], "weight": r["weight"]} for r in a["reasons"]]
    model = a["model"]
    return {
        "@timestamp": iso(a["window_end"]),
        "ecs": {"version": ECS_VERSION},
        "message": a["summary"],
        "event": {
            "kind": "alert",
            "category": ["database", "intrusion_detection"],
            "type": ["access", "info"],
            "id": str(a["alert_id"]),
            "module": "snoopwatch",
            "dataset": "snoopwatch.alerts",
            "provider": "snoopwatch",
            "start": iso(a["window_start"]),
            "end": iso(a["window_end"]),
            "risk_score": round(a["risk"], 2),
            "risk_score_norm": round(a["risk"], 2),
            "severity": SEVERITY_NUMBER.get(a["severity"], 0),
            "reason": "; ".join(r["text"] for r in reasons if r["text"]) or a["summary"],
        },
        "user": {"id": a["user_id"]},
        "rule": {
            "name": RULE_NAME,
            "id": reasons[0]["code"] if reasons else "risk",
            "ruleset": "snoopwatch",
            "category": "insider misuse of personal-data systems",
            "version": str(model.get("version", "")),
            "description": a["summary"],
        },
        "observer": {"vendor": "snoopwatch", "product": "snoopwatch", "type": "ueba", "version": __version__},
        "related": {"user": [a["user_id"]]},
        "tags": ["snoopwatch", f"severity:{a['severity']}"] + [r["code"] for r in reasons if r["code"]],
        "snoopwatch": {
            "alert_id": str(a["alert_id"]),
            "window": a.get("window", ""),
            "severity": a["severity"],
            "risk": round(a["risk"], 2),
            "summary": a["summary"],
            "reasons": reasons,
            "event_ids": a["event_ids"],
            "event_count": len(a["event_ids"]),
            "model": {k: model[k] for k in ("name", "version", "file_hash") if k in model},
        },
    }


def alerts_to_ecs_lines(alerts: Iterable[Any]) -> str:
    """JSON lines for a SIEM, highest risk first; empty string for no alerts."""
    lines = [json.dumps(alert_to_ecs(a), ensure_ascii=False, sort_keys=False) for a in normalise_alerts(alerts)]
    return "".join(line + "\n" for line in lines)
