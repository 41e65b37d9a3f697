"""Time helpers for the generator: all instants are int64 seconds since the Unix epoch, in UTC.

Rosters and demand curves are defined in UK local time (Europe/London, with daylight saving); these
functions convert between local wall-clock seconds and UTC without a per-row Python loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LOCAL_ZONE = "Europe/London"  # the zone the generated force works in (written to the manifest)
DAY = 86_400
HOUR = 3_600
MINUTE = 60


def _last_sunday_utc_1am(year: int, month: int) -> int:
    """Seconds (UTC) of 01:00 UTC on the last Sunday of `month`: when UK clocks change."""
    last = pd.Timestamp(year=year, month=month, day=31 if month in (3, 10) else 30)
    sunday = last - pd.Timedelta(days=(last.weekday() + 1) % 7)
    return int(sunday.value // 1_000_000_000) + HOUR


def _bst_bounds(years: range) -> tuple[np.ndarray, np.ndarray]:
    starts = np.array([_last_sunday_utc_1am(y, 3) for y in years], dtype=np.int64)
    ends = np.array([_last_sunday_utc_1am(y, 10) for y in years], dtype=np.int64)
    return starts, ends


def uk_offset(utc: np.ndarray) -> np.ndarray:
    """UK offset from UTC in seconds (0 in winter, 3600 in British Summer Time) for UTC instants."""
    utc = np.asarray(utc, dtype=np.int64)
    if utc.size == 0:
        return np.zeros(0, dtype=np.int64)
    y0 = int(pd.Timestamp(int(utc.min()), unit="s").year) - 1
    y1 = int(pd.Timestamp(int(utc.max()), unit="s").year) + 1
    starts, ends = _bst_bounds(range(y0, y1 + 1))
    # Index of the last spring change at or before t; in BST when that year's autumn change is later.
    k = np.searchsorted(starts, utc, side="right") - 1
    k = np.clip(k, 0, len(starts) - 1)
    in_bst = (utc >= starts[k]) & (utc < ends[k])
    return np.where(in_bst, HOUR, 0).astype(np.int64)


def utc_to_local(utc: np.ndarray) -> np.ndarray:
    """Local wall-clock seconds (as if UTC) for UTC instants."""
    utc = np.asarray(utc, dtype=np.int64)
    return utc + uk_offset(utc)


def local_to_utc(local: np.ndarray) -> np.ndarray:
    """UTC instants for UK wall-clock times. In the repeated autumn hour the first (summer) reading is
    taken; a time skipped in spring is moved forward, as the data-set reader does."""
    local = np.asarray(local, dtype=np.int64)
    guess = local - HOUR
    return np.where(uk_offset(guess) == HOUR, guess, local)


def hour_of_week(local: np.ndarray) -> np.ndarray:
    """0..167, Monday 00:00 = 0, from local wall-clock seconds (1970-01-01 was a Thursday)."""
    days = np.floor_divide(local, DAY)
    weekday = (days + 3) % 7  # Monday = 0
    return (weekday * 24 + np.floor_divide(local % DAY, HOUR)).astype(np.int64)


def to_timestamps(seconds: np.ndarray) -> pd.Series:
    """int64 UTC seconds to a datetime64[ns, UTC] Series (missing = negative sentinel -> NaT)."""
    seconds = np.asarray(seconds, dtype=np.int64)
    ns = (seconds * 1_000_000_000).astype("datetime64[ns]")
    out = pd.Series(pd.DatetimeIndex(ns).tz_localize("UTC"))
    if (seconds < -10**12).any():
        out[seconds < -10**12] = pd.NaT
    return out.astype("datetime64[ns, UTC]")


def to_dates(days: np.ndarray) -> pd.Series:
    """Day numbers since the epoch to UTC-midnight dates (negative sentinel -> NaT)."""
    return to_timestamps(np.where(np.asarray(days) < -10**8, -10**13, np.asarray(days, dtype=np.int64) * DAY))


NAT = -(10**13)  # sentinel for a missing instant in int64 seconds
