"""Render evaluation results: Markdown tables (terminal and results.md), results.json and results.csv.

One run shows plain values; a multi-seed run shows mean ± standard deviation over the seeds.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from snoopwatch.atomic import atomic_path, write_text_atomic
from snoopwatch.csvsafe import neutralise_csv_value
from snoopwatch.evaluate.runner import (
    ALL,
    RESULTS_VERSION,
    DetectorRun,
    Evaluation,
    EvaluationError,
    SeedsEvaluation,
)

Result = Evaluation | SeedsEvaluation


def _figures(result: Result) -> dict[tuple, tuple[float, float | None]]:
    """(detector, scenario, budget, metric) -> (value or mean, std or None)."""
    out: dict[tuple, tuple[float, float | None]] = {}
    for r in result.records:
        key = (r["detector"], r["scenario"], None if r["budget"] is None else float(r["budget"]), r["metric"])
        out[key] = (r["mean"], r["std"]) if "mean" in r else (r["value"], None)
    return out


def _fmt(pair: tuple[float, float | None] | None, digits: int = 3) -> str:
    if pair is None or pair[0] is None or (isinstance(pair[0], float) and math.isnan(pair[0])):
        return "–"
    value, std = pair
    text = f"{value:.{digits}f}"
    if std is not None and not math.isnan(std):
        text += f" ± {std:.{digits}f}"
    return text


def natural_order(names) -> list[str]:
    """Scenario names in reading order: S2 before S10."""
    return sorted(names, key=lambda n: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(n))])


def _detectors(result: Result) -> list[str]:
    seen: list[str] = []
    for r in result.records:
        if r["detector"] not in seen:
            seen.append(r["detector"])
    return seen


def _runs(result: Result):
    return result.runs if isinstance(result, Evaluation) else result.evaluations[0].runs


def _seconds(result: Result) -> dict[str, str]:
    """Detector -> fit + score wall time (mean over seeds)."""
    evaluations = result.evaluations if isinstance(result, SeedsEvaluation) else [result]
    times: dict[str, list[float]] = {}
    for e in evaluations:
        for r in e.runs:
            if r.status == "ok":
                times.setdefault(r.detector, []).append(r.fit_seconds + r.score_seconds)
    return {d: f"{sum(v) / len(v):.1f}" for d, v in times.items()}


def _header(result: Result) -> list[str]:
    if isinstance(result, SeedsEvaluation):
        e0 = result.evaluations[0]
        settings = ", ".join(f"{k}={v}" for k, v in result.settings.items()) or "generator defaults"
        settings = "generator settings: " + settings
        lines = [f"Generated data sets, seeds {', '.join(map(str, result.seeds))} ({settings}); "
                 f"mean ± standard deviation over {len(result.seeds)} seed(s).",
                 f"Split: train before {e0.since[:10]} (the start of the last third of the period, per data set)"
                 if e0.since_was_default else f"Split: train before {e0.since}, score from it.",
                 f"Per seed: {e0.staff:,} staff, about {e0.events_scored:,} scored events over {e0.days} days, "
                 f"{e0.cases} misuse cases in the period; daily budget k = {e0.k[f'{e0.budget:g}']} people "
                 f"at {e0.budget:g} per 1,000 staff."]
        return lines + _refits(e0)
    e = result
    why = " (default: the start of the last third of the period)" if e.since_was_default else ""
    ks = ", ".join(f"{b} → k={k}" for b, k in e.k.items())
    return [f"Data set: {e.dataset}",
            f"Split: train on {e.events_history:,} events before {e.since}{why}; "
            f"score {e.events_scored:,} events from {e.period_start[:10]} to {e.period_end[:10]} ({e.days} days).",
            f"Staff: {e.staff:,}; misuse in the period: {e.misuse_events:,} events in {e.cases} cases "
            f"({', '.join(e.scenarios) or 'none'}).",
            f"Daily budgets per 1,000 staff: {ks}.", *_refits(e)]


def _refits(e: Evaluation) -> list[str]:
    """The walk-forward line, when detectors were refitted during the scored period."""
    if e.retrain_every is None:
        return []
    every = "day" if e.retrain_every == 1 else f"{e.retrain_every} days"
    return [f"Walk-forward: every detector refitted every {every} of the scored period on all events before "
            "that day, scoring up to the next refit (days without events are skipped)."]


def markdown(result: Result) -> str:
    """The whole report as Markdown: settings, the main table, per-scenario tables, detector notes."""
    f = _figures(result)
    budget = float(result.budget)
    budgets = result.evaluations[0].budgets if isinstance(result, SeedsEvaluation) else result.budgets
    detectors = _detectors(result)
    lines = _header(result) + [""]
    recall_cols = [f"recall@{b:g}" for b in budgets]
    head = ["detector", "AUC", "AP", *recall_cols, f"recall@{budget:g} event slots", f"recall@{budget:g} by alerts",
            f"users@{budget:g}", f"median days@{budget:g}",
            f"p90 days@{budget:g}", f"alerts/1k/day@{budget:g}", "fit+score s"]
    seconds = _seconds(result)
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in detectors:
        row = [d, _fmt(f.get((d, ALL, None, "auc"))), _fmt(f.get((d, ALL, None, "average_precision")))]
        row += [_fmt(f.get((d, ALL, float(b), "case_recall")), 2) for b in budgets]
        row += [_fmt(f.get((d, ALL, budget, "case_recall_event_slots")), 2),
                _fmt(f.get((d, ALL, budget, "case_recall_alerts")), 2)]
        users = _fmt(f.get((d, ALL, budget, "user_recall")), 2)
        if isinstance(result, Evaluation):
            caught, total = f.get((d, ALL, budget, "users_caught")), f.get((d, ALL, budget, "users"))
            if caught and total:
                users += f" ({caught[0]:.0f}/{total[0]:.0f})"
        row += [users, _fmt(f.get((d, ALL, budget, "median_days_to_detect")), 1),
                _fmt(f.get((d, ALL, budget, "p90_days_to_detect")), 1),
                _fmt(f.get((d, ALL, budget, "alert_volume_per_1000")), 1), seconds.get(d, "–")]
        lines.append("| " + " | ".join(row) + " |")
    scenarios = natural_order({k[1] for k in f if k[1] != ALL})
    seeds = isinstance(result, SeedsEvaluation)
    seen_in = {(r["scenario"]): r["n"] for r in result.records
               if seeds and r["metric"] == "cases" and r["budget"] == budget and r["detector"] == detectors[0]}
    if scenarios and detectors:
        for title, metric, digits in ((f"Case recall per scenario at budget {budget:g}", "case_recall", 2),
                                      (f"Median days to detect per scenario at budget {budget:g}", "median_days_to_detect", 1),
                                      ("Average precision per scenario (its events against normal events)", "average_precision", 3)):
            cases_head = "cases per seed (seeds)" if seeds else "cases"
            lines += ["", f"**{title}**", "", f"| scenario | {cases_head} | " + " | ".join(detectors) + " |",
                      "|" + "---|" * (len(detectors) + 2)]
            for s in scenarios:
                pair = f.get((detectors[0], s, budget, "cases"))
                cases = f"{pair[0]:.1f} ({seen_in.get(s, 0)})" if seeds and pair else _fmt(pair, 0)
                b = None if metric == "average_precision" else budget
                cells = [_fmt(f.get((d, s, b, metric)), digits) for d in detectors]
                lines.append(f"| {s} | {cases} | " + " | ".join(cells) + " |")
    notes = [r for r in _runs(result) if r.status != "ok" or r.note]
    if notes:
        lines += [""] + [f"- {r.detector}: {r.status}{': ' + r.note if r.note else ''}" for r in notes]
    lines += ["", "AUC/AP: event level. recall@B: share of misuse cases with an event among the UTC day's "
              "k = ceil(B × staff / 1,000) people, each shown by their highest-scoring event of the day. event "
              "slots: the same with the day's k highest-scoring events, whoever made them. by alerts: a case is "
              "caught when one of the detector's own alerts (k a day) cites one of its events. users: misusing "
              "users caught at the budget (people reading). days: from a case's first event in the period to "
              "its first caught event (people reading, caught cases only). alerts/1k/day: the "
              "detector's own alerts when it raises them, else the budget. Detectors fit on the events before the "
              "split (context tables whole, no labels) and score every event after it."]
    return "\n".join(lines) + "\n"


def records_frame(result: Result) -> pd.DataFrame:
    """The long table of figures: one row per detector, scenario, budget and metric."""
    frame = pd.DataFrame(result.records)
    if isinstance(result, Evaluation):
        frame.insert(0, "seed", result.seed)
    for column in ("detector", "scenario", "metric"):
        if column in frame.columns:
            frame[column] = frame[column].map(neutralise_csv_value)
    return frame


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_results(result: Result, out_dir: Path) -> dict[str, Path]:
    """results.md, results.json (with a version key; NaN written as null) and results.csv, written atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "results.md", "json": out_dir / "results.json", "csv": out_dir / "results.csv"}
    write_text_atomic(paths["markdown"], markdown(result))
    data = _clean(result.to_dict())
    data["version"] = RESULTS_VERSION
    write_text_atomic(paths["json"], json.dumps(data, indent=1, default=_json_default) + "\n")
    with atomic_path(paths["csv"]) as tmp:
        records_frame(result).to_csv(tmp, index=False)
    return paths


def _evaluation_from_dict(data: dict[str, Any]) -> Evaluation:
    fields = {k: v for k, v in data.items() if k != "version"}
    fields["runs"] = [DetectorRun(**r) for r in fields["runs"]]
    return Evaluation(**fields)


def read_results(path: Path) -> Result:
    """Read a results.json written by write_results back (to re-render tables and plots without re-running)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise EvaluationError(f"cannot read {path} as evaluation results ({error}); give a results.json from evaluate") from error
    if not isinstance(data, dict) or data.get("version") != RESULTS_VERSION:
        raise EvaluationError(f"{path} is not a version-{RESULTS_VERSION} results.json from snoopwatch evaluate")
    if "evaluations" in data:
        return SeedsEvaluation(data["seeds"], data["settings"], [_evaluation_from_dict(e) for e in data["evaluations"]],
                               data["records"])
    return _evaluation_from_dict(data)
