"""Cases: incidents and crimes spawned on duty from a demand curve, long intelligence operations on
organised-crime nominals, professional-standards and licensing files; the subjects linked to each case with
roles, the staff assigned, and arrests (which bring custody bookings).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from snoopwatch.synth.organisation import FLAG_BITS, ROLE_INDEX, UNIT_AREA, UNIT_INDEX, Staff, Subjects
from snoopwatch.synth.pools import Pools
from snoopwatch.synth.rosters import Shifts
from snoopwatch.synth.timeutil import DAY, HOUR, NAT, hour_of_week, utc_to_local


@dataclass(frozen=True)
class Category:
    name: str
    prefix: str
    reason: str
    life_days: float        # median lifetime
    subjects: tuple[int, int]
    first_role: str          # role of the first linked subject


CATEGORIES: tuple[Category, ...] = (
    Category("asb", "INC", "incident", 1.0, (1, 3), "other"),
    Category("domestic", "CR", "crime", 20, (2, 3), "victim"),
    Category("theft", "CR", "crime", 10, (1, 3), "victim"),
    Category("burglary", "CR", "crime", 25, (1, 3), "victim"),
    Category("rtc", "INC", "accident", 3, (2, 3), "other"),
    Category("assault", "CR", "crime", 20, (2, 4), "victim"),
    Category("concern_for_welfare", "INC", "safeguarding", 0.5, (1, 1), "victim"),
    Category("missing_person", "INC", "missing_person", 1.5, (1, 2), "victim"),
    Category("vehicle_crime", "CR", "crime", 10, (1, 2), "victim"),
    Category("criminal_damage", "CR", "crime", 8, (1, 2), "victim"),
    Category("robbery", "CR", "crime", 45, (2, 3), "victim"),
    Category("sexual_offence", "CR", "crime", 90, (2, 3), "victim"),
    Category("fraud", "CR", "crime", 60, (1, 3), "victim"),
    Category("drugs", "CR", "crime", 40, (1, 3), "suspect"),
    Category("serious_assault", "CR", "crime", 60, (2, 4), "victim"),
    Category("organised_crime", "OP", "intelligence", 300, (4, 12), "suspect"),
    Category("misconduct", "PSD", "complaint", 60, (1, 2), "suspect"),
    Category("licensing", "LIC", "licensing", 10, (1, 1), "other"),
    Category("disclosure", "DBS", "disclosure", 6, (1, 1), "other"),
)
CAT = {c.name: i for i, c in enumerate(CATEGORIES)}
SUBJECT_ROLES = ("suspect", "victim", "witness", "other")
SROLE = {r: i for i, r in enumerate(SUBJECT_ROLES)}
NEWSWORTHY = ("robbery", "sexual_offence", "serious_assault", "drugs")

# role -> (cases opened per shift, {category: weight})
CASE_MIX: dict[str, tuple[float, dict[str, float]]] = {
    "response_officer": (0.9, {"asb": .18, "domestic": .15, "theft": .12, "burglary": .08, "rtc": .12, "assault": .12,
                               "concern_for_welfare": .10, "missing_person": .05, "vehicle_crime": .04,
                               "criminal_damage": .04}),
    "neighbourhood_officer": (0.3, {"asb": .45, "criminal_damage": .15, "theft": .15, "concern_for_welfare": .15, "drugs": .10}),
    "pcso": (0.15, {"asb": .7, "concern_for_welfare": .3}),
    "detective": (0.3, {"burglary": .12, "robbery": .12, "sexual_offence": .12, "fraud": .2, "drugs": .14,
                        "serious_assault": .15, "domestic": .15}),
    "psd_investigator": (0.12, {"misconduct": 1.0}),
    "admin": (2.5, {"licensing": .5, "disclosure": .5}),
}
# Hour-of-week demand for incidents (local time): quiet before dawn, evening peak, busy weekend nights.
_HOURLY = np.array([0.35, 0.28, 0.22, 0.18, 0.16, 0.18, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.95, 0.95,
                    1.0, 1.05, 1.15, 1.3, 1.4, 1.4, 1.3, 1.0, 0.6])
DEMAND = np.tile(_HOURLY, 7)
for _day in (4, 5):  # Friday and Saturday evenings and the nights after them
    DEMAND[_day * 24 + 20: _day * 24 + 24] *= 1.5
    DEMAND[((_day + 1) % 7) * 24: ((_day + 1) % 7) * 24 + 4] *= 2.2
DEMAND = DEMAND / DEMAND.max()


def demand_times(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, weights: np.ndarray = DEMAND) -> np.ndarray:
    """One instant per interval [lo, hi), drawn with the hour-of-week demand curve (local time)."""
    lo = np.asarray(lo, dtype=np.int64)
    span = np.maximum(np.asarray(hi, dtype=np.int64) - lo, 1)
    out = lo + (rng.random(lo.size) * span).astype(np.int64)
    todo = np.arange(lo.size)
    for _ in range(8):
        w = weights[hour_of_week(utc_to_local(out[todo]))]
        rejected = rng.random(todo.size) > w
        todo = todo[rejected]
        if todo.size == 0:
            break
        out[todo] = lo[todo] + (rng.random(todo.size) * span[todo]).astype(np.int64)
    return out


class AreaPool:
    """Subject codes grouped by area, to draw quickly 'someone from this area' (area -1 = anyone)."""

    def __init__(self, codes: np.ndarray, area: np.ndarray, n_areas: int) -> None:
        order = np.argsort(area[codes], kind="stable")
        self.codes = codes[order]
        a = area[self.codes]
        self.offsets = np.searchsorted(a, np.arange(n_areas + 1))
        self.offsets[0] = np.searchsorted(a, 0)  # skip out-of-force (-1) codes for area draws
        self.n_areas = n_areas

    def draw(self, rng: np.random.Generator, area: np.ndarray) -> np.ndarray:
        area = np.asarray(area)
        out = self.codes[rng.integers(0, self.codes.size, area.size)]
        local = area >= 0
        lo = self.offsets[area[local]]
        hi = self.offsets[area[local] + 1]
        ok = hi > lo
        pick = lo + (rng.random(local.sum()) * np.maximum(hi - lo, 1)).astype(np.int64)
        vals = out[local]
        vals[ok] = self.codes[pick[ok]]
        out[local] = vals
        return out


@dataclass
class CaseBook:
    """All cases as arrays; scenarios may add cases before the workload is generated."""

    unit: list = field(default_factory=list)
    category: list = field(default_factory=list)
    opened: list = field(default_factory=list)
    closed: list = field(default_factory=list)
    cs_case: list = field(default_factory=list)
    cs_subject: list = field(default_factory=list)
    cs_role: list = field(default_factory=list)
    st_case: list = field(default_factory=list)
    st_user: list = field(default_factory=list)
    ar_case: list = field(default_factory=list)
    ar_subject: list = field(default_factory=list)
    ar_time: list = field(default_factory=list)
    n: int = 0

    def add_cases(self, unit, category, opened, closed) -> np.ndarray:
        k = len(opened)
        self.unit.append(np.asarray(unit, dtype=np.int16))
        self.category.append(np.asarray(category, dtype=np.int16))
        self.opened.append(np.asarray(opened, dtype=np.int64))
        self.closed.append(np.asarray(closed, dtype=np.int64))
        codes = np.arange(self.n, self.n + k, dtype=np.int32)
        self.n += k
        return codes

    def link_subjects(self, case, subject, role) -> None:
        self.cs_case.append(np.asarray(case, dtype=np.int32))
        self.cs_subject.append(np.asarray(subject, dtype=np.int32))
        self.cs_role.append(np.broadcast_to(np.asarray(role, dtype=np.int8), np.shape(case)).copy())

    def assign(self, case, user) -> None:
        self.st_case.append(np.asarray(case, dtype=np.int32))
        self.st_user.append(np.asarray(user, dtype=np.int32))

    def arrest(self, case, subject, time) -> None:
        self.ar_case.append(np.asarray(case, dtype=np.int32))
        self.ar_subject.append(np.asarray(subject, dtype=np.int32))
        self.ar_time.append(np.asarray(time, dtype=np.int64))

    def freeze(self) -> Cases:
        cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dtype=dt)  # noqa: E731
        return Cases(cat(self.unit, np.int16), cat(self.category, np.int16), cat(self.opened, np.int64),
                     cat(self.closed, np.int64), cat(self.cs_case, np.int32), cat(self.cs_subject, np.int32),
                     cat(self.cs_role, np.int8), cat(self.st_case, np.int32), cat(self.st_user, np.int32),
                     cat(self.ar_case, np.int32), cat(self.ar_subject, np.int32), cat(self.ar_time, np.int64))


@dataclass
class Cases:
    unit: np.ndarray
    category: np.ndarray
    opened: np.ndarray
    closed: np.ndarray       # NAT when still open at the end of the window
    cs_case: np.ndarray
    cs_subject: np.ndarray
    cs_role: np.ndarray
    st_case: np.ndarray
    st_user: np.ndarray
    ar_case: np.ndarray
    ar_subject: np.ndarray
    ar_time: np.ndarray
    refs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.unit)

    def closed_or_inf(self) -> np.ndarray:
        return np.where(self.closed == NAT, np.iinfo(np.int64).max, self.closed)

    def make_refs(self) -> None:
        """References like CR/2025/004211: numbered per prefix and year in order of opening."""
        prefix = np.array([c.prefix for c in CATEGORIES], dtype=object)[self.category]
        year = pd.to_datetime(self.opened, unit="s").year.to_numpy()
        frame = pd.DataFrame({"p": prefix, "y": year, "t": self.opened, "i": np.arange(len(self))})
        frame = frame.sort_values(["p", "y", "t", "i"], kind="stable")
        seq = frame.groupby(["p", "y"], sort=False).cumcount().to_numpy() + 1
        width = np.where(frame["p"].to_numpy() == "OP", 4, 6)
        nums = [str(s).zfill(w) for s, w in zip(seq, width, strict=True)]
        refs = np.empty(len(self), dtype=object)
        refs[frame["i"].to_numpy()] = [f"{p}/{y}/{s}" for p, y, s in zip(frame["p"], frame["y"], nums, strict=True)]
        self.refs = refs


def _life_seconds(rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
    median = np.array([c.life_days for c in CATEGORIES])[category]
    return (median * DAY * rng.lognormal(0.0, 0.9, category.size)).astype(np.int64) + HOUR


def build_cases(rng: np.random.Generator, staff: Staff, subjects: Subjects, pools: Pools, shifts: Shifts,
                start: int, end: int) -> tuple[CaseBook, dict[str, np.ndarray]]:
    """Cases for the window (and open work from before it). Returns the book and the operations' strike
    dates (internal: when an operation acts, so S4 can poll before it)."""
    book = CaseBook()
    area_of_pc = pools.pc_area
    subj_area = area_of_pc[subjects.postcode].astype(np.int16)
    n_areas = int(UNIT_AREA.max()) + 1
    public = np.flatnonzero(subjects.flags & FLAG_BITS["staff"] == 0)
    pools_by = {
        "public": AreaPool(public, subj_area, n_areas),
        "nominal": AreaPool(np.flatnonzero(subjects.nominal), subj_area, n_areas),
        "vulnerable": AreaPool(np.flatnonzero((subjects.flags & FLAG_BITS["vulnerable"]) > 0), subj_area, n_areas),
        "ocg": AreaPool(np.flatnonzero((subjects.flags & FLAG_BITS["ocg"]) > 0), subj_area, n_areas),
    }
    role_of_user = staff.role[shifts.user]
    for role_name, (rate, mix) in CASE_MIX.items():
        r = ROLE_INDEX[role_name]
        sel = np.flatnonzero(role_of_user == r)
        # Busier shifts (evenings, weekend nights) bring more incidents: scale by the shift's mean demand.
        probes = shifts.start[sel, None] + (np.arange(8)[None, :] + 0.5) / 8 * (shifts.end[sel] - shifts.start[sel])[:, None]
        load = DEMAND[hour_of_week(utc_to_local(probes.astype(np.int64).ravel()))].reshape(-1, 8).mean(axis=1)
        k = rng.poisson(rate * load / DEMAND.mean())
        owner_shift = np.repeat(sel, k)
        owner = shifts.user[owner_shift]
        opened = demand_times(rng, shifts.start[owner_shift], shifts.end[owner_shift])
        cats = np.array([CAT[c] for c in mix])
        category = rng.choice(cats, owner.size, p=np.array(list(mix.values())) / sum(mix.values()))
        _add_cases(rng, book, staff, subjects, pools_by, owner, category, opened, end)
    # Open work from before the window: detectives, neighbourhood officers and PSD carry a caseload.
    for role_name, per_person in (("detective", 4), ("neighbourhood_officer", 1), ("psd_investigator", 2)):
        members = np.flatnonzero((staff.role == ROLE_INDEX[role_name]) & (staff.start_day * DAY < start))
        owner = np.repeat(members, per_person)
        opened = start - rng.integers(HOUR, 150 * DAY, owner.size)
        _, mix = CASE_MIX[role_name]
        cats = np.array([CAT[c] for c in mix])
        category = rng.choice(cats, owner.size, p=np.array(list(mix.values())) / sum(mix.values()))
        _add_cases(rng, book, staff, subjects, pools_by, owner, category, opened, end)
    strikes = _build_operations(rng, book, staff, pools_by, start, end)
    return book, strikes


def _add_cases(rng, book: CaseBook, staff: Staff, subjects: Subjects, pools_by: dict, owner: np.ndarray,
               category: np.ndarray, opened: np.ndarray, end: int) -> np.ndarray:
    """Add cases owned by `owner` (staff codes) with linked subjects, assignments and arrests."""
    closed = opened + _life_seconds(rng, category)
    closed = np.where(closed >= end, NAT, closed)
    unit = staff.unit[owner]
    codes = book.add_cases(unit, category, opened, closed)
    book.assign(codes, owner)
    # A second member of the unit on about a third of cases.
    second = rng.random(codes.size) < 0.3
    if second.any():
        members = {u: np.flatnonzero(staff.unit == u) for u in np.unique(unit[second])}
        helpers = np.array([members[u][rng.integers(0, members[u].size)] for u in unit[second]], dtype=np.int32)
        keep = helpers != owner[second]
        book.assign(codes[second][keep], helpers[keep])
    # Linked subjects.
    lo = np.array([c.subjects[0] for c in CATEGORIES])[category]
    hi = np.array([c.subjects[1] for c in CATEGORIES])[category]
    n_subj = rng.integers(lo, hi + 1)
    case = np.repeat(codes, n_subj)
    cat = np.repeat(category, n_subj)
    slot = np.arange(case.size) - np.repeat(np.cumsum(n_subj) - n_subj, n_subj)
    area = UNIT_AREA[np.repeat(unit, n_subj)]
    first_role = np.array([SROLE[c.first_role] for c in CATEGORIES])[cat]
    role = np.where(slot == 0, first_role, np.where(slot == 1, SROLE["suspect"], SROLE["witness"]))
    is_psd = cat == CAT["misconduct"]
    role = np.where(is_psd & (slot > 0), SROLE["victim"], role)
    role = np.where(cat == CAT["rtc"], SROLE["other"], role)
    subject = pools_by["public"].draw(rng, area)
    susp = role == SROLE["suspect"]
    subject[susp] = pools_by["nominal"].draw(rng, area[susp])
    vulnerable_cats = np.isin(cat, [CAT["domestic"], CAT["sexual_offence"], CAT["concern_for_welfare"], CAT["missing_person"]])
    vuln = (role == SROLE["victim"]) & vulnerable_cats & (rng.random(case.size) < 0.6)
    subject[vuln] = pools_by["vulnerable"].draw(rng, area[vuln])
    drugs = susp & (cat == CAT["drugs"]) & (rng.random(case.size) < 0.4)
    subject[drugs] = pools_by["ocg"].draw(rng, area[drugs])
    # Professional standards investigate colleagues: the suspect is a member of staff's own record.
    psd_susp = is_psd & (slot == 0)
    staff_records = staff.subject[staff.subject >= 0]
    subject[psd_susp] = staff_records[rng.integers(0, staff_records.size, psd_susp.sum())]
    book.link_subjects(case, subject, role)
    protected = (role == SROLE["victim"]) & np.isin(cat, [CAT["domestic"], CAT["sexual_offence"], CAT["serious_assault"]])
    subjects.flags[subject[protected]] |= FLAG_BITS["victim"]
    # Arrests: a third of crimes with a suspect, some hours after the report (before closure).
    crime = np.isin(cat, [i for i, c in enumerate(CATEGORIES) if c.prefix == "CR"])
    arrested = susp & crime & (rng.random(case.size) < 0.35)
    if arrested.any():
        t_open = np.repeat(opened, n_subj)[arrested]
        t_close = np.repeat(np.where(closed == NAT, end, closed), n_subj)[arrested]
        t = t_open + (rng.lognormal(np.log(8 * HOUR), 1.0, arrested.sum())).astype(np.int64)
        ok = (t < t_close) & (t < end)
        book.arrest(case[arrested][ok], subject[arrested][ok], t[ok])
    return codes


def _build_operations(rng, book: CaseBook, staff: Staff, pools_by: dict, start: int, end: int) -> dict[str, np.ndarray]:
    """Long intelligence operations on organised-crime nominals, run by CID units with analysts."""
    detectives = np.flatnonzero(staff.role == ROLE_INDEX["detective"])
    analysts = np.flatnonzero(staff.role == ROLE_INDEX["intelligence_analyst"])
    n_ops = max(2, int(round(detectives.size / 8)))
    cid_units = np.array([UNIT_INDEX[u] for u in ("CID-NORTH", "CID-SOUTH", "CID-EAST", "CID-WEST")])
    unit = cid_units[np.arange(n_ops) % 4]
    opened = start - rng.integers(10 * DAY, 300 * DAY, n_ops)
    later = rng.random(n_ops) < 0.3
    opened[later] = start + rng.integers(0, max((end - start) // 2, DAY), later.sum())
    life = (rng.uniform(120, 540, n_ops) * DAY).astype(np.int64)
    closed = np.where(opened + life >= end, NAT, opened + life)
    codes = book.add_cases(unit, np.full(n_ops, CAT["organised_crime"]), opened, closed)
    strike = np.where(closed == NAT, np.minimum(opened + life, end - DAY), closed - rng.integers(DAY, 10 * DAY, n_ops))
    for i, c in enumerate(codes):
        team = detectives[staff.unit[detectives] == unit[i]]
        if team.size:
            k_team = min(team.size, int(rng.integers(2, 6)))
            book.assign(np.full(k_team, c), team[rng.permutation(team.size)[:k_team]])
        if analysts.size:
            k_an = min(analysts.size, int(rng.integers(1, 4)))
            book.assign(np.full(k_an, c), analysts[rng.permutation(analysts.size)[:k_an]])
        k = int(rng.integers(4, 13))
        area = np.full(k, UNIT_AREA[unit[i]])
        nominals = np.unique(pools_by["ocg"].draw(rng, area))
        book.link_subjects(np.full(nominals.size, c), nominals, SROLE["suspect"])
        assoc = pools_by["nominal"].draw(rng, np.full(int(rng.integers(1, 4)), UNIT_AREA[unit[i]]))
        book.link_subjects(np.full(assoc.size, c), assoc, SROLE["other"])
    return {"case": codes, "strike": strike}
