"""build_features: a data set in, one row of documented numbers per event out (same order as the events).

Each feature is computed only when the tables and columns it needs are present; the others are listed in
`FeatureSet.dropped` with the reason, in the words of snoopwatch.dataset.capabilities.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from snoopwatch.dataset.capabilities import missing_reason
from snoopwatch.dataset.io import one_malloc_arena
from snoopwatch.dataset.model import Dataset
from snoopwatch.errors import DatasetError
from snoopwatch.features import activity, history, purpose, relation, timing
from snoopwatch.features._util import check_flag
from snoopwatch.features.context import build_context
from snoopwatch.features.registry import BY_NAME, FEATURES, FLAGS, describe_table

# Purpose first: history and the rest of activity reuse its "explained" result (and activity its
# requester codes). The crowd reads no other step and takes the other thread at once (it is as long as
# purpose); it also makes the part of history that reads no other step (the pair order and the unit peer
# days). Activity's temporaries are the largest, so history (the next largest) waits for it and runs
# beside relationship and time, which work in row blocks; measured at 10M events, this order finishes the
# steps about a second sooner than one with history alone at the end, at a lower peak.
_STEPS = (("purpose", purpose.compute), ("crowd", history.compute_crowd), ("activity", activity.compute),
          ("relationship", relation.compute), ("time", timing.compute),
          ("activity after purpose", activity.compute_after_purpose), ("history", history.compute))
_AFTER = {"activity after purpose": ("purpose",), "history": ("purpose", "crowd", "activity")}
# Steps run on this many threads: numpy's sorts, searches and gathers release the GIL, so independent
# steps overlap on a second core.
FEATURE_THREADS = min(2, os.cpu_count() or 1)
# Features that are only meaningful with the explanation computed by purpose.
_NEEDS_EXPLAINED = {"unexplained_rarity_role", "unexplained_rarity_user", "unexplained_lift_user"}


@dataclass
class FeatureSet:
    """The feature frame (one row per event, in the events' order; flags as uint8 0 or 1, every other
    feature float32) and its provenance."""

    frame: pd.DataFrame
    used: list[str]
    dropped: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)
    # Per event: the user's role ("" unknown), for role-relative judgements; a pandas Categorical (codes
    # and the role names, not a text per event), indexed like an array.
    roles: pd.Categorical | np.ndarray | None = None
    times: np.ndarray | None = None  # per event: its instant in seconds since 1970 (float64, NaN empty)

    def describe(self) -> str:
        """Markdown: the documented table of every feature, then what was dropped and why."""
        lines = [describe_table(), ""]
        lines += [f"- dropped `{name}`: {why}" for name, why in self.dropped.items()]
        return "\n".join(lines)


class _FeatureBlock:
    """The feature values of every event, column-major (each column contiguous while the steps fill it):
    flags (FLAGS, 0 or 1) one byte an event, every other feature a float32. Filled in place by the steps,
    so no second copy is ever held; made a frame without copying."""

    def __init__(self, n: int, used: list[str]):
        self.used = list(used)
        self.place = self._places(self.used)
        flags = sum(flag for flag, _ in self.place.values())
        self.numbers = np.zeros((n, len(self.used) - flags), dtype=np.float32, order="F")
        self.flags = np.zeros((n, flags), dtype=np.uint8, order="F")

    @staticmethod
    def _places(used: list[str]) -> dict[str, tuple[bool, int]]:
        """Per feature: (is a flag, its column among the flags or among the numbers)."""
        counters = {False: 0, True: 0}
        place = {}
        for name in used:
            flag = name in FLAGS
            place[name] = (flag, counters[flag])
            counters[flag] += 1
        return place

    def column(self, name: str) -> np.ndarray | None:
        """Feature `name`'s column (None when it was not asked for)."""
        if name not in self.place:
            return None
        flag, j = self.place[name]
        return self.flags[:, j] if flag else self.numbers[:, j]

    def store(self, name: str, values: np.ndarray) -> np.ndarray:
        """Feature `name`'s values into its column (unless a step wrote them there already); the column.
        A flag must be 0 or 1 (check_flag)."""
        column = self.column(name)
        if not np.may_share_memory(values, column):
            if column.dtype == np.uint8:
                check_flag(name, values)
            column[:] = values
        return column

    def take(self, rows: np.ndarray) -> None:
        """Reorder the events (rows: the old row of each new one)."""
        self.numbers, self.flags = self.numbers[rows], self.flags[rows]

    def keep(self, names: set[str]) -> None:
        """Keep only these features (in `used` order)."""
        kept = [name for name in self.used if name in names]
        self.numbers = self.numbers[:, [self.place[name][1] for name in kept if name not in FLAGS]]
        self.flags = self.flags[:, [self.place[name][1] for name in kept if name in FLAGS]]
        self.used, self.place = kept, self._places(kept)

    def frame(self, index: pd.Index) -> pd.DataFrame:
        """The features as a frame (columns in `used` order) over the block's own memory."""
        columns = {name: self.column(name) for name in self.used}
        return pd.DataFrame(columns, index=index, copy=False)


class _BlockColumns(dict):
    """A step's output mapping that stores each feature of the block straight into its column (and then
    holds the column itself), so a step never holds its outputs a second time; other entries (features
    computed along the way but not asked for) are kept as given."""

    def __init__(self, block: _FeatureBlock):
        super().__init__()
        self.block = block

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        if self.block.column(name) is not None:
            values = self.block.store(name, values)
        super().__setitem__(name, values)

    def column(self, name: str) -> np.ndarray | None:
        """The block's column for feature `name`, for a step to write its values into (None when the
        feature was not asked for): float32, or uint8 for a flag."""
        return self.block.column(name)


def _present(dataset: Dataset) -> dict[str, set[str]]:
    return dataset.present_columns()


def _satisfied(present: dict[str, set[str]], requirement: str) -> bool:
    return any(t in present and c in present[t] for t, c in (alt.split(".", 1) for alt in requirement.split("|")))


def allowed_features(dataset: Dataset) -> tuple[list[str], dict[str, str]]:
    """(feature names the data set allows, {dropped feature: why})."""
    present = _present(dataset)
    not_used = dataset.tables_not_used()
    used, dropped = [], {}
    for spec in FEATURES:
        missing = [r for r in spec.requirements if not _satisfied(present, r)]
        if missing:
            dropped[spec.name] = f"{spec.group}: " + missing_reason(missing, not_used)
        else:
            used.append(spec.name)
    return used, dropped


def build_features(dataset: Dataset, features: Sequence[str] | None = None,
                   progress: Callable[[str, int, int], None] | None = None) -> FeatureSet:
    """Compute the features of every event of `dataset`.

    features: compute only these (e.g. a trained model's list); a requested feature the data set cannot
    support is dropped with its reason. progress(description, done, total) is called between groups.
    """
    events = dataset.events
    if events is None:
        raise DatasetError("the data set has no events table; nothing to compute features for")
    used, dropped = allowed_features(dataset)
    if features is not None:
        unknown = [f for f in features if f not in BY_NAME]
        if unknown:
            raise DatasetError(f"unknown feature(s) {', '.join(unknown)}; this snoopwatch knows {len(BY_NAME)} features")
        used = [f for f in dict.fromkeys(features) if f in used]  # (each once)
        dropped = {f: why for f, why in dropped.items() if f in features}
    wanted = set(used)
    if not len(events):
        return FeatureSet(_FeatureBlock(0, used).frame(events.index), used, dropped,
                          roles=np.zeros(0, dtype=object), times=np.zeros(0))
    ctx = build_context(dataset)
    # One block (time order) filled as each group is computed, so no second copy is ever held.
    block = _FeatureBlock(ctx.n, used)
    produced: set[str] = set()
    timings: dict[str, float] = {}
    steps: dict[str, Future] = {}

    def run(name: str, compute: Callable) -> None:
        """One step: waits for the step it reads, then writes its own columns of the block."""
        for before in _AFTER.get(name, ()):
            steps[before].result()
        started = time.perf_counter()
        for feature, values in compute(ctx, wanted, _BlockColumns(block)).items():
            column = block.store(feature, values)  # (a step's shortcut may return arrays of its own)
            if column.dtype != np.uint8:
                # NaN and infinities read 0, column by column on the step's own thread (no step reads
                # another's columns from the block).
                column[~np.isfinite(column)] = 0.0
            produced.add(feature)
        timings[name] = time.perf_counter() - started

    # Submitted in _STEPS order, so a step's prerequisites are always taken by a thread before it.
    one_malloc_arena()
    with ThreadPoolExecutor(FEATURE_THREADS) as pool:
        for name, compute in _STEPS:
            steps[name] = pool.submit(run, name, compute)
        names = {future: name for name, future in steps.items()}
        for done, future in enumerate(as_completed(names)):
            future.result()  # a step's error is raised here
            if progress:
                progress(f"features: {names[future]}", done + 1, len(_STEPS))
    missing = [name for name in used if name not in produced]
    for name in missing:
        reason = ("needs the case explanation (case_staff and case_subjects)" if name in _NEEDS_EXPLAINED
                  else "the tables it needs hold no usable values")
        dropped[name] = f"{BY_NAME[name].group}: {reason}"
    if missing:
        block.keep(produced)
        used = block.used
    identity = ctx.in_order  # the loader sorts by time already
    role_names = [str(name) for name in ctx.roles] + [""]
    if len(set(role_names)) == len(role_names):  # (a category per role: no text per event)
        roles = pd.Categorical.from_codes(ctx.role, categories=role_names)
    else:  # roles whose text coincides (e.g. 1 and "1" in a hand-made table): text per event
        roles = np.array(role_names, dtype=object)[ctx.role]
    times = ctx.t
    if not identity:  # back to the events' own row order
        inverse = np.empty_like(ctx.order)
        inverse[ctx.order] = np.arange(len(ctx.order))
        block.take(inverse)
        roles, times = roles[inverse], times[inverse]
    frame = block.frame(events.index)
    return FeatureSet(frame, used, dropped, timings, roles, times)
