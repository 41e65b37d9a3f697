"""Duty rosters per role in UK local time, written as UTC: rotating early/late/night for response,
early/late weeks for neighbourhood teams, 12-hour 4-on-4-off rotas for the control room, PNC bureau and
custody, office hours for analysts, admin and professional standards, detectives' days with late weeks.
Annual leave, sickness, starters and leavers remove duties.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snoopwatch.synth.organisation import ROLES, Staff
from snoopwatch.synth.timeutil import DAY, HOUR, local_to_utc

SHIFTS = ("early", "late", "night", "day", "office")
# shift -> (local start hour, length in hours)
SHIFT_TIMES = {"early": (7, 10), "late": (14, 10), "night": (22, 9), "day": (7, 12), "office": (8, 8.5)}
# Patterns: one entry per day of the cycle; None = rest day. Teams start the cycle on staggered days.
PATTERNS: dict[str, tuple[tuple[str | None, ...], int]] = {
    "response": (("early", "early", "late", "late", "night", "night", None, None, None, None), 5),
    "neighbourhood": (("early",) * 5 + (None, None) + ("late",) * 5 + (None, None), 2),
    "twelve": (("day", "day", "night12", "night12", None, None, None, None), 4),
}
SHIFT_TIMES["night12"] = (19, 12)
SHIFT_NAMES = ("early", "late", "night", "day", "night", "office", "late")  # output names by code
_CODE = {"early": 0, "late": 1, "night": 2, "day": 3, "night12": 4, "office": 5, "detective_late": 6}


@dataclass
class Shifts:
    """Rostered duty periods (UTC seconds), sorted by user then start."""

    user: np.ndarray
    start: np.ndarray
    end: np.ndarray
    code: np.ndarray   # index into SHIFT_NAMES

    def __len__(self) -> int:
        return len(self.user)


def build_rosters(rng: np.random.Generator, staff: Staff, start_day: int, days: int) -> Shifts:
    """Every member of staff's duties over the window (plus the night before it starts)."""
    n = len(staff)
    day = start_day - 1 + np.arange(days + 1)            # include the evening before the window
    weekday = (day + 3) % 7                               # Monday = 0
    code = np.full((n, day.size), -1, dtype=np.int8)
    roster = np.array([ROLES[r].roster for r in staff.role])
    team = rng.integers(0, 1000, n)
    for name, (pattern, teams) in PATTERNS.items():
        rows = np.flatnonzero(roster == name)
        if rows.size == 0:
            continue
        cycle = len(pattern)
        offset = (team[rows] % teams) * (cycle // teams)
        pos = (day[None, :] + offset[:, None]) % cycle
        lookup = np.array([-1 if p is None else _CODE[p] for p in pattern], dtype=np.int8)
        code[rows] = lookup[pos]
    office = np.flatnonzero(roster == "office")
    code[np.ix_(office, np.flatnonzero(weekday < 5))] = _CODE["office"]
    det = np.flatnonzero(roster == "detective")
    if det.size:
        weekdays = weekday < 5
        week = (day // 7)[None, :]
        late_week = ((week + team[det, None]) % 4) == 0
        code[det] = np.where(weekdays[None, :], np.where(late_week, _CODE["detective_late"], _CODE["office"]), -1)
    # Annual leave (blocks), sickness (single days), employment dates.
    blocks = rng.poisson(4.5 * days / 365, n)
    owner = np.repeat(np.arange(n), blocks)
    first = rng.integers(0, day.size, owner.size)
    length = rng.integers(3, 11, owner.size)
    for k in range(11):
        sel = length > k
        col = np.minimum(first[sel] + k, day.size - 1)
        code[owner[sel], col] = -1
    code[rng.random(code.shape) < 0.025] = -1
    not_employed = (day[None, :] < staff.start_day[:, None]) | (day[None, :] >= staff.end_day[:, None])
    code[not_employed] = -1
    users, cols = np.nonzero(code >= 0)
    codes = code[users, cols]
    start_hour = np.array([SHIFT_TIMES[s][0] for s in ("early", "late", "night", "day", "night12", "office")] + [13.0])
    length_h = np.array([SHIFT_TIMES[s][1] for s in ("early", "late", "night", "day", "night12", "office")] + [9.0])
    # Office workers start at their own time between 07:30 and 09:30.
    personal = np.round(rng.uniform(-0.5, 1.5, n) * 4) / 4
    sh = start_hour[codes] + np.where(codes == _CODE["office"], personal[users], 0.0)
    local_start = day[cols] * DAY + (sh * HOUR).astype(np.int64)
    local_end = local_start + (length_h[codes] * HOUR).astype(np.int64)
    start = local_to_utc(local_start)
    end = local_to_utc(local_end)
    order = np.lexsort((start, users))
    return Shifts(users[order].astype(np.int32), start[order], end[order], codes[order].astype(np.int8))
