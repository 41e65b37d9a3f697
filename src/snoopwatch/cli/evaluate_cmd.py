"""`snoopwatch evaluate`: compare detectors on a labelled data set, or on freshly generated ones over seeds."""

from __future__ import annotations

from pathlib import Path

import click

from snoopwatch.console import stderr_console, stdout_console
from snoopwatch.errors import SnoopwatchError


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _budgets(value: str) -> list[float]:
    try:
        budgets = [float(v) for v in _names(value)]
    except ValueError as error:
        raise click.BadParameter("give numbers separated by commas, e.g. 2,5,10,20,50") from error
    if not budgets or min(budgets) <= 0:
        raise click.BadParameter("budgets must be positive numbers")
    return budgets


@click.command()
@click.argument("dataset", required=False, type=click.Path(path_type=Path))
@click.option("--since", metavar="DATE", help="Split: train before DATE, score from it (UTC). Default: the start "
              "of the last third of the period.")
@click.option("--retrain-every", type=click.IntRange(min=1), metavar="DAYS",
              help="Walk forward: refit every detector every DAYS days of the scored period on all events before "
              "that day, as a team retraining monthly would (--retrain-every 30). Default: one fit before --since.")
@click.option("--detectors", default="snoopwatch,rules,counts-iforest,random,lof,ecod,hbos", show_default=True,
              help="Comma-separated detectors to compare.")
@click.option("--budget", type=float, default=10.0, show_default=True,
              help="Main daily analyst budget: alerts (people) reviewed per 1,000 staff per day, as detect --budget.")
@click.option("--budgets", "budget_grid", default="2,5,10,20,50", show_default=True,
              help="Budgets for the recall-at-budget curve.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Write results.md, results.json, results.csv and PNG plots to DIR.")
@click.option("--seeds", type=int, help="Multi-seed mode: generate this many fresh data sets and report mean ± std.")
@click.option("--first-seed", type=int, default=0, show_default=True, help="First seed of the multi-seed mode.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the detectors on a given DATASET.")
@click.option("--staff", type=int, help="Multi-seed mode: staff per generated force (generator default if unset).")
@click.option("--days", type=int, help="Multi-seed mode: days per generated force.")
@click.option("--start", metavar="DATE", help="Multi-seed mode: first day of the generated period.")
@click.option("--scenarios", metavar="all|S2,S9,...", help="Multi-seed mode: scenarios to plant.")
@click.option("--insiders", type=int, help="Multi-seed mode: number of insiders.")
@click.option("--stealth", type=float, help="Multi-seed mode: stealth level 0..1.")
@click.option("--timezone", "source_timezone", metavar="ZONE",
              help="IANA zone of DATASET times written without an offset (e.g. Europe/London).")
def evaluate(dataset: Path | None, since: str | None, detectors: str, budget: float, budget_grid: str,
             out_dir: Path | None, seeds: int | None, first_seed: int, seed: int, staff: int | None,
             days: int | None, start: str | None, scenarios: str | None, insiders: int | None,
             stealth: float | None, source_timezone: str | None, retrain_every: int | None) -> None:
    """Compare detectors on DATASET (a data set with labels) with the metrics the field uses.

    Fits each detector on the events before --since (or, with --retrain-every, again every so many days
    on all events before that day), scores the rest, and reports event AUC-ROC and
    average precision, the share of misuse cases caught at daily analyst budgets, misusing users
    caught, days to detect, per scenario, and alert volume. Labels are read only by the scorer.

    \b
    Examples:
      snoopwatch evaluate DATA/ --since 2025-09-01 --out results/
      snoopwatch evaluate --seeds 5 --staff 300 --days 180 --out results/
      snoopwatch evaluate DATA/ --since 2025-09-01 --retrain-every 30
    """
    from snoopwatch.dataset import load_dataset
    from snoopwatch.evaluate import evaluate_dataset, evaluate_seeds
    from snoopwatch.evaluate.plots import write_plots
    from snoopwatch.evaluate.tables import markdown, write_results

    names = _names(detectors)
    grid = _budgets(budget_grid)
    err = stderr_console()

    def progress(description: str, done: int, total: int) -> None:
        if done < total:
            err.print(f"[{done + 1}/{total}] {description}", highlight=False)

    if seeds is not None:
        if dataset is not None:
            raise click.UsageError("give either DATASET or --seeds (which generates fresh data sets), not both")
        settings = {"staff": staff, "days": days, "start": start, "insiders": insiders, "stealth": stealth}
        if scenarios:
            settings["scenarios"] = "all" if scenarios == "all" else tuple(_names(scenarios))
        result = evaluate_seeds(seeds, first_seed=first_seed, since=since, detectors=names, budget=budget,
                                budgets=grid, progress=progress, retrain_every=retrain_every, **settings)
    else:
        if dataset is None:
            raise click.UsageError("give a DATASET directory with labels, or --seeds N to generate fresh ones")
        if any(v is not None for v in (staff, days, start, scenarios, insiders, stealth)):
            raise click.UsageError("--staff, --days, --start, --scenarios, --insiders and --stealth need --seeds")
        data = load_dataset(dataset, source_timezone=source_timezone)
        result = evaluate_dataset(data, since=since, detectors=names, budget=budget, budgets=grid, seed=seed,
                                  progress=progress, retrain_every=retrain_every)
    stdout_console().print(markdown(result), markup=False, highlight=False)
    if out_dir is not None:
        try:
            written = write_results(result, out_dir)
            written.update(write_plots(result, out_dir))
        except OSError as error:
            raise SnoopwatchError(f"cannot write results to {out_dir} ({error.strerror}); choose another --out") from error
        err.print(f"wrote {', '.join(p.name for p in written.values())} to {out_dir}", highlight=False)
