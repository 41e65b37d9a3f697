"""Relationship features: who the subject is to the user (self, family name, neighbour, colleague, flags)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from snoopwatch.features._util import codes, lookup, make_index, member, pair_key
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
    """The wanted features of this group; `out`, when given, receives each array as it is made."""
    out = {} if out is None else out
    has_subject = ctx.subject >= 0
    n_subjects = len(ctx.subjects)

    # self and colleague: staff.subject_id links a member of staff to their own record.
    own = np.full(len(ctx.users), -1, dtype=np.int32)
    staff_subjects = np.zeros(n_subjects, dtype=bool)
    if ctx.table_column("staff", "subject_id") is not None:
        own = _per_user(ctx, ctx.subject_codes("staff"), -1).astype(np.int32)
        staff_subjects[own[own >= 0]] = True
    user_own = own[ctx.user]
    is_self = has_subject & (ctx.subject == user_own)
    out["self_lookup"] = is_self.astype(np.float32)

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
    out["colleague_record"] = (lookup(colleague, ctx.subject, False).astype(bool) & ~is_self).astype(np.float32)
    for flag, name in FLAG_FEATURES.items():
        bits = flag_bits.get(flag, np.zeros(n_subjects, bool))
        out[name] = lookup(bits, ctx.subject, False).astype(np.float32)

    # Same surname, weighted by how rare the surname is among subjects.
    staff_surname = _normal_surname(ctx.table_column("staff", "surname"))
    subj_surname = _normal_surname(ctx.table_column("subjects", "surname"))
    if staff_surname is not None and subj_surname is not None:
        index = make_index(staff_surname, subj_surname)
        subj_code = codes(subj_surname, index)
        counts = np.bincount(subj_code[subj_code >= 0], minlength=len(index)).astype(np.float64)
        total = max(float((subj_code >= 0).sum()), 2.0)
        rarity = np.log(total / np.maximum(counts, 1.0)) / np.log(total)
        user_surname = _per_user(ctx, codes(staff_surname, index), -1).astype(np.int32)[ctx.user]
        subject_surname = _per_subject(ctx, subj_code, -1).astype(np.int32)
        ev_surname = lookup(subject_surname, ctx.subject, -1)
        match = (ev_surname >= 0) & (ev_surname == user_surname)
        out["surname_match_rarity"] = np.where(match, lookup(rarity, ev_surname, 0.0), 0.0).astype(np.float32)

    # Near home: same postcode sector, and distance when coordinates are known.
    user_sector, subject_sector = ctx.sectors()
    ev_user_sector = user_sector[ctx.user]
    ev_subject_sector = lookup(subject_sector, ctx.subject, -1)
    out["same_postcode_sector"] = ((ev_user_sector >= 0) & (ev_user_sector == ev_subject_sector)).astype(np.float32)
    lat_u, lon_u = ctx.table_column("staff", "home_lat"), ctx.table_column("staff", "home_lon")
    lat_s, lon_s = ctx.table_column("subjects", "lat"), ctx.table_column("subjects", "lon")
    if all(c is not None for c in (lat_u, lon_u, lat_s, lon_s)):
        ulat = _per_user(ctx, lat_u.to_numpy(np.float64), np.nan)[ctx.user]
        ulon = _per_user(ctx, lon_u.to_numpy(np.float64), np.nan)[ctx.user]
        slat = lookup(_per_subject(ctx, lat_s.to_numpy(np.float64), np.nan), ctx.subject, np.nan)
        slon = lookup(_per_subject(ctx, lon_s.to_numpy(np.float64), np.nan), ctx.subject, np.nan)
        p1, p2 = np.radians(ulat), np.radians(slat)
        h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(slon - ulon) / 2) ** 2
        km = 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
        out["home_proximity"] = np.nan_to_num(1.0 / (1.0 + km), nan=0.0).astype(np.float32)

    assoc = ctx.dataset.associations
    if assoc is not None:
        keys = pair_key(ctx.user_codes("associations"), ctx.subject_codes("associations"), n_subjects)
        out["declared_association"] = member(pair_key(ctx.user, ctx.subject, n_subjects), keys).astype(np.float32)
    return {k: v for k, v in out.items() if k in wanted}
