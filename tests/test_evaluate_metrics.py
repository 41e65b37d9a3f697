"""Every evaluation metric checked by hand on a tiny hand-made labelled data set (not from our generator).

Staff 4. Split 2025-01-10. Scored events (score fixed by a test detector that never sees labels):

    day 10: e01 U1 09:00 normal 0.90 | e02 U2 10:00 case A (S2) 0.80 | e03 U3 11:00 normal 0.10
            e10 U3 08:00 case B (S9) 0.05
    day 11: e06 U1 09:00 normal 0.70 | e04 U2 12:00 case A 0.95 | e05 U3 14:00 case B 0.75
    day 12: e07 U4 10:00 case C (S9) 0.20 | e08 U1 11:00 normal 0.60 | e09 U1 12:00 normal 0.30
History (day 1): h1 U3 case B, h2 U1 normal, h3 U2 normal.

Budget 250 per 1,000 staff -> k = 1: day tops e01, e04, e08. A caught at e04 (26 h after e02 = 1.0833 d);
B and C missed. Recall 1/3, users 1/3.
Budget 500 -> k = 2 people a day: tops e01 e02 | e04 e05 | e08 e07 (e09 is U1 again, so U4's e07 takes
the second slot). A caught at e02 (0 d), B at e05 (30 h after e10 = 1.25 d), C at e07 (0 d). Recall 3/3,
users 3/3, days [0, 0, 1.25]: median 0, p90 = 1.8th of 0..2 = 0.8 x 1.25 = 1.0; S9 median 0.625.
Read as the day's k best events (case_recall_event_slots), day 12's tops are e08 e09 and C is missed: 2/3.
AUC: positives 0.95 0.80 0.75 0.20 0.05 against negatives 0.90 0.70 0.60 0.30 0.10 -> 5+4+4+1+0 = 14/25.
AP: ranked P N P P N N N P N P -> (1 + 2/3 + 3/4 + 4/8 + 5/10) / 5 = 0.683333.
S9 AUC: 0.75 0.20 0.05 against the negatives -> (4+1+0)/15.
Alert volume: a detector without alerts -> k x 1000 / 4 = 250 at budget 250; one with 6 alerts over 3 days
-> 2 a day -> 500.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snoopwatch.dataset import load_dataset
from snoopwatch.evaluate import evaluate_dataset, metrics
from snoopwatch.evaluate.baselines import Adapter

EVENTS = [  # event_id, timestamp, user, label instance (or "")
    ("h1", "2025-01-01T09:00:00Z", "U3", "B"),
    ("h2", "2025-01-01T10:00:00Z", "U1", ""),
    ("h3", "2025-01-01T11:00:00Z", "U2", ""),
    ("e10", "2025-01-10T08:00:00Z", "U3", "B"),
    ("e01", "2025-01-10T09:00:00Z", "U1", ""),
    ("e02", "2025-01-10T10:00:00Z", "U2", "A"),
    ("e03", "2025-01-10T11:00:00Z", "U3", ""),
    ("e06", "2025-01-11T09:00:00Z", "U1", ""),
    ("e04", "2025-01-11T12:00:00Z", "U2", "A"),
    ("e05", "2025-01-11T14:00:00Z", "U3", "B"),
    ("e07", "2025-01-12T10:00:00Z", "U4", "C"),
    ("e08", "2025-01-12T11:00:00Z", "U1", ""),
    ("e09", "2025-01-12T12:00:00Z", "U1", ""),
]
SCORES = {"e01": 0.9, "e02": 0.8, "e03": 0.1, "e10": 0.05, "e06": 0.7, "e04": 0.95, "e05": 0.75,
          "e07": 0.2, "e08": 0.6, "e09": 0.3}
SCENARIO = {"A": "S2", "B": "S9", "C": "S9"}


class FixedScores(Adapter):
    """Scores looked up by event id; records what it was given so the test can check it saw no labels."""

    def __init__(self, name: str = "fixed", alerts: int | None = None) -> None:
        super().__init__()
        self.name = name
        self._alerts = alerts
        self.seen: list[set[str]] = []

    def fit(self, history) -> None:
        self.seen.append(set(history.tables))

    def score(self, dataset, since) -> pd.DataFrame:
        self.seen.append(set(dataset.tables))
        self.alerts = self._alerts
        self.alert_event_ids = {"e05", "e09"} if self._alerts else None
        period = dataset.events[dataset.events["timestamp"] >= since]
        ids = period["event_id"].astype(object)
        return pd.DataFrame({"event_id": ids, "score": ids.map(SCORES).astype(float)})


@pytest.fixture()
def handmade(tmp_path: Path) -> Path:
    root = tmp_path / "handmade"
    root.mkdir()
    rows = ["event_id,timestamp,user_id,action"] + [f"{e},{t},{u},search" for e, t, u, _ in EVENTS]
    (root / "events.csv").write_text("\n".join(rows) + "\n")
    (root / "staff.csv").write_text("user_id\nU1\nU2\nU3\nU4\n")
    labels = ["event_id,scenario,instance_id"] + [f"{e},{SCENARIO[i]},{i}" for e, _, _, i in EVENTS if i]
    (root / "labels.csv").write_text("\n".join(labels) + "\n")
    (root / "instances.csv").write_text("instance_id,scenario,user_id\nA,S2,U2\nB,S9,U3\nC,S9,U4\n")
    return root


def figure(result, detector, scenario, budget, metric):
    found = [r["value"] for r in result.records if (r["detector"], r["scenario"], r["budget"], r["metric"])
             == (detector, scenario, budget, metric)]
    assert len(found) == 1, (detector, scenario, budget, metric)
    return found[0]


def test_budget_k_rounds_up_and_is_at_least_one():
    assert metrics.budget_k(10, 300) == 3
    assert metrics.budget_k(10, 4) == 1
    assert metrics.budget_k(2, 1234) == 3
    assert metrics.budget_k(250, 4) == 1
    assert metrics.budget_k(500, 4) == 2


def test_daily_top_k_per_day_with_ties_broken_by_order():
    day = np.array([0, 0, 0, 1, 1])
    score = np.array([0.5, 0.9, 0.5, 0.1, np.nan])
    assert metrics.daily_top_k(day, score, 1).tolist() == [False, True, False, True, False]
    assert metrics.daily_top_k(day, score, 2).tolist() == [True, True, False, True, True]
    assert metrics.daily_top_k(np.zeros(0), np.zeros(0), 2, person=np.zeros(0, dtype=object)).tolist() == []
    person = np.array(["a", "a", "b", "c", "c"])
    assert metrics.daily_top_k(day, score, 2, person=person).tolist() == [False, True, True, True, False]
    tied = np.array([0.5, 0.5, 0.1])
    assert metrics.daily_top_k(np.zeros(3), tied, 1, tie_break=np.array([1, 0, 2])).tolist() == [False, True, False]


def test_every_metric_by_hand(handmade: Path):
    dataset = load_dataset(handmade)
    plain, with_alerts = FixedScores("fixed"), FixedScores("alerting", alerts=6)
    result = evaluate_dataset(dataset, since="2025-01-10", detectors=[plain, with_alerts], budget=250,
                              budgets=[250, 500])
    assert result.staff == 4 and result.days == 3 and result.cases == 3
    assert result.events_history == 3 and result.events_scored == 10
    assert result.k == {"250": 1, "500": 2}
    for seen in plain.seen:
        assert not seen & {"labels", "instances"}

    assert figure(result, "fixed", "all", None, "auc") == pytest.approx(14 / 25)
    assert figure(result, "fixed", "all", None, "average_precision") == pytest.approx((1 + 2 / 3 + 3 / 4 + 0.5 + 0.5) / 5)
    assert figure(result, "fixed", "S9", None, "auc") == pytest.approx(5 / 15)

    # budget 250 -> k = 1
    assert figure(result, "fixed", "all", 250.0, "case_recall") == pytest.approx(1 / 3)
    assert figure(result, "fixed", "all", 250.0, "cases_caught") == 1
    assert figure(result, "fixed", "all", 250.0, "users_caught") == 1
    assert figure(result, "fixed", "all", 250.0, "users") == 3
    assert figure(result, "fixed", "all", 250.0, "median_days_to_detect") == pytest.approx(26 / 24)
    assert figure(result, "fixed", "all", 250.0, "p90_days_to_detect") == pytest.approx(26 / 24)
    assert figure(result, "fixed", "S2", 250.0, "case_recall") == 1.0
    assert figure(result, "fixed", "S9", 250.0, "case_recall") == 0.0
    assert math.isnan(figure(result, "fixed", "S9", 250.0, "median_days_to_detect"))
    assert figure(result, "fixed", "all", 250.0, "alert_volume_per_1000") == pytest.approx(250.0)
    assert figure(result, "alerting", "all", 250.0, "alert_volume_per_1000") == pytest.approx(500.0)

    # budget 500 -> k = 2
    assert figure(result, "fixed", "all", 500.0, "case_recall") == pytest.approx(1.0)
    assert figure(result, "fixed", "all", 500.0, "case_recall_event_slots") == pytest.approx(2 / 3)
    assert figure(result, "fixed", "all", 500.0, "user_recall") == pytest.approx(1.0)
    assert figure(result, "fixed", "all", 500.0, "median_days_to_detect") == pytest.approx(0.0)
    assert figure(result, "fixed", "all", 500.0, "p90_days_to_detect") == pytest.approx(1.0)
    assert figure(result, "fixed", "S9", 500.0, "case_recall") == pytest.approx(1.0)
    assert figure(result, "fixed", "S9", 500.0, "case_recall_event_slots") == pytest.approx(0.5)
    assert figure(result, "fixed", "S9", 500.0, "median_days_to_detect") == pytest.approx(0.625)
    assert figure(result, "fixed", "all", 500.0, "alert_volume_per_1000") == pytest.approx(500.0)
    assert sorted(result.days_to_detect["fixed"]) == pytest.approx([26 / 24])

    # Alerts citing e05 (case B) and e09 (normal): one case of three, one of two S9 cases; none without alerts.
    assert figure(result, "alerting", "all", 250.0, "case_recall_alerts") == pytest.approx(1 / 3)
    assert figure(result, "alerting", "S9", 250.0, "case_recall_alerts") == pytest.approx(0.5)
    assert figure(result, "alerting", "S2", 250.0, "case_recall_alerts") == 0.0
    assert not [r for r in result.records if r["detector"] == "fixed" and r["metric"] == "case_recall_alerts"]


def test_missing_scores_rank_last_and_are_reported(handmade: Path):
    class Partial(FixedScores):
        def score(self, dataset, since):
            return super().score(dataset, since).iloc[1:]

    result = evaluate_dataset(load_dataset(handmade), since="2025-01-10", detectors=[Partial("partial")],
                              budget=250, budgets=[250])
    assert result.runs[0].unscored_events == 1
    assert "without a score" in result.runs[0].note
