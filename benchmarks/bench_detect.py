"""Train and detect throughput, peak memory, and detect time against bare IsolationForest.score_samples.

    python benchmarks/bench_detect.py --events 1e6,1e7 [--workdir DIR] [--seed 0]

For each size: a generated data set (made here if DIR has none), `train` on every event (read + features +
fit, child process 1), then `detect` on every event end to end (read, features, score, roll-up, child
process 2) followed in the same process by the model's own fitted IsolationForest.score_samples on the
same feature matrix, three times (DETECT_RUNS): the median run is reported. Targets (issue 3): detect >= 150k
events/s at 1M and 10M, train on 10M <= 60 s, detect <= 2x bare score_samples, peak <= 500 bytes per event.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    StepFailed,
    calibrate,
    dataset_dir,
    fmt_bytes,
    generate_force,
    label,
    run_child,
    script_main,
    size_force,
)

DETECT_RUNS = 3  # detect runs per size, each followed by bare scoring in the same process


def measure_detect(sizes: list[int], workdir: Path, seed: int = 0, rate: float | None = None,
                   runs: int = DETECT_RUNS) -> list[dict]:
    """One row per size with train and detect figures; generates the data sets that are missing.

    Detect runs `runs` times, each in a fresh process followed by bare scoring in it, so every run gives a
    paired ratio. A shared machine's speed drifts by more than 10% within minutes, which a single ratio
    cannot tell from a change in the code: the row reports the run with the median ratio (its times), the
    range of the ratios, and the highest peak of any run.
    """
    rows = []
    for target in sizes:
        data = dataset_dir(workdir, target)
        model = Path(workdir) / f"model-{label(target)}.skops"
        try:
            if not (data / "manifest.json").exists():
                rate = rate or calibrate(seed)
                staff, days = size_force(target, rate)
                generate_force(staff, days, seed, str(data))
            fit = run_child("train", data=str(data), model=str(model), seed=seed)
            dets = [run_child("detect", data=str(data), model=str(model)) for _ in range(max(runs, 1))]
        except StepFailed as error:
            rows.append({"target": target, "error": str(error)})
            print(f"train/detect {label(target)}: {error}", file=sys.stderr)
            continue
        ratios = [d["total_seconds"] / d["bare_score_samples_seconds"] for d in dets]
        det = dets[sorted(range(len(dets)), key=ratios.__getitem__)[len(dets) // 2]]  # the median run
        highest = max(dets, key=lambda d: d["peak_rss_detect_bytes"])  # (its own imports for "above imports")
        peak = highest["peak_rss_detect_bytes"]
        row = {"target": target, "events": det["events"],
               "train_seconds": fit["total_seconds"], "train_fit_seconds": fit["train_seconds"],
               "train_events_per_second": fit["events"] / fit["total_seconds"],
               "train_peak_rss_bytes": fit["peak_rss_bytes"],
               "detect_seconds": det["total_seconds"], "detect_only_seconds": det["detect_seconds"],
               "detect_events_per_second": det["events"] / det["total_seconds"],
               "bare_score_samples_seconds": det["bare_score_samples_seconds"],
               "detect_to_bare_ratio": det["total_seconds"] / det["bare_score_samples_seconds"],
               "detect_to_bare_ratios": ratios, "detect_runs": len(dets),
               "detect_peak_rss_bytes": peak,
               "detect_peak_bytes_per_event": peak / det["events"],
               "detect_peak_above_imports_bytes_per_event": (peak - highest["import_rss_bytes"]) / det["events"],
               "import_rss_bytes": highest["import_rss_bytes"], "alerts": det["alerts"],
               "features": det["features"], "n_estimators": det["n_estimators"]}
        rows.append(row)
        print(f"train {label(target)}: {fit['total_seconds']:.1f} s; detect: {row['detect_events_per_second']:,.0f} events/s, "
              f"{row['detect_to_bare_ratio']:.2f}x bare score_samples (runs: {_ratio_range(row)}), "
              f"peak {fmt_bytes(row['detect_peak_rss_bytes'])}", file=sys.stderr)
    return rows


def _ratio_range(row: dict) -> str:
    """The detect / bare ratios of a row's runs, lowest to highest."""
    return ", ".join(f"{r:.2f}" for r in sorted(row.get("detect_to_bare_ratios", [row["detect_to_bare_ratio"]])))


def markdown(rows: list[dict]) -> str:
    lines = ["| target | events | train s (read+features+fit) | train peak | detect s (end to end) | detect events/s "
             "| bare score_samples s | detect / bare (median run) | every run | detect peak (highest) | bytes/event (peak) "
             "| bytes/event (above imports) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {label(r['target'])} | failed: {r['error']} |" + " |" * 10)
            continue
        lines.append(
            f"| {label(r['target'])} | {r['events']:,} | {r['train_seconds']:.1f} | {fmt_bytes(r['train_peak_rss_bytes'])} "
            f"| {r['detect_seconds']:.1f} | {r['detect_events_per_second']:,.0f} | {r['bare_score_samples_seconds']:.1f} "
            f"| {r['detect_to_bare_ratio']:.2f} | {_ratio_range(r)} | {fmt_bytes(r['detect_peak_rss_bytes'])} "
            f"| {r['detect_peak_bytes_per_event']:,.0f} | {r['detect_peak_above_imports_bytes_per_event']:,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    return script_main(__doc__, measure_detect, markdown, "where data sets and models go", argv)


if __name__ == "__main__":
    main()
