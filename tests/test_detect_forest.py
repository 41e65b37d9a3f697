"""SnoopwatchForest: scikit-learn contract, sign convention, directed scoring, and reasons that name the feature."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from snoopwatch.detect import SnoopwatchForest
from snoopwatch.detect.reasons import EventReasons, event_reason_codes
from snoopwatch.features import BY_NAME

# Real feature names with their real directions, on a synthetic "normal" matrix.
NAMES = ["surname_match_rarity", "same_postcode_sector", "off_roster", "explained_by_case", "prior_unexplained_days",
         "crowd_excess", "subject_vip", "hour_rarity_user", "is_export", "day_volume_vs_role"]
DIRECTIONS = [BY_NAME[n].direction for n in NAMES]


def _normal(n: int = 4000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.column_stack([
        np.where(rng.random(n) < 0.002, 0.2, 0.0),      # surname match: rare and common names only
        (rng.random(n) < 0.02).astype(float),           # same sector
        (rng.random(n) < 0.01).astype(float),           # off roster
        rng.choice([0.0, 0.5, 1.0], n, p=[0.03, 0.17, 0.8]),  # explained (rarely not at all)
        np.log1p(rng.poisson(0.3, n)),                  # earlier unexplained days
        rng.normal(0, 0.3, n),                          # crowd excess
        (rng.random(n) < 0.001).astype(float),          # vip
        rng.gamma(4, 0.5, n),                           # hour rarity
        (rng.random(n) < 0.03).astype(float),           # export
        rng.normal(0, 0.5, n),                          # volume vs role
    ])
    return X.astype(np.float32)


def test_estimator_contract():
    est = SnoopwatchForest(n_estimators=20, directions=DIRECTIONS, random_state=3)
    assert est.get_params()["n_estimators"] == 20 and not hasattr(est, "forest_")
    with pytest.raises(NotFittedError):
        est.score_samples(_normal(10))
    X = _normal()
    assert est.fit(X) is est
    assert all(hasattr(est, a) for a in ("forest_", "floor_", "signs_", "n_features_in_"))
    again = clone(est).fit(X)
    np.testing.assert_array_equal(est.score_samples(X[:50]), again.score_samples(X[:50]))  # one random_state
    with pytest.raises(ValueError):
        SnoopwatchForest(directions=[1, 2]).fit(X[:, :2])
    with pytest.raises(ValueError):
        est.score_samples(X[:, :3])


def test_higher_is_more_suspicious_and_only_in_the_suspicious_direction():
    X = _normal()
    est = SnoopwatchForest(n_estimators=100, directions=DIRECTIONS, random_state=0).fit(X)
    typical = np.median(X, axis=0)
    suspicious = typical.copy()
    suspicious[[0, 1, 2]] = [0.9, 1.0, 1.0]      # rare surname, same sector, off duty
    suspicious[3] = 0.0                          # unexplained
    too_good = typical.copy()
    too_good[7] = 0.0                            # an unusually ordinary hour: rare, but not suspicious
    too_good[5] = -2.0                           # far fewer people than usual on the subject
    scores = est.score_samples(np.vstack([typical, suspicious, too_good]).astype(np.float32))
    assert scores[1] > scores[0] + 0.1
    assert scores[2] <= scores[0] + 1e-6
    surprise = est.score_surprise(scores)
    assert surprise[1] > 2 and surprise[0] < 1


@pytest.mark.parametrize("k", range(len(NAMES)))
def test_top_reason_names_the_one_feature_that_differs(k):
    """Plant an event equal to a typical one except in one feature; its first reason must name it."""
    X = _normal()
    est = SnoopwatchForest(n_estimators=20, directions=DIRECTIONS, random_state=0).fit(X)
    planted = np.median(X, axis=0)
    extreme = {0: 0.9, 1: 1.0, 2: 1.0, 3: 0.0, 4: np.log1p(12), 5: 3.0, 6: 1.0, 7: 9.0, 8: 1.0, 9: 3.0}
    planted[k] = extreme[k]
    surprise = est.feature_surprise(planted[None, :].astype(np.float32))
    assert surprise[0].argmax() == k
    codes = event_reason_codes(surprise, NAMES)[0].split(";")
    assert codes[0] == BY_NAME[NAMES[k]].reason


def test_typical_events_get_no_reasons():
    X = _normal()
    est = SnoopwatchForest(n_estimators=20, directions=DIRECTIONS, random_state=0).fit(X)
    surprise = est.feature_surprise(np.median(X, axis=0)[None, :].astype(np.float32))
    assert event_reason_codes(surprise, NAMES)[0] == ""


def test_surprise_is_judged_against_the_row_s_own_group():
    """Repeat look-ups without a case: routine for operators, rare for detectives."""
    rng = np.random.default_rng(1)
    n = 6000
    groups = np.where(np.arange(n) < n // 2, "pnc_operator", "detective")
    repeat = np.where(groups == "pnc_operator", rng.poisson(3.0, n), rng.poisson(0.05, n)).astype(np.float32)
    X = np.column_stack([np.log1p(repeat), rng.normal(0, 1, n)]).astype(np.float32)
    est = SnoopwatchForest(n_estimators=20, directions=[1, 1], random_state=0).fit(X, groups=groups)
    assert est.groups_ == ["detective", "pnc_operator"]
    row = np.array([[np.log1p(4.0), 0.0]], dtype=np.float32)
    as_operator = est.feature_surprise(row, ["pnc_operator"])[0, 0]
    as_detective = est.feature_surprise(row, ["detective"])[0, 0]
    as_unknown = est.feature_surprise(row, ["cleaner"])[0, 0]
    assert as_detective > as_operator + 1.5
    assert as_operator < as_unknown < as_detective
    scores = est.score_samples(np.vstack([row, row]))
    judged = est.score_surprise(scores, ["pnc_operator", "detective"])
    assert judged[1] > judged[0]


@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_own_tree_walk_gives_scikit_learn_s_scores_bit_for_bit(monkeypatch, max_features):
    """score_samples walks the fitted trees itself (blocks, threads): the scores must be IsolationForest's."""
    from snoopwatch.detect import forest as forest_module

    X = _normal(3000)
    est = SnoopwatchForest(n_estimators=15, max_features=max_features, directions=DIRECTIONS, random_state=3).fit(X)
    expected = -est.forest_.score_samples(est._directed(X))
    for block, threads in ((1000, 1), (1000, 2), (7, 1), (10**6, 2)):
        monkeypatch.setattr(forest_module, "SCORE_BLOCK_ROWS", block)
        monkeypatch.setattr(forest_module, "SCORE_THREADS", threads)
        np.testing.assert_array_equal(est.score_samples(X), expected)


def test_feature_surprise_by_group_tables_matches_row_by_row():
    """Grouping rows by their table is an optimisation: each row gets what it gets when judged alone."""
    X = _normal(3000)
    groups = np.array(["pnc_operator", "detective", "analyst"] * 1000, dtype=object)
    est = SnoopwatchForest(n_estimators=10, directions=DIRECTIONS, random_state=0).fit(X, groups=groups)
    rows = np.vstack([X[:40], X[:40] * 3.0]).astype(np.float32)
    labels = np.concatenate([groups[:40], groups[:40][::-1]])
    together = est.feature_surprise(rows, labels)
    alone = np.vstack([est.feature_surprise(rows[i:i + 1], labels[i:i + 1]) for i in range(len(rows))])
    np.testing.assert_array_equal(together, alone)



def test_event_reason_codes_order_ties_like_a_stable_sort():
    """Top reasons come from repeated argmax: strongest first, ties to the earlier feature, as a stable sort."""
    names = NAMES[:6]
    rng = np.random.default_rng(1)
    surprise = rng.choice([0.0, 1.0, 2.0, 3.0], size=(500, len(names)), p=[0.4, 0.3, 0.2, 0.1]).astype(np.float32)
    assert event_reason_codes(surprise, names).tolist() == _reason_texts_by_sorting(surprise, names)


def test_scores_fall_back_to_scikit_learn_when_its_private_tables_are_missing(monkeypatch):
    from snoopwatch.detect import forest as forest_module

    X = _normal(500)
    est = SnoopwatchForest(n_estimators=5, directions=DIRECTIONS, random_state=1).fit(X)
    walked = est.score_samples(X)
    monkeypatch.setattr(forest_module, "_average_path_length", None)
    np.testing.assert_array_equal(est.score_samples(X), walked)


def test_summaries_of_many_alerts_read_each_alert_s_own_events():
    """summaries() counts every alert over its own slice of the events (cumulative sums across alerts):
    the same sentences as one alert at a time, and the counts an investigator would make by hand."""
    from snoopwatch.detect.alerts import Reason
    from snoopwatch.detect.reasons import summaries, summary

    day = 86_400.0
    rows = {  # alert 1: events 0-1; alert 2: events 2-4; alert 3: event 5
        "explained_by_case": np.array([0, 0, 1, 0, 0, 0.0]),
        "off_roster": np.array([1, 1, 0, 1, 0, 0.0]),
        "surname_match_rarity": np.array([0.8, 0.8, 0, 0, 0, 0.3]),
        "subject_vip": np.array([0, 0, 1, 1, 0, 0.0]),
    }
    times = np.array([0, 3 * day, 10 * day, 10 * day + 3600, 11 * day, 20 * day])
    subjects = np.array(["S1", "S1", "S2", "S3", "", "S4"], dtype=object)
    offsets = np.array([0, 2, 5, 6])
    why = [[], [Reason("CROWD", "many staff looked at this subject in a few days (2 of 3 look-ups)", 1.0)], []]
    users = ["PC1", "DC2", "CH3"]
    got = summaries(users, rows, times, subjects, offsets, why)
    assert got == [
        "PC1 looked up 1 person 2 times over 3 days (same rare surname); none linked to a case; both off duty",
        "DC2 looked up 2 people 3 times over 1 day (a public figure in 2); 2 of 3 not linked to a case; 1 of 3 "
        "off duty; many staff looked at this subject in a few days",
        "CH3 looked up 1 person 1 time (same surname); not linked to a case",
    ]
    for k in range(3):
        one = slice(offsets[k], offsets[k + 1])
        assert summary(users[k], {c: v[one] for c, v in rows.items()}, times[one], subjects[one], why[k]) == got[k]


def _reason_texts_by_sorting(surprise: np.ndarray, names: list[str]) -> list[str]:
    """The reference: each row's features sorted by surprise (stable), the top three at or above 1.0."""
    order = np.argsort(-surprise, axis=1, kind="stable")[:, :3]
    strength = np.take_along_axis(surprise, order, axis=1)
    reasons = [BY_NAME[n].reason for n in names]
    return [";".join(dict.fromkeys(reasons[i] for i, s in zip(row, power, strict=True) if s >= 1.0))
            for row, power in zip(order, strength, strict=True)]


def test_event_reasons_code_many_blocks_on_two_threads_with_one_text_per_combination():
    """Blocks coded by one EventReasons, two at a time, read each row's own reasons; each text is kept once."""
    from concurrent.futures import ThreadPoolExecutor

    names = NAMES[:6]
    rng = np.random.default_rng(2)
    blocks = [rng.choice([0.0, 1.0, 2.0, 3.0], size=(300, len(names))).astype(np.float32) for _ in range(12)]
    reasons = EventReasons(names)
    with ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(reasons.codes, blocks))
    assert len(reasons.texts) == len(set(reasons.texts)) and reasons.texts[0] == ""
    for block, block_codes in zip(blocks, codes, strict=True):
        assert np.asarray(reasons.texts, dtype=object)[block_codes].tolist() == _reason_texts_by_sorting(block, names)
