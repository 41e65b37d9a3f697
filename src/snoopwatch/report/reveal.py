"""Trainer mode: the answer key beside the detections.

A planted case (an `instances` row) counts as caught when any of its labelled events is behind an alert
(the same rule as the evaluation's "case caught"). Cases none of whose events were scored lie outside
the detection period and are listed apart rather than counted as missed. An alert none of whose events
is labelled is a false alarm; trainers use those to show the legitimate look-alikes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from snoopwatch.dataset.model import Dataset
from snoopwatch.errors import SnoopwatchError


class RevealError(SnoopwatchError):
    """Trainer mode was asked for on a data set without an answer key."""


@dataclass
class PlantedCase:
    """One planted misuse case and what detection made of it."""

    instance_id: str
    scenario: str
    scenario_name: str
    user_id: str
    narrative: str
    story: str
    mirrors: str
    n_events: int
    n_scored: int
    n_alerted: int
    first_at: pd.Timestamp | None
    last_at: pd.Timestamp | None
    alert_ids: list[str]
    first_alert_at: pd.Timestamp | None
    status: str  # caught | missed | outside  (outside: none of its events was scored)

    @property
    def days_to_alert(self) -> float | None:
        if self.first_alert_at is None or self.first_at is None:
            return None
        return max((self.first_alert_at - self.first_at).total_seconds() / 86400.0, 0.0)


@dataclass
class AnswerKey:
    """Every planted case with its outcome, plus which alerts matched which cases."""

    cases: list[PlantedCase]
    alert_cases: dict[str, list[str]] = field(default_factory=dict)  # alert_id -> instance ids
    false_alarm_ids: list[str] = field(default_factory=list)

    @property
    def caught(self) -> list[PlantedCase]:
        return [c for c in self.cases if c.status == "caught"]

    @property
    def missed(self) -> list[PlantedCase]:
        return [c for c in self.cases if c.status == "missed"]

    @property
    def outside(self) -> list[PlantedCase]:
        return [c for c in self.cases if c.status == "outside"]


def scenario_catalogue() -> dict[str, dict]:
    """Scenario id -> {name, story, mirrors} from the generator's catalogue, or {} when it is unavailable."""
    try:
        from snoopwatch.synth.scenarios import load_catalogue
    except ImportError:
        return {}
    try:
        catalogue = load_catalogue()
    except SnoopwatchError:
        return {}
    out = {}
    for item in catalogue:
        get = item.get if isinstance(item, dict) else lambda key, default="", _i=item: getattr(_i, key, default)
        sid = str(get("id", ""))
        mirrors = get("mirrors", "")
        out[sid] = {"name": str(get("name", "") or ""), "story": str(get("story", "") or ""),
                    "mirrors": "; ".join(mirrors) if isinstance(mirrors, list | tuple) else str(mirrors or "")}
    return out


def build_answer_key(dataset: Dataset, scores: pd.DataFrame, alerts: list[dict]) -> AnswerKey:
    """Match the data set's labels and instances against the scored events and the alerts."""
    if not dataset.has_labels:
        raise RevealError("trainer mode (--reveal) needs a data set with an answer key (labels file); "
                          "this one has none, so run the report without --reveal")
    labels = dataset.labels
    labels = pd.DataFrame({"event_id": labels["event_id"].astype("string"),
                           "scenario": labels["scenario"].astype("string"),
                           "instance_id": labels["instance_id"].astype("string")})
    events = dataset.events
    if events is not None and "event_id" in events.columns:
        ids = _objects(events["event_id"])
        planted = ids.isin(_objects(labels["event_id"])).to_numpy(dtype=bool)
        times = pd.Series(events["timestamp"][planted].to_numpy("datetime64[ns]"), index=ids[planted].to_numpy())
        times = times.dt.tz_localize("UTC")
        times = times[~times.index.duplicated()]
        labels["timestamp"] = labels["event_id"].map(times).astype("datetime64[ns, UTC]")
    else:
        labels["timestamp"] = pd.Series(pd.NaT, index=labels.index, dtype="datetime64[ns, UTC]")
    labels["scored"] = _objects(labels["event_id"]).isin(_objects(scores["event_id"])).to_numpy(dtype=bool)

    alert_of: dict[str, list[dict]] = {}
    for alert in alerts:
        for event_id in alert["event_ids"]:
            alert_of.setdefault(event_id, []).append(alert)
    labels["alerted"] = _objects(labels["event_id"]).isin(list(alert_of)).to_numpy(dtype=bool)

    instances = dataset.instances
    info: dict[str, dict] = {}
    if instances is not None:
        for _, row in instances.iterrows():
            info[str(row["instance_id"])] = {k: row.get(k) for k in instances.columns}
    catalogue = scenario_catalogue()

    cases: list[PlantedCase] = []
    alert_cases: dict[str, list[str]] = {}
    for instance_id, group in labels.groupby("instance_id", sort=True):
        row = info.get(str(instance_id), {})
        scenario = str(group["scenario"].iloc[0])
        entry = catalogue.get(scenario, {})
        matched = [a for e in group.loc[group["alerted"], "event_id"] for a in alert_of[e]]
        ids = list(dict.fromkeys(str(a["alert_id"]) for a in matched))
        for alert_id in ids:
            alert_cases.setdefault(alert_id, []).append(str(instance_id))
        status = "caught" if ids else ("missed" if group["scored"].any() else "outside")
        first_at = group["timestamp"].min() if group["timestamp"].notna().any() else _stamp(row.get("first_at"))
        last_at = group["timestamp"].max() if group["timestamp"].notna().any() else _stamp(row.get("last_at"))
        user = row.get("user_id")
        if user is None or pd.isna(user):
            user = _user_of(events, group["event_id"])
        cases.append(PlantedCase(
            instance_id=str(instance_id), scenario=scenario, scenario_name=entry.get("name", ""),
            user_id=str(user or ""), narrative=_str(row.get("narrative")), story=entry.get("story", ""),
            mirrors=entry.get("mirrors", ""), n_events=len(group), n_scored=int(group["scored"].sum()),
            n_alerted=int(group["alerted"].sum()), first_at=first_at, last_at=last_at, alert_ids=ids,
            first_alert_at=min((a["window_end"] for a in matched), default=None), status=status))
    order = {"caught": 0, "missed": 1, "outside": 2}
    cases.sort(key=lambda c: (order[c.status], c.scenario, c.instance_id))
    false_alarms = [str(a["alert_id"]) for a in alerts if str(a["alert_id"]) not in alert_cases]
    return AnswerKey(cases, alert_cases, false_alarms)


def _objects(series: pd.Series) -> pd.Series:
    """Ids as a plain object Series: hashing Python strings beats Arrow's isin on large value sets."""
    return pd.Series(series.astype("string").to_numpy(dtype=object, na_value=None))


def _str(value: object) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _stamp(value: object) -> pd.Timestamp | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _user_of(events: pd.DataFrame | None, event_ids: pd.Series) -> str:
    if events is None or "event_id" not in events.columns:
        return ""
    users = events.loc[events["event_id"].astype("string").isin(event_ids), "user_id"]
    return str(users.iloc[0]) if len(users) else ""
