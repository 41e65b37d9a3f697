"""Run every benchmark and write benchmarks/RESULTS.md (machine, figures, targets met or not).

    python benchmarks/run_all.py --events 1e6,1e7 [--out benchmarks/RESULTS.md] [--workdir DIR] [--keep]

Generate (bench_generate), then train and detect on the generated data sets (bench_detect), each step in
its own child process. Takes minutes at 10M events; run it on an otherwise quiet machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_detect  # noqa: E402
import bench_generate  # noqa: E402
from benchlib import calibrate, label, machine, parse_sizes  # noqa: E402

MILLION = 1_000_000


def peak_growth_per_event(det: list[dict]) -> tuple[dict, dict, float] | None:
    """(smallest run, largest run, detect peak bytes per added event between them), or None with fewer
    than two sizes. The fixed cost (interpreter, libraries, model) cancels out, so this is what each
    further event costs at the peak, which bytes per event at a single size cannot show."""
    runs = sorted((r for r in det if "error" not in r), key=lambda r: r["events"])
    if len(runs) < 2 or runs[-1]["events"] <= runs[0]["events"]:
        return None
    small, large = runs[0], runs[-1]
    growth = (large["detect_peak_rss_bytes"] - small["detect_peak_rss_bytes"]) / (large["events"] - small["events"])
    return small, large, growth


def targets(gen: list[dict], det: list[dict]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for every target of issues 2 and 3 that this run measured, then the
    reference row of peak memory per added event (not a target) when two sizes were measured."""
    out: list[tuple[str, str, str]] = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    for r in gen + det:
        if "error" in r:
            out.append((f"{'generate' if r in gen else 'train/detect'} at {label(r['target'])}", r["error"], "**not measured**"))
    gen = [r for r in gen if "error" not in r]
    det = [r for r in det if "error" not in r]
    for r in gen:
        limit = 10 if r["target"] <= MILLION else 30 if r["target"] <= 10 * MILLION else None
        if limit and r["target"] >= MILLION:
            out.append((f"generate {label(r['target'])} events to Parquet <= {limit} s", f"{r['total_seconds']:.1f} s",
                        verdict(r["total_seconds"] <= limit)))
        if r["target"] >= 10 * MILLION:
            out.append(("generate peak memory at 10M <= 3 GB", f"{r['peak_rss_bytes'] / 1e9:.2f} GB",
                        verdict(r["peak_rss_bytes"] <= 3e9)))
    for r in det:
        out.append((f"detect >= 150k events/s at {label(r['target'])}", f"{r['detect_events_per_second']:,.0f}/s",
                    verdict(r["detect_events_per_second"] >= 150_000)))
        runs = r.get("detect_runs", 1)
        out.append((f"detect <= 2x bare score_samples at {label(r['target'])}",
                    f"{r['detect_to_bare_ratio']:.2f}x" + (f" (median of {runs} runs: {bench_detect._ratio_range(r)})"
                                                           if runs > 1 else ""),
                    verdict(r["detect_to_bare_ratio"] <= 2)))
        out.append((f"detect peak <= 500 bytes/event at {label(r['target'])}",
                    f"{r['detect_peak_bytes_per_event']:,.0f} B/event "
                    f"({r['detect_peak_above_imports_bytes_per_event']:,.0f} above imports)",
                    verdict(r["detect_peak_bytes_per_event"] <= 500)))
        if r["target"] >= 10 * MILLION:
            out.append(("train on 10M <= 60 s", f"{r['train_seconds']:.1f} s", verdict(r["train_seconds"] <= 60)))
    growth = peak_growth_per_event(det)
    if growth:
        small, large, per_event = growth
        out.append((f"(for reference) detect peak per added event, {label(small['target'])} to {label(large['target'])}",
                    f"{per_event:,.0f} B/event (fixed cost at {label(small['target'])}: "
                    f"{(small['detect_peak_rss_bytes'] - per_event * small['events']) / 2**20:,.0f} MiB)",
                    "not a target: the fixed cost cancels out"))
    return out


def render(info: dict, gen: list[dict], det: list[dict], seconds: float, command: str) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    lines = [
        "# Benchmark results", "",
        f"Measured by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in {seconds / 60:.1f} min.",
        "",
        "## Machine", "",
        f"- {info.get('cpu', 'unknown CPU')}; {info['cores']} cores ({info.get('cores_usable', '?')} usable); "
        f"{info.get('memory_gib', '?')} GiB memory; load average at start {info.get('load_average_at_start', '?')}",
        f"- {info['platform']}, Python {info['python']}; code at commit {info.get('git_commit', 'unknown')}",
        f"- {versions}", "",
        "Each step runs in its own child process; peak memory is that process's high-water resident set "
        "(getrusage ru_maxrss), interpreter and libraries included.", "",
        "## Generate (synthetic force to Parquet)", "", bench_generate.markdown(gen), "",
        "## Train and detect", "",
        "Train: read the data set (no answer key), compute features, fit, on every event. Detect: read, features, "
        "score, roll-up and alerts on every event; then, in the same process, the model's own fitted "
        "IsolationForest.score_samples on the same feature matrix (`bare`).", "",
        bench_detect.markdown(det), "",
        "## Targets", "", "| target | measured | verdict |", "|---|---|---|",
    ]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in targets(gen, det)]
    lines += ["", "<details><summary>raw figures (JSON)</summary>", "", "```json",
              json.dumps({"machine": info, "generate": gen, "detect": det}, indent=1), "```", "</details>", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="1e6,1e7", help="sizes, e.g. 1e6,1e7")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md")
    parser.add_argument("--workdir", type=Path, help="where data sets and models go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data sets and models")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, help="events per staff-day used to size the forces (default: measured "
                        "by a calibration run)")
    args = parser.parse_args(argv)
    sizes = parse_sizes(args.events)
    info = machine()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="snoopwatch-bench-"))
    started = time.perf_counter()
    try:
        rate = args.rate or calibrate(args.seed)
        gen = bench_generate.measure_generate(sizes, workdir, args.seed, rate)
        det = bench_detect.measure_detect(sizes, workdir, args.seed, rate)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    command = "python benchmarks/run_all.py --events " + ",".join(f"{s:.0e}".replace("+0", "") for s in sizes)
    text = render(info, gen, det, time.perf_counter() - started, command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)
    print(text)
    return args.out


if __name__ == "__main__":
    main()
