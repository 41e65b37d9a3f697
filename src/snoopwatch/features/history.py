"""History and crowd features: this user and this subject over months and years; many users on one subject.

Only earlier events count (never later ones): an event's history features are the same whether or not
the log goes on after it. Days are UTC calendar days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from snoopwatch.features import _util
from snoopwatch.features._util import (
    DAY,
    first_of_run,
    output_column,
    scaled_sum,
    search_ascending,
    stable_argsort,
    write_blockwise,
)
from snoopwatch.features.context import Context

CROWD_WINDOW_DAYS = 3
CROWD_BASELINE_DAYS = 90
HISTORY_FEATURES = ("first_access_pair", "prior_unexplained_days", "prior_unexplained_span", "lone_repeat_no_case")
CROWD_FEATURES = ("crowd_3d", "crowd_excess")  # computed by compute_crowd, a step of their own
PEER_WINDOW_DAYS = 90  # colleagues' interest in a person counts for this long
# The span is measured against at least a month: a user new to the log cannot have a long-running pattern yet.
SPAN_MIN_KNOWN_DAYS = 30
_MINUTE_BITS = 34  # minutes since the first event fit in 34 bits (32,000 years)
_SHARED_PAIRS = "history_pairs"  # Context.cache key: what the crowd step leaves for the history step
_DAYS = "history_days"  # Context.cache key: _days(ctx)


def unexplained(ctx: Context) -> np.ndarray:
    """Per event: True when no case explains it (falls back to "no case reference" without case tables)."""
    explained = ctx.cache.get("explained")
    if explained is not None:
        return explained == 0
    ref = ctx.event_column("case_ref")
    return ref.isna().to_numpy() if ref is not None else np.ones(ctx.n, dtype=bool)


def _pair_order(ctx: Context, has: np.ndarray, by_subject: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows grouped by (user, subject) pair, in time order within a pair; True where a pair starts in that
    order). Rows without a subject form one group, first. The subject order (_subject_order) sorted again
    by user: two stable sorts of small codes (radix sorts when there are fewer than 65,536 users and
    subjects) instead of one of the pair keys."""
    user = np.where(has, ctx.user, -1)  # rows without a subject: one group, first
    by_pair = by_subject[stable_argsort(user[by_subject])]
    raw_pair = scaled_sum(user, max(len(ctx.subjects), 1), ctx.subject)
    raw_pair[~has] = -1
    return by_pair, first_of_run(raw_pair[by_pair])


def compute(ctx: Context, wanted: set[str], out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The wanted features of this group but the crowd's; `out`, when given, receives each array as it is made."""
    out = {} if out is None else out
    has = ctx.subject >= 0
    if not has.any():  # no subject on any event: this step's own features are all zero, no others
        return {k: np.zeros(ctx.n, dtype=np.float32) for k in HISTORY_FEATURES if k in wanted}
    # This one order serves every count below, because it also sorts (pair, day) and (pair, day) keys.
    # (Arrays are dropped as soon as they are used up: at 10M events each is 80 MB.) The crowd step,
    # which runs before this one beside other steps, leaves the order and the unit peer days it made.
    shared = ctx.cache.pop(_SHARED_PAIRS, None)
    if shared is None:  # called on its own, without the crowd step before it
        by_subject = _subject_order(ctx)
        by_pair, new_pair = _pair_order(ctx, has, by_subject)
        del by_subject
        peers = (_peer_days_by_pair(ctx, has, by_pair, *_pair_days(ctx, by_pair, new_pair))
                 if "lone_repeat_no_case" in wanted else None)
    else:
        by_pair, new_pair, peers = shared
    first = np.empty(ctx.n, dtype=bool)
    first[by_pair] = new_pair
    out["first_access_pair"] = first & has
    del first

    # Earlier distinct days on which this user looked this subject up with no case explaining it, counted
    # in pair order, where (pair, day) keys ascend: running counts over the runs, no searches.
    # Positions, counts and days fit in 32 bits (below 2**31 events): half the memory of int64 arrays.
    small = _position_type(ctx)
    pair_in_order = np.cumsum(new_pair, dtype=small)  # dense pair id, ascending; no-subject rows share one
    pair_in_order -= 1
    pair_start = np.flatnonzero(new_pair)
    del new_pair
    day, span = _days(ctx)
    day_in_order = day[by_pair].astype(small, copy=False)  # (days since the first event: far below 2**31)
    sorted_pd = scaled_sum(pair_in_order, span, day_in_order)
    new_day = first_of_run(sorted_pd)  # the user's first look at the subject that day
    # The first row without a case of each (pair, day) run: one per distinct (pair, day) without a case.
    no_case = np.flatnonzero((unexplained(ctx) & has)[by_pair])
    counted = no_case[first_of_run(sorted_pd[no_case])]
    del no_case, sorted_pd
    counted_before = np.zeros(ctx.n + 1, dtype=small)  # counted rows before each position
    counted_before[counted + 1] = 1
    np.cumsum(counted_before, out=counted_before)
    run = np.cumsum(new_day, dtype=small)
    run -= 1
    since_pair = counted_before[pair_start][pair_in_order]
    earlier_in_order = counted_before[np.flatnonzero(new_day)][run] - since_pair  # days before this day
    del run, pair_in_order, pair_start, counted_before
    # The pair's first day without a case (read only where there is an earlier one).
    first_day = day_in_order[counted][np.minimum(since_pair, max(len(counted) - 1, 0))] if len(counted) else 0
    del since_pair, counted
    since_first_in_order = np.where(earlier_in_order > 0, day_in_order - first_day, 0)
    del first_day, day_in_order
    earlier_days = np.empty(ctx.n, dtype=np.float64)
    earlier_days[by_pair] = earlier_in_order
    since_first = np.empty(ctx.n, dtype=since_first_in_order.dtype)
    since_first[by_pair] = since_first_in_order
    del earlier_in_order, since_first_in_order

    # The span is a share of how long the log has known the user (at least a month), so it means the same
    # in a 3-month training window and a 3-year detection run: a raw span only grows with the log, and so
    # would a share with a constant added below (span / (known + 30) tends to 1 as the log grows, so a
    # detection run long after a short training window finds routine long-running interests "never seen").
    first_row = np.flatnonzero(~pd.Series(ctx.user).duplicated().to_numpy())  # rows are in time order
    users = ctx.user[first_row]
    user_first_day = np.zeros(int(users.max()) + 1 if len(users) else 1, dtype=np.int64)
    user_first_day[users] = day[first_row]
    known_for = day - user_first_day[ctx.user]
    write_blockwise(out, "prior_unexplained_days", lambda has, days: np.where(has, np.log1p(days), 0.0),
                    has, earlier_days)
    write_blockwise(out, "prior_unexplained_span", lambda has, since, known: np.where(
        has, since / np.maximum(known, SPAN_MIN_KNOWN_DAYS), 0.0), has, since_first, known_for)
    del since_first, known_for

    if "lone_repeat_no_case" in wanted:
        write_blockwise(out, "lone_repeat_no_case", lambda has, days, peers: np.where(
            has, np.log1p(days) / (1.0 + peers), 0.0), has, earlier_days, peers)

    ctx.cache.pop(_DAYS, None)  # (the last step to read them)
    return {k: v for k, v in out.items() if k in wanted}


def compute_crowd(ctx: Context, wanted: set[str], out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The wanted crowd features (many users on one subject in the last days, against the usual rate),
    and, when history features are wanted, what the history step needs but reads no other step's output
    for: the (user, subject) pair order and the unit peer days (left in ctx.cache for `compute`).

    A step of its own: it reads no other feature, and so can run beside the steps before history.
    """
    out = {} if out is None else out
    crowd, for_history = bool(set(CROWD_FEATURES) & wanted), bool(set(HISTORY_FEATURES) & wanted)
    if not crowd and not for_history:
        return {}
    has = ctx.subject >= 0
    if not has.any():  # no subject on any event: all zero
        return {k: np.zeros(ctx.n, dtype=np.float32) for k in CROWD_FEATURES if k in wanted}
    by_subject = _subject_order(ctx)  # (for the pair order and the crowd)
    by_pair, new_pair = _pair_order(ctx, has, by_subject)
    # The history step's pair order, and its unit peer days (they read no other step): made here, on this
    # step's thread, so the history step, the last to start, has less to do (the peer days first: the
    # crowd needs no (pair, day) keys).
    peers_wanted = "lone_repeat_no_case" in wanted
    peers = None
    if crowd or peers_wanted:
        sorted_pd, new_day = _pair_days(ctx, by_pair, new_pair)
        peers = _peer_days_by_pair(ctx, has, by_pair, sorted_pd, new_day) if peers_wanted else None
        del sorted_pd
        if crowd:
            _crowd(ctx, by_pair, new_day, by_subject, out)
        del new_day
    del by_subject
    if for_history:
        ctx.cache[_SHARED_PAIRS] = (by_pair, new_pair, peers)
    return {k: v for k, v in out.items() if k in wanted}


def _subject_order(ctx: Context) -> np.ndarray:
    """Rows grouped by subject, in time order within one (no subject first)."""
    return stable_argsort(ctx.subject).astype(_position_type(ctx), copy=False)


def _position_type(ctx: Context) -> type:
    """The integer type that holds a row position or a count of rows: int32 below 2**31 events."""
    return np.int32 if ctx.n < 1 << 31 else np.int64


def _pair_days(ctx: Context, by_pair: np.ndarray, new_pair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the (pair, day) keys in pair order, pair x span + day with pairs from 0 (ascending); True where a
    (pair, day) starts in that order: the user's first look at the subject that day), from the pair
    order (by_pair, and True where a pair starts in it)."""
    day, span = _days(ctx)
    sorted_pd = np.cumsum(new_pair)
    sorted_pd -= 1
    sorted_pd *= span
    sorted_pd += day[by_pair]
    return sorted_pd, first_of_run(sorted_pd)


def _peer_days_by_pair(ctx: Context, has: np.ndarray, by_pair: np.ndarray, sorted_pd: np.ndarray,
                       new_day: np.ndarray) -> np.ndarray:
    """Per event: days in the last PEER_WINDOW_DAYS (today excluded) on which colleagues of the user's unit
    looked at the same subject (user-days, the user's own excluded), as int32. Users of unknown unit get
    1: one colleague, neither alone nor a crowd.

    From the pair order (by_pair) and its (pair, day) keys and starts (_pair_days). The answer is the same
    for every row of a (user, subject, day), so it is worked out once per (pair, day), in two sorted orders
    where each count is a position: the unit's user-days on the subject in the window (in (subject, unit,
    day) order) less the user's own (in (pair, day) order, where the keys already ascend).
    """
    day, span = _days(ctx)
    starts = np.flatnonzero(new_day)  # where each (pair, day) starts in pair order
    first = by_pair[starts]  # its first row (the pair, the unit and the day are the same on every row)
    own_key = sorted_pd[starts]  # ascending
    back = np.minimum(day[first], PEER_WINDOW_DAYS)  # the window starts this many days before (not before day 0)
    peers = np.ones(len(starts), dtype=np.int32)  # unknown unit (or no subject): 1
    # The user's own earlier days on the subject: the (pair, day)s before this one from the window's start
    # (the keys ascend, and key - back stays among the pair's own keys).
    own = np.arange(len(starts)) - search_ascending(own_key, own_key - back)
    # The unit's user-days on the subject (the user's own included) in the window: (subject, unit, day)
    # keys sorted; a key's earlier user-days are its run's start less the window's start.
    known = np.flatnonzero(has[first] & (ctx.unit[first] >= 0))
    rows = first[known]
    unit_key = (ctx.subject[rows].astype(np.int64) * (len(ctx.units) + 1) + ctx.unit[rows]) * span + day[rows]
    order = stable_argsort(unit_key)
    ordered = unit_key[order]
    del unit_key, rows
    run_start = np.where(first_of_run(ordered), np.arange(len(ordered)), 0)
    np.maximum.accumulate(run_start, out=run_start)
    unit_days = np.empty(len(known), dtype=np.int64)
    unit_days[order] = run_start - search_ascending(ordered, ordered - back[known][order])
    del order, ordered, run_start
    peers[known] = np.maximum(unit_days - own[known], 0)
    # Back to every row, from its (pair, day) in pair order.
    run = np.cumsum(new_day)
    run -= 1
    out = np.empty(ctx.n, dtype=np.int32)
    out[by_pair] = peers[run]
    return out


def _days(ctx: Context) -> tuple[np.ndarray, int]:
    """(day of each event counted from the first day, as int32, made once for the crowd and history
    steps; a span above every such day) for (pair, day) keys."""
    day0 = int(ctx.day.min())
    if _DAYS not in ctx.cache:
        ctx.cache[_DAYS] = np.subtract(ctx.day, day0, dtype=np.int32)  # (days since the first event)
    return ctx.cache[_DAYS], int(ctx.day.max()) - day0 + 2


def _crowd(ctx: Context, by_pair: np.ndarray, new_day: np.ndarray, by_subject: np.ndarray,
           out: dict[str, np.ndarray]) -> None:
    """crowd_3d and crowd_excess into `out`, from the pair order (by_pair, and True where a (pair, day)
    starts in it: _pair_days) and the subject order (by_subject)."""
    # One entry per (subject, user, day): the user's first look at the subject that day. Taken in subject
    # order (time order within a subject), their (subject, minute) keys ascend: no sort.
    first_look = np.empty(ctx.n, dtype=bool)
    first_look[by_pair] = new_day
    t0 = ctx.t.min()
    with_subject = by_subject[np.count_nonzero(ctx.subject < 0):]  # (rows without a subject sort first)
    parts = []
    for start in range(0, len(with_subject), _util.ROW_BLOCK):
        rows = with_subject[start:start + _util.ROW_BLOCK]
        rows = rows[first_look[rows]]
        parts.append((ctx.subject[rows].astype(np.int64) << _MINUTE_BITS) | _minutes(ctx.t[rows], t0))
    del first_look, with_subject
    entries = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    del parts
    if (entries[1:] < entries[:-1]).any():  # (a safeguard: Context rows are in time order, so never)
        entries.sort()

    # Per row, entries on its subject from `back` to `until` minutes before it (the recent window, its end
    # included, and the baseline before it). The rows are taken a block at a time in (subject, minute)
    # order (rows are in time order, so a stable sort by subject gives it), so every search walks
    # `entries` in step; each block's features are written straight to its rows.
    window = CROWD_WINDOW_DAYS * DAY // 60
    baseline = CROWD_BASELINE_DAYS * DAY // 60 + window  # (minutes back to the baseline's start)
    crowd_3d, crowd_excess = output_column(out, "crowd_3d", ctx.n), output_column(out, "crowd_excess", ctx.n)
    block = _util.ROW_BLOCK
    for start in range(0, ctx.n, block):
        rows = by_subject[start:start + block]
        subject = ctx.subject[rows]
        base, minute = subject.astype(np.int64) << _MINUTE_BITS, _minutes(ctx.t[rows], t0)
        # Three searches: now (its minute included), the window's start (which ends the baseline), the
        # baseline's start.
        window_start = search_ascending(entries, base + np.maximum(minute - window, 0))
        recent = search_ascending(entries, base + np.maximum(minute, 0), "right") - window_start
        usual = window_start - search_ascending(entries, base + np.maximum(minute - baseline, 0))
        recent = np.log1p(recent.astype(np.float64))
        usual = usual.astype(np.float64) * CROWD_WINDOW_DAYS / CROWD_BASELINE_DAYS  # over the window's length
        crowd_3d[rows] = np.where(subject >= 0, recent, 0.0)
        crowd_excess[rows] = np.where(subject >= 0, recent - np.log1p(usual), 0.0)
    out["crowd_3d"], out["crowd_excess"] = crowd_3d, crowd_excess


def _minutes(t: np.ndarray, t0: float) -> np.ndarray:
    """Whole minutes since t0 (int64)."""
    return ((t - t0) // 60).astype(np.int64)
