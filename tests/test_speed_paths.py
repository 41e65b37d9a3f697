"""The fast paths (packed sorts, grouped counts, bincount roll-up) give exactly what the plain versions give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snoopwatch.detect.rollup import LEVELS, daily_counts
from snoopwatch.features._util import (
    EarlierRows,
    member,
    search_ascending,
    search_keyed,
    sorted_unique,
    stable_argsort,
)


@pytest.mark.parametrize("high", [1, 12, 65_530, 65_531, 70_000, 2**40, 2**62])
def test_stable_argsort_is_numpy_s_stable_argsort(high):
    values = np.random.default_rng(high % 1000).integers(-5, high, 5000)
    np.testing.assert_array_equal(stable_argsort(values), np.argsort(values, kind="stable"))


@pytest.mark.parametrize("span", [65_535, 65_536])  # the widest span sorted as 16-bit codes, and one more
def test_stable_argsort_at_the_16_bit_edge(span):
    values = np.random.default_rng(span).integers(-7, -7 + span - 1, 5000, endpoint=True)
    values[:2] = [-7, -7 + span - 1]  # both ends present: the span is exactly `span` values
    values[2:40] = values[0]  # ties keep row order
    np.testing.assert_array_equal(stable_argsort(values), np.argsort(values, kind="stable"))


def test_sorted_unique_and_member():
    rng = np.random.default_rng(0)
    keys = rng.integers(-1, 500, 300)  # -1 (missing) among the keys too
    query = rng.integers(-1, 600, 2000)
    np.testing.assert_array_equal(sorted_unique(keys), np.unique(keys))
    np.testing.assert_array_equal(member(query, keys), np.isin(query, keys) & (query >= 0))


@pytest.mark.parametrize("row_block", [257, 1 << 16])  # many blocks, and one
@pytest.mark.parametrize("groups", [3, 300, 70_000, 2**40])  # 16-bit codes, wider codes, hashed keys
def test_earlier_rows_counts_and_sums_like_a_groupby(monkeypatch, groups, row_block):
    from snoopwatch.features import _util

    monkeypatch.setattr(_util, "ROW_BLOCK", row_block)
    rng = np.random.default_rng(groups % 1000)
    key = rng.integers(0, groups, 20_000) * 7 - 1
    weight = rng.choice([0.0, 0.5, 1.0], 20_000)
    by_key = pd.Series(weight).groupby(key, sort=False)
    earlier = EarlierRows(key)
    np.testing.assert_array_equal(earlier.count(), by_key.cumcount().to_numpy(np.float64))
    np.testing.assert_array_equal(earlier.total(weight), by_key.cumsum().to_numpy() - weight)


def test_search_keyed_sorts_time_ordered_queries_to_the_same_positions(monkeypatch):
    from snoopwatch.features import _util

    rng = np.random.default_rng(1)
    composite = np.sort(rng.integers(0, 2**45, 3000))
    q_dense = rng.integers(0, 50, 10_000)
    q_time = np.sort(rng.integers(0, 2**40, 10_000)).astype(np.float64)
    q_comp = (q_dense << 40) | q_time.astype(np.int64)
    monkeypatch.setattr(_util, "SORTED_SEARCH_FROM", 1)
    for side in ("left", "right"):
        np.testing.assert_array_equal(search_keyed(composite, q_comp, q_dense, q_time, side),
                                      np.searchsorted(composite, q_comp, side=side))


@pytest.mark.parametrize("row_block", [64, 1 << 16])  # many blocks, and one
@pytest.mark.parametrize("queries", ["ascending", "with ties and outside", "shuffled", "one", "none"])
def test_search_ascending_is_searchsorted(monkeypatch, row_block, queries):
    """Blocks of ascending queries searched within their stretch of the array find numpy's positions,
    on both sides, for queries before, between, on and after the values; a block that is not ascending
    (the caller was wrong) is searched in the whole array, still numpy's positions."""
    from snoopwatch.features import _util

    monkeypatch.setattr(_util, "ROW_BLOCK", row_block)
    rng = np.random.default_rng(7)
    a = np.sort(rng.integers(0, 1_000, 2_000))
    v = {"ascending": np.sort(rng.integers(0, 1_000, 5_000)),
         "with ties and outside": np.sort(np.r_[rng.integers(-50, 1_100, 3_000), a[::9], [-1, 10**6]]),
         "shuffled": rng.integers(-50, 1_100, 3_000), "one": np.array([500]),
         "none": np.zeros(0, dtype=np.int64)}[queries]
    for side in ("left", "right"):
        np.testing.assert_array_equal(search_ascending(a, v, side), np.searchsorted(a, v, side=side))


@pytest.mark.parametrize("direct_span", [1 << 20, 4])  # numbered through a table, and by hashing
def test_category_codes_number_each_combination_once(monkeypatch, direct_span):
    """Activity's category codes tell apart exactly the combinations of their columns (a category column,
    text, and integer codes with -1 for none): the partition of the rows that factorizing the tuples
    gives, numbered 0 to (distinct combinations - 1), so add-one smoothing counts the categories right."""
    from types import SimpleNamespace

    from snoopwatch.features import activity

    monkeypatch.setattr(activity, "DIRECT_KEY_SPAN", direct_span)
    rng = np.random.default_rng(3)
    n = 5_000
    query = pd.Series(pd.Categorical(rng.choice(["name", "vehicle", "address", None], n)))
    reason = pd.Series(rng.choice(["A1", "B2", None], n), dtype=object)
    case_category = rng.integers(-1, 40, n)
    codes = activity._category_codes(SimpleNamespace(n=n), [query, reason, None, case_category])
    combos = pd.MultiIndex.from_arrays([query.astype(object).fillna("-"), reason.fillna("-"), case_category])
    expected, distinct = pd.factorize(combos)
    assert codes.dtype == np.int64 and codes.min() == 0 and codes.max() == len(distinct) - 1
    pairs = pd.DataFrame({"codes": codes, "expected": expected}).drop_duplicates()
    assert len(pairs) == len(distinct)  # one code per combination and one combination per code


@pytest.mark.parametrize("users", [30, 10**9])  # few users: counted by key; ids far apart: by sorted keys
def test_daily_counts_is_the_per_user_day_groupby(users):
    rng = np.random.default_rng(2)
    n = 4000
    user, day = rng.integers(0, users, n), rng.integers(20_000, 20_060, n)
    score, usable = rng.exponential(1.5, n), rng.random(n) > 0.1
    frame = pd.DataFrame({"user": user, "day": day, "n": np.ones(n)})
    for i, level in enumerate(LEVELS):
        frame[f"k{i}"] = ((score >= level) & usable).astype(np.float64)
    frame["top"] = np.where(usable, score, 0.0)
    expected = frame.groupby(["user", "day"], sort=True).agg(
        {"n": "sum", **{f"k{i}": "sum" for i in range(len(LEVELS))}, "top": "max"}).reset_index()
    pd.testing.assert_frame_equal(daily_counts(user, day, score, usable), expected)


@pytest.mark.parametrize("high", [50, 5_000_000, 2**50])
def test_positions_in_is_get_indexer(high):
    from snoopwatch.features._util import positions_in

    rng = np.random.default_rng(3)
    uniques = pd.unique(rng.integers(0, high, 400))
    below = int(uniques.min()) - rng.integers(1, 10, 100)  # never present (hashed paths skip them)
    query = np.concatenate([rng.choice(uniques, 3000), rng.integers(-1, high, 3000), np.full(500, -1), below])
    np.testing.assert_array_equal(positions_in(uniques, query), pd.Index(uniques).get_indexer(query))


def test_ties_already_in_id_order_are_recognised_and_others_are_not():
    from snoopwatch.features.context import _ascending_within_ties

    ids = pd.Series(["E2", "E1", "E3", "E4", "E5"], dtype=pd.StringDtype("pyarrow"))
    times = np.array([1.0, 1.0, 2.0, 2.0, 3.0])
    assert _ascending_within_ties(ids, np.array([1, 0, 2, 3, 4]), times)
    assert not _ascending_within_ties(ids, np.array([0, 1, 2, 3, 4]), times)  # E2 before E1 at one instant
    assert not _ascending_within_ties(pd.Series([2, 1]), np.array([0, 1]), np.array([1.0, 1.0]))  # not text: sort


@pytest.mark.parametrize(("ids", "order"), [
    (["E1", "E2", "E3", "E4"], [0, 1, 2, 3]),  # ids ascend down the table: ties need no look
    (["E3", "E4", "E1", "E2"], [0, 1, 2, 3]),  # ids do not ascend overall, but within each instant
    (["E2", "E1", "E3", "E4"], [1, 0, 2, 3]),  # a tie out of id order is reordered
])
def test_context_orders_ties_by_event_id(ids, order):
    from snoopwatch.dataset.io import strictly_ascending_text
    from snoopwatch.dataset.model import Dataset
    from snoopwatch.features.context import build_context

    events = pd.DataFrame({
        "event_id": pd.Series(ids, dtype=pd.StringDtype("pyarrow", na_value=np.nan)),
        "timestamp": pd.to_datetime(["2025-01-06T10:00:00Z"] * 2 + ["2025-01-06T11:00:00Z"] * 2, utc=True),
        "user_id": pd.Series(["U1", "U2", "U1", "U2"], dtype=pd.StringDtype("pyarrow", na_value=np.nan)),
    })
    assert strictly_ascending_text(events["event_id"]) == (ids == sorted(ids))
    ctx = build_context(Dataset({"events": events}, {}))
    np.testing.assert_array_equal(ctx.order, order)
    assert ctx.in_order == (order == sorted(order))
