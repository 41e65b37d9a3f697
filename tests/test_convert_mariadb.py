"""MariaDB server_audit conversion from a fixture written in the plugin's documented file format (TABLE lines
before their QUERY line, \\' escapes, empty return code on TABLE lines, as in MariaDB's own server_audit test
results)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from snoopwatch.cli import cli
from snoopwatch.convert.mapping import load_mapping
from snoopwatch.convert.mariadb import LineError, convert_mariadb, mariadb_rows, unescape_query
from snoopwatch.dataset import load_dataset
from snoopwatch.errors import ConversionError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "convert"
LOG = FIXTURES / "mariadb-server_audit.log"
MAPPING = FIXTURES / "mapping-mariadb.toml"


def _convert(**kwargs):
    rows, report = mariadb_rows([LOG], load_mapping(MAPPING), **kwargs)
    return pd.DataFrame(rows), report


def test_events_from_the_documented_format():
    frame, report = _convert(timezone="Europe/London", query_log_limit=200)
    assert report.records == report.accounted == 18
    got = frame[["timestamp", "user_id", "action", "query_type", "subject_id", "case_ref"]]
    got = got.astype(object).where(got.notna(), None).values.tolist()
    assert got[0] == ["2025-03-04T19:41:07Z", "PC4412", "view", "person", "P001001", "CR/2025/0042"]
    # the vehicle look-up joined to people: two READ lines and the QUERY line make one event
    assert got[1][2:5] == ["view", "vehicle", "P001001"]
    assert got[2][2:5] == ["search", "person", "P001002"]
    assert got[3][2:5] == ["update", "person", "P001002"]
    # the statement cut at the log limit still converts, with what survived, and is reported
    assert got[4][2:5] == ["search", "person", None]
    assert report.notes["statement(s) cut at the query log limit (200 characters)"] == 1
    # no tag: the account is an application account and the mapping takes users from tags only
    assert report.rejected["no end user (looked in tag)"] == 1
    # 01:30 on the day clocks go back is read as the first (summer time) reading
    assert got[5][:2] == ["2025-10-26T00:30:00Z", "DC1180"]
    assert report.skipped["query failed (return code 1146)"] == 1
    assert report.skipped["not a data access (CREATE)"] == 2
    assert report.skipped["connection event (CONNECT)"] == 1
    assert report.skipped["statement on tables not in the mapping"] == 1
    assert any(reason.startswith("server_audit line has") for reason in report.rejected)
    assert report.converted == 10  # 6 events from 10 lines (TABLE lines join their QUERY)


def test_quoted_text_escapes():
    assert unescape_query(r"'a \'b\' \\ c\nd'") == "a 'b' \\ c\nd"
    with pytest.raises(LineError):
        unescape_query("not quoted")


def test_zone_is_required():
    with pytest.raises(ConversionError, match="--timezone"):
        _convert(timezone=None)


def test_convert_and_cli(tmp_path):
    report = convert_mariadb([LOG], MAPPING, tmp_path / "a", timezone="Europe/London", query_log_limit=200)
    events = load_dataset(report.out).events
    assert len(events) == report.events == 6
    assert events["system"].astype(str).unique().tolist() == ["RMS"]
    rejects = pd.read_csv(report.rejects_file)
    assert sorted(rejects["line"].tolist()) == [14, 16]
    result = CliRunner().invoke(cli, ["convert", "mariadb", str(LOG), "--mapping", str(MAPPING),
                                      "--timezone", "Europe/London", "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    again = load_dataset(tmp_path / "b").events
    assert again["event_id"].tolist() == events["event_id"].tolist()
    no_zone = CliRunner().invoke(cli, ["convert", "mariadb", str(LOG), "--mapping", str(MAPPING), "--out", str(tmp_path / "c")])
    assert no_zone.exit_code == 2 and "--timezone" in no_zone.output


def test_backquoted_identifiers_name_the_subject(tmp_path):
    log = tmp_path / "server_audit.log"
    log.write_text("20250304 19:41:07,intel-db01,rms_app,10.1.2.3,41,118,QUERY,intel,'/* user=PC4412 */ SELECT * "
                   "FROM `intel`.`people` WHERE `people`.`person_id` = \\'P6\\'',0\n")
    rows, report = mariadb_rows([log], load_mapping(MAPPING), timezone="Europe/London")
    assert [(r["query_type"], r["subject_id"]) for r in rows] == [("person", "P6")], report
