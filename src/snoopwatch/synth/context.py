"""The built world the workload and the misuse scenarios draw from, with the indexes they need:
a user's or a unit's cases opened in a time range, a case's subjects, who is on duty at an instant,
workstations, and fabricated or mistyped case references."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snoopwatch.synth.cases import AreaPool, Cases
from snoopwatch.synth.organisation import FLAG_BITS, ROLES, UNIT_AREA, Relations, Staff, Subjects
from snoopwatch.synth.pools import Pools
from snoopwatch.synth.rosters import Shifts

_SHIFT_SPAN = 13 * 3600  # longest shift, seconds


class RangeIndex2:
    """Rows sorted by (group, time): draw a row of a group whose time lies in [lo, hi]."""

    def __init__(self, group: np.ndarray, time: np.ndarray, base: int) -> None:
        self.base = base
        key = group.astype(np.int64) * (1 << 40) + (time - base)
        self.order = np.argsort(key, kind="stable")
        self.key = key[self.order]

    def draw(self, rng: np.random.Generator, group: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """A random row (original index) per query, -1 when the group has nothing in range."""
        g = group.astype(np.int64) * (1 << 40)
        a = np.searchsorted(self.key, g + (np.asarray(lo) - self.base), side="left")
        b = np.searchsorted(self.key, g + (np.asarray(hi) - self.base), side="right")
        has = b > a
        pick = a + (rng.random(group.size) * np.maximum(b - a, 1)).astype(np.int64)
        out = np.full(group.size, -1, dtype=np.int64)
        out[has] = self.order[pick[has]]
        return out


@dataclass
class Context:
    rng: np.random.Generator
    pools: Pools
    staff: Staff
    subjects: Subjects
    relations: Relations
    shifts: Shifts
    cases: Cases
    strikes: dict
    start: int
    end: int
    typo_source: list = field(default_factory=list)   # case code each typo/fabricated reference came from
    typo_kind: list = field(default_factory=list)     # "typo" or "fabricated"

    def __post_init__(self) -> None:
        c = self.cases
        self.closed_inf = c.closed_or_inf()
        self.case_by_user = RangeIndex2(c.st_user, c.opened[c.st_case], self.start)
        self.case_by_unit = RangeIndex2(c.unit, c.opened, self.start)
        self.case_by_prefix = RangeIndex2(np.array([_PREFIX_CODE[p] for p in _prefixes(c)], dtype=np.int64)
                                          if len(c) else np.zeros(0, np.int64), c.opened, self.start)
        order = np.argsort(c.cs_case, kind="stable")
        self.cs_subject_sorted = c.cs_subject[order]
        self.cs_role_sorted = c.cs_role[order]
        self.cs_offsets = np.searchsorted(c.cs_case[order], np.arange(len(c) + 1))
        self.arrest_order = np.argsort(c.ar_time, kind="stable")
        self.arrest_times = c.ar_time[self.arrest_order]
        self.subject_area = self.pools.pc_area[self.subjects.postcode].astype(np.int16)
        public = np.flatnonzero(self.subjects.flags & FLAG_BITS["staff"] == 0)
        n_areas = int(UNIT_AREA.max()) + 1
        self.public_pool = AreaPool(public, self.subject_area, n_areas)
        self.nominal_pool = AreaPool(np.flatnonzero(self.subjects.nominal), self.subject_area, n_areas)
        self.staff_records = self.staff.subject[self.staff.subject >= 0]
        # Each member of staff's local prolific offenders (used by field roles and detectives).
        home_area = np.where(UNIT_AREA[self.staff.unit] >= 0, UNIT_AREA[self.staff.unit], -1)
        self.watchlist = self.nominal_pool.draw(self.rng, np.repeat(home_area, 8)).reshape(len(self.staff), 8)
        self.shift_order = np.argsort(self.shifts.start, kind="stable")
        self._build_workstations()

    # ----------------------------------------------------------------- cases
    def case_subject(self, case: np.ndarray) -> np.ndarray:
        """A random linked subject of each case (-1 for no case or a case without subjects)."""
        case = np.asarray(case)
        out = np.full(case.size, -1, dtype=np.int32)
        ok = case >= 0
        lo = self.cs_offsets[case[ok]]
        hi = self.cs_offsets[case[ok] + 1]
        pick = lo + (self.rng.random(ok.sum()) * np.maximum(hi - lo, 1)).astype(np.int64)
        vals = np.where(hi > lo, self.cs_subject_sorted[np.minimum(pick, len(self.cs_subject_sorted) - 1)], -1)
        out[ok] = vals
        return out

    def open_at(self, case: np.ndarray, t: np.ndarray, grace: int = 0) -> np.ndarray:
        case = np.asarray(case)
        ok = case >= 0
        res = np.zeros(case.size, dtype=bool)
        res[ok] = (self.cases.opened[case[ok]] <= t[ok]) & (t[ok] <= self.closed_inf[case[ok]] + grace)
        return res

    def users_case(self, user: np.ndarray, t: np.ndarray, lookback: np.ndarray, tries: int = 3,
                   grace: int = 2 * 86400) -> np.ndarray:
        """A case assigned to each user, opened within `lookback` seconds before t and open at t (+grace)."""
        out = np.full(user.size, -1, dtype=np.int64)
        todo = np.arange(user.size)
        for _ in range(tries):
            row = self.case_by_user.draw(self.rng, user[todo], t[todo] - lookback[todo], t[todo])
            case = np.where(row >= 0, self.cases.st_case[np.maximum(row, 0)], -1)
            good = (case >= 0) & self.open_at(case, t[todo], grace)
            out[todo[good]] = case[good]
            todo = todo[~good]
            if todo.size == 0:
                break
        return out

    def units_case(self, unit: np.ndarray, t: np.ndarray, lookback: np.ndarray, tries: int = 3) -> np.ndarray:
        out = np.full(unit.size, -1, dtype=np.int64)
        todo = np.arange(unit.size)
        for _ in range(tries):
            case = self.case_by_unit.draw(self.rng, unit[todo], t[todo] - lookback[todo], t[todo])
            good = (case >= 0) & self.open_at(case, t[todo], 86400)
            out[todo[good]] = case[good]
            todo = todo[~good]
            if todo.size == 0:
                break
        return out

    def recent_case(self, prefix: str, t: np.ndarray, lookback: int) -> np.ndarray:
        """Any case with this reference prefix opened within `lookback` before t (force-wide)."""
        group = np.full(t.size, _PREFIX_CODE[prefix])
        return self.case_by_prefix.draw(self.rng, group, t - lookback, t)

    def recent_arrest(self, t: np.ndarray, lookback: int) -> np.ndarray:
        """Index into the arrest arrays of a random arrest within `lookback` before t, -1 if none."""
        a = np.searchsorted(self.arrest_times, t - lookback, side="left")
        b = np.searchsorted(self.arrest_times, t, side="right")
        pick = a + (self.rng.random(t.size) * np.maximum(b - a, 1)).astype(np.int64)
        return np.where(b > a, self.arrest_order[np.minimum(pick, max(len(self.arrest_order) - 1, 0))], -1)

    def add_reference(self, source_case: np.ndarray, kind: str) -> np.ndarray:
        """New reference codes (after the real cases) for mistyped or fabricated references."""
        base = len(self.cases) + len(self.typo_source)
        self.typo_source.extend(np.asarray(source_case).tolist())
        self.typo_kind.extend([kind] * len(source_case))
        return np.arange(base, base + len(source_case), dtype=np.int64)

    # ----------------------------------------------------------------- duty
    def on_duty(self, t: np.ndarray, roles: tuple[int, ...], tries: int = 8) -> np.ndarray:
        """A member of staff of one of `roles` whose roster covers each instant (-1 when none found)."""
        sel = np.flatnonzero(np.isin(self.staff.role[self.shifts.user], roles))
        order = sel[np.argsort(self.shifts.start[sel], kind="stable")]
        starts = self.shifts.start[order]
        out = np.full(t.size, -1, dtype=np.int64)
        if order.size == 0:
            return out
        a = np.searchsorted(starts, t - _SHIFT_SPAN, side="left")
        b = np.searchsorted(starts, t, side="right")
        todo = np.flatnonzero(b > a)
        for _ in range(tries):
            pick = a[todo] + (self.rng.random(todo.size) * (b[todo] - a[todo])).astype(np.int64)
            shift = order[pick]
            good = self.shifts.end[shift] > t[todo]
            out[todo[good]] = self.shifts.user[shift[good]]
            todo = todo[~good]
            if todo.size == 0:
                break
        return out

    def user_shifts(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and end of one user's duties, in time order."""
        lo, hi = np.searchsorted(self.shifts.user, [user, user + 1])
        return self.shifts.start[lo:hi], self.shifts.end[lo:hi]

    def is_on_duty(self, user: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Whether each (user, instant) falls inside one of the user's rostered duties."""
        key = self.shifts.user.astype(np.int64) * (1 << 40) + (self.shifts.start - self.start + (1 << 39))
        q = user.astype(np.int64) * (1 << 40) + (t - self.start + (1 << 39))
        i = np.searchsorted(key, q, side="right") - 1
        ok = i >= 0
        i = np.maximum(i, 0)
        return ok & (self.shifts.user[i] == user) & (self.shifts.end[i] > t) & (self.shifts.start[i] <= t)

    # ----------------------------------------------------------------- workstations
    def _build_workstations(self) -> None:
        """Field officers carry a handheld (MDT-<number>); everyone else uses their unit's terminals."""
        staff = self.staff
        n = len(staff)
        field_roles = [i for i, r in enumerate(ROLES) if r.roster in ("response", "neighbourhood")]
        is_field = np.isin(staff.role, field_roles)
        names: list[str] = []
        unit_first: dict[int, tuple[int, int]] = {}
        from snoopwatch.synth.organisation import UNITS
        for u, unit_name in enumerate(UNITS):
            k = max(2, int(np.ceil((staff.unit == u).sum() / 3)))
            unit_first[u] = (len(names), k)
            names.extend(f"WS-{unit_name}-{i + 1:02d}" for i in range(k))
        mdt_base = len(names)
        names.extend("MDT-" + uid[2:] for uid in staff.user_id[is_field])
        self.workstation_names = np.array(names, dtype=object)
        self.unit_ws_first = np.array([unit_first[u][0] for u in range(len(UNITS))])
        self.unit_ws_count = np.array([unit_first[u][1] for u in range(len(UNITS))])
        primary = self.unit_ws_first[staff.unit] + self.rng.integers(0, 10**6, n) % self.unit_ws_count[staff.unit]
        primary[is_field] = mdt_base + np.arange(is_field.sum())
        self.primary_ws = primary.astype(np.int32)

    def workstations(self, user: np.ndarray) -> np.ndarray:
        """Mostly the user's own terminal or handheld, sometimes another terminal of their unit."""
        ws = self.primary_ws[user].copy()
        other = self.rng.random(user.size) < 0.15
        u = self.staff.unit[user[other]]
        ws[other] = self.unit_ws_first[u] + (self.rng.random(other.sum()) * self.unit_ws_count[u]).astype(np.int64)
        return ws


_PREFIX_CODE = {"INC": 0, "CR": 1, "OP": 2, "PSD": 3, "LIC": 4, "DBS": 5}


def _prefixes(cases: Cases) -> list[str]:
    from snoopwatch.synth.cases import CATEGORIES
    prefix = np.array([c.prefix for c in CATEGORIES], dtype=object)
    return list(prefix[cases.category])
