"""Evaluate detectors on labelled data sets: metrics, baselines, multi-seed runs, tables and plots.

    >>> from snoopwatch.evaluate import evaluate_dataset, DETECTORS
    >>> result = evaluate_dataset(load_dataset("DATA/"), detectors=["counts-iforest", "random"])

Detectors are adapters with fit(history: Dataset) and score(dataset: Dataset, since) -> DataFrame[event_id,
score]; see snoopwatch.evaluate.baselines. Metric definitions: snoopwatch.evaluate.metrics.
"""

from snoopwatch.evaluate.baselines import DEFAULT_DETECTORS, DETECTORS, Adapter, unavailable_reason
from snoopwatch.evaluate.runner import (
    BUDGETS,
    DEFAULT_BUDGET,
    RESULTS_VERSION,
    Evaluation,
    EvaluationError,
    SeedsEvaluation,
    evaluate_dataset,
    evaluate_seeds,
)

__all__ = [
    "BUDGETS", "DEFAULT_BUDGET", "DEFAULT_DETECTORS", "DETECTORS", "RESULTS_VERSION", "Adapter", "Evaluation",
    "EvaluationError", "SeedsEvaluation", "evaluate_dataset", "evaluate_seeds", "unavailable_reason",
]
