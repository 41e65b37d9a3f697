"""History and crowd features: this user and this subject over months and years; many users on one subject.

Only earlier events count (never later ones): an event's history features are the same whether or not
the log goes on after it. Days are UTC calendar days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from snoopwatch.features._util import DAY, first_of_run, stable_argsort
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


def unexplained(ctx: Context) -> np.ndarray:
    """Per event: True when no case explains it (falls back to "no case reference" without case tables)."""
    explained = ctx.cache.get("explained")
    if explained is not None:
        return explained == 0
    ref = ctx.event_column("case_ref")
    return ref.isna().to_numpy() if ref is not None else np.ones(ctx.n, dtype=bool)


def _pair_order(ctx: Context, has: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows grouped by (user, subject) pair, in time order within a pair; True where a pair starts in that
    order). Rows without a subject form one group, first. A stable sort of the time-ordered rows."""
    n_subjects = max(len(ctx.subjects), 1)
    raw_pair = ctx.user.astype(np.int64) * n_subjects + ctx.subject.astype(np.int64)
    raw_pair[~has] = -1
    by_pair = stable_argsort(raw_pair).astype(np.int32 if ctx.n < 1 << 31 else np.int64)
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
        by_pair, new_pair = _pair_order(ctx, has)
        peers = _peer_days_by_pair(ctx, has, by_pair, new_pair) if "lone_repeat_no_case" in wanted else None
    else:
        by_pair, new_pair, peers = shared
    first = np.empty(ctx.n, dtype=bool)
    first[by_pair] = new_pair
    out["first_access_pair"] = (first & has).astype(np.float32)
    del first

    # Earlier distinct days on which this user looked this subject up with no case explaining it, counted
    # in pair order, where (pair, day) keys ascend: running counts over the runs, no searches.
    pair_in_order = np.cumsum(new_pair) - 1  # dense pair id, ascending; no-subject rows share one
    pair_start = np.flatnonzero(new_pair)
    del new_pair
    day, span = _days(ctx)
    day_in_order = day[by_pair]
    sorted_pd = pair_in_order * span + day_in_order
    new_day = first_of_run(sorted_pd)  # the user's first look at the subject that day
    # The first row without a case of each (pair, day) run: one per distinct (pair, day) without a case.
    no_case = np.flatnonzero((unexplained(ctx) & has)[by_pair])
    counted = no_case[first_of_run(sorted_pd[no_case])]
    del no_case, sorted_pd
    counted_before = np.zeros(ctx.n + 1, dtype=np.int64)  # counted rows before each position
    counted_before[counted + 1] = 1
    np.cumsum(counted_before, out=counted_before)
    run = np.cumsum(new_day) - 1
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
    out["prior_unexplained_days"] = np.where(has, np.log1p(earlier_days), 0.0).astype(np.float32)
    out["prior_unexplained_span"] = np.where(has, since_first / np.maximum(known_for, SPAN_MIN_KNOWN_DAYS),
                                             0.0).astype(np.float32)
    del since_first, known_for

    if "lone_repeat_no_case" in wanted:
        out["lone_repeat_no_case"] = np.where(has, np.log1p(earlier_days) / (1.0 + peers), 0.0).astype(np.float32)

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
    by_pair, new_pair = _pair_order(ctx, has)
    if crowd:
        _crowd(ctx, has, by_pair, new_pair.copy() if for_history else new_pair, out)
    if for_history:
        # The history step's pair order, and its unit peer days (they read no other step): made here, on
        # this step's thread, so the history step, which runs alone, has less to do.
        peers = _peer_days_by_pair(ctx, has, by_pair, new_pair) if "lone_repeat_no_case" in wanted else None
        ctx.cache[_SHARED_PAIRS] = (by_pair, new_pair, peers)
    return {k: v for k, v in out.items() if k in wanted}


def _peer_days_by_pair(ctx: Context, has: np.ndarray, by_pair: np.ndarray, new_pair: np.ndarray) -> np.ndarray:
    """_unit_peer_days from the pair order (by_pair, and True where a pair starts in it), with the (pair,
    day) keys it needs made in place."""
    day, span = _days(ctx)
    sorted_pd = np.cumsum(new_pair)  # (pair, day) keys in pair order: pair x span + day, pairs from 0
    sorted_pd -= 1
    sorted_pd *= span
    sorted_pd += day[by_pair]
    first_of_day = np.empty(ctx.n, dtype=bool)
    first_of_day[by_pair] = first_of_run(sorted_pd)
    return _unit_peer_days(ctx, has, first_of_day, by_pair, sorted_pd, day, span)


def _days(ctx: Context) -> tuple[np.ndarray, int]:
    """(day of each event counted from the first day, a span above every such day) for (pair, day) keys."""
    day0 = int(ctx.day.min())
    return ctx.day - day0, int(ctx.day.max()) - day0 + 2


def _crowd(ctx: Context, has: np.ndarray, by_pair: np.ndarray, first_of_day: np.ndarray,
           out: dict[str, np.ndarray]) -> None:
    """crowd_3d and crowd_excess into `out`, from the pair order (by_pair, and True where a pair starts
    in it, which this turns into True where a (pair, day) starts)."""
    # One entry per (subject, user, day): the user's first look at the subject that day, the first row of
    # its (pair, day) run in pair order.
    day_in_order = ctx.day[by_pair]
    first_of_day[1:] |= day_in_order[1:] != day_in_order[:-1]
    del day_in_order
    entry = by_pair[first_of_day & has[by_pair]]
    del first_of_day
    minute = ((ctx.t - ctx.t.min()) // 60).astype(np.int64)
    subject = ctx.subject.astype(np.int64)
    entries = np.sort((subject[entry] << _MINUTE_BITS) | minute[entry])
    del entry
    # The queries are made in (subject, minute) order, so every search walks `entries` in step: rows
    # are in time order, so a stable sort by subject orders them by (subject, minute).
    by_subject = stable_argsort(subject)
    base, minute = subject[by_subject] << _MINUTE_BITS, minute[by_subject]
    del subject

    # Per row, entries on its subject from `back` to `until` minutes before it (the recent window, its end
    # included, and the baseline before it), with one query buffer: this step runs beside another.
    window = CROWD_WINDOW_DAYS * DAY // 60
    query = np.empty(len(minute), dtype=np.int64)
    counts = []
    for back, until, side in ((window, 0, "right"), (CROWD_BASELINE_DAYS * DAY // 60 + window, window, "left")):
        np.subtract(minute, until, out=query)
        np.maximum(query, 0, out=query)
        query += base
        count = np.searchsorted(entries, query, side)
        np.subtract(minute, back, out=query)
        np.maximum(query, 0, out=query)
        query += base
        count -= np.searchsorted(entries, query)
        in_rows = np.empty(len(count), dtype=np.float64)
        in_rows[by_subject] = count  # back to row order
        del count
        counts.append(in_rows)
    recent, usual = counts
    del counts, in_rows, query, base, minute, by_subject, entries
    usual *= CROWD_WINDOW_DAYS  # the usual count over the window's length, in place
    usual /= CROWD_BASELINE_DAYS
    recent = np.log1p(recent, out=recent)
    out["crowd_3d"] = np.where(has, recent, 0.0).astype(np.float32)
    usual = np.subtract(recent, np.log1p(usual, out=usual), out=usual)
    out["crowd_excess"] = np.where(has, usual, 0.0).astype(np.float32)


def _unit_peer_days(ctx: Context, has: np.ndarray, first_of_day: np.ndarray, by_pair: np.ndarray,
                    sorted_pd: np.ndarray, day: np.ndarray, span: int) -> np.ndarray:
    """Per event: days in the last PEER_WINDOW_DAYS (today excluded) on which colleagues of the user's unit
    looked at the same subject (user-days, the user's own excluded), as int32. Users of unknown unit get
    1: one colleague, neither alone nor a crowd.

    first_of_day: the user's first look at the subject that day; by_pair: rows sorted by (pair, day), and
    sorted_pd the (pair, day) keys in that order (used up: overwritten here). The look-ups below walk their
    sorted arrays in order, or subject by subject (nearly as cache-friendly). Temporaries are made in place
    where they can be: this runs beside another step.
    """
    known = has & (ctx.unit >= 0)
    n_units = len(ctx.units) + 1
    su_day = ctx.subject.astype(np.int64)  # (subject, unit, day) keys: subject x units + unit, x span + day
    su_day *= n_units
    su_day += np.maximum(ctx.unit, 0)
    su_day *= span
    su_day += day
    unit_entries = np.sort(su_day[known & first_of_day])
    own_entries = sorted_pd[has[by_pair]]
    own_entries = own_entries[first_of_run(own_entries)]
    back = np.minimum(day, PEER_WINDOW_DAYS).astype(np.int16)  # window start = day - back (never before day 0)
    # Unit days, searched subject by subject (rows in time order within one): the look-ups of a subject
    # stay in its short stretch of unit_entries, nearly as fast as in (subject-unit, day) order, and the
    # order is a sort of the subject codes alone (a radix sort when they are few).
    by_su = stable_argsort(ctx.subject)
    su_day = su_day[by_su]
    found = np.searchsorted(unit_entries, su_day)
    su_day -= back[by_su]
    found -= np.searchsorted(unit_entries, su_day)
    del su_day, unit_entries
    in_unit = np.empty(len(found), dtype=np.int64)
    in_unit[by_su] = found  # back to row order
    del by_su, found
    # The user's own days, searched in (pair, day) order: sorted_pd holds those keys already.
    own = np.searchsorted(own_entries, sorted_pd)
    sorted_pd -= back[by_pair]
    own -= np.searchsorted(own_entries, sorted_pd)
    del back, own_entries
    in_unit[by_pair] -= own
    del own
    np.maximum(in_unit, 0, out=in_unit)
    in_unit[~known] = 1
    return in_unit.astype(np.int32)  # counts (at most one per event)
