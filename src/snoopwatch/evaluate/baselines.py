"""Detectors compared by `snoopwatch evaluate`, each behind one small adapter.

An adapter has `fit(history)` (a Dataset with events before the split and no answer key) and
`score(dataset, since)` -> DataFrame[event_id, score] for every event at or after `since` (higher = more
suspicious). Adapters never receive labels: the runner hands them `Dataset.without_answer_key()`.
After `score`, `alerts` holds how many alerts the detector raised, or None when it only ranks events, and
`alert_event_ids` the ids of the events those alerts cite (None without alerts).

Detectors:
- `snoopwatch`: the project's detector (snoopwatch.detect.train / detect).
- `rules`: the classic audit rules on snoopwatch's feature columns (snoopwatch.features.rule_flags over the
  columns named in RULE_COLUMNS): no case link, surname match or self, near home, off roster, vip or
  colleague subject; score = rules hit plus a seeded tie-break below 0.001.
- `counts-iforest`: Tuor-style per-user-day counts from `events` alone with an IsolationForest; every event
  of a user-day gets that day's score.
- `random`: seeded uniform scores (the floor).
- `lof`: LocalOutlierFactor(novelty=True) on snoopwatch's features (standardised, fitted on a sample).
- `ecod`, `hbos`: pyod detectors on snoopwatch's features (optional extra `pyod`).
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from snoopwatch.dataset import Dataset

LOCAL_TIMEZONE = "Europe/London"
WORK_START_HOUR, WORK_END_HOUR = 7, 19
FIT_SAMPLE = {"lof": 10_000, "ecod": 50_000, "hbos": 200_000}


def scored_mask(events: pd.DataFrame, since: pd.Timestamp) -> np.ndarray:
    """Events at or after the split: the ones every detector must score."""
    return (events["timestamp"] >= since).to_numpy()


def _score_frame(events: pd.DataFrame, mask: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"event_id": events["event_id"].to_numpy(dtype=object)[mask],
                         "score": np.asarray(scores, dtype=float)})


@dataclass
class FeatureCache:
    """snoopwatch feature frames computed once per data set and shared by the detectors that use them."""

    frames: dict[int, tuple[Dataset, pd.DataFrame]] = field(default_factory=dict)

    def keep_only(self, *datasets: Dataset) -> None:
        """Forget the frames of every other data set (walk-forward: a finished step's)."""
        kept = {id(d) for d in datasets}
        self.frames = {key: value for key, value in self.frames.items() if key in kept}

    def features(self, dataset: Dataset) -> pd.DataFrame:
        key = id(dataset)  # the data set is kept alongside, so its id cannot be reused while cached
        if key not in self.frames:
            from snoopwatch.features import build_features

            fs = build_features(dataset)
            self.frames[key] = (dataset, fs.frame[list(fs.used)].astype(float))
        return self.frames[key][1]


class Adapter(ABC):
    """Base class: a named detector with fit/score and an optional alert count."""

    name = "base"

    def __init__(self, seed: int = 0, budget: float = 10.0, cache: FeatureCache | None = None) -> None:
        self.seed = seed
        self.budget = budget
        self.cache = cache or FeatureCache()
        self.alerts: int | None = None
        self.alert_event_ids: set[str] | None = None

    @abstractmethod
    def fit(self, history: Dataset) -> None:
        """Learn from the events before the split (no answer key)."""

    @abstractmethod
    def score(self, dataset: Dataset, since: pd.Timestamp) -> pd.DataFrame:
        """DataFrame[event_id, score] for every event at or after `since`, higher = more suspicious."""


class RandomDetector(Adapter):
    """Uniform random scores from a seeded generator: what a budget catches by chance."""

    name = "random"

    def fit(self, history: Dataset) -> None:
        return None

    def score(self, dataset: Dataset, since: pd.Timestamp) -> pd.DataFrame:
        events = dataset.events
        mask = scored_mask(events, since)
        rng = np.random.default_rng(self.seed)
        return _score_frame(events, mask, rng.random(int(mask.sum())))


# ---------------------------------------------------------------------------------------------- counts
COUNT_COLUMNS = ("events", "subjects", "search", "view", "export", "update", "other_action",
                 "off_hours", "query_types", "no_case_ref", "workstations")


def user_day_counts(events: pd.DataFrame, timezone: str = LOCAL_TIMEZONE) -> tuple[pd.DataFrame, np.ndarray]:
    """Per user and UTC day: counts of events, distinct subjects, each core action, off-hours events
    (local time outside 07:00-19:00), distinct query types, events without a case reference, distinct
    workstations. Missing optional columns count as zero. Returns (counts, user-day row of each event)."""
    n = len(events)
    user = pd.Categorical(events["user_id"].astype(object)).codes.astype(np.int64)
    day = np.floor_divide(events["timestamp"].astype("datetime64[ns, UTC]").astype("int64").to_numpy(), 86_400 * 10**9)
    key = pd.MultiIndex.from_arrays([user, day])
    row, uniques = pd.factorize(key)
    action = events["action"].astype(object).astype(str).str.lower().to_numpy()
    local_hour = events["timestamp"].dt.tz_convert(timezone).dt.hour.to_numpy()
    parts = {
        "events": np.ones(n),
        "search": action == "search",
        "view": action == "view",
        "export": action == "export",
        "update": action == "update",
        "off_hours": (local_hour < WORK_START_HOUR) | (local_hour >= WORK_END_HOUR),
    }
    parts["other_action"] = ~(parts["search"] | parts["view"] | parts["export"] | parts["update"])
    if "case_ref" in events.columns:
        parts["no_case_ref"] = events["case_ref"].isna().to_numpy()
    else:
        parts["no_case_ref"] = np.ones(n, dtype=bool)
    frame = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in parts.items()})
    frame["row"] = row
    counts = frame.groupby("row", sort=True).sum()
    for column, name in (("subject_id", "subjects"), ("query_type", "query_types"), ("workstation", "workstations")):
        if column in events.columns:
            values = pd.Series(pd.Categorical(events[column].astype(object)).codes)
            distinct = pd.DataFrame({"row": row, "v": values.where(values >= 0)}).groupby("row", sort=True)["v"].nunique()
            counts[name] = distinct.to_numpy(dtype=float)
        else:
            counts[name] = 0.0
    return counts[list(COUNT_COLUMNS)], row


class CountsIForest(Adapter):
    """Tuor et al.'s baseline: per-user-day activity counts (events only) scored by an IsolationForest."""

    name = "counts-iforest"

    def fit(self, history: Dataset) -> None:
        from sklearn.ensemble import IsolationForest

        counts, _ = user_day_counts(history.events)
        self.forest_ = IsolationForest(n_estimators=200, random_state=self.seed).fit(np.log1p(counts.to_numpy()))

    def score(self, dataset: Dataset, since: pd.Timestamp) -> pd.DataFrame:
        events = dataset.events
        mask = scored_mask(events, since)
        period = events[mask]
        counts, row = user_day_counts(period)
        day_scores = -self.forest_.score_samples(np.log1p(counts.to_numpy()))
        return _score_frame(events, mask, day_scores[row])


# ---------------------------------------------------------------------------------------------- rules
class RulesOnly(Adapter):
    """The classic audit rules, no learning: score = rules hit + a seeded tie-break in [0, 0.001)."""

    name = "rules"

    def fit(self, history: Dataset) -> None:
        return None

    def score(self, dataset: Dataset, since: pd.Timestamp) -> pd.DataFrame:
        events = dataset.events
        mask = scored_mask(events, since)
        from snoopwatch.features import rule_flags

        hits = rule_flags(self.cache.features(dataset)[mask])
        rng = np.random.default_rng(self.seed)
        score = hits.sum(axis=1).to_numpy(dtype=float) + rng.random(int(mask.sum())) * 1e-3
        return _score_frame(events, mask, score)


# ---------------------------------------------------------------------------------------------- feature detectors
class FeatureDetector(Adapter):
    """A generic outlier detector on snoopwatch's own feature columns (fitted on a seeded sample)."""

    sample = 50_000

    @abstractmethod
    def make(self):
        """A fresh, unfitted outlier model."""

    @abstractmethod
    def anomaly(self, model, x: np.ndarray) -> np.ndarray:
        """Anomaly per row of x, higher = more suspicious."""

    def fit(self, history: Dataset) -> None:
        frame = self.cache.features(history)
        self.columns_ = list(frame.columns)
        x = frame.to_numpy(dtype=float)
        rng = np.random.default_rng(self.seed)
        if len(x) > self.sample:
            x = x[np.sort(rng.choice(len(x), self.sample, replace=False))]
        self.center_ = x.mean(axis=0)
        scale = x.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        self.model_ = self.make().fit(self._standardise(x))

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        return np.nan_to_num((x - self.center_) / self.scale_)

    def score(self, dataset: Dataset, since: pd.Timestamp) -> pd.DataFrame:
        events = dataset.events
        mask = scored_mask(events, since)
        frame = self.cache.features(dataset).reindex(columns=self.columns_, fill_value=0.0)
        x = self._standardise(frame.to_numpy(dtype=float)[mask])
        return _score_frame(events, mask, self.anomaly(self.model_, x))


class LOFDetector(FeatureDetector):
    name = "lof"
    sample = FIT_SAMPLE["lof"]

    def make(self):
        from sklearn.neighbors import LocalOutlierFactor

        return LocalOutlierFactor(n_neighbors=20, novelty=True)

    def anomaly(self, model, x: np.ndarray) -> np.ndarray:
        return -model.score_samples(x)


class PyODDetector(FeatureDetector):
    """pyod models: decision_function is already higher = more anomalous."""

    def anomaly(self, model, x: np.ndarray) -> np.ndarray:
        return model.decision_function(x)


class ECODDetector(PyODDetector):
    name = "ecod"
    sample = FIT_SAMPLE["ecod"]

    def make(self):
        from pyod.models.ecod import ECOD

        return ECOD()


class HBOSDetector(PyODDetector):
    name = "hbos"
    sample = FIT_SAMPLE["hbos"]

    def make(self):
        from pyod.models.hbos import HBOS

        return HBOS()


# ---------------------------------------------------------------------------------------------- snoopwatch
class SnoopwatchDetector(Adapter):
    """The project's detector: train on the history, detect on the period (scores and alerts)."""

    name = "snoopwatch"

    def fit(self, history: Dataset) -> None:
        from snoopwatch.detect import train

        self.model_ = train(history, seed=self.seed)

    def score(self, dataset: Dataset, since: pd.Timestamp) -> pd.DataFrame:
        from snoopwatch.detect import detect

        result = detect(dataset, self.model_, since=since, budget=self.budget)
        self.alerts = len(result.alerts)
        self.alert_event_ids = {str(e) for alert in result.alerts for e in alert.event_ids}
        scores = result.scores
        return pd.DataFrame({"event_id": scores["event_id"].to_numpy(dtype=object),
                             "score": scores["score"].to_numpy(dtype=float)})


DETECTORS: dict[str, type[Adapter]] = {
    cls.name: cls
    for cls in (SnoopwatchDetector, RulesOnly, CountsIForest, RandomDetector, LOFDetector, ECODDetector, HBOSDetector)
}
DEFAULT_DETECTORS = tuple(DETECTORS)


def unavailable_reason(name: str) -> str | None:
    """Why a detector cannot run here (a missing module), or None when it can."""
    needs = {
        "snoopwatch": ("snoopwatch.detect", "the detector is not installed in this build"),
        "rules": ("snoopwatch.features", "snoopwatch.features is not installed in this build"),
        "lof": ("snoopwatch.features", "snoopwatch.features is not installed in this build"),
        "ecod": ("pyod", "pyod is not installed; pip install 'snoopwatch[pyod]' to compare ECOD"),
        "hbos": ("pyod", "pyod is not installed; pip install 'snoopwatch[pyod]' to compare HBOS"),
    }
    if name not in needs:
        return None
    module, why = needs[name]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ModuleNotFoundError, ValueError):
        found = False
    if name in ("ecod", "hbos") and found:
        found = importlib.util.find_spec("snoopwatch.features") is not None
    return None if found else why
