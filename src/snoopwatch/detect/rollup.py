"""Per-user risk over rolling windows (a day, a month, a year) and alert selection under an analyst budget.

Event scores are calibrated surprises (s = -log10 of the share of normal training events scoring as
high). Two kinds of evidence compete for the analyst's daily budget:

- a pattern: for a user and a window with n scored events, k_a of them reach level a (s >= a, so each
  has chance 10**-a under normal behaviour); the evidence is the Poisson tail -log10 P(K >= k_a | mean
  n*10**-a), maximised over the levels in LEVELS. A burst of moderately odd events and a handful of
  extreme ones over a year both score, and busy users are not penalised for being busy;
- a single access ("event" window): the user's highest event score of the day, as it is. One access of
  a kind seen once in ten thousand is worth a look even from a user who makes hundreds a day.

A candidate exists on each day the user has an event at the lowest level (new evidence). Every day the
budget is filled from the two ranked lists in turn, the first list alternating by day (one person per
slot; a person picked for a sharp access who also shows a pattern is alerted for the pattern, which
covers more), so a year of piling-up patterns cannot crowd out today's sharpest access, nor the
reverse. Candidates below MIN_EVIDENCE never become alerts: the floor keeps out what is merely common
(a window whose count has a 1-in-100 chance, an access that 1 in 100 normal ones match); above it, the
budget decides, and the risk says how strong each alert is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import poisson

from snoopwatch.features._util import first_of_run, stable_argsort

WINDOWS = {"day": 1, "month": 30, "year": 365}
LEVELS = (2.0, 3.0, 4.0)
# -log10 p of the window's count (for a single access, of the share of normal accesses as rare); below this
# nothing is alerted. At 3, an analyst's free slots went unused on quiet days while weaker cases waited
# below it: over 16 generated forces (120 staff, 75 days scored, budget 10), the alerts cited 143 of 185
# cases at 2 against 137 at 3 (README, "What to expect").
MIN_EVIDENCE = 2.0
RISK_SCALE = 10.0   # evidence at which risk reaches 63
REALERT_DAYS = 30   # a person alerted within this many days needs clearly stronger evidence to be alerted again
REALERT_SHARPER = 1.0  # ... for a single access: one at least ten times rarer than the one alerted


def risk_from_evidence(evidence: np.ndarray) -> np.ndarray:
    """Evidence (-log10 p) to a 0-100 risk: 100 * (1 - exp(-evidence / RISK_SCALE))."""
    return np.clip(np.round(100.0 * (1.0 - np.exp(-np.asarray(evidence, np.float64) / RISK_SCALE))), 0, 100).astype(int)


def _window_counts(frame: pd.DataFrame, days: int) -> pd.DataFrame:
    """Per candidate (user, day) row: events and level counts in [day - days + 1, day], by cumulative sums."""
    out = {}
    user = frame["user"].to_numpy(np.int64)
    day = frame["day"].to_numpy(np.int64)
    key = user * (1 << 32) + day
    lo_key = user * (1 << 32) + day - days + 1
    lo = np.searchsorted(key, lo_key, side="left")
    for column in ["n", *[f"k{i}" for i in range(len(LEVELS))]]:
        csum = np.concatenate([[0.0], np.cumsum(frame[column].to_numpy(np.float64))])
        out[column] = csum[np.arange(len(frame)) + 1] - csum[lo]
    out["lo_day"] = day[lo]  # first day of the window with events
    return pd.DataFrame(out, index=frame.index)


def evidence(n: np.ndarray, counts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(max over levels of -log10 P(K >= k), index of the level that gave it)."""
    values = []
    for level, k in zip(LEVELS, counts, strict=True):
        mean = np.maximum(n * 10.0 ** -level, 1e-12)
        tail = poisson.logsf(k - 1, mean)
        # Far in the tail logsf underflows to -inf; there P(K >= k) is within a small factor of P(K = k).
        tail = np.where(np.isfinite(tail), tail, poisson.logpmf(k, mean)) / np.log(10.0)
        values.append(np.where(k > 0, -tail, 0.0))
    stacked = np.vstack(values)
    best = stacked.argmax(axis=0)
    return stacked.max(axis=0), best


def daily_budget(budget: float, staff: int) -> int:
    """Reviews an analyst makes per day: ceil(budget x staff / 1,000), never fewer than 1 (alerts for
    detect; people, each by their best event, for evaluate's case recall)."""
    if budget <= 0 or staff <= 0:
        raise ValueError("budget and staff must be positive")
    # round() first so that float noise (10 x 300 / 1000 = 3.0000000004) does not add one.
    return max(1, math.ceil(round(budget * staff / 1000.0, 9)))


@dataclass(frozen=True)
class UserDays:
    """Events grouped by (user, day), made once from who and when (no score needed): the roll-up counts
    each (user, day) from it and an alert finds its events with it."""

    order: np.ndarray  # rows sorted by user, then day, ties in row order
    starts: np.ndarray  # per (user, day), ascending: where its rows begin in `order`; then len(order)
    user: np.ndarray  # per (user, day): the user code (int64)
    day: np.ndarray  # per (user, day): the day (int64)
    key: np.ndarray  # per (user, day), ascending: user x 2**32 + day

    @classmethod
    def of(cls, user: np.ndarray, day: np.ndarray) -> UserDays:
        user = np.asarray(user, dtype=np.int64)
        day = np.asarray(day, dtype=np.int64)
        if len(day) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, np.zeros(1, dtype=np.int64), empty, empty, empty)
        first_day = int(day.min())
        key = user * (int(day.max()) - first_day + 1) + (day - first_day)  # ascends with (user, day)
        # Rows in day order (detect's events come in time order): the stable sort by user alone is the
        # (user, day) order (a radix sort when the users are few); otherwise np.lexsort((day, user)).
        order = stable_argsort(user if not (day[1:] < day[:-1]).any() else key)
        starts = np.append(np.flatnonzero(first_of_run(key[order])), len(order))
        firsts = order[starts[:-1]]
        return cls(order, starts, user[firsts], day[firsts], user[firsts] * (1 << 32) + day[firsts])

    def per_group(self, values: np.ndarray, reduce: np.ufunc = np.add) -> np.ndarray:
        """reduce(values) over the rows of each (user, day) (reduce.reduceat over the grouped rows)."""
        if len(self.order) == 0:
            return np.zeros(0, dtype=np.asarray(values).dtype)
        return reduce.reduceat(np.asarray(values)[self.order], self.starts[:-1])

    def rows(self, user: int, first_day: int, last_day: int) -> np.ndarray:
        """The user's rows from first_day to last_day (both included), by day, ties in row order."""
        lo = np.searchsorted(self.key, user * (1 << 32) + first_day, side="left")
        hi = np.searchsorted(self.key, user * (1 << 32) + last_day, side="right")
        return self.order[self.starts[lo]:self.starts[hi]]


def daily_counts(user: np.ndarray, day: np.ndarray, score: np.ndarray, usable: np.ndarray,
                 groups: UserDays | None = None) -> pd.DataFrame:
    """One row per (user, day) with events, sorted by user then day: n events (allow-listed events still
    count as activity), k0, k1, ... events at each level of LEVELS and top, the highest score (never
    allow-listed ones).

    Counted over the rows grouped by (user, day) (groups: UserDays.of(user, day), when made already):
    no frame of one row per event.
    """
    groups = UserDays.of(user, day) if groups is None else groups
    # Scores grouped once, then reduced per (user, day); allow-listed ones read 0 (scores are never
    # negative, and every level is above 0, so they reach no level).
    top = np.where(np.asarray(usable, dtype=bool)[groups.order], np.asarray(score)[groups.order], 0.0)
    out = {"user": groups.user, "day": groups.day, "n": np.diff(groups.starts).astype(np.float64)}
    firsts = groups.starts[:-1]
    # Events at the levels are few (one in a hundred reaches the lowest): counted from their rows only.
    rows = np.flatnonzero(top >= min(LEVELS))
    group_of = np.searchsorted(firsts, rows, side="right") - 1
    for i, level in enumerate(LEVELS):
        out[f"k{i}"] = np.bincount(group_of[top[rows] >= level], minlength=len(firsts)).astype(np.float64)
    out["top"] = (np.maximum.reduceat(top, firsts) if len(top) else np.zeros(0)).astype(np.float64)
    return pd.DataFrame(out)


def candidates(user: np.ndarray, day: np.ndarray, score: np.ndarray, usable: np.ndarray,
               groups: UserDays | None = None) -> pd.DataFrame:
    """Every (user, day, window) with new evidence that day: columns user, day, window, days, evidence,
    level (the score threshold that gave the evidence), start_day. groups: UserDays.of(user, day)."""
    daily = daily_counts(user, day, score, usable, groups)
    fresh = daily["k0"].to_numpy() > 0
    rows = [pd.DataFrame({  # a single access cites the day's sharpest access (level = its score)
        "user": daily["user"], "day": daily["day"], "window": "event", "days": 1, "evidence": daily["top"],
        "level": daily["top"], "start_day": daily["day"],
    })[fresh]]
    for name, days in WINDOWS.items():
        counts = _window_counts(daily, days)
        ev, best = evidence(counts["n"].to_numpy(), [counts[f"k{i}"].to_numpy() for i in range(len(LEVELS))])
        rows.append(pd.DataFrame({
            "user": daily["user"], "day": daily["day"], "window": name, "days": days, "evidence": ev,
            "level": np.asarray(LEVELS)[best], "start_day": np.maximum(counts["lo_day"].to_numpy(), daily["day"] - days + 1),
        })[fresh])
    if not rows:
        return pd.DataFrame(columns=["user", "day", "window", "days", "evidence", "level", "start_day"])
    return pd.concat(rows, ignore_index=True)


def select(cands: pd.DataFrame, per_day: int) -> pd.DataFrame:
    """Each day: the best candidate per user of each kind (single access, pattern), then `per_day` users
    taken from the two lists in turn, strongest first (ties: user order).

    A person alerted in the last REALERT_DAYS days is alerted again for the same kind of evidence only
    when it is clearly stronger: a pattern's evidence at least doubled (a year's window grows a little every
    day: the same story re-told), a single access ten times rarer (REALERT_SHARPER). The budget goes to new
    people and new stories. The loop runs over days (hundreds).
    """
    cands = cands[cands["evidence"] >= MIN_EVIDENCE]
    if cands.empty or per_day <= 0:
        return cands.iloc[0:0]
    cands = cands.assign(kind=np.where(cands["window"].to_numpy() == "event", 0, 1))
    best = cands.sort_values(["day", "kind", "user", "evidence", "days"], ascending=[True, True, True, False, True],
                             kind="stable").drop_duplicates(["day", "kind", "user"], keep="first")
    ranked = best.sort_values(["day", "kind", "evidence", "user"], ascending=[True, True, False, True], kind="stable")
    person = pd.factorize(ranked["user"])[0]
    days, kinds, strength = (ranked[c].to_numpy() for c in ("day", "kind", "evidence"))
    last_day = np.full((person.max() + 1, 2), -10**9, dtype=np.int64)  # per person and kind: the last alert
    last_evidence = np.zeros((person.max() + 1, 2))
    pattern_of = np.full(person.max() + 1, -1, dtype=np.int64)  # today's open pattern row of each person
    bounds = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True])
    picked: list[int] = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):  # one pass per day (hundreds), each vectorised
        day, users, kind = days[lo], person[lo:hi], kinds[lo:hi]
        last = last_evidence[users, kind]
        grown = np.where(kind == 0, last + REALERT_SHARPER, 2.0 * last)
        open_ = lo + np.flatnonzero((day - last_day[users, kind] > REALERT_DAYS) | (strength[lo:hi] >= grown))
        # The list that goes first alternates by day, so a budget of one a day is shared, not taken by one kind.
        lists = [open_[kinds[open_] == k] for k in ((0, 1) if day % 2 == 0 else (1, 0))]
        patterns = open_[kinds[open_] == 1]
        pattern_of[person[patterns]] = patterns
        taken: set[int] = set()
        while len(taken) < per_day and any(len(x) for x in lists):
            for i, queue in enumerate(lists):
                while len(queue) and person[queue[0]] in taken:
                    queue = queue[1:]
                lists[i] = queue
                if len(queue) and len(taken) < per_day:
                    # One alert a person: a pattern, when there is one, tells the fuller story.
                    row = pattern_of[person[queue[0]]]
                    row = int(queue[0]) if row < 0 else int(row)
                    picked.append(row)
                    taken.add(int(person[queue[0]]))
                    last_day[person[row], kinds[row]], last_evidence[person[row], kinds[row]] = day, strength[row]
                    lists[i] = queue[1:]
        pattern_of[person[patterns]] = -1
    return ranked.iloc[picked].drop(columns="kind").reset_index(drop=True)
