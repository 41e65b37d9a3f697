"""PNG plots of an evaluation (matplotlib, Agg backend: no screen needed).

recall_vs_budget.png (case recall against the daily budget, one line per detector), scenario_recall.png
(per-scenario case recall at the main budget, bars per detector), days_to_detect.png (distribution of days
from a case's first event to its first caught event at the main budget, caught cases only).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snoopwatch.atomic import atomic_path
from snoopwatch.evaluate.runner import ALL, Evaluation, SeedsEvaluation
from snoopwatch.evaluate.tables import _detectors, _figures, natural_order

Result = Evaluation | SeedsEvaluation


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


def write_plots(result: Result, out_dir: Path) -> dict[str, Path]:
    """Write the three PNGs into out_dir and return their paths."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    f = _figures(result)
    detectors = _detectors(result)
    budget = float(result.budget)
    budgets = result.evaluations[0].budgets if isinstance(result, SeedsEvaluation) else result.budgets
    seeds_note = f" (mean ± std over {len(result.seeds)} seeds)" if isinstance(result, SeedsEvaluation) else ""
    paths: dict[str, Path] = {}

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, d in enumerate(detectors):
        pairs = [f.get((d, ALL, float(b), "case_recall"), (np.nan, None)) for b in budgets]
        means = np.array([p[0] for p in pairs], dtype=float)
        stds = np.array([p[1] if p[1] is not None else 0.0 for p in pairs], dtype=float)
        nudge = 1 + 0.015 * (i - (len(detectors) - 1) / 2)  # side by side, so error bars stay readable
        # Error bars: one standard deviation, clipped to the possible range [0, 1].
        yerr = np.vstack([means - np.clip(means - stds, 0, 1), np.clip(means + stds, 0, 1) - means])
        ax.errorbar(np.asarray(budgets) * nudge, means, yerr=yerr if seeds_note else None, marker="o", capsize=3, label=d)
    ax.set_xscale("log")
    ax.set_xticks(budgets, [f"{b:g}" for b in budgets])
    ax.minorticks_off()
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("daily budget (people reviewed per 1,000 staff per day)")
    ax.set_ylabel("share of misuse cases caught")
    ax.set_title("Case recall against budget" + seeds_note)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    paths["recall_vs_budget"] = _save(fig, out_dir / "recall_vs_budget.png")
    plt.close(fig)

    scenarios = natural_order({k[1] for k in f if k[1] != ALL})
    fig, ax = plt.subplots(figsize=(max(7.0, 1.1 * len(scenarios)), 4.5))
    width = 0.8 / max(1, len(detectors))
    x = np.arange(len(scenarios))
    for i, d in enumerate(detectors):
        means = np.array([f.get((d, s, budget, "case_recall"), (np.nan, None))[0] for s in scenarios], dtype=float)
        ax.bar(x + (i - (len(detectors) - 1) / 2) * width, np.nan_to_num(means), width, label=d)
    ax.set_xticks(x, scenarios)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"case recall at budget {budget:g}")
    ax.set_title(f"Per-scenario case recall at budget {budget:g}"
                 + (f" (mean over the {len(result.seeds)} seeds, where the scenario was active)" if seeds_note else ""))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    paths["scenario_recall"] = _save(fig, out_dir / "scenario_recall.png")
    plt.close(fig)

    evaluations = result.evaluations if isinstance(result, SeedsEvaluation) else [result]
    days = {d: [v for e in evaluations for v in e.days_to_detect.get(d, [])] for d in detectors}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    shown = [d for d in detectors if days[d]]
    if shown:
        ax.boxplot([days[d] for d in shown], tick_labels=shown, showfliers=True)
    else:
        ax.text(0.5, 0.5, "no case caught at this budget", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("days from first misuse event to first caught event")
    ax.set_title(f"Days to detect at budget {budget:g} (caught cases)")
    ax.grid(axis="y", alpha=0.3)
    plt.setp(ax.get_xticklabels(), rotation=20)
    paths["days_to_detect"] = _save(fig, out_dir / "days_to_detect.png")
    plt.close(fig)
    return paths
