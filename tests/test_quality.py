"""Quality floors (issue 3) on the project's own generator: train on the first half, detect on the rest.

The budget is 10 alerts per day per 1,000 staff: k = ceil(10 x staff / 1000) alerts a day, one person
each. A misuse case active in the detection period is caught when any of its events is cited by one of
those alerts (snoopwatch.evaluate.metrics.cases_caught_by_alerts): that is what the analyst reviews.
Two event-ranking readings are printed beside it and held to regression floors: the day's k people
by their best event ("person slots", what evaluate calls case recall for every detector), and the day's
k best events whoever made them ("event slots").

Floors: >= 80% of cases caught over the seeds, event average precision >= 0.3, and the slow (S9) and
relationship (S2, S3) cases caught in every seed. The per-scenario table is printed (pytest -s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from snoopwatch.dataset.model import Dataset
from snoopwatch.detect import detect, train
from snoopwatch.evaluate.metrics import budget_k, budget_outcome, cases_caught_by_alerts

synth = pytest.importorskip("snoopwatch.synth", reason="the generator (snoopwatch.synth) is not installed")

SEEDS = (1, 2, 3)
STAFF, DAYS, BUDGET = 120, 150, 10.0
pytestmark = pytest.mark.slow
# The event-ranking readings are not the floors; these hold what they reached (2026-11-25: 78% and 70%).
REACHED_PERSON_SLOT_RECALL = 0.7
REACHED_EVENT_SLOT_RECALL = 0.6


def _measure(seed: int) -> dict:
    world = synth.generate(synth.SynthConfig(staff=STAFF, days=DAYS, seed=seed))
    tables = {k: v for k, v in world.tables.items() if k not in ("labels", "instances")}
    dataset = Dataset(tables, dict(world.manifest))
    since = tables["events"]["timestamp"].min().normalize() + pd.Timedelta(days=DAYS // 2)
    model = train(dataset, until=since, seed=0)
    result = detect(dataset, model, since=since, budget=BUDGET)
    labels = world.tables["labels"][["event_id", "scenario", "instance_id"]].astype(object)
    period = result.scores[["event_id", "user_id", "timestamp", "score"]].astype({"event_id": object})
    period = period.merge(labels, on="event_id", how="left")
    misuse = period["instance_id"].notna().to_numpy()
    k = budget_k(BUDGET, STAFF)
    alerted = {str(e) for alert in result.alerts for e in alert.event_ids}
    cases = cases_caught_by_alerts(period, alerted)
    for column, slots in (("by_person", "person"), ("by_event", "event")):
        caught = budget_outcome(period, k, slots=slots).cases.set_index("instance_id")["caught"]
        cases[column] = cases["instance_id"].map(caught).astype(bool)
    return {"cases": cases, "auc": roc_auc_score(misuse, period["score"]),
            "ap": average_precision_score(misuse, period["score"])}


@pytest.fixture(scope="module")
def measured() -> dict[int, dict]:
    results = {seed: _measure(seed) for seed in SEEDS}
    table = pd.concat({seed: r["cases"].groupby("scenario").agg(
        caught=("caught", "sum"), by_person=("by_person", "sum"), by_event=("by_event", "sum"), active=("caught", "size"))
        for seed, r in results.items()}, axis=1).fillna(0).astype(int)
    print("\nper-scenario cases (columns: seed; caught = cited by the day's alerts, by_person = the day's k people"
          " by best event, by_event = the day's k best events)")
    print(table.to_string())
    for seed, r in results.items():
        print(f"seed {seed}: event AUC {r['auc']:.3f}, AP {r['ap']:.3f}")
    return results


def test_case_recall_at_budget(measured):
    cases = pd.concat([r["cases"] for r in measured.values()])
    recall = cases["caught"].mean()
    assert recall >= 0.8, f"{recall:.0%} of {len(cases)} misuse cases caught at budget {BUDGET}"


@pytest.mark.parametrize(("column", "floor"), [("by_person", REACHED_PERSON_SLOT_RECALL),
                                               ("by_event", REACHED_EVENT_SLOT_RECALL)])
def test_event_ranking_recall_does_not_regress(measured, column, floor):
    cases = pd.concat([r["cases"] for r in measured.values()])
    recall = cases[column].mean()
    assert recall >= floor, f"{recall:.0%} of {len(cases)} cases caught {column}"


def test_event_average_precision(measured):
    aps = [r["ap"] for r in measured.values()]
    assert np.mean(aps) >= 0.3, f"average precision per seed {np.round(aps, 3)}"


@pytest.mark.parametrize("scenario", ["S9", "S2", "S3"])
def test_slow_and_relationship_cases_caught_in_every_seed(measured, scenario):
    for seed, r in measured.items():
        cases = r["cases"][r["cases"]["scenario"] == scenario]
        if len(cases):  # a case may fall wholly in the training half of a seed
            assert cases["caught"].all(), f"{scenario} missed in seed {seed}"


def test_scores_separate_misuse_from_normal(measured):
    assert min(r["auc"] for r in measured.values()) >= 0.85
