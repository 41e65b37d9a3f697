"""`snoopwatch demo` end to end on a tiny fresh force: generate, train, detect, report, table, paths."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from snoopwatch.cli import cli


@pytest.fixture(scope="module")
def pipeline_present() -> None:
    try:
        from snoopwatch.detect import detect, save_model, train  # noqa: F401
        from snoopwatch.detect.io import write_alerts, write_scores  # noqa: F401
        from snoopwatch.synth import generate_dataset  # noqa: F401
    except ImportError as error:
        pytest.skip(f"the generator or detector is not importable yet ({error}); the demo needs both")


def test_demo_runs_end_to_end_on_a_tiny_force(pipeline_present, tmp_path):
    out = tmp_path / "demo"
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["demo", "--staff", "40", "--days", "28", "--seed", "3", "--out", str(out)])
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert seconds < 60, f"the tiny demo took {seconds:.0f} s"
    assert (out / "data" / "manifest.json").is_file() and (out / "model.skops").is_file()
    report = out / "report.html"
    assert f"HTML trainer-mode report (answers revealed): {report}" in result.output
    html = report.read_text(encoding="utf-8")
    assert 'id="answers"' in html and "<script" not in html.lower()
    alerts = [json.loads(line) for line in (out / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    ecs = [json.loads(line) for line in (out / "alerts.ecs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(ecs) == len(alerts)
    assert all(doc["event"]["kind"] == "alert" and doc["user"]["id"] for doc in ecs)
    if alerts:
        top = max(alerts, key=lambda a: a["risk"])
        assert "People to look at" in result.output and top["user_id"] in result.output
        assert 'id="person-1"' in html
    else:
        assert "No alerts" in result.output


def test_demo_refuses_a_file_as_output(pipeline_present, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    result = CliRunner().invoke(cli, ["demo", "--staff", "40", "--days", "14", "--out", str(target)])
    assert result.exit_code == 2 and "is a file" in result.output
