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


# Exports as real tools write them.

@pytest.mark.parametrize("name, content, says", [
    ("ragged.csv", b"ts,officer,what\n2025-03-04T09:00:00Z,PC1,search,\n", "Expected 3 columns, got 4"),
    ("latin1.csv", b"ts,officer,what\n2025-03-04T09:00:00Z,O\xe9,search\n", "valid csv in UTF-8"),
    ("twice.csv", b"ts,officer,what,ts\n2025-03-04T09:00:00Z,PC1,search,x\n", "column 'ts' appears more than once"),
    ("broken.jsonl", b'{"ts":"2025-03-04T09:00:00Z","officer":"PC1","what":"search"}\n\n{"ts": broken\n', "at line 3"),
    ("array.jsonl", b'{"ts":"2025-03-04T09:00:00Z","officer":"PC1","what":"search"}\n[1, 2]\n', "valid jsonl"),
    ("notgzip.jsonl.gz", b'{"ts":"2025-03-04T09:00:00Z","officer":"PC1","what":"search"}\n', "valid jsonl"),
])
def test_unreadable_export_is_a_clear_error_not_a_traceback(tmp_path, name, content, says):
    (tmp_path / name).write_bytes(content)
    result = CliRunner().invoke(cli, ["convert", "csv", str(tmp_path / name), "--map",
                                      "timestamp=ts,user_id=officer,action=what", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output


def test_numeric_ids_beside_empty_cells_and_padded_values_read_as_the_reader_reads_them(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text('{"ts":"2025-03-04T09:00:00Z","officer":1234,"what":"QRY   ","nominal":5551}\n'
                    '{"ts":"2025-03-04T09:00:01Z","officer":1234,"what":" DSP","nominal":null}\n')
    report = convert_table(path, {"timestamp": "ts", "user_id": "officer", "action": "what", "subject_id": "nominal"},
                           tmp_path / "out", values={"action": {"QRY": "search", "DSP": "view"}})
    events = load_dataset(report.out).events
    assert events["subject_id"].astype(object).tolist()[0] == "5551"  # not "5551.0"
    assert events["user_id"].astype(str).tolist() == ["1234", "1234"]
    assert events["action"].astype(str).tolist() == ["search", "view"]


def test_a_date_alone_has_no_offset(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("ts,officer,what\n2025-03-04,PC1,search\n2025-03-04T09:00:00Z,PC1,view\n")
    columns = {"timestamp": "ts", "user_id": "officer", "action": "what"}
    report = convert_table(path, columns, tmp_path / "out")
    assert [str(t) for t in load_dataset(report.out).events["timestamp"]] == ["2025-03-04 09:00:00+00:00"]
    assert any("timestamp has no offset" in reason for reason in report.rejected)
    zoned = convert_table(path, columns, tmp_path / "zoned", timezone="America/New_York")
    assert [str(t) for t in load_dataset(zoned.out).events["timestamp"]] == [
        "2025-03-04 05:00:00+00:00", "2025-03-04 09:00:00+00:00"]


def test_converting_again_replaces_its_own_output_and_refuses_to_mix_with_other_tables(export, tmp_path):
    out = tmp_path / "out"
    first = convert_table(export, COLUMNS, out, timezone="Europe/London")
    assert (out / "rejects" / "events.rejects.csv").exists() and sum(first.rejected.values()) == 3
    clean = tmp_path / "clean.csv"
    clean.write_text(EXPORT.split("A3,")[0], encoding="utf-8")  # the first two rows only: nothing to reject
    again = convert_table(clean, COLUMNS, out, timezone="Europe/London")
    assert again.converted == 2 and not (out / "rejects" / "events.rejects.csv").exists()  # no stale rejects
    (out / "labels.csv").write_text("event_id,scenario,instance_id\nA1,S3,I1\n")
    with pytest.raises(ConversionError, match="already holds labels.csv"):
        convert_table(clean, COLUMNS, out, timezone="Europe/London")



def test_nothing_converted_says_why_in_counts(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ts,officer,what\nsoon,PC1,search\nlater,PC1,view\n")  # (no event ids: derived ones)
    with pytest.raises(ConversionError, match=r"no events were converted from .*bad.csv \(2 record\(s\); "
                                              r"event set aside: timestamp: unparseable timestamp: 2\)"):
        convert_table(path, {"timestamp": "ts", "user_id": "officer", "action": "what"}, tmp_path / "out")


def test_converting_into_a_file_is_a_clear_error(export, tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(ConversionError, match="is a file; give a folder"):
        convert_table(export, COLUMNS, tmp_path / "taken", timezone="Europe/London")
