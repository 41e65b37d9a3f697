"""Outputs for tools: ECS lines for a SIEM, formula-safe CSV, and the terminal table of people."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from rich.console import Console

from snoopwatch.csvsafe import neutralise_csv_frame
from snoopwatch.report.ecs import alert_to_ecs, alerts_to_ecs_lines
from snoopwatch.report.inputs import ReportInputError, normalise_alert
from snoopwatch.report.terminal import people_ranking, render_people_table
from test_report_fixtures import example_alerts


def test_ecs_lines_parse_and_carry_the_documented_fields():
    text = alerts_to_ecs_lines(example_alerts())
    lines = text.splitlines()
    assert len(lines) == 2 and text.endswith("\n")
    docs = [json.loads(line) for line in lines]
    first = docs[0]
    assert first["@timestamp"] == "2025-03-06T23:59:59Z"
    assert first["event"]["kind"] == "alert"
    assert "intrusion_detection" in first["event"]["category"]
    assert first["event"]["risk_score"] == 87.0 and first["event"]["severity"] == 73
    assert (first["event"]["start"], first["event"]["end"]) == ("2025-03-06T00:00:00Z", "2025-03-06T23:59:59Z")
    assert first["user"]["id"] == "PC4412"
    assert first["rule"]["name"] and first["rule"]["id"] == "surname"
    assert [r["code"] for r in first["snoopwatch"]["reasons"]] == ["surname", "off_duty", "no_case"]
    assert first["snoopwatch"]["event_ids"] == ["E0006", "E0007"]
    assert first["snoopwatch"]["model"]["file_hash"] == "sha256:3f2a9c"
    assert first["message"].startswith("Searched twice")
    assert docs[1]["event"]["risk_score"] == 55.0  # highest risk first


def test_ecs_accepts_alert_objects_with_to_dict():
    class FakeAlert:
        def to_dict(self):
            return example_alerts()[1]

    assert alert_to_ecs(FakeAlert())["event"]["id"] == "A-PC4412-vip"


def test_ecs_is_deterministic():
    assert alerts_to_ecs_lines(example_alerts()) == alerts_to_ecs_lines(list(reversed(example_alerts())))


def test_alert_missing_keys_is_a_clear_error():
    broken = {k: v for k, v in example_alerts()[0].items() if k != "event_ids"}
    with pytest.raises(ReportInputError, match="has no event_ids"):
        normalise_alert(broken)


def test_csv_cells_that_look_like_formulas_are_neutralised():
    frame = pd.DataFrame({
        "name": pd.Series(["=HYPERLINK(\"http://x\")", "+44 121", "-1+2", "@SUM(A1)", "\tcmd", "\rx", "Smith", None],
                          dtype="string"),
        "category": pd.Series(["=cmd|' /C calc'!A0", "ok", "ok", "ok", "ok", "ok", "ok", "ok"], dtype="category"),
        "obj": ["-2", -2, "x", "=1", 3.5, None, "y", "z"],
        "score": [-0.5, 1.0, 2.0, -3.0, 0.0, 1.0, 1.0, 1.0],
        "count": pd.Series([-1, 2, 3, 4, 5, 6, 7, 8], dtype="Int64"),
    })
    safe = neutralise_csv_frame(frame)
    assert safe["name"].tolist()[:7] == ["'=HYPERLINK(\"http://x\")", "'+44 121", "'-1+2", "'@SUM(A1)", "'\tcmd", "'\rx",
                                         "Smith"]
    assert pd.isna(safe["name"].iloc[7])
    assert safe["category"].iloc[0] == "'=cmd|' /C calc'!A0" and safe["category"].iloc[1] == "ok"
    assert safe["obj"].tolist()[:5] == ["'-2", -2, "x", "'=1", 3.5]
    pd.testing.assert_series_equal(safe["score"], frame["score"])
    pd.testing.assert_series_equal(safe["count"], frame["count"])
    assert frame["name"].iloc[0].startswith("=")  # the input is not modified
    csv = safe.to_csv(index=False)
    assert "\n=" not in csv and ",=" not in csv


def test_csv_header_is_neutralised():
    assert list(neutralise_csv_frame(pd.DataFrame({"=x": [1]})).columns) == ["'=x"]


def test_people_table_ranks_people_with_reasons_and_no_colour_off_terminal():
    alerts = example_alerts() + [{**example_alerts()[1], "alert_id": "A-other", "user_id": "DC[bold]1180[/bold]",
                                  "risk": 91.0, "severity": "critical"}]
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, no_color=True, width=160)
    staff = pd.DataFrame({"user_id": ["PC4412"], "role": ["response_officer"], "unit": ["RESP-NORTH"]})
    render_people_table(alerts, console, staff=staff)
    out = buffer.getvalue()
    assert "\x1b[" not in out
    assert out.index("DC[bold]1180[/bold]") < out.index("PC4412")  # markup in an id is text, and 91 ranks first
    assert "response officer" in out and "RESP-NORTH" in out
    assert "searched a person with the same surname" in out
    assert "People to look at (2)" in out


def test_people_ranking_groups_alerts_per_person():
    people = people_ranking(example_alerts())
    assert len(people) == 1 and people[0]["alerts"] == 2 and people[0]["events"] == 3 and people[0]["risk"] == 87.0


def test_empty_table_says_so():
    buffer = io.StringIO()
    render_people_table([], Console(file=buffer, no_color=True))
    assert "No alerts" in buffer.getvalue()


def test_ids_neutralised_in_a_scores_csv_join_again_when_read(tmp_path):
    import pandas as pd

    from snoopwatch.detect.io import read_scores, write_scores

    scores = pd.DataFrame({"event_id": ["=E1", "E2"], "user_id": ["@PC1", "PC2"],
                           "timestamp": pd.to_datetime(["2025-01-01T00:00:00Z"] * 2, utc=True),
                           "score": [1.0, -2.0], "reasons": ["", "SELF"]})
    path = write_scores(scores, tmp_path / "scores.csv")
    assert "'=E1" in path.read_text()
    back = read_scores(path)
    assert back["event_id"].tolist() == ["=E1", "E2"] and back["user_id"].tolist() == ["@PC1", "PC2"]
