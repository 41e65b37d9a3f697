"""Shared plumbing for the benchmark scripts: one child process per measurement, machine description.

Each measurement runs in a fresh Python process (`python benchlib.py TASK JSON`) so that its peak memory
(resource.getrusage ru_maxrss, the high-water mark of the child's resident set) belongs to that step alone.
The child prints one line `RESULT {json}`; the parent parses it. `import_rss_bytes` is the child's resident
set right after importing snoopwatch, pandas and scikit-learn, so readers can tell the fixed cost of the
interpreter and libraries from the cost per event.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent


def peak_rss_bytes() -> int:
    """High-water resident set of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss_bytes()


def machine() -> dict:
    """Cores, memory, CPU model, Python and library versions: what a reader needs to compare figures."""
    info = {"platform": platform.platform(), "python": platform.python_version(), "cores": os.cpu_count()}
    with contextlib.suppress(AttributeError):
        info["cores_usable"] = len(os.sched_getaffinity(0))
    try:
        meminfo = Path("/proc/meminfo").read_text()
        kib = int(next(line for line in meminfo.splitlines() if line.startswith("MemTotal")).split()[1])
        info["memory_gib"] = round(kib / 1024**2, 1)
        cpu = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("model name")), "")
    except (OSError, StopIteration):
        pass
    with contextlib.suppress(OSError):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    versions = {}
    for name in ("snoopwatch", "numpy", "pandas", "pyarrow", "scikit-learn", "faker", "pyod"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    info["versions"] = versions
    try:
        commit = subprocess.run(["git", "-C", str(HERE.parent), "log", "-1", "--format=%h %cI"],
                                capture_output=True, text=True, timeout=10)
        info["git_commit"] = commit.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        info["git_commit"] = "unknown"
    return info


class StepFailed(RuntimeError):
    """A measurement's child process failed, was killed (e.g. out of memory) or timed out."""


STEP_TIMEOUT = 3600.0


def run_child(task: str, timeout: float | None = STEP_TIMEOUT, **params) -> dict:
    """Run one measurement in a fresh interpreter and return its result (with peak_rss_bytes)."""
    try:
        proc = subprocess.run([sys.executable, str(HERE / "benchlib.py"), task, json.dumps(params)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise StepFailed(f"{task} timed out after {timeout:.0f} s") from error
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        if proc.returncode < 0:
            why = f"killed by signal {-proc.returncode}" + (" (out of memory?)" if proc.returncode == -9 else "")
        else:
            last = [line for line in proc.stderr.strip().splitlines() if line.strip()]
            why = f"exit {proc.returncode}: {last[-1] if last else 'no message'}"
        print(proc.stderr[-3000:], file=sys.stderr)
        raise StepFailed(f"{task} failed ({why})")
    return json.loads(lines[-1][len("RESULT "):])


# ------------------------------------------------------------------------------------------------ tasks
def task_generate(staff: int, days: int, seed: int, out: str | None = None, fmt: str = "parquet") -> dict:
    """Generate a force in memory, then (if out) write it; time both."""
    from snoopwatch.synth import SynthConfig, generate, write_world

    base = current_rss_bytes()
    t0 = time.perf_counter()
    world = generate(SynthConfig(staff=staff, days=days, seed=seed))
    t1 = time.perf_counter()
    if out:
        write_world(world, out, fmt=fmt)
    t2 = time.perf_counter()
    return {"events": int(len(world.tables["events"])), "staff": staff, "days": days,
            "generate_seconds": t1 - t0, "write_seconds": t2 - t1, "total_seconds": t2 - t0,
            "events_per_staff_day": len(world.tables["events"]) / (staff * days), "import_rss_bytes": base}


def task_train(data: str, model: str, seed: int = 0) -> dict:
    """Read the data set (no answer key), train on every event, save the model."""
    from snoopwatch.dataset import load_dataset
    from snoopwatch.detect import save_model, train

    base = current_rss_bytes()
    t0 = time.perf_counter()
    dataset = load_dataset(data, answer_key=False)
    t1 = time.perf_counter()
    trained = train(dataset, seed=seed)
    t2 = time.perf_counter()
    save_model(trained, model)
    return {"events": int(len(dataset.events)), "read_seconds": t1 - t0, "train_seconds": t2 - t1,
            "total_seconds": t2 - t0, "import_rss_bytes": base}


def task_detect(data: str, model: str, budget: float = 10.0) -> dict:
    """End-to-end detect (read, features, score, roll-up) over every event, then, in the same run, bare
    IsolationForest.score_samples on the same feature matrix (the model's own fitted forest)."""
    import numpy as np

    from snoopwatch.dataset import load_dataset
    from snoopwatch.detect import detect, load_model
    from snoopwatch.features import build_features

    base = current_rss_bytes()
    trained = load_model(model)
    t0 = time.perf_counter()
    dataset = load_dataset(data, answer_key=False)
    t1 = time.perf_counter()
    result = detect(dataset, trained, budget=budget)
    t2 = time.perf_counter()
    peak_detect = peak_rss_bytes()
    x = build_features(dataset, trained.features).frame[trained.features].to_numpy(np.float32)
    forest = trained.estimator.forest_
    t3 = time.perf_counter()
    forest.score_samples(x)
    t4 = time.perf_counter()
    return {"events": int(len(dataset.events)), "scored": int(len(result.scores)), "alerts": len(result.alerts),
            "read_seconds": t1 - t0, "detect_seconds": t2 - t1, "total_seconds": t2 - t0,
            "bare_score_samples_seconds": t4 - t3, "features": len(trained.features),
            "n_estimators": int(len(forest.estimators_)), "peak_rss_detect_bytes": peak_detect,
            "import_rss_bytes": base}


TASKS = {"generate": task_generate, "train": task_train, "detect": task_detect}


def parse_sizes(text: str) -> list[int]:
    """'1e6,1e7' -> [1000000, 10000000]."""
    sizes = [int(float(part)) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) <= 0:
        raise SystemExit("--events takes positive sizes separated by commas, e.g. 1e6,1e7")
    return sizes


def size_force(target_events: int, events_per_staff_day: float) -> tuple[int, int]:
    """(staff, days) of a generated force expected to hold about `target_events` events: a year of data
    for large sizes, fewer days (never under 14) and the smallest force (40 staff) for tiny ones."""
    days = 365
    staff = round(target_events / (events_per_staff_day * days))
    if staff < 40:
        staff = 40
        days = max(14, min(365, round(target_events / (events_per_staff_day * staff))))
    return staff, days


def generate_force(staff: int, days: int, seed: int, out: str) -> dict:
    """Run the generate step; if the generator fails at this exact size, try once with one more member of
    staff and say so in the result's `note` (a generator bug is reported, never hidden)."""
    try:
        return run_child("generate", staff=staff, days=days, seed=seed, out=out)
    except StepFailed as error:
        result = run_child("generate", staff=staff + 1, days=days, seed=seed, out=out)
        result["note"] = f"generator failed with staff={staff}, days={days}, seed={seed} ({error}); measured with staff={staff + 1}"
        print(result["note"], file=sys.stderr)
        return result


def calibrate(seed: int = 0) -> float:
    """Events per staff-day of the generator at its default settings, from a small force (150 staff, 60 days)."""
    return float(run_child("generate", staff=150, days=60, seed=seed)["events_per_staff_day"])


def label(n: int) -> str:
    """1000000 -> '1M', 10000000 -> '10M', 3000 -> '3k'."""
    for size, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if n >= size:
            return f"{n / size:g}{suffix}"
    return str(n)


def dataset_dir(workdir: Path, target: int) -> Path:
    return Path(workdir) / f"events-{label(target)}"


def fmt_bytes(n: float) -> str:
    return f"{n / 1024**3:.2f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


def script_main(doc: str, measure, markdown, workdir_help: str, argv: list[str] | None = None) -> list[dict]:
    """The command line shared by the benchmark scripts: --events, --workdir, --seed, --rate; prints Markdown."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--events", default="1e6,1e7", help="sizes, e.g. 1e6,1e7")
    parser.add_argument("--workdir", type=Path, help=f"{workdir_help} (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, help="events per staff-day used to size the forces (default: measured "
                        "by a calibration run)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="snoopwatch-bench-") as tmp:
        rows = measure(parse_sizes(args.events), args.workdir or Path(tmp), args.seed, args.rate)
    print(markdown(rows))
    return rows


def _child_main(argv: list[str]) -> None:
    task, params = argv[0], json.loads(argv[1])
    result = TASKS[task](**params)
    result["peak_rss_bytes"] = peak_rss_bytes()
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    _child_main(sys.argv[1:])
