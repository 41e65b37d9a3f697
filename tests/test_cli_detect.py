"""`snoopwatch train` and `snoopwatch detect` end to end with CliRunner, and their one-sentence errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from snoopwatch.cli import cli
from snoopwatch.dataset import save_dataset
from snoopwatch.detect._toy import toy_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy")
    ds = toy_dataset(days=35, seed=2)
    save_dataset(ds.tables, path, fmt="csv", manifest=ds.manifest)
    return path


@pytest.fixture(scope="module")
def model_path(data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.skops"
    result = CliRunner().invoke(cli, ["train", str(data_dir), "--until", "2025-01-25", "--model", str(path), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "features used" in result.output and "dropped home_proximity" in result.output
    assert path.exists()
    return path


def test_detect_writes_scores_alerts_and_prints_people(data_dir, model_path, tmp_path):
    scores, alerts = tmp_path / "scores.csv", tmp_path / "alerts.jsonl"
    result = CliRunner().invoke(cli, ["detect", str(data_dir), "--model", str(model_path), "--since", "2025-01-25",
                                      "--scores", str(scores), "--alerts", str(alerts), "--budget", "50"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(scores)
    events = pd.read_csv(data_dir / "events.csv")
    assert len(frame) == (pd.to_datetime(events["timestamp"], utc=True) >= pd.Timestamp("2025-01-25", tz="UTC")).sum()
    lines = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert lines and all(line["version"] == 1 for line in lines)
    assert "U000" in result.output and "events scored" in result.output


@pytest.mark.parametrize("fmt,check", [
    ("json", lambda out: all(json.loads(x)["alert_id"] for x in out.splitlines())),
    ("csv", lambda out: out.splitlines()[0].startswith("alert_id,user_id")),
    ("ecs", lambda out: all(json.loads(x)["event"]["kind"] == "alert" for x in out.splitlines())),
])
def test_output_formats(data_dir, model_path, fmt, check):
    result = CliRunner().invoke(cli, ["detect", str(data_dir), "--model", str(model_path), "--since", "2025-01-25",
                                      "--budget", "50", "--format", fmt])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() and check(result.stdout.strip())


def test_allowlist_is_reported(data_dir, model_path, tmp_path):
    allow = tmp_path / "allow.toml"
    allow.write_text('[[allow]]\nuser = "U000"\nwhy = "test entry"\n')
    result = CliRunner().invoke(cli, ["detect", str(data_dir), "--model", str(model_path), "--since", "2025-01-25",
                                      "--allowlist", str(allow), "--budget", "50"])
    assert result.exit_code == 0, result.output
    assert "allow-list #1 user=U000 (test entry):" in result.output and "suppressed" in result.output


def test_bad_rows_are_counted_and_written(data_dir, model_path, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in data_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    events = (broken / "events.csv").read_text().splitlines()
    header = events[0].split(",")
    row = {"event_id": "E999999", "timestamp": "not-a-time", "user_id": "U001", "action": "view"}
    events.append(",".join(row.get(column, "") for column in header))
    (broken / "events.csv").write_text("\n".join(events) + "\n")
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(cli, ["detect", str(broken), "--model", str(model_path), "--since", "2025-01-25",
                                      "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert "1 event row(s) could not be scored" in result.output
    assert "E999999" in rejects.read_text()
    assert "context:" not in result.output  # (no context row was set aside)


def test_context_rows_set_aside_are_counted(data_dir, model_path, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in data_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    staff = pd.read_csv(broken / "staff.csv", dtype=str)
    pd.concat([staff, staff.iloc[:2]]).to_csv(broken / "staff.csv", index=False)  # two repeated user ids
    result = CliRunner().invoke(cli, ["detect", str(broken), "--model", str(model_path), "--since", "2025-01-25",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "context: 2 row(s) could not be read and were left out (staff 2)" in result.output


@pytest.mark.parametrize("args,message", [
    (["detect", "{data}", "--model", "{tmp}/none.skops"], "no such model file"),
    (["detect", "{tmp}/nowhere", "--model", "{model}"], "no such directory"),
    (["detect", "{data}", "--model", "{model}", "--since", "someday"], "not a date"),
    (["detect", "{data}", "--model", "{model}", "--scores", "{tmp}/s.xlsx"], "scores are written as"),
    (["detect", "{data}", "--model", "{model}", "--allowlist", "{tmp}/allow.yaml"], "allow-list"),
    (["train", "{data}", "--until", "2024-01-01", "--model", "{tmp}/m.skops"], "training needs at least"),
    (["detect", "{data}", "--model", "{data}/events.csv"], "not a snoopwatch model file"),
])
def test_bad_input_gives_one_sentence_and_exit_2(data_dir, model_path, tmp_path, args, message):
    (tmp_path / "allow.yaml").write_text("x")
    filled = [a.format(data=data_dir, tmp=tmp_path, model=model_path) for a in args]
    result = CliRunner().invoke(cli, filled)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_html_report_is_written(data_dir, model_path, tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["detect", str(data_dir), "--model", str(model_path), "--since", "2025-01-25",
                                      "--budget", "50", "--html", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "<html" in text.lower() and "U000" in text


def test_train_and_detect_read_local_times_with_a_named_zone(tmp_path):
    ds = toy_dataset(days=25, seed=5)
    tables = dict(ds.tables)
    local = ds.events["timestamp"].dt.tz_convert("Europe/London").dt.strftime("%Y-%m-%dT%H:%M:%S")
    tables["events"] = ds.events.assign(timestamp=local)
    save_dataset(tables, tmp_path / "local", fmt="csv")
    model = tmp_path / "m.skops"
    without_zone = CliRunner().invoke(cli, ["train", str(tmp_path / "local"), "--model", str(model)])
    assert without_zone.exit_code != 0 and "Traceback" not in without_zone.output
    trained = CliRunner().invoke(cli, ["train", str(tmp_path / "local"), "--model", str(model),
                                       "--until", "2025-01-15", "--timezone", "Europe/London"])
    assert trained.exit_code == 0, trained.output
    detected = CliRunner().invoke(cli, ["detect", str(tmp_path / "local"), "--model", str(model), "--since",
                                        "2025-01-15", "--timezone", "Europe/London", "--format", "json"])
    assert detected.exit_code == 0, detected.output
