"""The ranked list of people to look at, as a rich table: one row per person, strongest reasons first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from snoopwatch.report.inputs import normalise_alerts

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def people_ranking(alerts: Iterable[Any]) -> list[dict]:
    """Alerts grouped per person, ranked by their highest risk: user_id, risk, severity, alerts, events,
    window_start, window_end, reasons (texts of the top alert, strongest first) and summary."""
    by_user: dict[str, list[dict]] = {}
    for alert in normalise_alerts(alerts):
        by_user.setdefault(alert["user_id"], []).append(alert)
    people = []
    for user_id, items in by_user.items():
        top = items[0]
        events = {e for a in items for e in a["event_ids"]}
        people.append({
            "user_id": user_id, "risk": top["risk"], "severity": top["severity"], "alerts": len(items),
            "events": len(events), "window_start": min(a["window_start"] for a in items),
            "window_end": max(a["window_end"] for a in items),
            "reasons": [r["text"] or r["code"] for r in top["reasons"]], "summary": top["summary"],
            "alert_ids": [a["alert_id"] for a in items],
        })
    return sorted(people, key=lambda p: (-p["risk"], p["user_id"]))


def render_people_table(alerts: Iterable[Any], console: Console, *, staff: pd.DataFrame | None = None,
                        limit: int | None = None, max_reasons: int = 3) -> None:
    """Print the ranked table of people with reasons; colours follow the console (off when not a terminal)."""
    people = people_ranking(alerts)
    if not people:
        console.print("No alerts: nobody's activity stood out within the analyst budget.")
        return
    who = _staff_lookup(staff)
    shown = people if limit is None else people[:limit]
    table = Table(title=f"People to look at ({len(people)})", title_justify="left", show_lines=True,
                  header_style="bold", box=box.SIMPLE_HEAD, expand=False, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("person", no_wrap=True)
    table.add_column("risk", justify="right", no_wrap=True)
    table.add_column("events", justify="right")
    narrow = console.width < 110  # an 80-column terminal: the reasons need the room more than the dates
    if not narrow:
        table.add_column("window (UTC)", no_wrap=True)
    table.add_column("why", overflow="fold", min_width=30, ratio=1)
    for rank, person in enumerate(shown, start=1):
        # Text objects, not markup strings: names and reasons come from the log and may contain "[".
        name = Text(person["user_id"])
        for line in who.get(person["user_id"], ()):
            name.append(f"\n{line}", style="dim")
        risk = Text(f"{person['risk']:.0f}\n")
        risk.append(person["severity"], style=SEVERITY_STYLE.get(person["severity"], ""))
        window = f"{person['window_start']:%Y-%m-%d}\nto {person['window_end']:%Y-%m-%d}"
        reasons = person["reasons"][:max_reasons] or [person["summary"]]
        more = len(person["reasons"]) - max_reasons
        why = Text("\n".join(f"- {r}" for r in reasons) + (f"\n  (+{more} more)" if more > 0 else ""))
        cells = [str(rank), name, risk, str(person["events"])] + ([] if narrow else [window]) + [why]
        table.add_row(*cells)
    console.print(table)
    if len(shown) < len(people):
        console.print(f"... and {len(people) - len(shown)} more in the report.")


def _staff_lookup(staff: pd.DataFrame | None) -> dict[str, list[str]]:
    """user_id -> [role, unit] lines for the person column (empty when there is no staff table)."""
    if staff is None or "user_id" not in staff.columns:
        return {}
    columns = [c for c in ("role", "unit") if c in staff.columns]
    if not columns:
        return {}
    parts = [staff[c].astype("string").fillna("").str.replace("_", " ", regex=False) for c in columns]
    lines = [[p for p in values if p] for values in zip(*parts, strict=True)]
    return dict(zip(staff["user_id"].astype("string"), lines, strict=True))
