"""Generator throughput and peak memory: generate a force of about N events and write it to Parquet.

    python benchmarks/bench_generate.py --events 1e6,1e7 [--workdir DIR] [--seed 0]

Targets (issue 2): 1M events in <= 10 s and 10M in <= 30 s written to Parquet, peak <= 3 GB at 10M.
Each size runs in its own child process; the force is sized from a calibration run (events per staff-day).
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
    script_main,
    size_force,
)


def measure_generate(sizes: list[int], workdir: Path, seed: int = 0, rate: float | None = None) -> list[dict]:
    """One row per size: events, staff, days, seconds (generate, write, total), events/s, peak memory."""
    rate = rate or calibrate(seed)
    rows = []
    for target in sizes:
        staff, days = size_force(target, rate)
        out = dataset_dir(workdir, target)
        try:
            result = generate_force(staff, days, seed, str(out))
            if abs(result["events"] / target - 1) > 0.05 and staff > 40:
                # The rate depends a little on the force's size: resize once from what this force produced.
                staff, days = size_force(target, result["events_per_staff_day"])
                result = generate_force(staff, days, seed, str(out))
        except StepFailed as error:
            rows.append({"target": target, "staff": staff, "days": days, "error": str(error)})
            print(f"generate {label(target)}: {error}", file=sys.stderr)
            continue
        result.update(target=target, path=str(out), events_per_second=result["events"] / result["total_seconds"])
        rows.append(result)
        print(f"generate {label(target)}: {result['events']:,} events in {result['total_seconds']:.1f} s "
              f"({result['events_per_second']:,.0f}/s), peak {fmt_bytes(result['peak_rss_bytes'])}", file=sys.stderr)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| target | events | staff x days | generate s | write s | total s | events/s | peak RSS |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {label(r['target'])} | failed: {r['error']} | {r['staff']} x {r['days']} | | | | | |")
            continue
        lines.append(f"| {label(r['target'])} | {r['events']:,} | {r['staff']} x {r['days']} | {r['generate_seconds']:.1f} "
                     f"| {r['write_seconds']:.1f} | {r['total_seconds']:.1f} | {r['events_per_second']:,.0f} "
                     f"| {fmt_bytes(r['peak_rss_bytes'])} |")
    lines += [f"- {label(r['target'])}: {r['note']}" for r in rows if r.get("note")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    return script_main(__doc__, measure_generate, markdown, "where the generated data sets go", argv)


if __name__ == "__main__":
    main()
