"""The shared inputs of every feature function: events in time order as integer codes, plus lookups.

Built once per call of build_features. Ids (users, subjects, cases, units, roles) become int32 codes
into one index per kind, so the feature functions join tables with numpy arrays instead of strings.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from snoopwatch.dataset.io import strictly_ascending_text
from snoopwatch.dataset.model import Dataset
from snoopwatch.features._util import DAY, EarlierRows, codes, make_index, postcode_sector, seconds


def _col(frame: pd.DataFrame | None, column: str) -> pd.Series | None:
    if frame is None or column not in frame.columns:
        return None
    values = frame[column]
    return values if values.notna().any() else None


@dataclass
class Context:
    """Events (sorted by time) and the context tables as codes. `order` maps sorted rows to input rows."""

    dataset: Dataset
    order: np.ndarray
    n: int
    t: np.ndarray
    day: np.ndarray
    users: pd.Index
    user: np.ndarray
    subjects: pd.Index
    subject: np.ndarray
    cases: pd.Index
    case: np.ndarray
    roles: pd.Index
    role_of_user: np.ndarray
    role: np.ndarray
    units: pd.Index
    unit_of_user: np.ndarray
    unit: np.ndarray
    in_order: bool = False  # the events are already in time order (the loader sorts them): no reordering copy
    cache: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # feature steps run on threads


    def event_column(self, name: str) -> pd.Series | None:
        """An events column in time order (None when absent or empty)."""
        values = _col(self.dataset.events, name)
        if values is None:
            return None
        return values if self.in_order else values.iloc[self.order]

    def earlier(self, name: str) -> EarlierRows:
        """Events grouped by the user ("user") or the user's role ("role") for counts and sums over earlier
        events; built once and shared, because a dozen features count over these two keys."""
        key = f"earlier_{name}"
        with self.lock:  # two steps asking at once build it once
            if key not in self.cache:
                codes_of = {"user": self.user, "role": self.role}[name]
                self.cache[key] = EarlierRows(codes_of.astype(np.int64))
        return self.cache[key]

    def table_column(self, table: str, column: str) -> pd.Series | None:
        return _col(self.dataset.tables.get(table), column)

    def user_codes(self, table: str, column: str = "user_id") -> np.ndarray:
        return codes(self.table_column(table, column), self.users, len(self.dataset.tables.get(table, [])))

    def subject_codes(self, table: str, column: str = "subject_id") -> np.ndarray:
        return codes(self.table_column(table, column), self.subjects, len(self.dataset.tables.get(table, [])))

    def case_codes(self, table: str, column: str = "case_ref") -> np.ndarray:
        return codes(self.table_column(table, column), self.cases, len(self.dataset.tables.get(table, [])))

    def staff_attribute(self, column: str, index: pd.Index) -> np.ndarray:
        """Per user code: the code of a staff attribute in `index` (-1 unknown)."""
        out = np.full(len(self.users), -1, dtype=np.int32)
        values = self.table_column("staff", column)
        if values is None:
            return out
        who = self.user_codes("staff")
        out[who[who >= 0]] = codes(values, index)[who >= 0]
        return out

    def sectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Per user code and per subject code: postcode sector code (-1 unknown), sharing one index."""
        staff_sector = postcode_sector(self.table_column("staff", "home_postcode"))
        subj_sector = postcode_sector(self.table_column("subjects", "postcode"))
        index = make_index(staff_sector, subj_sector)
        user_out = np.full(len(self.users), -1, dtype=np.int32)
        subj_out = np.full(len(self.subjects), -1, dtype=np.int32)
        if staff_sector is not None:
            who = self.user_codes("staff")
            user_out[who[who >= 0]] = codes(staff_sector, index)[who >= 0]
        if subj_sector is not None:
            which = self.subject_codes("subjects")
            subj_out[which[which >= 0]] = codes(subj_sector, index)[which >= 0]
        return user_out, subj_out


def _ascending_within_ties(ids: pd.Series, rows: np.ndarray, times: np.ndarray) -> bool:
    """True when the tied rows (in time order, `times` theirs) already have strictly ascending ids within
    each instant, so ordering ties by id changes nothing: one vectorised comparison of neighbours in
    Arrow (UTF-8 order is code point order, as numpy's text sort) instead of text for every tied row."""
    if not isinstance(ids.dtype, pd.StringDtype):
        return False
    taken = ids.iloc[rows]  # (once: at 10M events, a few million tied rows)
    if taken.isna().any():
        return False
    tied = pa.array(taken.array)
    same_instant = times[1:] == times[:-1]
    ascending = pc.greater(tied[1:], tied[:-1]).to_numpy(zero_copy_only=False)
    return bool(np.all(ascending | ~same_instant))


def _coded(events: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> tuple:
    """The id indexes (users, subjects, cases, roles, units) and the events' user, subject and case codes,
    for the events in the row order given."""

    def c(table: str, column: str) -> pd.Series | None:
        return _col(tables.get(table), column)

    users = make_index(events["user_id"], c("events", "requested_by"), c("staff", "user_id"),
                       c("case_staff", "user_id"), c("rosters", "user_id"), c("associations", "user_id"))
    subjects = make_index(c("events", "subject_id"), c("subjects", "subject_id"), c("staff", "subject_id"),
                          c("case_subjects", "subject_id"), c("associations", "subject_id"))
    cases = make_index(c("events", "case_ref"), c("cases", "case_ref"), c("case_subjects", "case_ref"),
                       c("case_staff", "case_ref"))
    roles = make_index(c("staff", "role"))
    units = make_index(c("staff", "unit"), c("cases", "unit"))
    n = len(events)
    return (users, subjects, cases, roles, units, codes(events["user_id"], users),
            codes(_col(events, "subject_id"), subjects, n), codes(_col(events, "case_ref"), cases, n))


def _is_identity(order: np.ndarray) -> bool:
    """True when order is 0, 1, 2, ...: compared a block at a time (no event-sized range is made)."""
    block = 1 << 16
    return all(np.array_equal(order[start:start + block], np.arange(start, min(start + block, len(order))))
               for start in range(0, len(order), block))


def _days_of(t: np.ndarray) -> np.ndarray:
    """UTC day numbers (days since 1970-01-01, int64) of instants in seconds, with one temporary."""
    days = t / DAY
    np.floor(days, out=days)
    return days.astype(np.int64)


def build_context(dataset: Dataset) -> Context:
    """Codes and time arrays for the events of `dataset`, sorted by time (stable)."""
    events = dataset.events
    tables = dataset.tables
    with ThreadPoolExecutor(1) as pool:
        # The loader sorts events by time already, so the codes of the rows as they come are those of the
        # time order: they are made on a second thread while the order is found (made again, in order,
        # in the rare case the rows were not in time order).
        as_they_come = pool.submit(_coded, events, tables)
        t_raw = seconds(events["timestamp"])
        order = np.argsort(t_raw, kind="stable")
        # Events at the same instant are ordered by event_id, so features never depend on row order.
        sorted_t = t_raw[order]
        tied = np.zeros(len(order), dtype=bool)
        if len(order) > 1:
            same = sorted_t[1:] == sorted_t[:-1]
            tied[1:] |= same
            tied[:-1] |= same
        # Rows already in time order whose ids ascend down the table (the loader's usual result) have
        # their ties in id order: one comparison of neighbours, no text taken for the tied rows.
        if tied.any() and "event_id" in events.columns and not (
                _is_identity(order) and strictly_ascending_text(events["event_id"])):
            positions = np.flatnonzero(tied)
            rows = order[positions]
            if not _ascending_within_ties(events["event_id"], rows, sorted_t[positions]):
                ids = events["event_id"].iloc[rows].to_numpy().astype(str)  # text for the tied rows only
                order[positions] = rows[np.lexsort((ids, sorted_t[positions]))]
        del sorted_t, tied
        # Then the table is used as it is, not copied in order.
        in_order = _is_identity(order)
        coded = as_they_come.result()
    ev = events if in_order else events.iloc[order]
    users, subjects, cases, roles, units, user, subject, case = coded if in_order else _coded(ev, tables)
    n = len(ev)
    t = t_raw if in_order else t_raw[order]  # (no copy of the times already in order)
    ctx = Context(
        dataset=dataset, order=order, n=n, t=t, day=_days_of(t),
        users=users, user=user, subjects=subjects, subject=subject, cases=cases, case=case,
        roles=roles, role_of_user=np.empty(0, np.int32), role=np.empty(0, np.int32),
        units=units, unit_of_user=np.empty(0, np.int32), unit=np.empty(0, np.int32), in_order=in_order,
    )
    ctx.role_of_user = ctx.staff_attribute("role", roles)
    # Users without a known role form one extra "role" (everyone unknown), so role statistics stay defined.
    ctx.role_of_user[ctx.role_of_user < 0] = len(roles)
    ctx.role = ctx.role_of_user[ctx.user]
    ctx.unit_of_user = ctx.staff_attribute("unit", units)
    ctx.unit = ctx.unit_of_user[ctx.user]
    return ctx
