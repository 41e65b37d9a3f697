"""Quality floors (issue 3) on the project's own generator: train on the first half, detect on the rest.

At a budget of 10 alerts per day per 1,000 staff, an analyst reviews k = ceil(10 x staff / 1000) people a
day, each by their best event of the day (snoopwatch.evaluate.metrics: an alert is about one person). A
misuse case active in the detection period is caught when any of its events is among them. Floors: >= 80%
of cases caught over the seeds, event average precision >= 0.3, and the slow (S9) and relationship (S2,
S3) cases caught in every seed. The stricter reading (the day's k best events, whoever made them) is
printed beside it and held to a regression floor. The per-scenario table is printed (pytest -s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from snoopwatch.dataset.model import Dataset
from snoopwatch.detect import detect, train
from snoopwatch.evaluate.metrics import budget_k, budget_outcome

synth = pytest.importorskip("snoopwatch.synth", reason="the generator (snoopwatch.synth) is not installed")

SEEDS = (1, 2, 3)
STAFF, DAYS, BUDGET = 120, 150, 10.0
pytestmark = pytest.mark.slow
# Floors of issue 3 the detector does not reach yet. They run every time and are strict: the day one
# passes, the suite fails until its mark is removed.
NOT_YET = pytest.mark.xfail(reason="issue-3 floor not reached yet; see the per-scenario table (pytest -s)", strict=True)
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
    cases = budget_outcome(period, k).cases
    cases["by_event"] = budget_outcome(period, k, slots="event").cases["caught"].to_numpy()
    return {"cases": cases, "auc": roc_auc_score(misuse, period["score"]),
            "ap": average_precision_score(misuse, period["score"])}


@pytest.fixture(scope="module")
def measured() -> dict[int, dict]:
    results = {seed: _measure(seed) for seed in SEEDS}
    table = pd.concat({seed: r["cases"].groupby("scenario").agg(caught=("caught", "sum"), by_event=("by_event", "sum"),
                                                                 active=("caught", "size"))
                       for seed, r in results.items()}, axis=1).fillna(0).astype(int)
    print("\nper-scenario cases (columns: seed; caught = one slot a person, by_event = the day's k best events)")
    print(table.to_string())
    for seed, r in results.items():
        print(f"seed {seed}: event AUC {r['auc']:.3f}, AP {r['ap']:.3f}")
    return results


@NOT_YET
def test_case_recall_at_budget(measured):
    cases = pd.concat([r["cases"] for r in measured.values()])
    recall = cases["caught"].mean()
    assert recall >= 0.8, f"{recall:.0%} of {len(cases)} misuse cases caught at budget {BUDGET}"


def test_case_recall_with_event_slots_does_not_regress(measured):
    cases = pd.concat([r["cases"] for r in measured.values()])
    recall = cases["by_event"].mean()
    assert recall >= REACHED_EVENT_SLOT_RECALL, f"{recall:.0%} of {len(cases)} cases in the day's top k events"


def test_event_average_precision(measured):
    aps = [r["ap"] for r in measured.values()]
    assert np.mean(aps) >= 0.3, f"average precision per seed {np.round(aps, 3)}"


@pytest.mark.parametrize("scenario", [pytest.param("S9", marks=NOT_YET), "S2", "S3"])
def test_slow_and_relationship_cases_caught_in_every_seed(measured, scenario):
    for seed, r in measured.items():
        cases = r["cases"][r["cases"]["scenario"] == scenario]
        if len(cases):  # a case may fall wholly in the training half of a seed
            assert cases["caught"].all(), f"{scenario} missed in seed {seed}"


def test_scores_separate_misuse_from_normal(measured):
    assert min(r["auc"] for r in measured.values()) >= 0.85
