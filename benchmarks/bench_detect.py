"""Train and detect throughput, peak memory, and detect time against bare IsolationForest.score_samples.

    python benchmarks/bench_detect.py --events 1e6,1e7 [--workdir DIR] [--seed 0]

For each size: a generated data set (made here if DIR has none), `train` on every event (read + features +
fit, child process 1), then `detect` on every event end to end (read, features, score, roll-up, child
process 2) followed in the same process by the model's own fitted IsolationForest.score_samples on the
same feature matrix. Targets (issue 3): detect >= 150k events/s at 1M and 10M, train on 10M <= 60 s,
detect <= 2x bare score_samples, peak <= 500 bytes per event.
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


def measure_detect(sizes: list[int], workdir: Path, seed: int = 0, rate: float | None = None) -> list[dict]:
    """One row per size with train and detect figures; generates the data sets that are missing."""
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
            det = run_child("detect", data=str(data), model=str(model))
        except StepFailed as error:
            rows.append({"target": target, "error": str(error)})
            print(f"train/detect {label(target)}: {error}", file=sys.stderr)
            continue
        row = {"target": target, "events": det["events"],
               "train_seconds": fit["total_seconds"], "train_fit_seconds": fit["train_seconds"],
               "train_events_per_second": fit["events"] / fit["total_seconds"],
               "train_peak_rss_bytes": fit["peak_rss_bytes"],
               "detect_seconds": det["total_seconds"], "detect_only_seconds": det["detect_seconds"],
               "detect_events_per_second": det["events"] / det["total_seconds"],
               "bare_score_samples_seconds": det["bare_score_samples_seconds"],
               "detect_to_bare_ratio": det["total_seconds"] / det["bare_score_samples_seconds"],
               "detect_peak_rss_bytes": det["peak_rss_detect_bytes"],
               "detect_peak_bytes_per_event": det["peak_rss_detect_bytes"] / det["events"],
               "detect_peak_above_imports_bytes_per_event":
                   (det["peak_rss_detect_bytes"] - det["import_rss_bytes"]) / det["events"],
               "import_rss_bytes": det["import_rss_bytes"], "alerts": det["alerts"],
               "features": det["features"], "n_estimators": det["n_estimators"]}
        rows.append(row)
        print(f"train {label(target)}: {fit['total_seconds']:.1f} s; detect: {row['detect_events_per_second']:,.0f} events/s, "
              f"{row['detect_to_bare_ratio']:.2f}x bare score_samples, peak {fmt_bytes(row['detect_peak_rss_bytes'])}",
              file=sys.stderr)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| target | events | train s (read+features+fit) | train peak | detect s (end to end) | detect events/s "
             "| bare score_samples s | detect / bare | detect peak | bytes/event (peak) | bytes/event (above imports) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {label(r['target'])} | failed: {r['error']} |" + " |" * 9)
            continue
        lines.append(
            f"| {label(r['target'])} | {r['events']:,} | {r['train_seconds']:.1f} | {fmt_bytes(r['train_peak_rss_bytes'])} "
            f"| {r['detect_seconds']:.1f} | {r['detect_events_per_second']:,.0f} | {r['bare_score_samples_seconds']:.1f} "
            f"| {r['detect_to_bare_ratio']:.2f} | {fmt_bytes(r['detect_peak_rss_bytes'])} "
            f"| {r['detect_peak_bytes_per_event']:,.0f} | {r['detect_peak_above_imports_bytes_per_event']:,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    return script_main(__doc__, measure_detect, markdown, "where data sets and models go", argv)


if __name__ == "__main__":
    main()
