"""One tiny run of each benchmark script (seconds): they run end to end and report real, positive figures.

The full-size runs (1M and 10M events) are not tests: `python benchmarks/run_all.py --events 1e6,1e7`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
TINY = ["--events", "3000", "--rate", "8"]


def _needs(module: str, name: str) -> None:
    try:
        getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        pytest.skip(f"{module}.{name} is not available in this build")


@pytest.fixture(scope="module")
def scripts():
    _needs("snoopwatch.synth", "generate")
    _needs("snoopwatch.detect", "detect")
    sys.path.insert(0, str(BENCH))
    import bench_detect
    import bench_generate
    import run_all

    yield bench_generate, bench_detect, run_all
    sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bench")


def test_bench_generate_smoke(scripts, workdir: Path):
    bench_generate, _, _ = scripts
    rows = bench_generate.main([*TINY, "--workdir", str(workdir)])
    row = rows[0]
    assert row["events"] > 500 and row["total_seconds"] > 0 and row["events_per_second"] > 0
    assert row["peak_rss_bytes"] > row["import_rss_bytes"] > 10_000_000
    assert (workdir / "events-3k" / "manifest.json").exists()


def test_bench_detect_smoke(scripts, workdir: Path):
    _, bench_detect, _ = scripts
    rows = bench_detect.main([*TINY, "--workdir", str(workdir)])  # reuses the data set generated above
    row = rows[0]
    assert row["detect_events_per_second"] > 0 and row["bare_score_samples_seconds"] > 0
    assert row["detect_to_bare_ratio"] > 1  # end to end includes reading and features, so it costs more
    assert row["train_seconds"] > 0 and row["detect_peak_rss_bytes"] > 0
    ratios = sorted(row["detect_to_bare_ratios"])  # paired runs: the median one is reported
    assert row["detect_runs"] == len(ratios) == bench_detect.DETECT_RUNS
    assert row["detect_to_bare_ratio"] == ratios[len(ratios) // 2]


def test_run_all_writes_results(scripts, tmp_path: Path):
    _, _, run_all = scripts
    out = run_all.main([*TINY, "--out", str(tmp_path / "RESULTS.md")])
    text = out.read_text()
    for part in ("## Machine", "cores", "scikit-learn", "## Generate", "## Train and detect", "## Targets",
                 "detect >= 150k events/s at 3k"):
        assert part in text


def test_a_failing_step_is_reported_not_fatal(scripts, tmp_path: Path):
    _, bench_detect, _ = scripts
    (tmp_path / "events-3k").mkdir()
    (tmp_path / "events-3k" / "manifest.json").write_text("{}")  # a "data set" with no events table
    rows = bench_detect.measure_detect([3000], tmp_path)
    assert "error" in rows[0] and "train failed" in rows[0]["error"]
    assert "failed: train failed" in bench_detect.markdown(rows)


def test_peak_growth_per_event_cancels_the_fixed_cost(scripts):
    _, _, run_all = scripts
    fixed, per_event = 250 * 2**20, 450.0
    runs = [{"target": n, "events": n, "detect_peak_rss_bytes": fixed + per_event * n} for n in (10**7, 10**6)]
    small, large, growth = run_all.peak_growth_per_event(runs)
    assert (small["events"], large["events"]) == (10**6, 10**7)
    assert growth == pytest.approx(per_event)
    assert run_all.peak_growth_per_event(runs[:1]) is None
    rows = {t: (m, v) for t, m, v in run_all.targets([], [dict(r, **_detect_figures()) for r in runs])}
    measured, verdict = rows["(for reference) detect peak per added event, 1M to 10M"]
    assert measured.startswith("450 B/event (fixed cost at 1M: 250 MiB)") and verdict.startswith("not a target")


def _detect_figures() -> dict:
    return {"detect_events_per_second": 2e5, "detect_to_bare_ratio": 2.5, "detect_peak_bytes_per_event": 700.0,
            "detect_peak_above_imports_bytes_per_event": 500.0, "train_seconds": 40.0}
