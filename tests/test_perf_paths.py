"""The fast paths of detect give the results of the plain ones: threaded feature steps, one directed copy
per scored block, column-major blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snoopwatch.dataset.model import Dataset
from snoopwatch.detect import SnoopwatchForest
from snoopwatch.detect.pipeline import _arrow_text
from snoopwatch.features import _util, build_features
from snoopwatch.features import build as build_module
from snoopwatch.features._util import lookup
from snoopwatch.synth import SynthConfig, generate


def _forest_and_rows() -> tuple[SnoopwatchForest, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.normal(size=3000), (rng.random(3000) < 0.05), rng.gamma(2, 1, 3000),
                         np.where(rng.random(3000) < 0.3, 0.5, 1.0)]).astype(np.float32)
    groups = rng.choice(["a", "b", "c"], 3000, p=[0.6, 0.3, 0.1]).astype(object)
    est = SnoopwatchForest(n_estimators=10, directions=[0, 1, 1, -1], fit_rows=2000, random_state=1).fit(X, groups=groups)
    return est, X, groups


def test_block_surprises_are_score_and_feature_surprises():
    est, X, groups = _forest_and_rows()
    forest, features = est.block_surprises(X, groups)
    np.testing.assert_array_equal(forest, est.score_surprise(est.score_samples(X), groups))
    np.testing.assert_array_equal(features, est.feature_surprise(X, groups))


def test_column_major_rows_score_as_row_major_ones():
    est, X, groups = _forest_and_rows()
    np.testing.assert_array_equal(est.score_samples(np.asfortranarray(X)), est.score_samples(np.ascontiguousarray(X)))
    np.testing.assert_array_equal(est.block_surprises(np.asfortranarray(X), groups)[1], est.feature_surprise(X, groups))


def test_threaded_feature_steps_give_the_sequential_frame(monkeypatch):
    world = generate(SynthConfig(staff=40, days=30, seed=2))
    dataset = Dataset(world.tables, {}).without_answer_key()
    threaded = build_features(dataset)
    monkeypatch.setattr(build_module, "FEATURE_THREADS", 1)
    sequential = build_features(dataset)
    pd.testing.assert_frame_equal(threaded.frame, sequential.frame)
    assert threaded.used == sequential.used and threaded.dropped == sequential.dropped


@pytest.mark.parametrize("sorted_from", [4_096, 16])
def test_features_computed_in_small_row_blocks_are_those_of_one_block(monkeypatch, sorted_from):
    """Blockwise steps (relation, the case and roster interval searches, the case times, the hour
    rarities, the counts and sums over earlier rows and the shares made from them) give every event the
    values of one big block, bit for bit, whether a block's queries are searched as they come or sorted
    by key first."""
    world = generate(SynthConfig(staff=40, days=30, seed=3))
    dataset = Dataset(world.tables, {}).without_answer_key()
    one_block = build_features(dataset)
    assert len(one_block.frame) > 20 * 257  # many blocks below
    monkeypatch.setattr(_util, "ROW_BLOCK", 257)
    monkeypatch.setattr(_util, "SORTED_SEARCH_FROM", sorted_from)
    blocks = build_features(dataset)
    pd.testing.assert_frame_equal(blocks.frame, one_block.frame, check_exact=True)
    assert {"home_proximity", "declared_association", "minutes_off_duty", "hour_rarity_user", "days_after_case_closed",
            "hours_since_case_opened", "result_count_log", "area_rarity_unit", "self_initiated_operator",
            "unexplained_lift_user"} <= set(blocks.used)
    for name in ("days_after_case_closed", "hours_since_case_opened", "result_count_log", "unexplained_lift_user"):
        assert blocks.frame[name].nunique() > 2, name  # (values that vary, not a constant column)


@pytest.mark.parametrize(("table", "fill"), [(np.array([0.5, 1.5, 2.5]), np.nan), (np.array([True, False]), False),
                                             (np.array([7, 8, 9], dtype=np.int32), -1), (np.zeros(0), np.nan)])
@pytest.mark.parametrize("keys", [[0, -1, 2, 5, -3, 1, 3], [-1, 0, -1]])  # some out of range; none (no clipping)
def test_lookup_reads_the_table_and_fills_missing_and_out_of_range_keys(table, fill, keys):
    keys = np.array(keys, dtype=np.int32)
    expected = np.full(len(keys), fill, dtype=np.result_type(table.dtype, np.min_scalar_type(fill)))
    inside = (keys >= 0) & (keys < len(table))
    expected[inside] = table[keys[inside]]
    got = lookup(table, keys, fill)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_arrow_text_is_the_frame_of_python_strings():
    names = np.array(["U1", "nan", "Ünïcode"], dtype=object)
    codes = np.array([2, 0, 0, 1, 2])
    expected = pd.DataFrame({"user_id": names[codes]})["user_id"]
    got = _arrow_text(names, codes)
    assert got.dtype == expected.dtype
    pd.testing.assert_series_equal(got, expected, check_names=False)


def test_one_malloc_arena_is_safe_to_call_again():
    from snoopwatch.dataset.io import one_malloc_arena

    one_malloc_arena()
    one_malloc_arena()  # process-wide setting: a second call changes nothing


def test_block_surprises_from_least_are_exact_there_and_never_invented_below():
    est, X, groups = _forest_and_rows()
    full = est.feature_surprise(X, groups)
    for least in (0.5, 1.0, 2.0):
        forest, from_least = est.block_surprises(X, groups, least=least)
        np.testing.assert_array_equal(forest, est.score_surprise(est.score_samples(X), groups))
        at_or_above = full >= least
        np.testing.assert_array_equal(from_least[at_or_above], full[at_or_above])
        below = from_least[~at_or_above]
        assert ((below == 0) | (below == full[~at_or_above])).all()


def test_block_surprises_on_one_thread_are_the_threaded_ones():
    est, X, groups = _forest_and_rows()
    X = np.tile(X, (12, 1))  # past SCORE_BLOCK_ROWS, so the threaded path splits the rows
    threaded = est.block_surprises(X, np.tile(groups, 12), least=1.0)
    single = est.block_surprises(X, np.tile(groups, 12), least=1.0, parallel=False)
    for a, b in zip(threaded, single, strict=True):
        np.testing.assert_array_equal(a, b)


def test_crowd_step_counts_first_looks_of_the_day_by_definition():
    """crowd_3d, looked up by brute force: the user-days (each at its first look that day) on the event's
    subject from 3 days before the event's minute up to it."""
    from snoopwatch.features import history
    from snoopwatch.features._util import DAY
    from snoopwatch.features.context import build_context

    world = generate(SynthConfig(staff=40, days=20, seed=3))
    ctx = build_context(Dataset(world.tables, {}).without_answer_key())
    crowd = history.compute_crowd(ctx, {"crowd_3d", "crowd_excess"})
    assert set(crowd) == {"crowd_3d", "crowd_excess"}
    minute = (ctx.t - ctx.t.min()) // 60
    looks = pd.DataFrame({"subject": ctx.subject, "user": ctx.user, "day": ctx.day, "minute": minute})
    first = looks[looks["subject"] >= 0].groupby(["subject", "user", "day"])["minute"].min().reset_index()
    window = history.CROWD_WINDOW_DAYS * DAY // 60
    expected = np.zeros(ctx.n)
    for row in np.flatnonzero(ctx.subject >= 0)[::7]:  # every 7th event: enough, and quick
        mine = first["minute"][first["subject"] == ctx.subject[row]]
        expected[row] = np.log1p(((mine >= max(minute[row] - window, 0)) & (mine <= minute[row])).sum())
        assert crowd["crowd_3d"][row] == np.float32(expected[row])
    assert (crowd["crowd_3d"][ctx.subject < 0] == 0).all()
    assert history.compute_crowd(ctx, {"first_access_pair"}) == {}


def test_prepared_surprise_tables_judge_as_fresh_ones():
    est, X, groups = _forest_and_rows()
    prepared = est.surprise_tables(least=1.0)
    for start in (0, 1000, 2000):  # one preparation serves every block
        block, block_groups = X[start:start + 1000], groups[start:start + 1000]
        with_prepared = est.block_surprises(block, block_groups, least=1.0, prepared=prepared)
        fresh = est.block_surprises(block, block_groups, least=1.0)
        for a, b in zip(with_prepared, fresh, strict=True):
            np.testing.assert_array_equal(a, b)


def test_prior_unexplained_days_count_earlier_days_without_a_case_by_definition():
    """prior_unexplained_days and _span, looked up by brute force: the pair's distinct earlier days with a
    look-up no case explains, and the days since the first of them."""
    from snoopwatch.features import history
    from snoopwatch.features.context import build_context

    world = generate(SynthConfig(staff=40, days=45, seed=3))
    ctx = build_context(Dataset(world.tables, {}).without_answer_key())
    got = history.compute(ctx, {"prior_unexplained_days", "prior_unexplained_span"})
    no_case = history.unexplained(ctx)
    looks = pd.DataFrame({"user": ctx.user, "subject": ctx.subject, "day": ctx.day})[(ctx.subject >= 0) & no_case]
    days = looks.groupby(["user", "subject"])["day"].unique()
    user_first_day = pd.Series(ctx.day).groupby(ctx.user).min()
    for row in np.flatnonzero(ctx.subject >= 0)[::5]:
        key = (ctx.user[row], ctx.subject[row])
        earlier = np.sort([d for d in days.get(key, []) if d < ctx.day[row]])
        assert got["prior_unexplained_days"][row] == np.float32(np.log1p(len(earlier)))
        since = ctx.day[row] - earlier[0] if len(earlier) else 0
        known = max(ctx.day[row] - user_first_day[ctx.user[row]], history.SPAN_MIN_KNOWN_DAYS)
        assert got["prior_unexplained_span"][row] == np.float32(since / known)
    assert (got["prior_unexplained_days"][ctx.subject < 0] == 0).all()


def test_user_days_groups_rows_by_user_and_day_by_definition():
    """UserDays (the roll-up's grouping): each (user, day) once, ascending; a user's rows over days found
    as a filter of all rows would find them (by day, ties in row order); per-group reductions as groupby's."""
    from snoopwatch.detect.rollup import UserDays

    rng = np.random.default_rng(5)
    user, day = rng.integers(-1, 12, 3000), rng.integers(19_990, 20_030, 3000)
    groups = UserDays.of(user, day)
    pairs = sorted(set(zip(user.tolist(), day.tolist(), strict=True)))
    assert list(zip(groups.user.tolist(), groups.day.tolist(), strict=True)) == pairs
    np.testing.assert_array_equal(groups.key, groups.user * (1 << 32) + groups.day)
    for u, first, last in [(3, 19_995, 20_001), (-1, 19_990, 20_029), (11, 20_029, 20_029), (5, 20_040, 20_050)]:
        wanted = np.flatnonzero((user == u) & (day >= first) & (day <= last))
        np.testing.assert_array_equal(groups.rows(u, first, last), wanted[np.argsort(day[wanted], kind="stable")])
    flags = rng.random(3000) < 0.05
    by_pair = pd.Series(flags).groupby([user, day])
    np.testing.assert_array_equal(groups.per_group(flags, np.logical_or), by_pair.any().to_numpy())
    np.testing.assert_array_equal(groups.per_group(flags.astype(np.int64)), by_pair.sum().to_numpy())


@pytest.mark.parametrize("users", [12, 70_000])  # 16-bit codes (sorted by radix) or wider ones
def test_user_days_of_rows_in_day_order_is_the_user_day_order(users):
    """Rows in day order (as detect's events come) are grouped by the sort by user alone: the same order
    as np.lexsort((day, user)), ties in row order."""
    from snoopwatch.detect.rollup import UserDays

    rng = np.random.default_rng(8)
    day = np.sort(rng.integers(19_990, 20_030, 5000))
    user = rng.integers(0, users, 5000)
    groups = UserDays.of(user, day)
    np.testing.assert_array_equal(groups.order, np.lexsort((day, user)))
    pairs = sorted(set(zip(user.tolist(), day.tolist(), strict=True)))
    assert list(zip(groups.user.tolist(), groups.day.tolist(), strict=True)) == pairs
    np.testing.assert_array_equal(groups.starts[:-1], np.flatnonzero(np.r_[True, np.diff(
        user[groups.order] * 100_000 + day[groups.order]) != 0]))


@pytest.mark.parametrize("sorted_from", [1, 10**9])  # queries searched in key order, or as they come
def test_start_search_answers_covered_and_last_before_by_definition(monkeypatch, sorted_from):
    """One StartSearch, several answers: covered (some interval of the key holds the time) with either end,
    and the latest start at or before the time (last_before), each against a loop over the intervals."""
    from snoopwatch.features import _util
    from snoopwatch.features._util import StartSearch, last_before

    monkeypatch.setattr(_util, "SORTED_SEARCH_FROM", sorted_from)
    rng = np.random.default_rng(6)
    i_key = rng.integers(-1, 40, 300)
    i_start = np.where(rng.random(300) < 0.1, np.nan, rng.integers(0, 1000, 300).astype(np.float64))
    i_end = np.where(rng.random(300) < 0.2, np.nan, i_start + rng.integers(0, 200, 300))
    q_key, q_time = rng.integers(-1, 45, 2000), np.sort(rng.integers(0, 1200, 2000)).astype(np.float64)
    search = StartSearch(q_key, q_time, i_key, i_start)
    starts = np.nan_to_num(i_start, nan=-np.inf)
    for end, got in [(i_end, search.covered(i_end)), (np.full(300, np.nan), search.covered(np.full(300, np.nan)))]:
        ends = np.nan_to_num(end, nan=np.inf)
        expected = [bool(k >= 0 and ((i_key == k) & (starts <= t) & (t <= ends)).any())
                    for k, t in zip(q_key, q_time, strict=True)]
        np.testing.assert_array_equal(got, expected)
    finite = np.isfinite(i_start)
    expected = [np.max(i_start[m], initial=-np.inf) if k >= 0 else -np.inf
                for k, t in zip(q_key, q_time, strict=True) for m in [finite & (i_key == k) & (i_start <= t)]]
    expected = np.where(np.isinf(expected), np.nan, expected)
    np.testing.assert_array_equal(search.latest_start(), expected)
    np.testing.assert_array_equal(search.latest_start(), last_before(q_key, q_time, i_key, i_start))


def test_history_reads_the_crowd_steps_pair_order_and_peer_days_as_its_own():
    """The crowd step leaves the pair order and the unit peer days for the history step: history's
    features are the same as when it makes them itself, and each of lone_repeat_no_case's peer counts is
    the colleagues' user-days on the subject in the 90 days before, by brute force, over a log longer than
    the window and with some staff of no known unit (who count one colleague)."""
    from snoopwatch.features import history
    from snoopwatch.features.context import build_context

    world = generate(SynthConfig(staff=40, days=120, seed=5))
    tables = dict(world.tables)
    staff = tables["staff"].copy()
    staff["unit"] = staff["unit"].astype(object)
    staff.loc[staff.index[::6], "unit"] = None  # a sixth of the staff: unit unknown
    tables["staff"] = staff
    dataset = Dataset(tables, {}).without_answer_key()
    wanted = {"crowd_3d", "crowd_excess", *history.HISTORY_FEATURES}
    alone = history.compute(build_context(dataset), wanted)
    ctx = build_context(dataset)
    crowd = history.compute_crowd(ctx, wanted)
    assert set(crowd) == {"crowd_3d", "crowd_excess"} and "history_pairs" in ctx.cache
    shared = history.compute(ctx, wanted)
    assert "history_pairs" not in ctx.cache  # used once, then dropped
    assert set(shared) == set(alone) == set(history.HISTORY_FEATURES)
    for name in history.HISTORY_FEATURES:
        np.testing.assert_array_equal(shared[name], alone[name])
    # Peer days by definition, read back from lone_repeat_no_case = log1p(earlier days) / (1 + peers).
    has = ctx.subject >= 0
    by_subject = history._subject_order(ctx)
    by_pair, new_pair = history._pair_order(ctx, has, by_subject)
    # The pair order is the stable sort of the (user, subject) keys, rows without a subject first.
    pair = np.where(has, ctx.user.astype(np.int64) * len(ctx.subjects) + ctx.subject, -1)
    np.testing.assert_array_equal(by_pair, np.argsort(pair, kind="stable"))
    np.testing.assert_array_equal(new_pair, np.r_[True, pair[by_pair][1:] != pair[by_pair][:-1]])
    peers = history._peer_days_by_pair(ctx, has, by_pair, *history._pair_days(ctx, by_pair, new_pair))
    looks = pd.DataFrame({"user": ctx.user, "subject": ctx.subject, "unit": ctx.unit, "day": ctx.day})[has]
    looks = looks[looks["unit"] >= 0].drop_duplicates(["user", "subject", "day"])
    by_subject_unit = {key: (group["user"].to_numpy(), group["day"].to_numpy())
                       for key, group in looks.groupby(["subject", "unit"])}
    checked = np.flatnonzero(has & (ctx.unit >= 0))[::5]
    assert ctx.day.max() - ctx.day.min() > history.PEER_WINDOW_DAYS + 20
    beyond_window = 0  # rows with colleagues' days older than the window (which must not count)
    for row in checked:
        users, days = by_subject_unit[(ctx.subject[row], ctx.unit[row])]
        colleagues = (users != ctx.user[row]) & (days < ctx.day[row])
        in_window = colleagues & (days >= ctx.day[row] - history.PEER_WINDOW_DAYS)
        assert peers[row] == in_window.sum()
        beyond_window += bool((colleagues & ~in_window).any())
    assert (peers[checked] > 0).any() and beyond_window > 0
    unknown = has & (ctx.unit < 0)
    assert unknown.sum() > 100 and (peers[unknown] == 1).all()


def test_flags_are_bytes_holding_0_or_1_and_score_as_floats():
    """Flags (FLAGS) are kept one byte an event; every other feature is float32; scores and reasons from
    that frame equal those from the same values all in float32."""
    from snoopwatch.detect.model import combined_score
    from snoopwatch.features.registry import FLAGS

    world = generate(SynthConfig(staff=40, days=30, seed=2))
    dataset = Dataset(world.tables, {}).without_answer_key()
    fs = build_features(dataset)
    flags = [name for name in fs.used if name in FLAGS]
    assert len(flags) >= 20 and {"case_ref_present", "off_roster", "first_access_pair", "is_export"} <= set(flags)
    for name in fs.used:
        values = fs.frame[name].to_numpy()
        if name in FLAGS:
            assert values.dtype == np.uint8 and set(np.unique(values)) <= {0, 1}, name
        else:
            assert values.dtype == np.float32, name
    assert any(fs.frame[name].any() for name in flags)
    X = fs.frame.to_numpy(np.float32)
    est = SnoopwatchForest(n_estimators=10, directions=[1] * len(fs.used), fit_rows=2000, random_state=1)
    est.fit(X, groups=fs.roles)
    as_floats = pd.DataFrame(X, columns=fs.used)
    surprises: dict[str, dict[int, np.ndarray]] = {"bytes": {}, "floats": {}}
    scores = {}
    for kind, frame in (("bytes", fs.frame), ("floats", as_floats)):
        def keep(start: int, _, surprise: np.ndarray, kind: str = kind) -> None:
            surprises[kind][start] = surprise.copy()
        scores[kind] = combined_score(est, frame, fs.used, fs.roles, keep)
    for a, b in zip(scores["bytes"], scores["floats"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert surprises["bytes"].keys() == surprises["floats"].keys()
    for start, surprise in surprises["bytes"].items():
        np.testing.assert_array_equal(surprise, surprises["floats"][start])


def test_a_flag_given_other_values_is_an_error():
    """A flag would be cut to a byte silently; a step that gives one anything but 0 or 1 is stopped."""
    used = ["case_ref_present", "hour_rarity_user"]
    columns = build_module._BlockColumns(build_module._FeatureBlock(4, used))
    columns["case_ref_present"] = np.array([True, False, True, False])
    columns["hour_rarity_user"] = np.array([0.5, 2.0, 0.0, 1.0])
    columns["case_ref_present"] = np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(columns.column("case_ref_present"), [1, 0, 0, 1])
    with pytest.raises(ValueError, match="case_ref_present is a flag"):
        columns["case_ref_present"] = np.array([0.5, 0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="case_ref_present is a flag"):
        _util.write_blockwise(columns, "case_ref_present", lambda x: x * 2.0, np.ones(4))


def test_fit_frame_reads_only_its_sampled_rows_and_fits_as_on_the_matrix():
    """train fits on FeatureSet.frame (flags as bytes) without making the whole frame a float32 matrix;
    the forest is the one fit() grows on that matrix, and no column names are kept (scoring reads
    matrices). fit() itself keeps scikit-learn's contract on frames (names kept, every row validated)."""
    est, X, groups = _forest_and_rows()
    frame = pd.DataFrame({"a": X[:, 0], "flag": X[:, 1].astype(np.uint8), "c": X[:, 2], "d": X[:, 3]})
    params = {"n_estimators": 10, "directions": [0, 1, 1, -1], "fit_rows": 2000, "random_state": 1}
    on_frame = SnoopwatchForest(**params).fit_frame(frame, groups=groups)
    assert not hasattr(on_frame, "feature_names_in_") and on_frame.n_features_in_ == 4
    np.testing.assert_array_equal(on_frame.score_samples(X), est.score_samples(X))
    np.testing.assert_array_equal(on_frame.feature_surprise(X, groups), est.feature_surprise(X, groups))
    with pytest.raises(ValueError, match="labels for 3000 rows"):
        SnoopwatchForest(**params).fit_frame(frame, groups=groups[:10])
    assert list(SnoopwatchForest(**params).fit(frame).feature_names_in_) == ["a", "flag", "c", "d"]
    with pytest.raises(ValueError, match="NaN"):
        SnoopwatchForest(**params).fit(frame.assign(a=np.r_[X[:-1, 0], np.nan]))


def test_roles_as_categories_pick_the_tables_their_text_picks():
    """FeatureSet.roles is a Categorical (codes, no text per event); the calibration table of each row is
    the one its role's text picks, unknown roles ("" and missing) the common table."""
    est, X, groups = _forest_and_rows()
    text = np.append(groups[:200], ["", "nobody"]).astype(object)
    categories = pd.Categorical(text)
    np.testing.assert_array_equal(est._tables_for(len(text), categories), est._tables_for(len(text), text))
    assert set(est._tables_for(len(text), categories)[-2:]) == {0}
    with_missing = pd.Categorical(["a", None, "b"])
    np.testing.assert_array_equal(est._tables_for(3, with_missing), est._tables_for(3, np.array(["a", "", "b"], dtype=object)))
    world = generate(SynthConfig(staff=40, days=30, seed=2))
    fs = build_features(Dataset(world.tables, {}).without_answer_key())
    assert isinstance(fs.roles, pd.Categorical) and len(fs.roles) == len(fs.frame)
    staff, events = world.tables["staff"], world.tables["events"]
    role_of = dict(zip(staff["user_id"].astype(str), staff["role"].astype(str), strict=True))
    np.testing.assert_array_equal(np.asarray(fs.roles, dtype=object), events["user_id"].astype(str).map(role_of).to_numpy())
