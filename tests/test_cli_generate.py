"""`snoopwatch generate` and `snoopwatch scenarios` end to end through click's CliRunner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from snoopwatch.cli import cli
from snoopwatch.dataset import load_dataset


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_generate_writes_a_valid_data_set_and_summarises(tmp_path):
    out = tmp_path / "force"
    result = run("generate", str(out), "--staff", "60", "--days", "20", "--seed", "3", "--scenarios", "S2,S9,S13")
    assert result.exit_code == 0, result.output
    assert "events" in result.output and "planted misuse cases" in result.output and str(out) in result.output
    ds = load_dataset(out, strict=True)
    assert set(ds.instances["scenario"].astype(str)) <= {"S2", "S9", "S13"} and len(ds.instances) >= 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["staff"] == 60 and manifest["seed"] == 3
    assert manifest["rows"]["events"] == len(ds.events)
    assert (out / "events.parquet").exists()


def test_generate_csv_and_refuses_non_empty_directory(tmp_path):
    out = tmp_path / "force"
    assert run("generate", str(out), "--staff", "50", "--days", "14", "--format", "csv", "--insiders", "0").exit_code == 0
    assert (out / "events.csv").exists() and (out / "labels.csv").exists()
    again = run("generate", str(out), "--staff", "50", "--days", "14")
    assert again.exit_code == 2 and "not empty" in again.output and "--force" in again.output
    forced = run("generate", str(out), "--staff", "50", "--days", "14", "--force")
    assert forced.exit_code == 0
    assert load_dataset(out, strict=True).files["events"].name == "events.parquet"


def test_generate_bad_arguments_get_one_sentence(tmp_path):
    cases = [
        (["--scenarios", "S2,S99"], "unknown scenario 'S99'"),
        (["--stealth", "1.5"], "stealth must be between 0 and 1"),
        (["--staff", "3"], "staff must be"),
        (["--start", "yesterday-ish"], "start must be a date"),
    ]
    for extra, message in cases:
        result = run("generate", str(tmp_path / "x"), *extra)
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output
        assert "Traceback" not in result.output


def test_scenarios_table_and_show():
    listing = run("scenarios")
    assert listing.exit_code == 0
    for sid in ("S1", "S9", "S13"):
        assert sid in listing.output
    assert "Merseyside" in listing.output
    show = run("scenarios", "show", "s9")
    assert show.exit_code == 0
    assert "2005" in show.output and "What a detector can see" in show.output and "min_lookups" in show.output
    missing = run("scenarios", "show", "S99")
    assert missing.exit_code == 2 and "unknown scenario" in missing.output
