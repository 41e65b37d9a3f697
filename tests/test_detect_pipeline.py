"""detect: every event since --since scored, planted misuse ranked first, stable alerts under budget, allow-list."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest

from snoopwatch.detect import Alert, detect, train
from snoopwatch.detect._toy import toy_dataset
from snoopwatch.detect.allowlist import AllowListError, load_allowlist
from snoopwatch.detect.io import read_alerts, read_scores, write_alerts, write_scores
from snoopwatch.errors import DatasetError

SINCE = "2025-01-26"


@pytest.fixture(scope="module")
def world():
    ds = toy_dataset(days=40, seed=1)
    model = train(ds, until=SINCE, seed=0)
    return ds, model


@pytest.fixture(scope="module")
def result(world):
    ds, model = world
    return detect(ds, model, since=SINCE, budget=50)


def test_every_event_since_is_scored(world, result):
    ds, _ = world
    since = pd.Timestamp(SINCE, tz="UTC")
    expected = set(ds.events.loc[ds.events["timestamp"] >= since, "event_id"].astype(str))
    assert set(result.scores["event_id"].astype(str)) == expected
    assert list(result.scores.columns) == ["event_id", "user_id", "timestamp", "score", "reasons"]
    assert result.scores["score"].between(0, 10).all()


def test_planted_relative_lookups_rank_near_the_top(result):
    scores = result.scores.sort_values("score", ascending=False).reset_index(drop=True)
    planted = scores.index[scores["event_id"].astype(str).str.startswith("X")]
    assert len(planted) >= 2
    assert planted.min() < 5, scores.head(10)
    top = scores.loc[planted.min()]
    assert "SURNAME" in top["reasons"] or "NEAR_HOME" in top["reasons"] or "OFF_DUTY" in top["reasons"]


def test_alerts_respect_budget_and_are_well_formed(world, result):
    per_day = math.ceil(50 * 24 / 1000)
    assert result.budget_per_day == per_day
    days = pd.Series([a.window_end for a in result.alerts]).value_counts()
    assert (days <= per_day).all()
    assert result.alerts, "the planted relative should raise an alert"
    for a in result.alerts:
        assert 0 <= a.risk <= 100 and a.severity in ("low", "medium", "high", "critical")
        assert a.event_ids and a.reasons and a.summary.startswith(a.user_id)
        assert a.model["file_hash"] == world[1].model_ref["file_hash"]
    assert any(a.user_id == "U000" for a in result.alerts)


def test_alert_ids_are_stable_across_runs(world, result):
    again = detect(world[0], world[1], since=SINCE, budget=50)
    assert [a.alert_id for a in again.alerts] == [a.alert_id for a in result.alerts]
    assert len({a.alert_id for a in result.alerts}) == len(result.alerts)


def test_scores_and_alerts_files_round_trip(tmp_path, result):
    for name in ("s.csv", "s.parquet"):
        back = read_scores(write_scores(result.scores, tmp_path / name))
        assert back["event_id"].astype(str).tolist() == result.scores["event_id"].astype(str).tolist()
        np.testing.assert_allclose(back["score"], result.scores["score"], rtol=1e-5)
        assert (back["timestamp"] == result.scores["timestamp"]).all()
    alerts = read_alerts(write_alerts(result.alerts, tmp_path / "a.jsonl"))
    assert alerts == result.alerts
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert '"version": 1' in lines[0] and Alert.from_dict(result.alerts[0].to_dict()) == result.alerts[0]
    for line in lines:  # strict JSON for a SIEM: no NaN or Infinity anywhere
        json.loads(line, parse_constant=lambda name: pytest.fail(f"non-finite {name} in an alert line"))


def test_allowlist_suppresses_and_reports(tmp_path, world, result):
    path = tmp_path / "allow.toml"
    path.write_text('[[allow]]\nuser = "U000"\nsubject = "P00007"\nwhy = "declared carer for a relative"\n')
    allowed = detect(world[0], world[1], since=SINCE, budget=50, allowlist=path)
    assert not any(a.user_id == "U000" and set(a.event_ids) & {"X002", "X003"} for a in allowed.alerts)
    row = allowed.suppressed.iloc[0]
    assert row["events"] >= 2 and row["alerts"] >= 1 and row["why"] == "declared carer for a relative"
    assert len(allowed.scores) == len(result.scores)  # allow-listed events are still scored
    expired = tmp_path / "old.csv"
    expired.write_text("user,role,subject,expires,why\nU000,,P00007,2025-01-01,expired long ago\n")
    old = detect(world[0], world[1], since=SINCE, budget=50, allowlist=expired)
    assert old.suppressed.iloc[0]["events"] == 0


@pytest.mark.parametrize("text,message", [
    ('[[allow]]\nwhy = "x"\n', "names no user"),
    ('[[allow]]\nuser = "U1"\n', "no `why`"),
    ('[[allow]]\nuser = "U1"\nwhy = "x"\ncolour = "red"\n', "unknown field"),
    ('[[allow]]\nuser = "U1"\nwhy = "x"\nexpires = "soon"\n', "not a date"),
    ("[[allow\n", "not valid TOML"),
])
def test_bad_allowlists_are_explained(tmp_path, text, message):
    path = tmp_path / "a.toml"
    path.write_text(text)
    with pytest.raises(AllowListError, match=message):
        load_allowlist(path)


def test_bad_arguments_are_explained(world):
    with pytest.raises(DatasetError, match="not a date"):
        detect(world[0], world[1], since="yesterday-ish")
    with pytest.raises(DatasetError, match="budget"):
        detect(world[0], world[1], budget=0)
    with pytest.raises(DatasetError, match="at least"):
        train(world[0], until="2025-01-06T09:00:00Z")


def test_a_table_missing_at_detection_is_neutral_and_noted(world):
    ds, model = world
    tables = {k: v for k, v in ds.tables.items() if k != "rosters"}
    from snoopwatch.dataset.model import Dataset
    result = detect(Dataset(tables, {}), model, since=SINCE, budget=50)
    assert any("off_roster" in note and "unremarkable" in note for note in result.notes)
    assert len(result.scores) and np.isfinite(result.scores["score"]).all()


def test_a_person_is_not_realerted_for_the_same_story():
    from snoopwatch.detect import rollup
    def chosen_for(day_12_evidence: float) -> list[tuple[int, int]]:
        cands = pd.DataFrame({"user": [1, 2, 1, 2, 1, 2], "day": [10, 10, 11, 11, 12, 12], "window": "month",
                              "days": 30, "evidence": [9.0, 5.0, 10.0, 6.0, day_12_evidence, 4.0], "level": 2.0,
                              "start_day": 10})
        chosen = rollup.select(cands, per_day=1)
        return list(zip(chosen["day"], chosen["user"], strict=True))

    # Grown but not doubled: the same story, so nobody is alerted on day 12 (user 2 was alerted on day 11
    # with 6.0, and 4.0 is no growth either).
    assert chosen_for(2 * 9.0 - 0.5) == [(10, 1), (11, 2)]
    assert chosen_for(2 * 9.0 + 0.5) == [(10, 1), (11, 2), (12, 1)]  # doubled: a new alert


def test_single_accesses_and_patterns_take_the_daily_budget_in_turn():
    from snoopwatch.detect import rollup
    cands = pd.DataFrame({"user": [1, 2, 3, 4], "day": 10, "window": ["year", "month", "event", "event"],
                          "days": [365, 30, 1, 1], "evidence": [40.0, 30.0, 4.0, 3.5], "level": 2.0, "start_day": 10})
    chosen = rollup.select(cands, per_day=2)
    assert sorted(chosen["user"]) == [1, 3]  # the strongest of each kind, not the two strongest patterns
    # A pattern alert does not hold back a sharp single access of the same person the next day.
    later = pd.DataFrame({"user": [1, 1], "day": [10, 11], "window": ["year", "event"], "days": [365, 1],
                          "evidence": [40.0, 5.0], "level": 2.0, "start_day": [10, 11]})
    assert list(rollup.select(later, per_day=1)["window"]) == ["year", "event"]


def test_one_alert_a_person_and_a_budget_of_one_is_shared_by_both_kinds():
    from snoopwatch.detect import rollup
    # User 1 shows a strong pattern and a sharp access on day 10: one alert, for the pattern.
    both = pd.DataFrame({"user": [1, 1, 2], "day": 10, "window": ["year", "event", "month"], "days": [365, 1, 30],
                         "evidence": [40.0, 5.0, 6.0], "level": 2.0, "start_day": 10})
    chosen = rollup.select(both, per_day=2)
    assert sorted(zip(chosen["user"], chosen["window"], strict=True)) == [(1, "year"), (2, "month")]
    # One alert a day: the kinds take turns (day parity), so neither list starves the other.
    days = pd.DataFrame({"user": [1, 2, 3, 4], "day": [10, 10, 11, 11], "window": ["event", "month", "event", "month"],
                         "days": [1, 30, 1, 30], "evidence": [4.0, 50.0, 4.0, 50.0], "level": 2.0, "start_day": 10})
    assert list(rollup.select(days, per_day=1)["window"]) == ["event", "month"]


def test_pattern_evidence_stays_finite_far_in_the_tail():
    from snoopwatch.detect import rollup
    n = np.array([5000.0, 40.0])
    counts = [np.array([4000.0, 1.0]), np.array([4000.0, 0.0]), np.array([400.0, 0.0])]  # k at levels 2, 3, 4
    value, _ = rollup.evidence(n, counts)  # scipy's Poisson logsf underflows to -inf for the first row
    assert np.isfinite(value).all()
    assert value[0] > 1000  # thousands of one-in-a-thousand events: overwhelming, and still a number
    assert rollup.risk_from_evidence(value)[0] == 100


def test_small_blocks_give_the_same_detection(monkeypatch, world, result):
    """Scoring, reasons and tree walks run in blocks to bound memory: block sizes never change a score, a
    reason or an alert."""
    from snoopwatch.detect import forest
    from snoopwatch.detect import model as model_module

    ds, model = world
    monkeypatch.setattr(model_module, "CHUNK_ROWS", 37)
    monkeypatch.setattr(forest, "SCORE_BLOCK_ROWS", 101)
    again = detect(ds, model, since=SINCE, budget=50)
    pd.testing.assert_frame_equal(again.scores, result.scores)
    assert [a.to_dict() for a in again.alerts] == [a.to_dict() for a in result.alerts]


def test_a_model_far_older_than_the_scored_events_is_noted(result):
    assert not any("retrain" in note for note in result.notes)  # scored events end 15 days after training
    ds = toy_dataset(days=70, seed=1)
    stale = detect(ds, train(ds, until="2025-01-11", seed=0), since="2025-02-20", budget=50)
    note = next(note for note in stale.notes if "retrain" in note)
    assert "trained on events up to 2025-01-10" in note and "--until 2025-03-01" in note  # the last month
    assert "2025-03-16, 64 days later" in note


def test_a_model_trained_under_other_feature_definitions_is_noted(world, result):
    from snoopwatch.features import DEFINITIONS_VERSION

    ds, model = world
    assert model.envelope["feature_definitions"] == DEFINITIONS_VERSION
    assert not any("feature definitions" in note for note in result.notes)
    older = copy.deepcopy(model)

    def definitions_note() -> str:
        return next(note for note in detect(ds, older, since=SINCE, budget=50).notes if "feature definitions" in note)

    del older.envelope["feature_definitions"]  # a model from before the versions were recorded
    note = definitions_note()
    assert "version 1 " in note and "prior_unexplained_span and" in note and "retrain" in note
    older.envelope["feature_definitions"] = 2  # before the score stopped discounting time evidence
    note = definitions_note()
    assert "version 2 " in note and "(the score's off-duty, employment-date and hour evidence changed)" in note
