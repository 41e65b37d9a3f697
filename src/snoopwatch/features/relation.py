"""Relationship features: who the subject is to the user (self, family name, neighbour, colleague, flags)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from snoopwatch.features._util import KeySet, Lookup, codes, make_index, pair_key, write_blockwise
from snoopwatch.features.context import Context

FLAG_FEATURES = {"vip": "subject_vip", "vulnerable": "subject_vulnerable", "ocg": "subject_ocg", "victim": "subject_victim"}


def _normal_surname(values: pd.Series | None) -> pd.Series | None:
    if values is None:
        return None
    return values.astype(object).where(values.notna(), None).astype("string").str.strip().str.upper()


def _spread(size: int, where: np.ndarray, values: np.ndarray, fill) -> np.ndarray:
    """A table column spread over `size` codes (`where` gives each row's code, -1 unknown)."""
    out = np.full(size, fill, dtype=np.asarray(values).dtype if len(values) else np.float64)
    ok = where >= 0
    out[where[ok]] = np.asarray(values)[ok]
    return out


def _per_subject(ctx: Context, values: np.ndarray, fill) -> np.ndarray:
    """Spread a subjects-table column over subject codes."""
    return _spread(len(ctx.subjects), ctx.subject_codes("subjects"), values, fill)


def _per_user(ctx: Context, values: np.ndarray, fill) -> np.ndarray:
    """Spread a staff-table column over user codes."""
    return _spread(len(ctx.users), ctx.user_codes("staff"), values, fill)


def compute(ctx: Context, wanted: set[str], out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The wanted features of this group; `out`, when given, receives each array as it is made.

    Every feature here is a look-up of the user's and the subject's attributes (small per-user and
    per-subject tables, made first), so each is computed in blocks of rows (write_blockwise): the
    temporaries of a block stay in the CPU cache, and no event-sized temporary is ever made.
    """
    out = {} if out is None else out
    n_subjects = len(ctx.subjects)
    per_event: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {}  # feature: f(users, subjects)

    # self and colleague: staff.subject_id links a member of staff to their own record.
    own = np.full(len(ctx.users), -1, dtype=np.int32)
    staff_subjects = np.zeros(n_subjects, dtype=bool)
    if ctx.table_column("staff", "subject_id") is not None:
        own = _per_user(ctx, ctx.subject_codes("staff"), -1).astype(np.int32)
        staff_subjects[own[own >= 0]] = True

    def is_self(u: np.ndarray, s: np.ndarray) -> np.ndarray:
        return (s >= 0) & (s == own[u])

    per_event["self_lookup"] = is_self

    flags = ctx.table_column("subjects", "flags")
    flag_bits: dict[str, np.ndarray] = {}
    if flags is not None:
        text = flags.astype(object).where(flags.notna(), "").astype(str).str.lower()
        tokens = ";" + text.str.replace(r"\s*[;,]\s*", ";", regex=True) + ";"
        for flag in ("vip", "vulnerable", "ocg", "victim", "staff"):
            flag_bits[flag] = _per_subject(ctx, tokens.str.contains(f";{flag};", regex=False).to_numpy(bool), False)
    victims = np.zeros(n_subjects, dtype=bool)
    cs_role = ctx.table_column("case_subjects", "role")
    if cs_role is not None:
        which = ctx.subject_codes("case_subjects")
        is_victim = cs_role.astype(object).astype(str).str.strip().str.lower().eq("victim").to_numpy()
        victims[which[(which >= 0) & is_victim]] = True
    flag_bits["victim"] = flag_bits.get("victim", np.zeros(n_subjects, bool)) | victims
    colleague = staff_subjects | flag_bits.get("staff", np.zeros(n_subjects, bool))
    colleague_of = Lookup(colleague, False)
    per_event["colleague_record"] = lambda u, s: colleague_of(s).astype(bool) & ~is_self(u, s)
    for flag, name in FLAG_FEATURES.items():
        bits = Lookup(flag_bits.get(flag, np.zeros(n_subjects, bool)), False)
        per_event[name] = lambda u, s, bits=bits: bits(s)

    # Same surname, weighted by how rare the surname is among subjects.
    staff_surname = _normal_surname(ctx.table_column("staff", "surname"))
    subj_surname = _normal_surname(ctx.table_column("subjects", "surname"))
    if staff_surname is not None and subj_surname is not None:
        index = make_index(staff_surname, subj_surname)
        subj_code = codes(subj_surname, index)
        counts = np.bincount(subj_code[subj_code >= 0], minlength=len(index)).astype(np.float64)
        total = max(float((subj_code >= 0).sum()), 2.0)
        rarity = np.log(total / np.maximum(counts, 1.0)) / np.log(total)
        user_surname = _per_user(ctx, codes(staff_surname, index), -1).astype(np.int32)
        subject_surname = Lookup(_per_subject(ctx, subj_code, -1).astype(np.int32), -1)
        rarity_of = Lookup(rarity, 0.0)

        def surname_match_rarity(u: np.ndarray, s: np.ndarray) -> np.ndarray:
            ev_surname = subject_surname(s)
            match = (ev_surname >= 0) & (ev_surname == user_surname[u])
            return np.where(match, rarity_of(ev_surname), 0.0)

        per_event["surname_match_rarity"] = surname_match_rarity

    # Near home: same postcode sector, and distance when coordinates are known.
    user_sector, subject_sector = ctx.sectors()
    sector_of = Lookup(subject_sector, -1)

    def same_postcode_sector(u: np.ndarray, s: np.ndarray) -> np.ndarray:
        ev_user_sector = user_sector[u]
        return (ev_user_sector >= 0) & (ev_user_sector == sector_of(s))

    per_event["same_postcode_sector"] = same_postcode_sector
    lat_u, lon_u = ctx.table_column("staff", "home_lat"), ctx.table_column("staff", "home_lon")
    lat_s, lon_s = ctx.table_column("subjects", "lat"), ctx.table_column("subjects", "lon")
    if all(c is not None for c in (lat_u, lon_u, lat_s, lon_s)):
        user_lat, user_lon = (_per_user(ctx, c.to_numpy(np.float64), np.nan) for c in (lat_u, lon_u))
        subject_lat, subject_lon = (Lookup(_per_subject(ctx, c.to_numpy(np.float64), np.nan), np.nan)
                                    for c in (lat_s, lon_s))

        def home_proximity(u: np.ndarray, s: np.ndarray) -> np.ndarray:
            ulat, ulon = user_lat[u], user_lon[u]
            slat, slon = subject_lat(s), subject_lon(s)
            p1, p2 = np.radians(ulat), np.radians(slat)
            h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(slon - ulon) / 2) ** 2
            km = 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
            return np.nan_to_num(1.0 / (1.0 + km), nan=0.0)

        per_event["home_proximity"] = home_proximity

    assoc = ctx.dataset.associations
    if assoc is not None:
        declared = KeySet(pair_key(ctx.user_codes("associations"), ctx.subject_codes("associations"), n_subjects), ctx.n)
        per_event["declared_association"] = lambda u, s: declared(pair_key(u, s, n_subjects))

    for name, values in per_event.items():
        if name in wanted:
            write_blockwise(out, name, values, ctx.user, ctx.subject)
    return {k: v for k, v in out.items() if k in wanted}
