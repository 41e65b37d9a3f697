"""Allow-list: known legitimate patterns (a user, a role, a subject, or a combination) kept out of alerts.

TOML (one [[allow]] table per entry) or CSV (columns user, role, subject, expires, why):

    [[allow]]
    role = "psd_investigator"
    why = "professional standards search colleagues' records as their job"

    [[allow]]
    user = "PC4412"
    subject = "P001002"
    expires = "2025-12-31"
    why = "declared carer for a relative; approved by PSD ref 2025/118"

Every set field must match (user AND subject above). `expires` is the last day the entry applies (UTC);
`why` is required. Matching events keep their scores in the scores file but never count as evidence for
an alert; detect reports, per entry, how many events and alerts it suppressed, so nothing is silent.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from snoopwatch.errors import SnoopwatchError

FIELDS = ("user", "role", "subject")


class AllowListError(SnoopwatchError):
    """An allow-list file cannot be read or has an invalid entry."""


@dataclass(frozen=True)
class AllowEntry:
    number: int
    why: str
    user: str | None = None
    role: str | None = None
    subject: str | None = None
    expires: pd.Timestamp | None = None

    @property
    def label(self) -> str:
        parts = [f"{f}={getattr(self, f)}" for f in FIELDS if getattr(self, f)]
        if self.expires is not None:
            parts.append(f"until {self.expires:%Y-%m-%d}")
        return f"#{self.number} " + " ".join(parts)


def _entry(number: int, raw: dict, source: str) -> AllowEntry:
    values = {f: (str(raw[f]).strip() or None) if raw.get(f) not in (None, "") else None for f in FIELDS}
    if not any(values.values()):
        raise AllowListError(f"{source}: entry {number} names no user, role or subject; give at least one")
    why = str(raw.get("why") or "").strip()
    if not why:
        raise AllowListError(f"{source}: entry {number} has no `why`; say why the pattern is legitimate")
    unknown = set(raw) - set(FIELDS) - {"why", "expires"}
    if unknown:
        raise AllowListError(f"{source}: entry {number} has unknown field(s) {', '.join(sorted(unknown))}; "
                             "use user, role, subject, expires, why")
    expires = None
    if raw.get("expires") not in (None, ""):
        try:
            expires = pd.Timestamp(str(raw["expires"]))
        except ValueError as error:
            raise AllowListError(f"{source}: entry {number} expires {raw['expires']!r} is not a date (YYYY-MM-DD)") from error
        expires = expires.tz_localize("UTC") if expires.tzinfo is None else expires.tz_convert("UTC")
    return AllowEntry(number, why, expires=expires, **values)


def load_allowlist(path: str | Path) -> list[AllowEntry]:
    """Read a TOML or CSV allow-list (by extension)."""
    path = Path(path)
    if not path.exists():
        raise AllowListError(f"{path}: no such allow-list file")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise AllowListError(f"{path}: not valid TOML ({error})") from error
        rows = data.get("allow", [])
        if not isinstance(rows, list):
            raise AllowListError(f"{path}: entries must be [[allow]] tables")
    elif path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
    else:
        raise AllowListError(f"{path}: an allow-list is a .toml or .csv file")
    return [_entry(i + 1, dict(row), path.name) for i, row in enumerate(rows)]


def match(entries: list[AllowEntry], user_id: pd.Series, role: pd.Series | None, subject_id: pd.Series | None,
          timestamp: pd.Series) -> np.ndarray:
    """Boolean matrix (events x entries): which entry matches which event."""
    n = len(user_id)
    out = np.zeros((n, len(entries)), dtype=bool)
    columns = {"user": user_id, "role": role, "subject": subject_id}
    text = {k: (v.astype(object).where(v.notna(), "").astype(str).to_numpy() if v is not None else None)
            for k, v in columns.items()}
    for j, entry in enumerate(entries):
        hit = np.ones(n, dtype=bool)
        for field in FIELDS:
            wanted = getattr(entry, field)
            if wanted is not None:
                hit &= (text[field] == wanted) if text[field] is not None else False
        if entry.expires is not None:
            hit &= (timestamp < entry.expires + pd.Timedelta(days=1)).to_numpy()
        out[:, j] = hit
    return out
