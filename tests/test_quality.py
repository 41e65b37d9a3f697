"""Quality floors (issue 3) on the project's own generator: train on the first half, detect on the rest.

The budget is 10 alerts per day per 1,000 staff: k = ceil(10 x staff / 1000) alerts a day, one person
each. A misuse case active in the detection period is caught when any of its events is cited by one of
those alerts (snoopwatch.evaluate.metrics.cases_caught_by_alerts): that is what the analyst reviews.
Two event-ranking readings are printed beside it and held to regression floors: the day's k people
by their best event ("person slots", what evaluate calls case recall for every detector), and the day's
k best events whoever made them ("event slots").

The issue's floors: >= 80% of cases caught over the seeds, event average precision >= 0.3, and the slow
(S9) and relationship (S2, S3) cases caught in every seed. The per-scenario table is printed (pytest -s).

Three seeds can flatter: over seeds 1-16 the alerts cite 79% of the cases (147 of 185) and S9 in only 8 of
the 16 seeds (2026-12-07), though in each of seeds 1-3. So the S9 floor holds here, on the issue's terms,
but not in general: in 150 days the slow case is about eight look-ups, much like the routine no-case
checks the generator plants. Seeds 4-8 hold the recall reached on them, so that a change that helps seeds
1-3 alone cannot pass unnoticed.
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
WIDER_SEEDS = (4, 5, 6, 7, 8)
STAFF, DAYS, BUDGET = 120, 150, 10.0
pytestmark = pytest.mark.slow
# The event-ranking readings are not the floors; these hold what they reached (2026-11-25: 78% and 70%).
REACHED_PERSON_SLOT_RECALL = 0.7
REACHED_EVENT_SLOT_RECALL = 0.6
# Cases cited by alerts over WIDER_SEEDS: 48 of 61 (79%) when set (2026-12-07, once the time evidence was no
# longer discounted by a case; 46 before, 43 before the span and evidence-floor changes of that day). Two
# cases of slack.
REACHED_WIDER_RECALL = 0.75


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


def _missed_in(measured: dict[int, dict], scenario: str) -> list[int]:
    """Seeds with cases of `scenario` active in the detection period (a case may fall wholly in the training
    half of a seed) that are not all caught."""
    seeds = []
    for seed, r in measured.items():
        cases = r["cases"][r["cases"]["scenario"] == scenario]
        if len(cases) and not cases["caught"].all():
            seeds.append(seed)
    return seeds


@pytest.mark.parametrize("scenario", ["S2", "S3"])
def test_relationship_cases_caught_in_every_seed(measured, scenario):
    assert not _missed_in(measured, scenario), f"{scenario} missed in seeds {_missed_in(measured, scenario)}"


def test_slow_case_caught_in_every_seed(measured):
    assert not _missed_in(measured, "S9"), f"S9 missed in seeds {_missed_in(measured, 'S9')}"


def test_case_recall_on_more_seeds_does_not_regress():
    cases = pd.concat([_measure(seed)["cases"].assign(seed=seed) for seed in WIDER_SEEDS])
    per_seed = cases.groupby("seed")["caught"].agg(["sum", "size"])
    print("\ncases caught by alerts on seeds", WIDER_SEEDS, ":", ", ".join(
        f"{seed}: {row['sum']}/{row['size']}" for seed, row in per_seed.iterrows()))
    recall = cases["caught"].mean()
    assert recall >= REACHED_WIDER_RECALL, f"{recall:.0%} of {len(cases)} cases caught on seeds {WIDER_SEEDS}"


def test_scores_separate_misuse_from_normal(measured):
    assert min(r["auc"] for r in measured.values()) >= 0.85
