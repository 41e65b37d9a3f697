"""Time features: on duty or not, how far from duty, and how unusual the hour is for the user and role."""

from __future__ import annotations

import numpy as np

from snoopwatch.features._util import (
    DAY,
    covered,
    lookup,
    member,
    nearest_gap,
    prior_count,
    scaled_sum,
    seconds,
    shrunk_share,
    smoothed_share,
    write_blockwise,
)
from snoopwatch.features.context import Context

HOURS = 24
USER_PRIOR_STRENGTH = 20.0  # a user's hour profile counts as this many events of the role's profile


def compute(ctx: Context, wanted: set[str], out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The wanted features of this group; `out`, when given, receives each array as it is made."""
    out = {} if out is None else out
    rosters = ctx.dataset.rosters
    if rosters is not None and ({"off_roster", "minutes_off_duty"} & wanted):
        r_user = ctx.user_codes("rosters").astype(np.int64)
        start, end = seconds(rosters["start"]), seconds(rosters["end"])
        ok = (r_user >= 0) & np.isfinite(start) & np.isfinite(end)
        r_user, start, end = r_user[ok], start[ok], end[ok]
        user = ctx.user  # (int32 codes: the searches read them a block at a time)
        rostered = member(user, r_user)
        on = covered(user, ctx.t, r_user, start, end)
        off = rostered & ~on
        del rostered, on
        write_blockwise(out, "off_roster", lambda off: off, off)
        gap = nearest_gap(user, ctx.t, np.concatenate([r_user, r_user]), np.concatenate([start, end]))
        write_blockwise(out, "minutes_off_duty",
                        lambda off, gap: np.where(off, np.log1p(np.nan_to_num(gap, nan=0.0) / 60.0), 0.0), off, gap)

    if {"hour_rarity_user", "hour_rarity_role"} & wanted:
        hour = ctx.t % DAY
        hour //= 3600
        hour = hour.astype(np.int64)
        role_hour = prior_count(scaled_sum(ctx.role, HOURS, hour))
        role_all = ctx.earlier("role").count()
        user_hour = prior_count(scaled_sum(ctx.user, HOURS, hour))
        user_all = ctx.earlier("user").count()
        del hour

        def user_share(user_hour: np.ndarray, user_all: np.ndarray, role_hour: np.ndarray,
                       role_all: np.ndarray) -> np.ndarray:
            return shrunk_share(user_hour, user_all, smoothed_share(role_hour, role_all, HOURS), USER_PRIOR_STRENGTH)

        write_blockwise(out, "hour_rarity_role", lambda role_hour, role_all: -np.log(smoothed_share(
            role_hour, role_all, HOURS)), role_hour, role_all)
        write_blockwise(out, "hour_rarity_user", lambda *counts: -np.log(user_share(*counts)),
                        user_hour, user_all, role_hour, role_all)

    staff = ctx.dataset.staff
    if staff is not None and "outside_employment" in wanted:
        first = np.full(len(ctx.users), np.nan)
        last = np.full(len(ctx.users), np.nan)
        who = ctx.user_codes("staff")
        ok = who >= 0
        if "start_date" in staff.columns:
            first[who[ok]] = seconds(staff["start_date"])[ok]
        if "end_date" in staff.columns:
            last[who[ok]] = seconds(staff["end_date"])[ok] + DAY  # the end date is the last working day
        before = lookup(first, ctx.user, np.nan) > ctx.t
        after = lookup(last, ctx.user, np.nan) < ctx.t
        out["outside_employment"] = before | after
    return {k: v for k, v in out.items() if k in wanted}
