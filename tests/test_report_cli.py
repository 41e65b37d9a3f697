"""`snoopwatch report` end to end with click's CliRunner, on hand-made detection files."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from snoopwatch.cli import cli
from snoopwatch.dataset import load_dataset
from test_report_fixtures import HOSTILE_SURNAME, copy_example, example_alerts, example_scores


@pytest.fixture
def files(example_dataset, tmp_path):
    data = copy_example(example_dataset, tmp_path / "data", hostile=True, labels=True)
    ds = load_dataset(data)
    scores = example_scores(ds)
    scores["timestamp"] = scores["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    scores.to_csv(tmp_path / "scores.csv", index=False)
    (tmp_path / "alerts.jsonl").write_text("".join(json.dumps(a) + "\n" for a in example_alerts()), encoding="utf-8")
    return data, tmp_path / "scores.csv", tmp_path / "alerts.jsonl"


def test_report_command_writes_the_report(files, tmp_path):
    data, scores, alerts = files
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(cli, ["report", str(data), "--scores", str(scores), "--alerts", str(alerts),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"written to {out}" in result.output and "1 person (2 alerts)" in result.output
    html = out.read_text(encoding="utf-8")
    assert 'id="person-1"' in html and HOSTILE_SURNAME not in html and 'id="answers"' not in html


def test_report_command_reveal(files, tmp_path):
    data, scores, alerts = files
    out = tmp_path / "trainer.html"
    result = CliRunner().invoke(cli, ["report", str(data), "--scores", str(scores), "--alerts", str(alerts),
                                      "--out", str(out), "--reveal", "--display-timezone", "Europe/London"])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert 'id="answers"' in html and "times in Europe/London" in html


def test_report_reveal_without_labels_is_one_clear_sentence(example_dataset, files, tmp_path):
    _, scores, alerts = files
    result = CliRunner().invoke(cli, ["report", str(example_dataset), "--scores", str(scores), "--alerts",
                                      str(alerts), "--out", str(tmp_path / "r.html"), "--reveal"])
    assert result.exit_code == 2
    assert "has no labels file" in result.output and "without --reveal" in result.output
    assert not (tmp_path / "r.html").exists()


def test_report_bad_alerts_file_is_a_clear_error(files, tmp_path):
    data, scores, _ = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"alert_id": "x"}\nnot json\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(data), "--scores", str(scores), "--alerts", str(bad),
                                      "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "line 2: not valid JSON" in result.output


def test_report_unknown_timezone(files, tmp_path):
    data, scores, alerts = files
    result = CliRunner().invoke(cli, ["report", str(data), "--scores", str(scores), "--alerts", str(alerts),
                                      "--out", str(tmp_path / "r.html"), "--display-timezone", "Mars/Olympus"])
    assert result.exit_code == 2 and "unknown time zone" in result.output
