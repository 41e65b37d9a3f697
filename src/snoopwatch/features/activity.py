"""Volume, mix and operator features: the user's activity against their own past and their role peers'.

Categorical context (query type, case category, reason code, action) becomes shares and rarities
relative to the user and the role, computed from earlier events only; never one-hot columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from snoopwatch.features._util import (
    DIRECT_KEY_SPAN,
    codes,
    lookup,
    make_index,
    postcode_sector,
    prior_count,
    scaled_sum,
    shrunk_share,
    smoothed_share,
    write_blockwise,
)
from snoopwatch.features.context import Context
from snoopwatch.features.purpose import _requested_by, _requester

USER_PRIOR_STRENGTH = 20.0  # a user's shares count as this many events of the role's share


def _category_codes(ctx: Context, columns: list[pd.Series | np.ndarray | None]) -> np.ndarray:
    """One dense code per combination of the given categorical columns (a Series, or integer codes with
    -1 for empty; empty is its own value). Codes only tell combinations apart: their numbering is not
    meaningful."""
    combined = np.zeros(ctx.n, dtype=np.int64)
    for values in columns:  # (in place: at 10M events every array is 80 MB of fresh memory)
        if values is None:
            continue
        if isinstance(values, np.ndarray):
            part, size = values, (int(values.max()) + 2 if len(values) else 1)
        elif isinstance(values.dtype, pd.CategoricalDtype):
            part, size = values.cat.codes.to_numpy(), len(values.cat.categories) + 1
        else:
            part, uniq = pd.factorize(values.astype(object), use_na_sentinel=True)
            size = len(uniq) + 1
        combined *= size
        combined += part
        combined += 1
    return _dense_codes(combined)


def _dense_codes(values: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... numbering the distinct non-negative values: through a table of every possible value
    when their range is small (a few categories combined; numbered in ascending order), by hashing
    otherwise (numbered in order of first appearance)."""
    high = int(values.max()) if len(values) else 0
    if high >= DIRECT_KEY_SPAN:
        return pd.factorize(values)[0].astype(np.int64, copy=False)
    present = np.zeros(high + 1, dtype=bool)
    present[values] = True
    code = np.cumsum(present, dtype=np.int32)
    code -= 1
    return code[values].astype(np.int64)


def _categories(category: np.ndarray) -> float:
    """How many categories the codes name (at least 1), for add-one smoothing."""
    return float(category.max() + 1) if len(category) else 1.0


def _role_counts(ctx: Context, category: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the role's earlier events of this category, the role's earlier events) per event."""
    k = _categories(category)
    return prior_count(scaled_sum(ctx.role, int(k), category)), ctx.earlier("role").count()


def _shares(role_in: np.ndarray, role_all: np.ndarray, user_in: np.ndarray, user_all: np.ndarray,
            k: float) -> tuple[np.ndarray, np.ndarray]:
    """(the role's earlier share of a category, add-one smoothed over k categories; the user's earlier
    share shrunk toward it), from the earlier counts."""
    p_role = smoothed_share(role_in, role_all, k)
    return p_role, shrunk_share(user_in, user_all, p_role, USER_PRIOR_STRENGTH)


def _user_lift(k: float):
    """Elementwise (role_in, role_all, user_in, user_all) -> log(the user's share / the role's share)."""
    def lift(*counts: np.ndarray) -> np.ndarray:
        p_role, p_user = _shares(*counts, k)
        return np.log(p_user) - np.log(p_role)
    return lift


def _write_lift_and_rarity(ctx: Context, category: np.ndarray, out: dict[str, np.ndarray], lift_name: str,
                           rarity_name: str) -> None:
    """out[lift_name]: the user's earlier share of this category over the role's, in log; out[rarity_name]:
    -log of the role's earlier share. Written a block of rows at a time from the earlier counts."""
    k = _categories(category)
    counts = (*_role_counts(ctx, category), prior_count(scaled_sum(ctx.user, int(k), category)),
              ctx.earlier("user").count())
    write_blockwise(out, lift_name, _user_lift(k), *counts)
    write_blockwise(out, rarity_name, lambda role_in, role_all: -np.log(smoothed_share(role_in, role_all, k)), *counts[:2])


def _day_volume(ctx: Context, out: dict[str, np.ndarray]) -> None:
    """day_volume_vs_own and day_volume_vs_role into `out`: log(1+today so far) minus log(1+usual per day),
    against the user's earlier days and the role's."""
    day0 = int(ctx.day.min())
    span = int(ctx.day.max()) - day0 + 1
    ud_key = scaled_sum(ctx.user, span, ctx.day)
    ud_key -= day0
    ud, uniques = pd.factorize(ud_key)
    del ud_key
    # Events so far today, this one included: the user's earlier events less those before the day's
    # first. Rows are in time order, so a user's rows from the day's first to this one are all that day's,
    # and (user, day) codes (numbered as they first appear) ascend at each day's first row.
    user_before = ctx.earlier("user").count()
    running_max = np.maximum.accumulate(ud)
    day_first = np.flatnonzero(np.r_[True, running_max[1:] > running_max[:-1]])  # per code, its first row
    so_far = np.subtract(user_before, user_before[day_first][ud], dtype=np.float64)
    so_far += 1.0
    del running_max, day_first
    totals = np.bincount(ud).astype(np.float64)
    ud_user = uniques // span
    ud_day = uniques % span
    ud_role = ctx.role_of_user[ud_user].astype(np.int64)
    frame = pd.DataFrame({"user": ud_user, "day": ud_day, "role": ud_role, "total": totals})
    # user-days appear in time order already (events are sorted), so cumulative sums are "before today".
    by_user = frame.groupby("user", sort=False)
    prev_total = by_user["total"].cumsum().to_numpy() - totals
    prev_days = by_user.cumcount().to_numpy().astype(np.float64)
    own_mean = np.where(prev_days > 0, prev_total / np.maximum(prev_days, 1), np.nan)
    role_day = frame.groupby(["role", "day"], sort=True)["total"].agg(["sum", "count"]).reset_index()
    by_role = role_day.groupby("role", sort=False)
    role_day["prev_sum"] = by_role["sum"].cumsum() - role_day["sum"]
    role_day["prev_n"] = by_role["count"].cumsum() - role_day["count"]
    role_day["mean"] = np.where(role_day["prev_n"] > 0, role_day["prev_sum"] / role_day["prev_n"].clip(lower=1), np.nan)
    rd_key = role_day["role"].to_numpy(np.int64) * span + role_day["day"].to_numpy(np.int64)
    pos = np.searchsorted(rd_key, ud_role * span + ud_day)
    role_mean = role_day["mean"].to_numpy()[pos]
    # Without earlier days, the role's usual stands in for the user's (and the other way round); with
    # neither, the day is not judged (0): today's own total would look ahead at later events.
    own_mean = np.where(np.isnan(own_mean), role_mean, own_mean)
    role_mean = np.where(np.isnan(role_mean), own_mean, role_mean)
    for name, usual in (("day_volume_vs_own", own_mean), ("day_volume_vs_role", role_mean)):
        write_blockwise(out, name, lambda so_far, ud, usual=usual: np.nan_to_num(
            np.log1p(so_far) - np.log1p(usual[ud]), nan=0.0), so_far, ud)


def compute(ctx: Context, wanted: set[str], out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The wanted features of this group that need nothing from the purpose step (so they can be computed
    beside it); `out`, when given, receives each array as it is made. See also compute_after_purpose."""
    out = {} if out is None else out
    # Each section drops its intermediate arrays when done (at 10M events each is 80 MB).

    if {"day_volume_vs_own", "day_volume_vs_role"} & wanted:
        _day_volume(ctx, out)

    action = ctx.event_column("action")
    if action is not None and {"is_export", "export_lift_user"} & wanted:
        if isinstance(action.dtype, pd.CategoricalDtype):  # judged once per category, not per event
            is_exp = action.cat.categories.astype(str).str.strip().str.lower() == "export"
            export = np.append(np.asarray(is_exp), False)[action.cat.codes.to_numpy()]
        else:
            export = action.astype(object).astype(str).str.strip().str.lower().eq("export").to_numpy()
        out["is_export"] = export
        by_role, by_user = ctx.earlier("role"), ctx.earlier("user")
        write_blockwise(out, "export_lift_user", _user_lift(2.0), by_role.total(export), by_role.count(),
                        by_user.total(export), by_user.count())
        del export

    if {"category_lift_user", "category_rarity_role"} & wanted:
        case_category = None
        cases = ctx.dataset.cases
        if cases is not None and "category" in cases.columns and cases["category"].notna().any():
            cat_index = pd.Index(cases["category"].astype(object).where(cases["category"].notna(), "").astype(str).unique())
            per_case = np.full(len(ctx.cases), -1, dtype=np.int64)
            which = ctx.case_codes("cases")
            per_case[which[which >= 0]] = codes(cases["category"], cat_index)[which >= 0]
            case_category = lookup(per_case, ctx.case, -1)
        category = _category_codes(ctx, [ctx.event_column("query_type"), case_category])
        _write_lift_and_rarity(ctx, category, out, "category_lift_user", "category_rarity_role")
        del category, case_category

    if "reason_rarity_role" in wanted:
        reason = _category_codes(ctx, [ctx.event_column("reason_code")])
        k = _categories(reason)  # (no user lift needed)
        write_blockwise(out, "reason_rarity_role", lambda role_in, role_all: -np.log(smoothed_share(role_in, role_all, k)),
                        *_role_counts(ctx, reason))
        del reason

    if "area_rarity_unit" in wanted:
        sector = postcode_sector(ctx.table_column("subjects", "postcode"))
        district = sector.str.split(" ").str[0] if sector is not None else None
        if district is not None:
            index = make_index(district)
            per_subject = np.full(len(ctx.subjects), -1, dtype=np.int64)
            which = ctx.subject_codes("subjects")
            per_subject[which[which >= 0]] = codes(district, index)[which >= 0]
            ev_district = lookup(per_subject, ctx.subject, -1)
            # The unit's patch (the role's for users without a unit).
            team = np.where(ctx.unit >= 0, ctx.unit.astype(np.int64), len(ctx.units) + ctx.role.astype(np.int64))
            known = ev_district >= 0
            k = len(index) + 1
            in_area, in_team = prior_count(np.where(known, team * k + ev_district, -1)), prior_count(np.where(known, team, -1))
            del ev_district, team
            write_blockwise(out, "area_rarity_unit", lambda known, in_area, in_team: np.where(
                known, -np.log(smoothed_share(in_area, in_team, k)), 0.0), known, in_area, in_team)
            del known, in_area, in_team

    counts = ctx.event_column("result_count")
    if counts is not None:  # (missing counts read 0)
        write_blockwise(out, "result_count_log", lambda counts: np.log1p(np.clip(counts, 0, None)),
                        counts.astype("Float64").to_numpy(np.float64, na_value=0.0))
    return {k: v for k, v in out.items() if k in wanted}


def compute_after_purpose(ctx: Context, wanted: set[str], out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The wanted features of this group that read the purpose step's results (its requester codes and
    its explanation); `out`, when given, receives each array as it is made."""
    out = {} if out is None else out
    if ctx.event_column("requested_by") is not None:
        requested = (_requester(ctx) >= 0) | (ctx.event_column("requested_by").notna().to_numpy()
                                              & (_requested_by(ctx) < 0))
        out["requested_by_other"] = requested
        by_role = ctx.earlier("role")
        write_blockwise(out, "self_initiated_operator", lambda requested, role_requested, role_all: np.where(
            requested, 0.0, role_requested / (role_all + 10.0)), requested, by_role.total(requested), by_role.count())
        del requested

    if {"unexplained_rarity_role", "unexplained_rarity_user", "unexplained_lift_user"} & wanted and "explained" in ctx.cache:
        weight = 1.0 - ctx.cache["explained"]
        by_role, by_user = ctx.earlier("role"), ctx.earlier("user")
        counts = (by_role.total(weight), by_role.count(), by_user.total(weight), by_user.count())
        write_blockwise(out, "unexplained_rarity_role", lambda weight, role_in, role_all: weight * -np.log(
            smoothed_share(role_in, role_all, 2.0)), weight, *counts[:2])
        write_blockwise(out, "unexplained_rarity_user", lambda weight, *counts: weight * -np.log(
            _shares(*counts, 2.0)[1]), weight, *counts)
        write_blockwise(out, "unexplained_lift_user", _user_lift(2.0), *counts)
        del weight, counts
    return {k: v for k, v in out.items() if k in wanted}
