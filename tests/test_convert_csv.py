"""`convert csv`: any export with a column mapping, typed and set aside exactly as the data-set reader does."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from snoopwatch.cli import cli
from snoopwatch.convert.tabular import convert_table, parse_pairs, parse_value_maps
from snoopwatch.dataset import load_dataset
from snoopwatch.errors import ConversionError

EXPORT = """ref,when,officer,what,nominal,crime_no,terminal
A1,2025-03-04 19:41:07,PC4412,QRY,P001001,CR/2025/0042,MDT-117
A2,2025-07-04 09:00:00,PC4412,DSP,P001002,,MDT-117
A3,not a time,DC1180,QRY,P001003,,WS-1
A4,2025-07-04 10:00:00,,QRY,P001003,,WS-1
A4,2025-07-04 11:00:00+00:00,DC1180,PRN,P001004,,WS-1
"""
COLUMNS = {"event_id": "ref", "timestamp": "when", "user_id": "officer", "action": "what",
           "subject_id": "nominal", "case_ref": "crime_no", "workstation": "terminal"}


@pytest.fixture()
def export(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8")
    return path


def test_mapping_zone_values_and_constants(export, tmp_path):
    report = convert_table(export, COLUMNS, tmp_path / "out", timezone="Europe/London",
                           values={"action": {"QRY": "search", "DSP": "view", "PRN": "export"}},
                           constants={"system": "PNC"})
    events = load_dataset(report.out).events
    assert events["event_id"].astype(str).tolist() == ["A1", "A2"]
    # London is GMT in March and BST in July
    assert [t.isoformat() for t in events["timestamp"]] == ["2025-03-04T19:41:07+00:00", "2025-07-04T08:00:00+00:00"]
    assert events["action"].astype(str).tolist() == ["search", "view"]
    assert events["system"].astype(str).unique().tolist() == ["PNC"]
    assert report.records == report.accounted == 5
    assert report.converted == 2 and sum(report.rejected.values()) == 3


def test_rejects_match_the_dataset_reader(export, tmp_path):
    report = convert_table(export, COLUMNS, tmp_path / "out", timezone="Europe/London")
    ours = pd.read_csv(tmp_path / "out" / "rejects" / "events.rejects.csv")
    # the same rows renamed by hand and read leniently by the data-set reader
    raw = pd.read_csv(export, dtype=str, keep_default_na=False).rename(columns={v: k for k, v in COLUMNS.items()})
    (tmp_path / "by-hand").mkdir()
    raw.to_csv(tmp_path / "by-hand" / "events.csv", index=False)
    reader = load_dataset(tmp_path / "by-hand", strict=False, source_timezone="Europe/London").rejects["events"]
    assert ours["reject_reason"].tolist() == reader["reject_reason"].tolist()
    assert ours["source_row"].tolist() == reader["source_row"].tolist()
    assert ours["source"].tolist() == ["export.csv:row 3", "export.csv:row 4", "export.csv:row 5"]
    assert report.events_set_aside == 3


def test_times_without_offset_need_a_zone(export, tmp_path):
    columns = {k: v for k, v in COLUMNS.items() if k != "event_id"}
    report = convert_table(export, columns, tmp_path / "out")
    assert report.events == 1  # only the row written with an offset
    assert load_dataset(report.out).events["event_id"].astype(str).str.startswith("h").all()  # derived ids
    assert any("timestamp has no offset" in reason for reason in report.rejected)


def test_json_lines_and_errors(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"ts": "2025-03-04T19:41:07Z", "who": "PC1", "act": "view", "n": 3},
        {"ts": "2025-03-04T19:42:07Z", "who": "PC2", "act": "search", "n": 14},
    ]) + "\n", encoding="utf-8")
    report = convert_table(path, {"timestamp": "ts", "user_id": "who", "action": "act", "result_count": "n"}, tmp_path / "out")
    events = load_dataset(report.out).events
    assert events["result_count"].tolist() == [3, 14]
    with pytest.raises(ConversionError, match="no column 'missing'"):
        convert_table(path, {"timestamp": "missing"}, tmp_path / "o2")
    with pytest.raises(ConversionError, match="not events columns"):
        convert_table(path, {"when": "ts"}, tmp_path / "o3")
    assert parse_pairs(["a=b,c=d", "e=f"], "--map") == {"a": "b", "c": "d", "e": "f"}
    assert parse_value_maps(["action:QRY=search,DSP=view"]) == {"action": {"QRY": "search", "DSP": "view"}}
    with pytest.raises(ConversionError):
        parse_pairs(["nonsense"], "--map")


def test_cli_convert_csv(export, tmp_path):
    result = CliRunner().invoke(cli, [
        "convert", "csv", str(export), "--map", "event_id=ref,timestamp=when,user_id=officer,action=what",
        "--map", "subject_id=nominal", "--value", "action:QRY=search,DSP=view", "--set", "system=PNC",
        "--timezone", "Europe/London", "--out", str(tmp_path / "out"), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "5 record(s) read" in result.output and "rejected: 3" in result.output
    written = pd.read_csv(tmp_path / "out" / "events.csv")
    assert written["action"].tolist() == ["search", "view"]
