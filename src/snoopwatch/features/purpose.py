"""Purpose features: does a case the user (or their unit, or the requester) works explain the access?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from snoopwatch.features import _util
from snoopwatch.features._util import (
    DAY,
    Lookup,
    PairKeys,
    StartSearch,
    codes,
    covered,
    last_before,
    lookup,
    member,
    output_column,
    pair_key,
    seconds,
    write_blockwise,
)
from snoopwatch.features.context import Context

FRESH_CAP_HOURS = 720.0  # a case opened more than 30 days ago counts as old
FILE_WORK_DAYS = 7  # after a case closes, its people are still legitimately looked up for a week of file work


def _case_times(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """Per case code: opened and closed seconds (NaN unknown / still open)."""
    opened = np.full(len(ctx.cases), np.nan)
    closed = np.full(len(ctx.cases), np.nan)
    cases = ctx.dataset.cases
    if cases is not None:
        which = ctx.case_codes("cases")
        ok = which >= 0
        if "opened_at" in cases.columns:
            opened[which[ok]] = seconds(cases["opened_at"])[ok]
        if "closed_at" in cases.columns:
            closed[which[ok]] = seconds(cases["closed_at"])[ok]
    return opened, closed


def _assignments(ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """case_staff as (case code, user code, from, to) with the case's own open/close folded in."""
    table = ctx.dataset.case_staff
    if table is None:
        return None
    case = ctx.case_codes("case_staff")
    user = ctx.user_codes("case_staff")
    start = seconds(table["from"]) if "from" in table.columns else np.full(len(table), np.nan)
    end = seconds(table["to"]) if "to" in table.columns else np.full(len(table), np.nan)
    opened, closed = _case_times(ctx)
    start = np.fmax(start, lookup(opened, case, np.nan))
    end = np.fmin(end, lookup(closed, case, np.nan))
    ok = (case >= 0) & (user >= 0)
    return case[ok], user[ok], start[ok], end[ok]


def _case_subject_pairs(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    table = ctx.dataset.case_subjects
    if table is None:
        return np.empty(0, np.int32), np.empty(0, np.int32)
    case = ctx.case_codes("case_subjects")
    subject = ctx.subject_codes("case_subjects")
    ok = (case >= 0) & (subject >= 0)
    return case[ok], subject[ok]


def _user_subject_intervals(ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user, subject, start, end) for every subject on every case a user is assigned to."""
    cached = ctx.cache.get("user_subject_intervals")
    if cached is not None:
        return cached
    assigned = _assignments(ctx)
    cs_case, cs_subject = _case_subject_pairs(ctx)
    if assigned is None or len(cs_case) == 0:
        empty = np.empty(0, np.int32)
        result = (empty, empty, np.empty(0), np.empty(0))
    else:
        a_case, a_user, a_start, a_end = assigned
        left = pd.DataFrame({"case": a_case, "user": a_user, "start": a_start, "end": a_end})
        right = pd.DataFrame({"case": cs_case, "subject": cs_subject})
        joined = left.merge(right, on="case", how="inner")
        result = (joined["user"].to_numpy(np.int32), joined["subject"].to_numpy(np.int32),
                  joined["start"].to_numpy(np.float64), joined["end"].to_numpy(np.float64))
    ctx.cache["user_subject_intervals"] = result
    return result


def _requested_by(ctx: Context) -> np.ndarray:
    """Per event: user code of requested_by as given, -1 when empty or not a known user (made once)."""
    if "requested_by" not in ctx.cache:
        ctx.cache["requested_by"] = codes(ctx.event_column("requested_by"), ctx.users, ctx.n)
    return ctx.cache["requested_by"]


def _requester(ctx: Context) -> np.ndarray:
    """Per event: user code of the requester, -1 when none or the user themself."""
    if "requester" not in ctx.cache:
        req = _requested_by(ctx).copy()
        req[req == ctx.user] = -1
        ctx.cache["requester"] = req
    return ctx.cache["requester"]


def compute(ctx: Context, wanted: set[str], out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The wanted features of this group; `out`, when given, receives each array as it is made."""
    out = {} if out is None else out
    n_users, n_subjects = len(ctx.users), len(ctx.subjects)
    has_case = ctx.case >= 0
    ref_given = ctx.event_column("case_ref")
    ref_present = ref_given.notna().to_numpy() if ref_given is not None else np.zeros(ctx.n, bool)
    out["case_ref_present"] = ref_present

    known_case = np.zeros(len(ctx.cases), dtype=bool)
    if ctx.dataset.cases is not None:
        which = ctx.case_codes("cases")
        known_case[which[which >= 0]] = True
    event_case_known = lookup(known_case, ctx.case, False).astype(bool)
    out["case_ref_unknown"] = ref_present & ~event_case_known

    opened, closed = _case_times(ctx)
    # The referenced case's open and close times, a block of rows at a time (no event-sized temporaries).
    not_yet, after = np.empty(ctx.n, dtype=bool), np.empty(ctx.n, dtype=bool)
    days_after = output_column(out, "days_after_case_closed", ctx.n)
    case_opened, case_closed = Lookup(opened, np.nan), Lookup(closed, np.nan)
    for start in range(0, ctx.n, _util.ROW_BLOCK):
        rows = slice(start, start + _util.ROW_BLOCK)
        t, ev_close = ctx.t[rows], case_closed(ctx.case[rows])
        not_yet[rows] = case_opened(ctx.case[rows]) > t
        after[rows] = ev_close < t
        days_after[rows] = np.log1p(np.where(after[rows], (t - ev_close) / DAY, 0.0))
    out["days_after_case_closed"] = days_after
    case_open = has_case & event_case_known & ~not_yet & ~after
    out["case_not_open"] = event_case_known & (not_yet | after)

    assigned = _assignments(ctx)
    user_on_case = np.zeros(ctx.n, dtype=bool)
    requester_on_case = np.zeros(ctx.n, dtype=bool)
    requester = _requester(ctx)
    if assigned is not None:
        a_case, a_user, a_start, a_end = assigned
        keys = pair_key(a_case, a_user, n_users)
        user_on_case = covered(PairKeys(ctx.case, ctx.user, n_users), ctx.t, keys, a_start, a_end)
        requester_on_case = covered(PairKeys(ctx.case, requester, n_users), ctx.t, keys, a_start, a_end)
    out["user_on_case"] = user_on_case

    case_unit = np.full(len(ctx.cases), -1, dtype=np.int32)
    if ctx.table_column("cases", "unit") is not None:
        which = ctx.case_codes("cases")
        case_unit[which[which >= 0]] = codes(ctx.dataset.cases["unit"], ctx.units)[which >= 0]
    ev_case_unit = lookup(case_unit, ctx.case, -1)
    unit_on_case = (ev_case_unit >= 0) & (ev_case_unit == ctx.unit)
    out["unit_on_case"] = unit_on_case

    cs_case, cs_subject = _case_subject_pairs(ctx)
    out["subject_on_case"] = member(PairKeys(ctx.case, ctx.subject, n_subjects),
                                    pair_key(cs_case, cs_subject, n_subjects))

    us_user, us_subject, us_start, us_end = _user_subject_intervals(ctx)
    us_keys = pair_key(us_user, us_subject, n_subjects)
    q_user = PairKeys(ctx.user, ctx.subject, n_subjects)
    on_user_case = StartSearch(q_user, ctx.t, us_keys, us_start)  # one search: on a case now, or ever
    on_user_now = on_user_case.covered(us_end)
    on_user_ever = on_user_case.covered(np.full(len(us_start), np.nan))
    del on_user_case  # (its positions: 16 bytes a found look-up)
    out["subject_on_user_case"] = on_user_now
    out["subject_on_user_closed_case"] = on_user_ever & ~on_user_now
    # File work: the subject was on a case of the user that ended within FILE_WORK_DAYS (court files,
    # disclosure). Later re-access of a closed case's people is not explained by it.
    last_end = last_before(q_user, ctx.t, us_keys, us_end)
    file_work = on_user_ever & ~on_user_now & ((ctx.t - last_end) <= FILE_WORK_DAYS * DAY)
    on_requester = covered(PairKeys(requester, ctx.subject, n_subjects), ctx.t, us_keys, us_start, us_end)
    out["subject_on_requester_case"] = on_requester

    # Subjects on open cases of units (the user's own, or another unit's).
    on_unit = np.zeros(ctx.n, dtype=bool)
    on_any = np.zeros(ctx.n, dtype=bool)
    if len(cs_case):
        cs_unit = case_unit[cs_case]
        cs_open, cs_close = opened[cs_case], closed[cs_case]
        on_unit = covered(PairKeys(ctx.unit, ctx.subject, n_subjects), ctx.t,
                          pair_key(cs_unit, cs_subject, n_subjects), cs_open, cs_close)
        on_subject_case = StartSearch(ctx.subject, ctx.t, cs_subject.astype(np.int64), cs_open)
        on_any = on_subject_case.covered(cs_close)
        # How fresh the newest case holding the subject is (a leak to the press comes within the hour).
        newest = on_subject_case.latest_start()
        del on_subject_case
    else:
        newest = np.full(ctx.n, np.nan)
    out["subject_on_unit_case"] = on_unit
    write_blockwise(out, "hours_since_case_opened", lambda t, newest: np.log1p(np.clip(np.nan_to_num(
        (t - newest) / 3600.0, nan=FRESH_CAP_HOURS), 0, FRESH_CAP_HOURS)), ctx.t, newest)

    # A reference to an open case the user (or requester) works explains the access fully when the
    # subject is on that case or there is no subject.
    # A reference to any open case that holds the subject (custody booking in another unit's arrest,
    # a detective helping a colleague) is a plausible work context: half explained too.
    # A reference to a case that does not hold the subject explains nothing by itself: a real reference
    # is easy to type, and a case file that does not name the person is no reason to look them up.
    subject_fits = (ctx.subject < 0) | (out["subject_on_case"] > 0)
    out["case_subject_mismatch"] = case_open & (ctx.subject >= 0) & (out["subject_on_case"] == 0)
    ref_level = (user_on_case | requester_on_case) & case_open
    user_level = on_user_now | on_requester | (ref_level & subject_fits)
    # A check run for a named colleague is attributable work (the requester answers for it): half explained.
    unit_level = (on_unit | ((unit_on_case & case_open) | ref_level) & subject_fits | file_work
                  | (case_open & (out["subject_on_case"] > 0)) | (requester >= 0))
    out["subject_on_other_unit_case"] = on_any & ~on_unit & ~user_level
    explained = np.zeros(ctx.n)  # 1 explained by the user's own work, 0.5 by the unit's, else 0
    explained[unit_level] = 0.5
    explained[user_level] = 1.0
    out["explained_by_case"] = explained
    ctx.cache["explained"] = explained
    return {k: v for k, v in out.items() if k in wanted}
