"""Evaluation metrics as pure functions of scores and an answer key, small enough to check by hand.

Definitions (the ones `snoopwatch evaluate` reports):
- event AUC-ROC and average precision: every scored event, positive when it is in `labels`
  (sklearn.metrics; NaN when the period holds only one class).
- daily budget k = ceil(budget x staff / 1,000), at least 1. The budget counts alerts and an alert is about
  one person, so an analyst reviews k people a day: each person's highest-scoring event of the UTC calendar
  day stands for them, and the day's top k are the k highest of those (`slots="person"`, the default).
  With `slots="event"` the top k are simply the day's k highest-scoring events, so one person's burst can
  fill every slot; evaluate reports that reading too (`case_recall_event_slots`). Equal scores, e.g. a
  user-day detector's, are ordered by a seeded random permutation so that no detector gains or loses from
  the events' time order.
- a misuse case (labels.instance_id) active in the period is caught at a budget when any of its events
  in the period is in its day's top k; case recall = caught cases / cases active in the period.
- for a detector that raises alerts (snoopwatch: at most k people a day), a case is caught by alerts when
  any of its events in the period is among the events an alert cites (`case_recall_alerts`); an alert
  over a month or a year may cite earlier days' events, so this can catch a case later than its day.
- a misusing user (user of a labelled event in the period) is caught when any of their labelled events
  is in its day's top k.
- days to detect: for a caught case, (time of its first caught event - time of its first event in the
  period) in days; reported as the median and the 90th percentile (linear interpolation) over caught
  cases; uncaught cases are not in these figures (case recall says how many there are).
- alert volume per 1,000 staff per day: alerts / days / staff x 1,000, where days are the UTC days
  that hold scored events; for detectors without alerts it is the budget itself, k x 1,000 / staff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from snoopwatch.detect.rollup import daily_budget

DAY_NS = 86_400 * 10**9


budget_k = daily_budget  # people an analyst reviews per day (the same rule detect uses for alerts)


def event_auc(is_misuse: np.ndarray, scores: np.ndarray) -> float:
    """AUC-ROC of event scores against the answer key; NaN when only one class is present."""
    y = np.asarray(is_misuse, dtype=bool)
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, _finite(scores)))


def event_average_precision(is_misuse: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (area under precision-recall, sklearn's step definition); NaN without positives."""
    y = np.asarray(is_misuse, dtype=bool)
    if not y.any():
        return float("nan")
    return float(average_precision_score(y, _finite(scores)))


def _finite(scores: np.ndarray) -> np.ndarray:
    """Scores with NaN and -inf (unscored events) placed below every real score."""
    s = np.asarray(scores, dtype=float).copy()
    finite = np.isfinite(s)
    if not finite.all():
        low, high = (s[finite].min(), s[finite].max()) if finite.any() else (0.0, 0.0)
        s[np.isnan(s) | (s == -np.inf)] = low - 1.0
        s[s == np.inf] = high + 1.0
    return s


def utc_day(timestamps: pd.Series) -> np.ndarray:
    """UTC calendar day number (days since 1970-01-01) of each timestamp."""
    ns = timestamps.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    return np.floor_divide(ns, DAY_NS)


def daily_top_k(day: np.ndarray, scores: np.ndarray, k: int, tie_break: np.ndarray | None = None,
                person: np.ndarray | None = None) -> np.ndarray:
    """True for the k highest-scoring events of each day; equal scores are ordered by `tie_break`
    (ascending; default: row order). With `person` (one id per event), only each person's best event of
    the day competes, so the top k are k different people."""
    day = np.asarray(day)
    s = _finite(scores)
    position = np.arange(day.size) if tie_break is None else np.asarray(tie_break)
    order = np.lexsort((position, -s, day))
    eligible = np.ones(day.size, dtype=bool)
    if person is not None and day.size:
        codes = pd.factorize(pd.Series(np.asarray(person, dtype=object)))[0].astype(np.int64)
        sorted_pair = pd.Series(day[order].astype(np.int64) * (codes.max() + 2) + codes[order])
        eligible = ~sorted_pair.duplicated().to_numpy()  # the first in score order is the person's best
    sorted_day = day[order][eligible]
    starts = np.flatnonzero(np.r_[True, sorted_day[1:] != sorted_day[:-1]]) if sorted_day.size else np.array([], int)
    group_start = np.repeat(starts, np.diff(np.r_[starts, sorted_day.size]))
    rank = np.arange(sorted_day.size) - group_start
    top = np.zeros(day.size, dtype=bool)
    top[order[eligible]] = rank < k
    return top


@dataclass(frozen=True)
class BudgetOutcome:
    """What an analyst with one daily budget catches: per-case table and per-user table."""

    k: int
    cases: pd.DataFrame  # instance_id, scenario, first_at, caught, first_caught_at, days_to_detect
    users: pd.DataFrame  # user_id, scenario, caught


def budget_outcome(period: pd.DataFrame, k: int, tie_break: np.ndarray | None = None,
                   slots: str = "person") -> BudgetOutcome:
    """Cases and users caught at daily budget k.

    `period` holds the scored events, one row each, in time order, with columns timestamp, user_id,
    score, and instance_id / scenario (empty for normal events). tie_break: see daily_top_k. slots:
    "person" (k people a day, each by their best event) or "event" (the day's k best events).
    """
    if slots not in ("person", "event"):
        raise ValueError(f"slots must be 'person' or 'event', not {slots!r}")
    person = period["user_id"].to_numpy(dtype=object) if slots == "person" else None
    top = daily_top_k(utc_day(period["timestamp"]), period["score"].to_numpy(dtype=float), k, tie_break, person)
    misuse = period["instance_id"].notna().to_numpy()
    rows = period.loc[misuse, ["instance_id", "scenario", "user_id", "timestamp"]].astype(
        {"instance_id": object, "scenario": object, "user_id": object}).reset_index(drop=True)
    rows["top"] = top[misuse]
    rows["caught_at"] = rows["timestamp"].where(rows["top"])
    grouped = rows.groupby("instance_id", sort=True)
    cases = pd.DataFrame({
        "scenario": grouped["scenario"].first(),
        "first_at": grouped["timestamp"].min(),
        "caught": grouped["top"].any(),
        "first_caught_at": grouped["caught_at"].min(),
    })
    cases["days_to_detect"] = (cases["first_caught_at"] - cases["first_at"]) / pd.Timedelta(days=1)
    cases = cases.reset_index()
    users = rows.groupby(["user_id", "scenario"], sort=True)["top"].any().rename("caught").reset_index()
    return BudgetOutcome(k, cases, users)


def cases_caught_by_alerts(period: pd.DataFrame, alert_event_ids: set[str]) -> pd.DataFrame:
    """Per misuse case (instance_id, scenario): caught when any of its events is cited by an alert."""
    misuse = period.loc[period["instance_id"].notna(), ["instance_id", "scenario", "event_id"]].astype(object)
    misuse["cited"] = misuse["event_id"].astype(str).isin(alert_event_ids)
    return misuse.groupby("instance_id", sort=True).agg(scenario=("scenario", "first"),
                                                         caught=("cited", "any")).reset_index()


def summarise_outcome(cases: pd.DataFrame, users: pd.DataFrame) -> dict[str, float]:
    """Case recall, users caught, median and 90th-percentile days to detect for one group of cases."""
    days = cases.loc[cases["caught"], "days_to_detect"].to_numpy(dtype=float)
    user_caught = users.groupby("user_id")["caught"].any() if len(users) else pd.Series(dtype=bool)
    n_cases = int(len(cases))
    return {
        "cases": n_cases,
        "cases_caught": int(cases["caught"].sum()),
        "case_recall": float(cases["caught"].mean()) if n_cases else float("nan"),
        "users": int(user_caught.size),
        "users_caught": int(user_caught.sum()),
        "user_recall": float(user_caught.mean()) if user_caught.size else float("nan"),
        "median_days_to_detect": float(np.median(days)) if days.size else float("nan"),
        "p90_days_to_detect": float(np.percentile(days, 90)) if days.size else float("nan"),
    }


def alert_volume_per_1000(alerts: int | None, k: int, staff: int, days: int) -> float:
    """Alerts per 1,000 staff per day: from a detector's own alerts when it has them, else the budget k."""
    if days <= 0:
        return float("nan")
    per_day = k if alerts is None else alerts / days
    return per_day * 1000.0 / staff
