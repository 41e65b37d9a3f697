"""SnoopwatchForest: an isolation forest that can only be surprised in the suspicious direction.

Follows scikit-learn's estimator contract: __init__ stores keyword parameters, fit validates and returns
self, learned state ends in "_", one random_state. score_samples is higher = more suspicious; the sign of
IsolationForest's score is flipped in exactly one place (`score_samples` below).

Why "directed": an isolation forest flags whatever is rare, including accesses that are unusually WELL
explained. Each feature has a risk direction (snoopwatch.features.registry); before the forest sees a
feature it is turned so that higher = more suspicious and floored at its training median, so only
deviations toward "less explained" can isolate a point. The same directed values give per-feature tail
surprises (-log10 of the share of training events at least as extreme), which become the reasons.

Fitting: isolation trees are built on a random sample (`fit_rows`, then `max_samples` per tree), which
keeps training on tens of millions of events to seconds.

Scoring walks the fitted scikit-learn trees directly (`_isolation_scores`): the same tree.apply and the
same per-leaf path lengths as IsolationForest.score_samples, added in the same order, so the scores are
identical to the last bit; it skips scikit-learn's second validation and copy of the matrix, and walks
the rows in blocks small enough to stay in the CPU cache while every tree visits them. `block_surprises`
gives a block's score surprise and feature surprises from one directed copy of the block.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

try:  # the fitted forest's own path-length tables (scikit-learn >= 1.4); without them, its score_samples
    from sklearn.ensemble._iforest import _average_path_length
except ImportError:  # pragma: no cover - other scikit-learn versions
    _average_path_length = None
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(estimator, X, reset=True, **kwargs):
        return estimator._validate_data(X, reset=reset, **kwargs)

TAIL_GRID = 160  # tail probabilities per feature kept for surprises (log-spaced down to 1 / rows)
MIN_GROUP_ROWS = 200  # a group (role) needs this many sampled rows for its own tables (fewer rows cap the surprise it can show)
EXTRA_DECADES = 6.0  # at most this many decades of extrapolation beyond the training maximum
SCORE_BLOCK_ROWS = 32_768  # rows per tree walk: the block's features stay in the CPU cache across the trees
SCORE_THREADS = min(2, os.cpu_count() or 1)  # blocks scored in parallel (tree.apply releases the GIL)
SURPRISE_MARGIN = 1e-6  # block_surprises(least=...) judges every row whose surprise may be this close under least


def _tail_table(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(levels ascending, log10 P(X >= level)) from a sample, exact at every stored level."""
    ordered = np.sort(values)
    m = len(ordered)
    tails = np.logspace(0, -np.log10(m), TAIL_GRID)
    positions = np.clip(m - np.ceil(tails * m).astype(np.int64), 0, m - 1)
    levels = np.unique(ordered[positions])
    at_least = m - np.searchsorted(ordered, levels, side="left")
    return levels, np.log10(at_least / m)


def _tail_lookup(x: np.ndarray, levels: np.ndarray, log_p: np.ndarray, rows: int,
                 extrapolate: bool = False) -> np.ndarray:
    """-log10 P(X >= x) by the table: exact at levels, interpolated between, 0 below the lowest level,
    -log10(0.5 / rows) beyond the highest training value.

    extrapolate: beyond the highest training value, extend the tail log-linearly (the slope of the last
    decade of the table), so scores never seen in training keep their order instead of tying at the top.
    """
    keep = ~np.isnan(levels)
    levels, log_p = levels[keep], log_p[keep]
    top = np.log10(0.5 / rows)
    value = -np.interp(x, levels, log_p, left=0.0, right=top)
    decade = np.flatnonzero(log_p >= log_p[-1] + 1.0) if extrapolate else ()
    if len(decade):
        spread = levels[-1] - levels[decade[-1]]
        if spread > 0:
            beyond = x > levels[-1]
            value = np.where(beyond, value + np.minimum((x - levels[-1]) / spread, EXTRA_DECADES), value)
    return value


@dataclass(frozen=True)
class SurpriseTables:
    """What judging feature surprises from `least` on needs, made once for many blocks (see
    SnoopwatchForest.surprise_tables): per group table and feature, the directed value a row must exceed to
    be judged, and the tail table with the surprise of the floor that every surprise is measured from."""

    judged_above: np.ndarray  # (group tables, features)
    tails: list[list[tuple[np.ndarray, np.ndarray, int, float]]]  # [table][feature]: (levels, log_p, rows, floor's)


def sample_positions(rng, n: int, limit: int) -> np.ndarray:
    """Ascending positions of `limit` rows drawn from n without replacement by rng (all n when no more)."""
    return np.sort(rng.choice(n, limit, replace=False)) if limit < n else np.arange(n)


def _run(task, items, parallel: bool = True) -> None:
    """task(item) for every item, on SCORE_THREADS threads when there is more than one item (the tasks
    write disjoint parts of their output, and numpy and tree.apply release the GIL while they work)."""
    if parallel and SCORE_THREADS > 1 and len(items) > 1:
        with ThreadPoolExecutor(SCORE_THREADS) as pool:
            list(pool.map(task, items))
    else:
        for item in items:
            task(item)


def _walkable(forest: IsolationForest) -> bool:
    """True when the fitted forest has the per-node tables _isolation_scores reads (private in scikit-learn)."""
    return _average_path_length is not None and all(
        hasattr(forest, name) for name in ("_decision_path_lengths", "_average_path_length_per_tree",
                                           "_max_features", "_max_samples", "estimators_features_"))


def _leaf_path_lengths(forest: IsolationForest) -> list[np.ndarray]:
    """Per tree and node: the path length IsolationForest.score_samples adds for a row ending there (node
    depth + average path length of the node's training rows - 1), computed as scikit-learn computes it."""
    return [depths + average - 1.0 for depths, average in
            zip(forest._decision_path_lengths, forest._average_path_length_per_tree, strict=True)]


def _isolation_scores(forest: IsolationForest, X: np.ndarray, parallel: bool = True) -> np.ndarray:
    """IsolationForest.score_samples(X) without the minus sign, bit for bit, for a validated float32 matrix.

    Per block of SCORE_BLOCK_ROWS rows, every tree finds each row's leaf (tree.apply) and the leaf's path
    length is added to the row's total in tree order, as scikit-learn adds them; then the same
    normalisation 2 ** (-total / (trees x average path length of max_samples)). X is walked in its own
    memory order (tree.apply reads strided rows; a column-major block is as fast as a row-major copy).
    parallel: walk the blocks on SCORE_THREADS threads (False when the caller runs blocks in parallel).
    """
    X = np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    lengths = _leaf_path_lengths(forest)
    subsample = forest._max_features != X.shape[1]
    depths = np.zeros(n, dtype=np.float64)

    def walk(start: int) -> None:
        block = X[start:start + SCORE_BLOCK_ROWS]
        total = depths[start:start + SCORE_BLOCK_ROWS]  # each block owns its rows: no lock needed
        for tree, features, length in zip(forest.estimators_, forest.estimators_features_, lengths, strict=True):
            leaves = tree.apply(block[:, features] if subsample else block, check_input=False)
            total += length[leaves]

    _run(walk, range(0, n, SCORE_BLOCK_ROWS), parallel)
    denominator = len(forest.estimators_) * _average_path_length([forest._max_samples])
    return 2 ** (-np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0))


class SnoopwatchForest(BaseEstimator):
    """Isolation forest on directed, median-floored features; higher score = more suspicious.

    Feature surprises (for evidence and reasons) can be judged per group, e.g. per role: repeat look-ups
    without a case are ordinary for a PNC operator and rare for a detective.

    directions: one of -1, 0, +1 per feature (see snoopwatch.features.registry); None = all 0 (plain
    isolation forest on the raw features). fit_rows: rows sampled to grow the trees (and to calibrate).
    """

    def __init__(self, n_estimators: int = 50, max_samples: int = 256, max_features: float = 1.0,
                 fit_rows: int = 200_000, directions=None, random_state=None):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.fit_rows = fit_rows
        self.directions = directions
        self.random_state = random_state

    def _signs(self, n_features: int) -> np.ndarray:
        if self.directions is None:
            return np.zeros(n_features, dtype=np.float32)
        signs = np.asarray(self.directions, dtype=np.float32)
        if signs.shape != (n_features,) or not np.isin(signs, (-1, 0, 1)).all():
            raise ValueError(f"directions must hold -1, 0 or +1 for each of the {n_features} features")
        return signs

    def _directed(self, X: np.ndarray) -> np.ndarray:
        """Features turned so that higher = more suspicious, floored at the training median (one new array)."""
        signs = np.where(self.signs_ == 0, 1.0, self.signs_).astype(np.float32)
        directed = np.multiply(X, signs, dtype=np.float32)
        return np.maximum(directed, self.floor_, out=directed)

    def fit(self, X, y=None, groups=None):
        """Fit on X (rows x features). groups: optional label per row (the user's role); feature surprises
        are then judged against the row's own group when it has at least MIN_GROUP_ROWS sampled rows."""
        X = _validate_data(self, X, dtype=np.float32, reset=True)
        return self._fit_sampled(X.shape[0], lambda pick: X[pick], groups)

    def fit_frame(self, frame: pd.DataFrame, groups=None):
        """fit(frame.to_numpy(np.float32), groups=groups), the same forest, without making the whole frame
        a matrix: only the rows sampled to grow the trees are read and validated (train's path, where
        build_features has made every value finite and flags are bytes). Column names are not kept, as
        with the matrix."""
        return self._fit_sampled(len(frame), lambda pick: _validate_data(
            self, frame.iloc[pick].to_numpy(np.float32), dtype=np.float32, reset=True), groups)

    def _fit_sampled(self, n_rows: int, rows_of, groups):
        """The fit, reading the sampled rows as rows_of(positions) (a validated float32 matrix)."""
        if n_rows < 2:
            raise ValueError("SnoopwatchForest needs at least 2 rows to fit")
        if groups is not None and len(groups) != n_rows:
            raise ValueError(f"groups has {len(groups)} labels for {n_rows} rows")
        rng = check_random_state(self.random_state)
        pick = sample_positions(rng, n_rows, self.fit_rows)
        rows = len(pick)
        sample = rows_of(pick)
        self.signs_ = self._signs(sample.shape[1])
        signs = np.where(self.signs_ == 0, 1.0, self.signs_).astype(np.float32)
        directed = sample * signs
        self.floor_ = np.where(self.signs_ != 0, np.median(directed, axis=0), -np.inf).astype(np.float32)
        directed = np.maximum(directed, self.floor_)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators, max_samples=min(self.max_samples, rows),
            max_features=self.max_features, random_state=rng.randint(np.iinfo(np.int32).max),
        ).fit(directed)
        self.calibration_rows_ = rows
        labels = np.asarray(groups, dtype=object)[pick].astype(str) if groups is not None else np.full(rows, "")
        names, counts = np.unique(labels, return_counts=True)
        self.groups_ = [str(g) for g, c in zip(names, counts, strict=True) if g and c >= MIN_GROUP_ROWS]
        tables = [np.ones(rows, dtype=bool)] + [labels == g for g in self.groups_]
        self.group_rows_ = np.array([int(m.sum()) for m in tables], dtype=np.int64)
        self.feature_levels_ = np.full((len(tables), sample.shape[1], TAIL_GRID), np.nan)
        self.feature_log_p_ = np.full((len(tables), sample.shape[1], TAIL_GRID), np.nan)
        for t, mask in enumerate(tables):
            for k in range(sample.shape[1]):
                levels, log_p = _tail_table(directed[mask, k].astype(np.float64))
                self.feature_levels_[t, k, : len(levels)] = levels
                self.feature_log_p_[t, k, : len(levels)] = log_p
        raw = self._forest_scores(self._directed(sample)).astype(np.float64)  # (sample: validated already)
        self.score_levels_ = np.full((len(tables), TAIL_GRID), np.nan)
        self.score_log_p_ = np.full((len(tables), TAIL_GRID), np.nan)
        for t, mask in enumerate(tables):
            levels, log_p = _tail_table(raw[mask])
            self.score_levels_[t, : len(levels)] = levels
            self.score_log_p_[t, : len(levels)] = log_p
        return self

    def _tables_for(self, n: int, groups) -> np.ndarray:
        """Per row: which calibration table judges it (0 = everyone, else its group's)."""
        table = np.zeros(n, dtype=np.int64)
        if groups is not None and self.groups_ and n:
            index = {g: i + 1 for i, g in enumerate(self.groups_)}
            if isinstance(groups, pd.Categorical):  # (FeatureSet.roles: its codes, no text hashed per row)
                inverse, names = groups.codes, groups.categories
            else:
                inverse, names = pd.factorize(np.asarray(groups, dtype=object))
            table = np.array([index.get(str(g), 0) for g in names] + [0], dtype=np.int64)[inverse]
        return table

    def score_samples(self, X) -> np.ndarray:
        """Anomaly score per row: higher = more suspicious (IsolationForest's sign flipped here only)."""
        check_is_fitted(self, "forest_")
        X = _validate_data(self, X, dtype=np.float32, reset=False)
        return self._forest_scores(self._directed(X))

    def _forest_scores(self, directed: np.ndarray, parallel: bool = True) -> np.ndarray:
        if not _walkable(self.forest_):  # a scikit-learn without the tables the walk reads: its own scoring
            return -self.forest_.score_samples(directed)
        return _isolation_scores(self.forest_, directed, parallel)

    def score_surprise(self, scores: np.ndarray, groups=None) -> np.ndarray:
        """-log10 of the share of training rows (of the row's group, when known) scoring at least as high:
        0 = ordinary, 6 = one in a million."""
        check_is_fitted(self, "forest_")
        scores = np.asarray(scores, np.float64)
        return self._score_surprise(scores, self._tables_for(len(scores), groups))

    def _score_surprise(self, scores: np.ndarray, table: np.ndarray) -> np.ndarray:
        out = np.zeros(len(scores))
        for t in np.unique(table):
            rows = table == t
            out[rows] = _tail_lookup(scores[rows], self.score_levels_[t], self.score_log_p_[t],
                                     int(self.group_rows_[t]), extrapolate=True)
        return out

    def feature_surprise(self, X, groups=None) -> np.ndarray:
        """Per row and feature: -log10 of the share of training rows (of the row's group, when known) at
        least as extreme in the suspicious direction, minus that of the median (0 = not unusual)."""
        check_is_fitted(self, "forest_")
        X = _validate_data(self, X, dtype=np.float32, reset=False)
        return self._feature_surprise(self._directed(X), self._tables_for(X.shape[0], groups), self.surprise_tables())

    def block_surprises(self, X, groups=None, least: float = 0.0, parallel: bool = True,
                        prepared: SurpriseTables | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(score_surprise(score_samples(X), groups), feature_surprise(X, groups)) from one validation,
        one directed copy of X and one look-up of the rows' groups: what scoring a block of events needs.

        least: feature surprises under it may read 0 (every surprise at or above it is exact). Rows whose
        value cannot reach it are not judged: with least = 1, most rows of most features. parallel: use
        SCORE_THREADS threads within the block (False when the caller scores several blocks at once).
        prepared: surprise_tables(least), when many blocks are judged (made here otherwise).
        """
        check_is_fitted(self, "forest_")
        X = _validate_data(self, X, dtype=np.float32, reset=False)
        directed = self._directed(X)
        table = self._tables_for(X.shape[0], groups)
        return (self._score_surprise(self._forest_scores(directed, parallel), table),
                self._feature_surprise(directed, table, prepared or self.surprise_tables(least), parallel))

    def surprise_tables(self, least: float = 0.0) -> SurpriseTables:
        """The tables block_surprises(least=least) judges feature surprises with, computed once: per group
        table and feature, the tail table without its unused slots and the surprise of the floor."""
        check_is_fitted(self, "forest_")
        tails = []
        for t in range(len(self.group_rows_)):
            m = int(self.group_rows_[t])
            row = []
            for k, floor in enumerate(self.floor_):
                keep = ~np.isnan(self.feature_levels_[t, k])
                levels, log_p = self.feature_levels_[t, k][keep], self.feature_log_p_[t, k][keep]
                base = _tail_lookup(np.array([floor], np.float64), levels, log_p, m)[0] if np.isfinite(floor) else 0.0
                row.append((levels, log_p, m, base))
            tails.append(row)
        return SurpriseTables(self._judged_above(least), tails)

    def _judged_above(self, least: float) -> np.ndarray:
        """Per group table and feature: the directed value at or below which a row's surprise is 0 (the
        floor) or, with least > 0, surely under `least`: the highest tabulated level whose tail surprise,
        median not subtracted, is under least - SURPRISE_MARGIN (surprises never fall as values rise)."""
        floor = np.where(np.isfinite(self.floor_), self.floor_, -np.inf).astype(np.float64)
        cut = np.broadcast_to(floor, self.feature_levels_.shape[:2]).copy()
        if least > 0:
            under = (-self.feature_log_p_ < least - SURPRISE_MARGIN).sum(axis=2)  # a prefix of each table's levels
            level = np.take_along_axis(self.feature_levels_, np.maximum(under - 1, 0)[..., None], axis=2)[..., 0]
            cut = np.maximum(cut, np.where(under > 0, level, -np.inf))
        return cut

    def _feature_surprise(self, directed: np.ndarray, table: np.ndarray, prepared: SurpriseTables,
                          parallel: bool = True) -> np.ndarray:
        # Feature-major (one contiguous row per feature): each feature's values are read in one sweep
        # (no copy when the rows come column-major, as feature frames do).
        directed = np.ascontiguousarray(directed.T)
        out = np.zeros(directed.shape, dtype=np.float32)
        judged_above = prepared.judged_above

        def judge(k: int) -> None:  # one feature: writes its own row of `out` only
            column, cut = directed[k], judged_above[:, k]
            # Rows at the floor (most rows, for most features) are not unusual by definition, nor, when
            # only surprises from `least` on are asked for, rows that cannot reach it: skip them.
            if (cut == cut[0]).all():
                above = np.flatnonzero(column > cut[0]) if np.isfinite(cut[0]) else np.arange(len(column))
            else:
                above = np.flatnonzero(column > cut[table])
            if not len(above):
                return
            values, tables = column[above].astype(np.float64), table[above]
            # The rows of each group table together (a dozen roles): one look-up per table, not per row.
            by_table = np.argsort(tables.astype(np.uint16) if len(self.group_rows_) <= 1 << 16 else tables, kind="stable")
            counts = np.bincount(tables, minlength=len(self.group_rows_))
            ends = np.cumsum(counts)
            for t in np.flatnonzero(counts):
                rows = by_table[ends[t] - counts[t]:ends[t]]
                levels, log_p, m, base = prepared.tails[t][k]
                out[k, above[rows]] = np.maximum(_tail_lookup(values[rows], levels, log_p, m) - base, 0.0)

        _run(judge, range(directed.shape[0]), parallel=parallel and directed.shape[1] >= SCORE_BLOCK_ROWS)
        return out.T  # rows x features (a transposed view: no copy)
