"""The organisation: roles and units, staff (with homes, employment dates and their own records), and the
subject population with skewed surnames, clustered postcodes, flags and each member of staff's relatives,
partners, exes, neighbours and associates (the relations that misuse scenarios are built on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snoopwatch.synth.pools import (
    AREAS,
    DISTRICTS_PER_AREA,
    Pools,
    random_postcodes,
    same_district_postcodes,
    same_sector_postcodes,
)
from snoopwatch.synth.timeutil import DAY


@dataclass(frozen=True)
class Role:
    """A job with its share of the workforce, workforce group, unit pattern, id prefix and roster type."""

    name: str
    share: float
    group: str        # officer, staff, pcso
    unit: str         # "RESP" -> RESP-NORTH etc. for area units; a fixed name for force-wide units
    per_area: bool
    prefix: str
    roster: str       # response, neighbourhood, twelve, office, detective


# Shares follow England & Wales 2023: ~63% officers, ~34% staff, ~3% PCSOs.
ROLES: tuple[Role, ...] = (
    Role("response_officer", 0.31, "officer", "RESP", True, "PC", "response"),
    Role("neighbourhood_officer", 0.12, "officer", "NHOOD", True, "PC", "neighbourhood"),
    Role("pcso", 0.03, "pcso", "NHOOD", True, "CS", "neighbourhood"),
    Role("detective", 0.15, "officer", "CID", True, "DC", "detective"),
    Role("custody_sergeant", 0.03, "officer", "CUSTODY", False, "SG", "twelve"),
    Role("psd_investigator", 0.02, "officer", "PSD", False, "PS", "office"),
    Role("detention_officer", 0.04, "staff", "CUSTODY", False, "DO", "twelve"),
    Role("intelligence_analyst", 0.05, "staff", "INTEL", False, "IA", "office"),
    Role("call_handler", 0.13, "staff", "CONTROL", False, "CH", "twelve"),
    Role("pnc_operator", 0.03, "staff", "PNC-BUREAU", False, "PN", "twelve"),
    Role("admin", 0.09, "staff", "ADMIN", False, "AD", "office"),
)
ROLE_INDEX = {role.name: i for i, role in enumerate(ROLES)}
RELATIONS = ("self", "partner", "ex_partner", "ex_new_partner", "family", "neighbour", "associate")
REL = {name: i for i, name in enumerate(RELATIONS)}
FLAG_BITS = {"vip": 1, "staff": 2, "vulnerable": 4, "ocg": 8, "victim": 16}
NOMINAL_SHARE = 0.2   # subjects with a criminal history (suspects are drawn from them)


def unit_names() -> list[str]:
    """Every unit of the force, area units first."""
    names: list[str] = []
    for role in ROLES:
        candidates = [f"{role.unit}-{a}" for a in AREAS] if role.per_area else [role.unit]
        names.extend(n for n in candidates if n not in names)
    return names


UNITS = unit_names()
UNIT_INDEX = {name: i for i, name in enumerate(UNITS)}


def unit_area(unit: int) -> int:
    """Area index a unit polices, or -1 for force-wide units."""
    name = UNITS[unit]
    suffix = name.rsplit("-", 1)[-1]
    return AREAS.index(suffix) if suffix in AREAS else -1


UNIT_AREA = np.array([unit_area(u) for u in range(len(UNITS))], dtype=np.int16)


@dataclass
class Staff:
    """Arrays over members of staff (index = staff code)."""

    user_id: np.ndarray      # str
    role: np.ndarray         # role index
    unit: np.ndarray         # unit index
    area: np.ndarray         # area the unit polices (-1 force-wide); home area drawn from it
    surname: np.ndarray      # surname code
    forename: np.ndarray     # str
    sex: np.ndarray          # 0 female, 1 male
    home: np.ndarray         # postcode code
    subject: np.ndarray      # own subject code, -1 if none
    start_day: np.ndarray    # employment start (days since epoch)
    end_day: np.ndarray      # last day employed + 1, or a large number when still employed

    def __len__(self) -> int:
        return len(self.user_id)


@dataclass
class Subjects:
    """Arrays over subjects (index = subject code)."""

    surname: np.ndarray
    forename: np.ndarray
    sex: np.ndarray
    dob_day: np.ndarray
    postcode: np.ndarray
    flags: np.ndarray        # bit set of FLAG_BITS
    nominal: np.ndarray      # bool: has a criminal history (suspect pool)

    def __len__(self) -> int:
        return len(self.surname)


@dataclass
class Relations:
    """Who each member of staff knows among the subjects (internal: only some are declared)."""

    staff: np.ndarray
    subject: np.ndarray
    relation: np.ndarray     # index into RELATIONS
    declared: np.ndarray     # bool


def _role_counts(n: int) -> np.ndarray:
    """Staff per role, at least one of each role, summing to n (largest remainder)."""
    shares = np.array([r.share for r in ROLES])
    raw = shares * n
    counts = np.maximum(np.floor(raw).astype(int), 1)
    while counts.sum() < n:
        counts[np.argmax(raw - counts)] += 1
    while counts.sum() > n:
        counts[np.argmax(counts)] -= 1
    return counts


def build_staff(rng: np.random.Generator, pools: Pools, n_staff: int, start_day: int, days: int,
                district_weights: np.ndarray) -> Staff:
    """Members of staff with roles, units, names, homes (mostly in the area they police) and employment."""
    counts = _role_counts(n_staff)
    role = np.repeat(np.arange(len(ROLES)), counts)
    n = role.size
    area = np.full(n, -1, dtype=np.int16)
    unit = np.zeros(n, dtype=np.int16)
    for r, spec in enumerate(ROLES):
        idx = np.flatnonzero(role == r)
        if spec.per_area:
            a = np.arange(idx.size) % len(AREAS)
            area[idx] = a
            unit[idx] = [UNIT_INDEX[f"{spec.unit}-{AREAS[k]}"] for k in a]
        else:
            unit[idx] = UNIT_INDEX[spec.unit]
    sex = (rng.random(n) < 0.6).astype(np.int8)
    surname = rng.choice(len(pools.surnames), size=n, p=pools.surname_p).astype(np.int32)
    forename = np.where(sex == 1, pools.forenames_m[rng.integers(0, len(pools.forenames_m), n)],
                        pools.forenames_f[rng.integers(0, len(pools.forenames_f), n)])
    # Most staff live in the area they police; force-wide staff anywhere; a few outside the force.
    home_area = np.where(area >= 0, area, rng.integers(0, len(AREAS), n))
    other = rng.random(n) < 0.2
    home_area = np.where(other, rng.integers(0, len(AREAS), n), home_area)
    home = random_postcodes(rng, pools, n, area=home_area, district_weights=district_weights)
    outside = rng.random(n) < 0.03
    home[outside] = pools.n_in_force + rng.integers(0, len(pools.postcodes) - pools.n_in_force, outside.sum())
    # Employment: most joined years ago; ~8% a year join or leave inside the window.
    start = start_day - rng.integers(60, 30 * 365, n)
    end = np.full(n, 10**7, dtype=np.int64)
    turnover = 0.08 * days / 365
    joiners = rng.random(n) < turnover
    start[joiners] = start_day + rng.integers(0, max(days - 14, 1), joiners.sum())
    leavers = (rng.random(n) < turnover) & ~joiners
    end[leavers] = start_day + rng.integers(14, max(days, 15), leavers.sum())
    width = max(4, len(str(3 * n)))
    numbers = rng.permutation(10**width)[:n] if n < 10**width else np.arange(n)
    prefixes = np.array([r.prefix for r in ROLES], dtype=object)[role]
    user_id = np.char.add(prefixes.astype(str), np.char.zfill(numbers.astype(str), width)).astype(object)
    return Staff(user_id, role.astype(np.int16), unit, area, surname, forename.astype(object), sex, home,
                 np.full(n, -1, dtype=np.int32), start.astype(np.int64), end)


def build_subjects(rng: np.random.Generator, pools: Pools, staff: Staff, n_subjects: int, start_day: int,
                   district_weights: np.ndarray) -> tuple[Subjects, Relations]:
    """The subject population: staff records and staff relations first, then the general public."""
    n_staff = len(staff)
    parts: list[dict[str, np.ndarray]] = []
    rel_staff: list[np.ndarray] = []
    rel_subject: list[np.ndarray] = []
    rel_kind: list[np.ndarray] = []
    next_code = 0

    def add(surname, sex, postcode, owner, relation, age=None, flags=0):
        nonlocal next_code
        k = len(surname)
        codes = np.arange(next_code, next_code + k, dtype=np.int32)
        next_code += k
        parts.append({"surname": np.asarray(surname, dtype=np.int32), "sex": np.asarray(sex, dtype=np.int8),
                      "postcode": np.asarray(postcode, dtype=np.int32),
                      "age": np.asarray(age if age is not None else rng.integers(18, 70, k)),
                      "flags": np.full(k, flags, dtype=np.int16)})
        if owner is not None:
            rel_staff.append(np.asarray(owner, dtype=np.int32))
            rel_subject.append(codes)
            rel_kind.append(np.full(k, REL[relation], dtype=np.int8))
        return codes

    # Staff's own records (most staff have one: vetting, past reports, as a witness).
    has_record = rng.random(n_staff) < 0.85
    owners = np.flatnonzero(has_record)
    staff.subject[owners] = add(staff.surname[owners], staff.sex[owners], staff.home[owners], owners, "self",
                                age=rng.integers(21, 62, owners.size), flags=FLAG_BITS["staff"])
    in_force = staff.home < pools.n_in_force
    # Partners: same address, half share the surname.
    p_owner = np.flatnonzero((rng.random(n_staff) < 0.65) & in_force)
    p_surname = np.where(rng.random(p_owner.size) < 0.5, staff.surname[p_owner],
                         rng.choice(len(pools.surnames), p_owner.size, p=pools.surname_p))
    add(p_surname, 1 - staff.sex[p_owner], staff.home[p_owner], p_owner, "partner")
    # Exes: keep the married surname or live in the old home's sector (the insider moved out nearby).
    e_owner = np.flatnonzero((rng.random(n_staff) < 0.35) & in_force)
    keeps_name = rng.random(e_owner.size) < 0.5
    e_surname = np.where(keeps_name, staff.surname[e_owner], rng.choice(len(pools.surnames), e_owner.size, p=pools.surname_p))
    near = ~keeps_name | (rng.random(e_owner.size) < 0.5)
    e_postcode = np.where(near, same_sector_postcodes(rng, staff.home[e_owner]), same_district_postcodes(rng, staff.home[e_owner]))
    ex_codes = add(e_surname, 1 - staff.sex[e_owner], e_postcode, e_owner, "ex_partner")
    # The ex's new partner lives with the ex.
    has_new = rng.random(e_owner.size) < 0.6
    add(rng.choice(len(pools.surnames), has_new.sum(), p=pools.surname_p), staff.sex[e_owner[has_new]],
        e_postcode[has_new], e_owner[has_new], "ex_new_partner")
    del ex_codes
    # Family with the same surname, often in the same district.
    f_count = rng.integers(1, 5, n_staff) * in_force
    f_owner = np.repeat(np.arange(n_staff), f_count)
    f_postcode = np.where(rng.random(f_owner.size) < 0.6, same_district_postcodes(rng, staff.home[f_owner]),
                          random_postcodes(rng, pools, f_owner.size, district_weights=district_weights))
    add(staff.surname[f_owner], rng.integers(0, 2, f_owner.size), f_postcode, f_owner, "family",
        age=rng.integers(1, 90, f_owner.size))
    # Neighbours (same sector) and associates (same district).
    n_owner = np.repeat(np.flatnonzero(in_force), 2)
    add(rng.choice(len(pools.surnames), n_owner.size, p=pools.surname_p), rng.integers(0, 2, n_owner.size),
        same_sector_postcodes(rng, staff.home[n_owner]), n_owner, "neighbour")
    a_owner = np.repeat(np.flatnonzero(in_force), 2)
    add(rng.choice(len(pools.surnames), a_owner.size, p=pools.surname_p), rng.integers(0, 2, a_owner.size),
        same_district_postcodes(rng, staff.home[a_owner]), a_owner, "associate")
    # The general public: the rest, clustered by district; 6% live outside the force area.
    n_public = max(n_subjects - next_code, n_staff)
    public_pc = random_postcodes(rng, pools, n_public, district_weights=district_weights)
    outside = rng.random(n_public) < 0.06
    public_pc[outside] = pools.n_in_force + rng.integers(0, len(pools.postcodes) - pools.n_in_force, outside.sum())
    add(rng.choice(len(pools.surnames), n_public, p=pools.surname_p), rng.integers(0, 2, n_public), public_pc,
        None, "", age=np.clip(rng.gamma(4.0, 9.0, n_public) + 10, 10, 95).astype(int))

    surname = np.concatenate([p["surname"] for p in parts])
    sex = np.concatenate([p["sex"] for p in parts])
    postcode = np.concatenate([p["postcode"] for p in parts])
    age = np.concatenate([p["age"] for p in parts])
    flags = np.concatenate([p["flags"] for p in parts])
    n = surname.size
    forename = np.where(sex == 1, pools.forenames_m[rng.integers(0, len(pools.forenames_m), n)],
                        pools.forenames_f[rng.integers(0, len(pools.forenames_f), n)]).astype(object)
    # A staff member's own record carries their real forename.
    own = staff.subject >= 0
    forename[staff.subject[own]] = staff.forename[own]
    dob = start_day - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    public = np.arange(n) >= n - n_public
    nominal = public & (rng.random(n) < NOMINAL_SHARE)
    flags = flags | np.where(public & (rng.random(n) < 0.04), FLAG_BITS["vulnerable"], 0).astype(np.int16)
    flags = flags | np.where(nominal & (rng.random(n) < 0.08), FLAG_BITS["ocg"], 0).astype(np.int16)
    n_vip = max(3, int(round(n * 0.001)))
    vip = rng.choice(np.flatnonzero(public & ~nominal), n_vip, replace=False)
    flags[vip] |= FLAG_BITS["vip"]
    subjects = Subjects(surname, forename, sex, dob, postcode, flags.astype(np.int16), nominal)
    rel_kind_a = np.concatenate(rel_kind)
    declarable = np.isin(rel_kind_a, [REL["partner"], REL["family"], REL["associate"]])
    relations = Relations(np.concatenate(rel_staff), np.concatenate(rel_subject), rel_kind_a,
                          declarable & (rng.random(rel_kind_a.size) < 0.15))
    return subjects, relations


def district_weights(rng: np.random.Generator) -> np.ndarray:
    """Population weight per district: a few dense urban districts, many quieter ones."""
    w = rng.gamma(2.0, 1.0, len(AREAS) * DISTRICTS_PER_AREA)
    return w / w.sum()


def employed(staff: Staff, day: np.ndarray | int) -> np.ndarray:
    """Per staff member, whether they are employed on `day` (days since epoch)."""
    return (staff.start_day <= day) & (day < staff.end_day)


__all__ = ["DAY", "FLAG_BITS", "REL", "RELATIONS", "ROLES", "ROLE_INDEX", "UNITS", "UNIT_AREA", "UNIT_INDEX",
           "Relations", "Role", "Staff", "Subjects", "build_staff", "build_subjects", "district_weights", "employed"]
