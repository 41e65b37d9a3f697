"""Split a labelled data set in time, fit every detector on the past, score the future, measure.

Only `measure` (the scorer) reads the answer key; detectors get `Dataset.without_answer_key()`, cut to the
events before the split for fitting. Walk-forward (`retrain_every`), each detector is refitted every so
many days of the scored period on every event before that day, and scores the days up to its next refit
(the scoring set is cut there, so no fit sees the future). Results are plain records (detector, scenario,
budget, metric, value) so that one run, many seeds, tables, CSV and plots all read the same thing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from snoopwatch.dataset import Dataset
from snoopwatch.dataset.io import parse_instant
from snoopwatch.errors import SnoopwatchError
from snoopwatch.evaluate import metrics
from snoopwatch.evaluate.baselines import (
    DEFAULT_DETECTORS,
    DETECTORS,
    Adapter,
    FeatureCache,
    unavailable_reason,
)

BUDGETS: tuple[float, ...] = (2, 5, 10, 20, 50)
DEFAULT_BUDGET = 10.0
RESULTS_VERSION = 1
ALL = "all"

Progress = Callable[[str, int, int], None]


class EvaluationError(SnoopwatchError):
    """The data set or the options do not allow an evaluation (no labels, empty period, unknown detector)."""


@dataclass(frozen=True)
class DetectorRun:
    """How one detector ran: ok, skipped (with why) or failed (with the error), and its timings."""

    detector: str
    status: str
    note: str = ""
    fit_seconds: float = 0.0
    score_seconds: float = 0.0
    unscored_events: int = 0
    alerts: int | None = None


@dataclass(frozen=True)
class Evaluation:
    """Everything one evaluation measured. `records` is the long table of figures."""

    dataset: str
    since: str
    since_was_default: bool
    period_start: str
    period_end: str
    staff: int
    days: int
    events_history: int
    events_scored: int
    misuse_events: int
    cases: int
    scenarios: list[str]
    budget: float
    budgets: list[float]
    k: dict[str, int]
    seed: int
    runs: list[DetectorRun]
    records: list[dict[str, Any]]
    days_to_detect: dict[str, list[float]] = field(default_factory=dict)
    retrain_every: int | None = None  # days between refits (walk-forward); None: one fit before the split

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = RESULTS_VERSION
        return data


def parse_since(value: str | pd.Timestamp | None) -> pd.Timestamp | None:
    """The split instant in UTC (a date alone means midnight UTC)."""
    return parse_instant(value, "--since")


def default_since(events: pd.DataFrame) -> pd.Timestamp:
    """The start of the last third of the period, at midnight UTC (train on two thirds, score one)."""
    start, end = events["timestamp"].min(), events["timestamp"].max()
    return (start + (end - start) * 2 / 3).floor("D")


def history_only(visible: Dataset, since: pd.Timestamp) -> Dataset:
    """The data set a detector may fit on (or, walk-forward, score up to the next refit): no answer key,
    events strictly before `since`."""
    tables = dict(visible.tables)
    tables["events"] = visible.events[visible.events["timestamp"] < since].reset_index(drop=True)
    return Dataset(tables, dict(visible.manifest), visible.path)


def _name(detector: str | Adapter) -> str:
    return detector if isinstance(detector, str) else detector.name


def refit_days(events: pd.DataFrame, split: pd.Timestamp, retrain_every: int | None) -> list[pd.Timestamp]:
    """When detectors are fitted: the split alone or, walk-forward, every `retrain_every` days from it,
    leaving out a day whose stretch up to the next one holds no event (a gap in the log: nothing to score,
    so the previous fit scores on across it)."""
    if retrain_every is None:
        return [split]
    if retrain_every < 1:
        raise EvaluationError("--retrain-every must be at least 1 day")
    times = np.sort(events["timestamp"].to_numpy("datetime64[ns]"))
    starts = pd.date_range(split, pd.Timestamp(times[-1], tz="UTC"), freq=pd.Timedelta(days=retrain_every))
    edges = np.append(np.searchsorted(times, starts.tz_convert(None).to_numpy("datetime64[ns]")), len(times))
    return [start for start, lo, hi in zip(starts, edges[:-1], edges[1:], strict=True) if hi > lo]


@dataclass
class _Run:
    """One detector's scores and alerts, gathered over the fits (one, or one per walk-forward step)."""

    name: str
    adapter: Adapter | None  # None: skipped
    note: str = ""  # why it was skipped, or the error that ended it
    parts: list[pd.DataFrame] = field(default_factory=list)
    alerts: int | None = None
    alerted: set[str] | None = None
    fit_seconds: float = 0.0
    score_seconds: float = 0.0
    failed: bool = False

    def step(self, history: Dataset, scoring: Dataset, start: pd.Timestamp, where: str = "") -> None:
        """Fit on `history`, score `scoring`'s events from `start` on; a library error ends this detector
        (its earlier fits' scores are not measured on their own) and says at which fit (`where`)."""
        try:
            t0 = time.perf_counter()
            self.adapter.fit(history)
            t1 = time.perf_counter()
            self.parts.append(self.adapter.score(scoring, start))
            self.fit_seconds += t1 - t0
            self.score_seconds += time.perf_counter() - t1
        except SnoopwatchError as error:
            self.failed, self.note = True, f"{where}{error}"
            return
        if self.adapter.alerts is not None:
            self.alerts = (self.alerts or 0) + self.adapter.alerts
        if self.adapter.alert_event_ids is not None:
            self.alerted = (self.alerted or set()) | self.adapter.alert_event_ids


def period_frame(dataset: Dataset, since: pd.Timestamp) -> pd.DataFrame:
    """The scored events with their answer key (instance_id, scenario; empty for normal events)."""
    events = dataset.events
    period = events.loc[events["timestamp"] >= since, ["event_id", "timestamp", "user_id"]].copy()
    period["event_id"] = period["event_id"].astype(object)
    labels = dataset.labels[["event_id", "scenario", "instance_id"]].astype(object).drop_duplicates("event_id")
    period = period.merge(labels, on="event_id", how="left")
    return period.reset_index(drop=True)


def measure(period: pd.DataFrame, scores: pd.DataFrame, *, detector: str, staff: int, budgets: Sequence[float],
            budget: float, alerts: int | None, seed: int = 0,
            alert_event_ids: set[str] | None = None) -> tuple[list[dict[str, Any]], int, list[float]]:
    """Every figure for one detector's scores: records, events without a score, days to detect at `budget`.

    Equal scores within a day are ordered by a permutation seeded with `seed` (see metrics.daily_top_k).
    """
    merged = period.merge(scores[["event_id", "score"]].astype({"event_id": object}).drop_duplicates("event_id"),
                          on="event_id", how="left")
    unscored = int(merged["score"].isna().sum())
    records: list[dict[str, Any]] = []

    def add(scenario: str, budget_value: float | None, metric: str, value: float) -> None:
        records.append({"detector": detector, "scenario": scenario, "budget": budget_value,
                        "metric": metric, "value": float(value)})

    is_misuse = merged["instance_id"].notna().to_numpy()
    score = merged["score"].to_numpy(dtype=float)
    add(ALL, None, "auc", metrics.event_auc(is_misuse, score))
    add(ALL, None, "average_precision", metrics.event_average_precision(is_misuse, score))
    scenario = merged["scenario"].to_numpy(dtype=object)
    for name in sorted(pd.unique(scenario[is_misuse])):
        keep = ~is_misuse | (scenario == name)
        add(name, None, "auc", metrics.event_auc(is_misuse[keep], score[keep]))
        add(name, None, "average_precision", metrics.event_average_precision(is_misuse[keep], score[keep]))
    n_days = int(np.unique(metrics.utc_day(merged["timestamp"])).size)
    tie_break = np.random.default_rng(seed).permutation(len(merged))
    days_at_budget: list[float] = []
    for b in budgets:
        k = metrics.budget_k(b, staff)
        outcome = metrics.budget_outcome(merged, k, tie_break)
        by_event = metrics.budget_outcome(merged, k, tie_break, slots="event").cases
        groups = [(ALL, outcome.cases, outcome.users, by_event)]
        groups += [(s, outcome.cases[outcome.cases["scenario"] == s], outcome.users[outcome.users["scenario"] == s],
                    by_event[by_event["scenario"] == s]) for s in sorted(outcome.cases["scenario"].unique())]
        for name, cases, users, event_cases in groups:
            for metric, value in metrics.summarise_outcome(cases, users).items():
                add(name, b, metric, value)
            add(name, b, "case_recall_event_slots",
                float(event_cases["caught"].mean()) if len(event_cases) else float("nan"))
        add(ALL, b, "alert_volume_per_1000", metrics.alert_volume_per_1000(
            alerts if b == budget else None, k, staff, n_days))
        if b == budget and alert_event_ids is not None:
            by_alert = metrics.cases_caught_by_alerts(merged, alert_event_ids)
            for name, cases in [(ALL, by_alert)] + [(s, by_alert[by_alert["scenario"] == s])
                                                    for s in sorted(by_alert["scenario"].unique())]:
                add(name, b, "case_recall_alerts", float(cases["caught"].mean()) if len(cases) else float("nan"))
        if b == budget:
            days_at_budget = [float(d) for d in outcome.cases.loc[outcome.cases["caught"], "days_to_detect"]]
    return records, unscored, days_at_budget


def evaluate_dataset(
    dataset: Dataset,
    *,
    since: str | pd.Timestamp | None = None,
    detectors: Sequence[str | Adapter] = DEFAULT_DETECTORS,
    budget: float = DEFAULT_BUDGET,
    budgets: Sequence[float] = BUDGETS,
    seed: int = 0,
    progress: Progress | None = None,
    retrain_every: int | None = None,
) -> Evaluation:
    """Fit each detector on the events before `since`, score the rest, and measure against the labels.

    `detectors` are names from DETECTORS or your own Adapter objects (fit(history), score(dataset, since)).
    retrain_every: walk forward instead, as a team retraining on a schedule would: every this many days
    from `since` on, refit on all events before that day and score the days up to the next refit.
    """
    if dataset.labels is None:
        raise EvaluationError("the data set has no labels table; evaluate needs an answer key (labels.csv or labels.parquet)")
    unknown = [d for d in detectors if isinstance(d, str) and d not in DETECTORS]
    if unknown:
        raise EvaluationError(f"unknown detector {unknown[0]!r}; choose from {', '.join(DETECTORS)}")
    budgets = sorted({float(b) for b in budgets} | {float(budget)})
    events = dataset.events
    split = parse_since(since)
    since_was_default = split is None
    split = default_since(events) if split is None else split
    n_history = int((events["timestamp"] < split).sum())
    n_scored = len(events) - n_history
    if n_history == 0 or n_scored == 0:
        first, last = events["timestamp"].min(), events["timestamp"].max()
        raise EvaluationError(f"--since {split:%Y-%m-%d %H:%M}Z leaves no events on one side; the data run from "
                              f"{first:%Y-%m-%d} to {last:%Y-%m-%d}, so pick a date between them")
    period = period_frame(dataset, split)
    staff = dataset.staff_count
    visible = dataset.without_answer_key()
    runs: list[DetectorRun] = []
    records: list[dict[str, Any]] = []
    days_to_detect: dict[str, list[float]] = {}
    cache = FeatureCache()
    entries = []  # one per detector asked for, in that order (a name may come twice)
    for item in detectors:
        name = _name(item)
        why = unavailable_reason(name) if isinstance(item, str) else None
        adapter = None if why else DETECTORS[name](seed=seed, budget=budget, cache=cache) if isinstance(item, str) else item
        entries.append(_Run(name, adapter, why or ""))
    active = [run for run in entries if run.adapter is not None]
    # Fits outer, detectors inner: each fit's data sets (and their cached features) are made once and shared
    # by every detector; a step's scoring set is the next step's history, and is kept for it.
    starts = refit_days(events, split, retrain_every)
    history = history_only(visible, starts[0])
    for i, start in enumerate(starts):
        scoring = visible if i + 1 == len(starts) else history_only(visible, starts[i + 1])
        cache.keep_only(history, scoring)
        where = f"fit {i + 1} of {len(starts)} (from {start:%Y-%m-%d}): " if len(starts) > 1 else ""
        for j, run in enumerate(active):
            if progress:
                progress(f"evaluate {run.name}" + (f", {where[:-2]}" if where else ""), i * len(active) + j,
                         len(starts) * len(active))
            if not run.failed:
                run.step(history, scoring, start, where)
        history = scoring
    del history, scoring
    cache.keep_only()
    for run in entries:
        if run.adapter is None or run.failed:
            runs.append(DetectorRun(run.name, "skipped" if run.adapter is None else "failed", run.note))
            continue
        scores = pd.concat(run.parts, ignore_index=True)
        found, unscored, days = measure(period, scores, detector=run.name, staff=staff, budgets=budgets,
                                        budget=budget, alerts=run.alerts, seed=seed, alert_event_ids=run.alerted)
        records += found
        days_to_detect[run.name] = days
        note = f"{unscored:,} events without a score, ranked last" if unscored else ""
        runs.append(DetectorRun(run.name, "ok", note, round(run.fit_seconds, 3), round(run.score_seconds, 3),
                                unscored, run.alerts))
    if progress:
        progress("evaluate", len(detectors), len(detectors))
    misuse = period["instance_id"].notna()
    return Evaluation(
        dataset=str(dataset.path) if dataset.path else str(dataset.manifest.get("generator", "in memory")),
        since=split.isoformat(), since_was_default=since_was_default,
        period_start=period["timestamp"].min().isoformat(), period_end=period["timestamp"].max().isoformat(),
        staff=staff, days=int(np.unique(metrics.utc_day(period["timestamp"])).size),
        events_history=n_history, events_scored=n_scored, misuse_events=int(misuse.sum()),
        cases=int(period.loc[misuse, "instance_id"].nunique()),
        scenarios=sorted(period.loc[misuse, "scenario"].unique().tolist()),
        budget=float(budget), budgets=[float(b) for b in budgets],
        k={f"{b:g}": metrics.budget_k(b, staff) for b in budgets}, seed=seed,
        runs=runs, records=records, days_to_detect=days_to_detect, retrain_every=retrain_every,
    )


@dataclass(frozen=True)
class SeedsEvaluation:
    """One evaluation per freshly generated data set, and the figures aggregated over them."""

    seeds: list[int]
    settings: dict[str, Any]
    evaluations: list[Evaluation]
    records: list[dict[str, Any]]  # detector, scenario, budget, metric, mean, std, n

    @property
    def budget(self) -> float:
        return self.evaluations[0].budget

    def to_dict(self) -> dict[str, Any]:
        return {"version": RESULTS_VERSION, "seeds": self.seeds, "settings": self.settings,
                "records": self.records, "evaluations": [e.to_dict() for e in self.evaluations]}


def aggregate(evaluations: Sequence[Evaluation]) -> list[dict[str, Any]]:
    """Mean and sample standard deviation (ddof=1; NaN for a single value) of every figure over the
    evaluations; NaN values (e.g. days to detect when nothing was caught) are left out, `n` counts the rest."""
    frame = pd.DataFrame([r for e in evaluations for r in e.records])
    if frame.empty:
        return []
    frame["budget"] = frame["budget"].astype(float).fillna(-1.0)
    grouped = frame.groupby(["detector", "scenario", "budget", "metric"], sort=False)["value"]
    out = grouped.agg(mean="mean", std=lambda v: float(v.std(ddof=1)) if v.notna().sum() > 1 else float("nan"),
                      n="count").reset_index()
    out["budget"] = out["budget"].where(out["budget"] >= 0, None)
    return [{k: (None if isinstance(v, float) and k == "budget" and np.isnan(v) else v) for k, v in row.items()}
            for row in out.to_dict("records")]


def evaluate_seeds(
    seeds: int = 5,
    *,
    first_seed: int = 0,
    since: str | pd.Timestamp | None = None,
    detectors: Sequence[str] = DEFAULT_DETECTORS,
    budget: float = DEFAULT_BUDGET,
    budgets: Sequence[float] = BUDGETS,
    progress: Progress | None = None,
    retrain_every: int | None = None,
    **synth_settings: Any,
) -> SeedsEvaluation:
    """Generate a fresh data set per seed (snoopwatch.synth) and evaluate each; aggregate mean +- std."""
    if seeds < 1:
        raise EvaluationError("--seeds must be at least 1")
    from snoopwatch.synth import SynthConfig, generate

    given = {k: v for k, v in synth_settings.items() if v is not None}
    evaluations = []
    seed_list = list(range(first_seed, first_seed + seeds))
    settings: dict[str, Any] = {}
    for i, seed in enumerate(seed_list):
        if progress:
            progress(f"seed {seed}: generate", i, seeds)
        config = SynthConfig(seed=seed, **given)
        settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items() if k != "seed"}
        world = generate(config)
        dataset = Dataset(dict(world.tables), dict(world.manifest))
        if progress:
            progress(f"seed {seed}: evaluate", i, seeds)
        evaluations.append(evaluate_dataset(dataset, since=since, detectors=detectors, budget=budget,
                                            budgets=budgets, seed=seed, retrain_every=retrain_every))
    if progress:
        progress("seeds", seeds, seeds)
    return SeedsEvaluation(seed_list, settings, evaluations, aggregate(evaluations))
