"""The self-contained HTML report: an overview, then one card per alerted person, and (trainer mode) the answers.

One file, no network: CSS is inline, charts are PNG data URIs, there is no script at all, and a
Content-Security-Policy meta tag forbids anything else, so a report opened from a mail attachment cannot
call out. Everything taken from the log (names, references, free text) is attacker-controlled and goes
through Jinja2 with autoescaping on; nothing is marked safe except the chart URIs this module builds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
import numpy as np
import pandas as pd

from snoopwatch import __version__
from snoopwatch.atomic import write_text_atomic
from snoopwatch.dataset.model import Dataset
from snoopwatch.errors import SnoopwatchError
from snoopwatch.report import charts
from snoopwatch.report.context import (
    display_name,
    duty_periods,
    on_duty,
    staff_record,
    subject_relations,
)
from snoopwatch.report.inputs import SEVERITIES, normalise_alerts, normalise_scores
from snoopwatch.report.reveal import AnswerKey, build_answer_key
from snoopwatch.report.terminal import people_ranking

ProgressFn = Callable[[str, int, int], None]
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
MAX_LANES = 10
MAX_EVENT_ROWS = 150
NO_SUBJECT = "\x00none"
OTHER_SUBJECTS = "\x00other"
PERSONAL_LINKS = ("self", "surname", "neighbour", "declared", "colleague", "flag")
SUBJECT_ROWS_OPEN = 12
LANE_WORDS = {"self": "self", "surname": "surname", "neighbour": "neighbour", "declared": "declared",
              "colleague": "colleague", "case": "on their case"}


class ReportError(SnoopwatchError):
    """The report cannot be built from what was given (e.g. an unknown time zone)."""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("snoopwatch.report", "templates"),
        autoescape=True,  # every template, whatever its name: the log is attacker-controlled
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda n: f"{n:,}"
    return env


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(f"unknown time zone {name!r}; give an IANA name such as Europe/London or UTC") from None


def write_html_report(dataset: Dataset, scores: pd.DataFrame, alerts: Iterable[Any], out: str | Path, *,
                      reveal: bool = False, max_people: int = 25, timezone: str | None = None,
                      title: str = "snoopwatch report", progress: ProgressFn | None = None) -> Path:
    """Write the report to `out` atomically and return its path.

    reveal: trainer mode, the answer key beside the detections (the data set must have labels).
    max_people: cards drawn for the highest-risk people (the ranked table still lists everybody).
    timezone: zone for times and hours of day (default: the manifest's `timezone`, else UTC).
    progress: optional callable(description, done, total), called once per card drawn.
    """
    html = render_html_report(dataset, scores, alerts, reveal=reveal, max_people=max_people,
                              timezone=timezone, title=title, progress=progress)
    out = Path(out)
    write_text_atomic(out, html)
    return out


def render_html_report(dataset: Dataset, scores: pd.DataFrame, alerts: Iterable[Any], *, reveal: bool = False,
                       max_people: int = 25, timezone: str | None = None,
                       title: str = "snoopwatch report", progress: ProgressFn | None = None) -> str:
    """The report as an HTML string (see write_html_report)."""
    alert_list = normalise_alerts(alerts)
    scores = normalise_scores(scores)
    answer_key = build_answer_key(dataset, scores, alert_list) if reveal else None
    tz_name = timezone or str(dataset.manifest.get("timezone") or "UTC")
    _zone(tz_name)
    builder = _Builder(dataset, scores, alert_list, tz_name, answer_key)
    context = builder.context(max_people=max_people, title=title, progress=progress)
    return _environment().get_template("report.html.j2").render(**context)


class _Builder:
    """Collects the template's context; holds the per-data-set lookups shared by all cards."""

    def __init__(self, dataset: Dataset, scores: pd.DataFrame, alerts: list[dict], tz: str,
                 answer_key: AnswerKey | None) -> None:
        self.dataset = dataset
        self.scores = scores
        self.alerts = alerts
        self.tz = tz
        self.answer_key = answer_key
        events = dataset.events
        if events is None:
            raise ReportError("the data set has no events table; give the data set the alerts were computed on")
        self.events = events
        self.event_users = events["user_id"].astype("string")
        self.event_index = pd.Index(events["event_id"].astype("string")) if "event_id" in events.columns \
            else pd.Index([], dtype="string")
        self._check_same_data_set(scores, alerts)
        self.score_of = pd.Series(scores["score"].to_numpy(), index=scores["event_id"].to_numpy())
        self.score_of = self.score_of[~self.score_of.index.duplicated()]
        self.codes_of = pd.Series(scores["reasons"].to_numpy(), index=scores["event_id"].to_numpy())
        self.codes_of = self.codes_of[~self.codes_of.index.duplicated()]
        self.known_cases = set(dataset.cases["case_ref"].astype("string")) if dataset.cases is not None else None
        self.roles = self._roles()

    def _check_same_data_set(self, scores: pd.DataFrame, alerts: list[dict]) -> None:
        """Refuse scores or alerts computed on another data set: an event id they name that is here must be
        the same user's here (else cards would show other people's look-ups as theirs). Ids or users that
        are missing on either side are not compared."""
        if not len(self.event_index):
            return
        user_here = pd.Series(self.event_users.to_numpy(dtype=object, na_value=None), index=self.event_index)
        user_here = user_here[~user_here.index.duplicated()]  # (the first, as score_of keeps)
        ids = [e for alert in alerts for e in alert["event_ids"]]
        users = [alert["user_id"] for alert in alerts for _ in alert["event_ids"]]
        named = [(pd.Series(ids, dtype="string"), pd.Series(users, dtype="string"), "the alerts"),
                 (scores["event_id"], scores["user_id"], "the scores")]  # (normalised: string dtype)
        for event_ids, user_ids, what in named:
            if not len(event_ids):
                continue
            here = user_here.reindex(pd.Index(event_ids)).to_numpy(dtype=object)
            theirs = user_ids.to_numpy(dtype=object, na_value=None)
            compared = pd.notna(here) & pd.notna(theirs)
            other = np.flatnonzero(compared & (theirs != here))
            if len(other):
                k = other[0]
                raise ReportError(f"{what} do not come from this data set: event {event_ids.iloc[k]} is {theirs[k]}'s "
                                  f"there and {here[k]}'s here ({len(other):,} such events); give the data set "
                                  "they were computed on")

    # ---- formatting helpers -------------------------------------------------------------------------
    def when(self, stamp: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if stamp is None or pd.isna(stamp):
            return ""
        return pd.Timestamp(stamp).tz_convert(self.tz).strftime(fmt)

    def _roles(self) -> pd.Series | None:
        staff = self.dataset.staff
        if staff is None or "role" not in staff.columns:
            return None
        return pd.Series(staff["role"].astype("string").to_numpy(), index=staff["user_id"].astype("string").to_numpy())

    # ---- the whole page -----------------------------------------------------------------------------
    def context(self, *, max_people: int, title: str, progress: ProgressFn | None = None) -> dict:
        people = people_ranking(self.alerts)
        by_user: dict[str, list[dict]] = {}
        for alert in self.alerts:
            by_user.setdefault(alert["user_id"], []).append(alert)
        carded = people[:max_people]
        hours = self._hour_counts([p["user_id"] for p in carded])
        reference = self._daily_reference()
        self.daily_max = self._daily_max([p["user_id"] for p in carded])
        cards = []
        for rank, person in enumerate(carded, start=1):
            if progress:
                progress("drawing the report", rank - 1, len(carded))
            cards.append(self._card(rank, person, by_user[person["user_id"]], hours, reference))
        if progress:
            progress("drawing the report", len(carded), len(carded))
        return {
            "title": title,
            "csp": CSP,
            "version": __version__,
            "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "tz": self.tz,
            "overview": self._overview(people),
            "people": [self._person_row(rank, p) for rank, p in enumerate(people, start=1)],
            "cards": cards,
            "more_people": max(len(people) - len(carded), 0),
            "reveal": self._reveal({c["user_id"]: c["anchor"] for c in cards}) if self.answer_key is not None else None,
        }

    def _overview(self, people: list[dict]) -> dict:
        events = self.events
        staff = self.dataset.staff
        scored = self.scores
        by_severity = {s: sum(1 for a in self.alerts if a["severity"] == s) for s in SEVERITIES}
        model = next((a["model"] for a in self.alerts if a["model"]), {})
        source = self.dataset.path.name if self.dataset.path is not None else "data set in memory"
        return {
            "source": source,
            "data_from": self.when(events["timestamp"].min(), "%Y-%m-%d"),
            "data_to": self.when(events["timestamp"].max(), "%Y-%m-%d"),
            "scored_from": self.when(scored["timestamp"].min(), "%Y-%m-%d") if len(scored) else "",
            "scored_to": self.when(scored["timestamp"].max(), "%Y-%m-%d") if len(scored) else "",
            "staff": len(staff) if staff is not None else int(events["user_id"].nunique()),
            "staff_from_table": staff is not None,
            "active_users": int(scored["user_id"].nunique()) if len(scored) else int(events["user_id"].nunique()),
            "events": len(events),
            "scored": len(scored),
            "alerts": len(self.alerts),
            "people": len(people),
            "by_severity": by_severity,
            "model": {k: str(model.get(k, "")) for k in ("name", "version", "file_hash") if model.get(k)},
            "has_rosters": self.dataset.rosters is not None,
        }

    def _person_row(self, rank: int, person: dict) -> dict:
        record = staff_record(self.dataset, person["user_id"])
        return {
            "rank": rank, "user_id": person["user_id"], "name": display_name(record, person["user_id"]),
            "role": record.get("role", "").replace("_", " "), "unit": record.get("unit", ""),
            "risk": person["risk"], "severity": person["severity"], "events": person["events"],
            "window": f"{self.when(person['window_start'], '%Y-%m-%d')} to {self.when(person['window_end'], '%Y-%m-%d')}",
            "headline": person["reasons"][0] if person["reasons"] else person["summary"],
            "verdict": self._verdict(person["alert_ids"]),
        }

    def _verdict(self, alert_ids: list[str]) -> dict | None:
        """Trainer mode: which planted cases these alerts caught, or a false alarm."""
        if self.answer_key is None:
            return None
        cases = [c for a in alert_ids for c in self.answer_key.alert_cases.get(str(a), [])]
        cases = list(dict.fromkeys(cases))
        if not cases:
            return {"kind": "false", "text": "false alarm", "cases": []}
        lookup = {c.instance_id: c for c in self.answer_key.cases}
        labels = [f"{lookup[c].scenario} {lookup[c].scenario_name}".strip() for c in cases if c in lookup]
        return {"kind": "true", "text": "planted case: " + ", ".join(dict.fromkeys(labels)), "cases": cases}

    # ---- shared lookups -----------------------------------------------------------------------------
    def _hour_counts(self, users: list[str]) -> dict:
        """Events per hour of day (display zone): per carded user, and per role across everybody."""
        hour = self.events["timestamp"].dt.tz_convert(self.tz).dt.hour.to_numpy()
        user = self.event_users
        result: dict = {"user": {}, "role": {}}
        mask = user.isin(users).to_numpy(dtype=bool)
        if mask.any():
            table = pd.crosstab(pd.Series(user.to_numpy()[mask], name="u"), pd.Series(hour[mask], name="h"))
            table = table.reindex(columns=range(24), fill_value=0)
            result["user"] = {u: table.loc[u].to_numpy() for u in table.index}
        if self.roles is not None:
            role = user.map(self.roles)
            known = role.notna().to_numpy(dtype=bool)
            if known.any():
                table = pd.crosstab(pd.Series(role.to_numpy()[known], name="r"), pd.Series(hour[known], name="h"))
                table = table.reindex(columns=range(24), fill_value=0)
                result["role"] = {r: table.loc[r].to_numpy() for r in table.index}
        return result

    def _daily_max(self, users: list[str]) -> dict[str, pd.DataFrame]:
        """Per carded user: the highest event score of each day (columns day, score)."""
        mine = self.scores[self.scores["user_id"].isin(users)]
        if mine.empty:
            return {}
        daily = mine.groupby([mine["user_id"], mine["timestamp"].dt.floor("D").rename("day")], observed=True)["score"].max()
        return {str(u): frame.reset_index(level=0, drop=True).reset_index() for u, frame in daily.groupby(level=0)}

    def _daily_reference(self) -> pd.Series:
        """The force-wide 99th percentile of event scores per day (the risk chart's yardstick)."""
        if self.scores.empty:
            return pd.Series(dtype="float64")
        day = self.scores["timestamp"].dt.floor("D")
        return self.scores["score"].groupby(day).quantile(0.99)

    # ---- one person ---------------------------------------------------------------------------------
    def _card(self, rank: int, person: dict, alerts: list[dict], hours: dict, reference: pd.Series) -> dict:
        user_id = person["user_id"]
        record = staff_record(self.dataset, user_id)
        wanted = list(dict.fromkeys(e for a in alerts for e in a["event_ids"]))
        positions = self.event_index.get_indexer_for(pd.Index(wanted, dtype="string"))
        behind = self.events.iloc[np.sort(positions[positions >= 0])].sort_values("timestamp", kind="stable").copy()
        behind["event_id"] = behind["event_id"].astype("string")
        behind["score"] = behind["event_id"].map(self.score_of).astype("float64")
        subjects = behind["subject_id"].astype("string") if "subject_id" in behind.columns \
            else pd.Series(pd.NA, index=behind.index, dtype="string")
        counts = subjects.value_counts()
        relations = subject_relations(self.dataset, user_id, [str(s) for s in counts.index])
        # Subjects with a personal link to the person first (what an investigator checks), then by look-ups.
        linked = np.array([any(k in PERSONAL_LINKS for k, _ in relations[str(s)]["tags"]) for s in counts.index],
                          dtype=bool)
        order = np.lexsort((counts.index.astype(str).to_numpy(), -counts.to_numpy(), ~linked))
        counts = counts.iloc[order]
        duty = on_duty(self.dataset, user_id, behind["timestamp"])
        window = (min(a["window_start"] for a in alerts), max(a["window_end"] for a in alerts))
        if len(behind):
            window = (min(window[0], behind["timestamp"].min()), max(window[1], behind["timestamp"].max()))

        subject_rows = self._subject_rows(behind, subjects, counts, relations)
        chart_risk = self._risk_chart(user_id, alerts, reference)
        chart_timeline = self._timeline_chart(behind, subjects, counts, relations, user_id, window)
        chart_hours, peer_text = self._hour_chart(user_id, record, behind, hours)
        off_duty = int((~duty).sum()) if duty is not None else None
        no_case = int(behind["case_ref"].isna().sum()) if "case_ref" in behind.columns else None
        return {
            "rank": rank, "anchor": f"person-{rank}", "user_id": user_id,
            "name": display_name(record, user_id), "role": record.get("role", "").replace("_", " "),
            "unit": record.get("unit", ""), "risk": person["risk"], "severity": person["severity"],
            "alerts": [self._alert_view(a) for a in alerts],
            "facts": {"events": len(behind), "missing": len(wanted) - len(behind), "subjects": int(counts.size),
                      "off_duty": off_duty, "no_case": no_case,
                      "first": self.when(behind["timestamp"].min()) if len(behind) else "",
                      "last": self.when(behind["timestamp"].max()) if len(behind) else ""},
            "subjects": subject_rows[:SUBJECT_ROWS_OPEN], "subjects_more": subject_rows[SUBJECT_ROWS_OPEN:],
            "events": self._event_rows(behind, relations, duty),
            "events_hidden": max(len(behind) - MAX_EVENT_ROWS, 0),
            "chart_risk": chart_risk, "chart_timeline": chart_timeline, "chart_hours": chart_hours,
            "peer_text": peer_text,
            "has_rosters": duty is not None,
            "verdict": self._verdict([a["alert_id"] for a in alerts]),
        }

    def _alert_view(self, alert: dict) -> dict:
        top = max((abs(r["weight"]) for r in alert["reasons"]), default=0.0) or 1.0
        return {
            "alert_id": str(alert["alert_id"]), "risk": alert["risk"], "severity": alert["severity"],
            "summary": alert["summary"],
            "window": f"{self.when(alert['window_start'])} to {self.when(alert['window_end'])}",
            "reasons": [{"code": r["code"], "text": r["text"] or r["code"], "weight": r["weight"],
                         "bar": round(100 * abs(r["weight"]) / top)} for r in alert["reasons"]],
            "n_events": len(alert["event_ids"]),
        }

    def _subject_rows(self, behind: pd.DataFrame, subjects: pd.Series, counts: pd.Series,
                      relations: dict[str, dict]) -> list[dict]:
        times = behind["timestamp"].groupby(subjects.to_numpy(), dropna=True).agg(["min", "max"])
        refs: dict[str, list[str]] = {}
        if "case_ref" in behind.columns:
            pairs = pd.DataFrame({"s": subjects.to_numpy(), "r": behind["case_ref"].astype("string").to_numpy()})
            pairs = pairs.dropna().drop_duplicates()
            refs = {str(k): list(v) for k, v in pairs.groupby("s")["r"]}
        rows = []
        for sid, n in counts.items():
            rel = relations.get(str(sid), {"name": "", "postcode": "", "tags": []})
            mine = refs.get(str(sid), [])
            rows.append({"subject_id": str(sid), "name": rel["name"], "postcode": rel["postcode"],
                         "tags": [{"kind": k, "text": t} for k, t in rel["tags"]], "lookups": int(n),
                         "first": self.when(times.at[sid, "min"], "%Y-%m-%d"),
                         "last": self.when(times.at[sid, "max"], "%Y-%m-%d") if n > 1 else "",
                         "case_refs": mine[:4], "more_refs": max(len(mine) - 4, 0)})
        lists = int(subjects.isna().sum())
        if lists:
            rows.append({"subject_id": "", "name": "no single record (list or nothing returned)", "postcode": "",
                         "tags": [], "lookups": lists, "first": "", "last": "", "case_refs": [], "more_refs": 0})
        return rows

    def _event_rows(self, behind: pd.DataFrame, relations: dict[str, dict], duty: np.ndarray | None) -> list[dict]:
        rows = []
        for i, (_, row) in enumerate(behind.head(MAX_EVENT_ROWS).iterrows()):
            sid = _text(row.get("subject_id"))
            ref = _text(row.get("case_ref"))
            rows.append({
                "when": self.when(row["timestamp"]), "event_id": _text(row["event_id"]),
                "action": _text(row.get("action")), "query_type": _text(row.get("query_type")),
                "system": _text(row.get("system")),
                "subject": sid, "subject_name": relations.get(sid, {}).get("name", "") if sid else "",
                "case_ref": ref, "case_unknown": bool(ref) and self.known_cases is not None and ref not in self.known_cases,
                "reason_code": _text(row.get("reason_code")), "workstation": _text(row.get("workstation")),
                "requested_by": _text(row.get("requested_by")),
                "on_duty": None if duty is None else bool(duty[i]),
                "score": None if pd.isna(row["score"]) else float(row["score"]),
                "codes": _text(self.codes_of.get(_text(row["event_id"]), "")).replace(";", ", "),
            })
        return rows

    # ---- charts -------------------------------------------------------------------------------------
    def _risk_chart(self, user_id: str, alerts: list[dict], reference: pd.Series) -> str | None:
        daily = self.daily_max.get(user_id)
        if daily is None or daily.empty:
            return None
        return charts.risk_chart(daily, reference, [(a["window_start"], a["window_end"]) for a in alerts], self.tz)

    def _timeline_chart(self, behind: pd.DataFrame, subjects: pd.Series, counts: pd.Series,
                        relations: dict[str, dict], user_id: str, window: tuple) -> str | None:
        if behind.empty:
            return None
        top = [str(s) for s in counts.index[:MAX_LANES]]
        lanes = []
        for sid in top:
            rel = relations.get(sid, {"name": "", "tags": []})
            words = ", ".join(dict.fromkeys(LANE_WORDS.get(k, t) for k, t in rel["tags"]))
            name = rel["name"] or sid
            name = name if len(name) <= 26 else name[:24] + "..."
            label = name + (f" ({words})" if words else "")
            lanes.append((sid, label if len(label) <= 50 else label[:48] + "..."))
        if counts.size > MAX_LANES:
            lanes.append((OTHER_SUBJECTS, f"{counts.size - MAX_LANES} other subjects"))
        if subjects.isna().any():
            lanes.append((NO_SUBJECT, "no single record"))
        lane = subjects.astype("object").where(subjects.notna(), NO_SUBJECT)
        lane = lane.where(lane.isin(top) | (lane == NO_SUBJECT), OTHER_SUBJECTS)
        frame = pd.DataFrame({"timestamp": behind["timestamp"].to_numpy(),
                              "action": behind["action"].astype("string").to_numpy(), "lane": lane.to_numpy()})
        duty = duty_periods(self.dataset, user_id, window[0], window[1])
        return charts.timeline_chart(frame, lanes, duty, window, self.tz)

    def _hour_chart(self, user_id: str, record: dict, behind: pd.DataFrame, hours: dict) -> tuple[str | None, str]:
        person = hours["user"].get(user_id)
        if person is None:
            return None, ""
        role = record.get("role", "")
        peers = hours["role"].get(role) if role else None
        if peers is not None:
            peers = peers - person
            if peers.sum() == 0:
                peers = None
        alerted = np.bincount(behind["timestamp"].dt.tz_convert(self.tz).dt.hour.to_numpy(), minlength=24)
        peer_label = f"other {role.replace('_', ' ')}s" if peers is not None else ""
        chart = charts.hour_chart(person, peers, alerted, peer_label, self.tz)
        if peers is None:
            text = "No role peers to compare with (no staff table, no role, or nobody else in the role)."
        else:
            text = f"Bars: this person's share of all their events by hour. Line: the same for {peer_label}."
        return chart, text

    # ---- trainer mode -------------------------------------------------------------------------------
    def _reveal(self, anchors: dict[str, str]) -> dict:
        key = self.answer_key
        assert key is not None
        alert_by_id = {str(a["alert_id"]): a for a in self.alerts}
        scored_from = self.scores["timestamp"].min() if len(self.scores) else None
        cases = []
        for case in key.cases:
            record = staff_record(self.dataset, case.user_id)
            cases.append({
                "instance_id": case.instance_id, "scenario": case.scenario, "scenario_name": case.scenario_name,
                "user_id": case.user_id, "name": display_name(record, case.user_id),
                "role": record.get("role", "").replace("_", " "),
                "narrative": case.narrative, "story": case.story, "mirrors": case.mirrors,
                "status": case.status, "n_events": case.n_events, "n_scored": case.n_scored,
                "n_alerted": case.n_alerted, "first": self.when(case.first_at, "%Y-%m-%d"),
                "last": self.when(case.last_at, "%Y-%m-%d"),
                "days": None if case.days_to_alert is None else round(case.days_to_alert, 1),
                "alerts": case.alert_ids[:3], "more_alerts": max(len(case.alert_ids) - 3, 0),
                "anchor": anchors.get(case.user_id, ""),
                "began_before": bool(case.first_at is not None and scored_from is not None and case.first_at < scored_from
                                     and case.status != "outside"),
            })
        false_alarms = []
        for alert_id in key.false_alarm_ids:
            alert = alert_by_id[alert_id]
            record = staff_record(self.dataset, alert["user_id"])
            false_alarms.append({"alert_id": alert_id, "user_id": alert["user_id"],
                                 "name": display_name(record, alert["user_id"]),
                                 "role": record.get("role", "").replace("_", " "),
                                 "risk": alert["risk"], "severity": alert["severity"], "summary": alert["summary"]})
        in_scope = [c for c in key.cases if c.status != "outside"]
        return {"cases": cases, "false_alarms": false_alarms, "caught": len(key.caught), "missed": len(key.missed),
                "outside": len(key.outside), "in_scope": len(in_scope), "alerts": len(self.alerts),
                "true_alerts": len(self.alerts) - len(key.false_alarm_ids)}


def _text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def report_from_files(dataset_dir: str | Path, scores_file: str | Path, alerts_file: str | Path,
                      out: str | Path, *, reveal: bool = False, max_people: int = 25, timezone: str | None = None,
                      source_timezone: str | None = None) -> tuple[Path, list[dict]]:
    """Read a data set, its scores and alerts files, and write the report; returns (path, alerts).

    The data set is read leniently (rows detect would have set aside are left out of the cards); the
    answer key is read only in trainer mode.
    """
    from snoopwatch.dataset import load_dataset
    from snoopwatch.report.inputs import read_alerts_file, read_scores_file

    scores = read_scores_file(scores_file)
    alerts = read_alerts_file(alerts_file)
    dataset = load_dataset(dataset_dir, strict=False, source_timezone=source_timezone, answer_key=reveal)
    if reveal and not dataset.has_labels:
        raise ReportError(f"{dataset_dir} has no labels file, so there is no answer key to reveal; "
                          "run the report without --reveal")
    path = write_html_report(dataset, scores, alerts, out, reveal=reveal, max_people=max_people, timezone=timezone)
    return path, alerts
