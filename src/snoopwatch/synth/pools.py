"""Small pools built once per world with Faker (seeded): surnames with real UK frequencies, forenames by sex,
and the force's postcode geography (areas -> districts -> sectors -> units with coordinates).

Everything per person or per event is drawn from these pools with numpy; Faker is never called per event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker
from faker.providers.person.en_GB import Provider as GBPerson

AREAS = ("NORTH", "SOUTH", "EAST", "WEST")
DISTRICTS_PER_AREA = 6
SECTORS_PER_DISTRICT = 10
UNITS_PER_SECTOR = 24
POSTCODE_AREA = "WX"  # not a real UK postcode area, so the synthetic force never names a real street
CENTRE = (52.48, -1.90)
_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))  # letters used in inward codes


@dataclass(frozen=True)
class Pools:
    """Name and place pools; arrays are indexed by the integer codes the generator stores."""

    surnames: np.ndarray          # str, common first (index = code)
    surname_p: np.ndarray         # population frequency of each surname
    forenames_f: np.ndarray
    forenames_m: np.ndarray
    postcodes: np.ndarray         # str, in-force units first, then out-of-force postcodes
    pc_area: np.ndarray           # area index, -1 for out of force
    pc_district: np.ndarray       # district index, -1 for out of force
    pc_sector: np.ndarray         # global sector index, -1 for out of force
    pc_lat: np.ndarray
    pc_lon: np.ndarray
    n_in_force: int

    @property
    def n_sectors(self) -> int:
        return len(AREAS) * DISTRICTS_PER_AREA * SECTORS_PER_DISTRICT


def build_pools(seed: int, rng: np.random.Generator, n_rare_surnames: int = 1500, n_outside: int = 400) -> Pools:
    """Build the pools: Faker (seeded with `seed`) only for names and outside postcodes."""
    common = sorted(GBPerson.last_names.items(), key=lambda kv: (-kv[1], kv[0]))
    names = [name for name, _ in common]
    weights = [w for _, w in common]
    fake = Faker(["en_IE", "pl_PL", "it_IT", "en_IN", "de_DE", "nl_NL", "fr_FR"])
    fake.seed_instance(seed)
    seen = set(names)
    rare: list[str] = []
    while len(rare) < n_rare_surnames:
        candidate = fake.last_name()
        if candidate not in seen and candidate.isalpha():
            seen.add(candidate)
            rare.append(candidate)
    # The 500 listed surnames cover ~40% of people; the rest spread over many rare names.
    rare_total = 100.0 - sum(weights)
    rare_w = 1.0 / np.arange(10, 10 + n_rare_surnames) ** 0.6
    rare_w = rare_w / rare_w.sum() * rare_total
    surnames = np.array(names + rare, dtype=object)
    p = np.concatenate([np.asarray(weights, dtype=float), rare_w])
    p = p / p.sum()

    gb = Faker("en_GB")
    gb.seed_instance(seed + 1)
    outside: list[str] = []
    seen_outside: set[str] = set()
    while len(outside) < n_outside:
        code = gb.postcode()
        if not code.startswith(POSTCODE_AREA) and code not in seen_outside:  # postcodes are unique
            seen_outside.add(code)
            outside.append(code)

    n_districts = len(AREAS) * DISTRICTS_PER_AREA
    n_units = n_districts * SECTORS_PER_DISTRICT * UNITS_PER_SECTOR
    unit = np.arange(n_units)
    sector = unit // UNITS_PER_SECTOR
    district = sector // SECTORS_PER_DISTRICT
    area = district // DISTRICTS_PER_AREA
    # Districts on a grid per area quadrant (about 2 km apart), sectors around them, units jittered.
    d_in_area = district % DISTRICTS_PER_AREA
    quad_lat = np.array([0.08, -0.08, 0.0, 0.0])[area]
    quad_lon = np.array([0.0, 0.0, 0.12, -0.12])[area]
    lat = CENTRE[0] + quad_lat + (d_in_area // 3 - 0.5) * 0.03 + ((sector % 10) // 4 - 1) * 0.006
    lon = CENTRE[1] + quad_lon + (d_in_area % 3 - 1) * 0.045 + ((sector % 10) % 4 - 1.5) * 0.008
    lat = lat + rng.normal(0, 0.0015, n_units)
    lon = lon + rng.normal(0, 0.0022, n_units)
    letters = rng.integers(0, len(_LETTERS), size=(n_units, 2))
    inward = np.char.add(np.char.add((sector % 10).astype(str), _LETTERS[letters[:, 0]]), _LETTERS[letters[:, 1]])
    outward = np.char.add(POSTCODE_AREA, (district + 1).astype(str))
    in_force = np.char.add(np.char.add(outward, " "), inward)
    # Unit letters can collide inside a sector: make each postcode unique by re-drawing duplicates.
    codes = list(in_force.astype(object))
    used: set[str] = set()
    for i, code in enumerate(codes):
        while code in used:
            a, b = rng.integers(0, len(_LETTERS), 2)
            code = code[:-2] + _LETTERS[a] + _LETTERS[b]
        used.add(code)
        codes[i] = code
    out_lat = rng.uniform(50.6, 55.0, n_outside)
    out_lon = rng.uniform(-4.2, 0.6, n_outside)
    far = np.hypot(out_lat - CENTRE[0], (out_lon - CENTRE[1]) * 0.6) < 0.6
    out_lat[far] += 1.2
    return Pools(
        surnames=surnames,
        surname_p=p,
        forenames_f=np.array(sorted(set(GBPerson.first_names_female)), dtype=object),
        forenames_m=np.array(sorted(set(GBPerson.first_names_male)), dtype=object),
        postcodes=np.array(codes + outside, dtype=object),
        pc_area=np.concatenate([area, np.full(n_outside, -1)]).astype(np.int16),
        pc_district=np.concatenate([district, np.full(n_outside, -1)]).astype(np.int16),
        pc_sector=np.concatenate([sector, np.full(n_outside, -1)]).astype(np.int32),
        pc_lat=np.concatenate([lat, out_lat]),
        pc_lon=np.concatenate([lon, out_lon]),
        n_in_force=n_units,
    )


def random_postcodes(rng: np.random.Generator, pools: Pools, n: int, *, area: np.ndarray | None = None,
                     district_weights: np.ndarray | None = None) -> np.ndarray:
    """Draw in-force postcode codes, clustered: districts by weight (optionally within a given area)."""
    n_districts = len(AREAS) * DISTRICTS_PER_AREA
    weights = district_weights if district_weights is not None else np.ones(n_districts) / n_districts
    if area is None:
        district = rng.choice(n_districts, size=n, p=weights)
    else:
        area = np.asarray(area)
        w = weights.reshape(len(AREAS), DISTRICTS_PER_AREA)
        cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
        u = rng.random(n)
        local = (u[:, None] > cdf[area]).sum(axis=1).clip(0, DISTRICTS_PER_AREA - 1)
        district = area * DISTRICTS_PER_AREA + local
    # Within a district, a few sectors are denser (estates) than others.
    sector_in = np.minimum(rng.geometric(0.22, n) - 1, SECTORS_PER_DISTRICT - 1)
    unit = rng.integers(0, UNITS_PER_SECTOR, n)
    return ((district * SECTORS_PER_DISTRICT + sector_in) * UNITS_PER_SECTOR + unit).astype(np.int32)


def same_sector_postcodes(rng: np.random.Generator, postcode: np.ndarray) -> np.ndarray:
    """Other postcodes in the same sector as each given in-force postcode."""
    postcode = np.asarray(postcode)
    sector = postcode // UNITS_PER_SECTOR
    return (sector * UNITS_PER_SECTOR + rng.integers(0, UNITS_PER_SECTOR, postcode.size)).astype(np.int32)


def same_district_postcodes(rng: np.random.Generator, postcode: np.ndarray) -> np.ndarray:
    """Postcodes in the same district (any sector) as each given in-force postcode."""
    postcode = np.asarray(postcode)
    district = postcode // (UNITS_PER_SECTOR * SECTORS_PER_DISTRICT)
    sector = district * SECTORS_PER_DISTRICT + rng.integers(0, SECTORS_PER_DISTRICT, postcode.size)
    return (sector * UNITS_PER_SECTOR + rng.integers(0, UNITS_PER_SECTOR, postcode.size)).astype(np.int32)
