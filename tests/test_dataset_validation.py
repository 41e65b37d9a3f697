"""Validation: every kind of problem names the file, column, rows and what to do; nothing is dropped silently."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from snoopwatch.cli import cli
from snoopwatch.dataset import load_dataset, validate_dataset
from snoopwatch.errors import DatasetError

HEADER = "event_id,timestamp,user_id,action,subject_id\n"


@pytest.fixture()
def dataset(tmp_path: Path, example_dataset: Path) -> Path:
    """A writable copy of the example data set."""
    target = tmp_path / "ds"
    shutil.copytree(example_dataset, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def _only(problems, **match):
    found = [p for p in problems if all(getattr(p, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, problems)
    return found[0]


def test_missing_required_column(dataset: Path) -> None:
    (dataset / "rosters.csv").write_text("user_id,start\nPC4412,2025-03-04T14:00:00Z\n")
    report = validate_dataset(dataset)
    problem = _only(report.problems, file="rosters.csv")
    assert problem.level == "error" and problem.column == "end"
    assert "required column missing" in str(problem)
    assert "rename or add" in problem.hint
    assert not report.ok
    with pytest.raises(DatasetError, match="rosters.csv, column end"):
        load_dataset(dataset)


def test_unparseable_timestamp_names_rows_and_lenient_sets_them_aside(dataset: Path) -> None:
    rows = "".join(f"E{i},2025-03-0{i}T10:00:00Z,U1,view,P1\n" for i in range(1, 8))
    (dataset / "events.csv").write_text(HEADER + rows + "E8,yesterday,U1,view,P1\nE9,2025-13-45T99:00:00Z,U1,view,P1\n")
    report = validate_dataset(dataset, rejects_dir=dataset.parent / "rejects")
    problem = _only(report.problems, file="events.csv", column="timestamp")
    assert problem.message == "unparseable timestamp"
    assert problem.rows == (8, 9) and problem.count == 2
    assert "ISO 8601" in problem.hint
    assert report.rejected == {"events": 2}
    rejects = pd.read_csv(dataset.parent / "rejects" / "events.rejects.csv")
    assert rejects["event_id"].tolist() == ["E8", "E9"]
    assert rejects["source_row"].tolist() == [8, 9]
    assert (rejects["reject_reason"] == "timestamp: unparseable timestamp").all()
    lenient = load_dataset(dataset, strict=False)
    assert len(lenient.events) == 7 and len(lenient.rejects["events"]) == 2


def test_timestamp_without_offset_is_an_error_unless_the_zone_is_named(dataset: Path) -> None:
    (dataset / "events.csv").write_text(HEADER + "E1,2025-03-04T19:41:07,PC4412,view,P001001\n")
    problem = _only(validate_dataset(dataset).problems, column="timestamp")
    assert problem.message == "timestamp has no offset"
    assert "--timezone" in problem.hint
    ok = load_dataset(dataset, source_timezone="Europe/London")
    assert ok.events["timestamp"].iloc[0] == pd.Timestamp("2025-03-04T19:41:07Z")


def test_unknown_time_zone_is_a_clear_error(dataset: Path) -> None:
    (dataset / "events.csv").write_text(HEADER + "E1,2025-03-04T19:41:07,PC4412,view,P001001\n")
    with pytest.raises(DatasetError, match="unknown time zone 'Mars/Olympus'"):
        load_dataset(dataset, source_timezone="Mars/Olympus")


def test_duplicate_event_id_keeps_the_first(dataset: Path) -> None:
    (dataset / "events.csv").write_text(HEADER + "E1,2025-03-04T19:41:07Z,PC4412,view,P001001\n"
                                        "E1,2025-03-04T19:42:07Z,PC4412,view,P001002\n")
    problem = _only(validate_dataset(dataset).problems, column="event_id")
    assert problem.rows == (2,) and "duplicate" in problem.message
    lenient = load_dataset(dataset, strict=False)
    assert lenient.events["subject_id"].astype(str).tolist() == ["P001001"]
    assert lenient.rejects["events"]["reject_reason"].tolist() == ["event_id: duplicate"]


def test_dangling_reference(dataset: Path) -> None:
    (dataset / "case_staff.csv").write_text("case_ref,user_id\nCR/2025/0042,PC4412\nCR/2025/0042,PC9999\n")
    problem = _only(validate_dataset(dataset).problems, file="case_staff.csv", column="user_id")
    assert problem.level == "error" and problem.rows == (2,)
    assert "'PC9999'" in problem.message and "not in staff" in problem.message
    lenient = load_dataset(dataset, strict=False)
    assert lenient.case_staff["user_id"].astype(str).tolist() == ["PC4412"]


def test_event_users_missing_from_staff_is_only_a_warning(dataset: Path) -> None:
    (dataset / "events.csv").write_text(HEADER + "E1,2025-03-04T19:41:07Z,GHOST1,view,P001001\n")
    report = validate_dataset(dataset)
    problem = _only(report.problems, column="user_id")
    assert problem.level == "warning" and "GHOST1" in problem.message
    assert report.ok


def test_empty_files(dataset: Path) -> None:
    (dataset / "associations.csv").write_text("")
    (dataset / "rosters.csv").write_text("user_id,start,end,shift\n")
    report = validate_dataset(dataset)
    assert _only(report.problems, file="associations.csv").message == "empty file"
    assert _only(report.problems, file="rosters.csv").message == "file has no rows"
    assert report.ok  # optional tables: warnings
    (dataset / "events.csv").write_text(HEADER)
    assert not validate_dataset(dataset).ok


def test_unknown_and_duplicate_files(dataset: Path) -> None:
    (dataset / "event.csv").write_text("x\n1\n")
    (dataset / "staff.parquet").write_bytes((dataset / "staff.csv").read_bytes())
    report = validate_dataset(dataset)
    unknown = _only(report.problems, file="event.csv")
    assert unknown.level == "warning" and unknown.message == "unknown file, ignored"
    dup = _only(report.problems, file="staff.csv, staff.parquet")
    assert dup.level == "error" and "more than once" in dup.message


def test_no_events_table(tmp_path: Path) -> None:
    (tmp_path / "staff.csv").write_text("user_id\nU1\n")
    with pytest.raises(DatasetError, match="no events table"):
        load_dataset(tmp_path)
    assert not validate_dataset(tmp_path).ok


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such directory"):
        load_dataset(tmp_path / "nowhere")


def test_wrong_format_version(dataset: Path) -> None:
    (dataset / "manifest.json").write_text('{"format_version": 2}')
    problem = _only(validate_dataset(dataset).problems, file="manifest.json")
    assert "format version 2 is not supported" in problem.message


def test_empty_required_value(dataset: Path) -> None:
    (dataset / "events.csv").write_text(HEADER + "E1,2025-03-04T19:41:07Z,,view,P001001\n")
    problem = _only(validate_dataset(dataset).problems, column="user_id")
    assert problem.message == "required value is empty" and problem.rows == (1,)


def test_answer_key_can_be_left_unread(dataset: Path) -> None:
    (dataset / "labels.csv").write_text("event_id,scenario,instance_id\nE0006,S3,I1\n")
    assert load_dataset(dataset).has_labels
    hidden = load_dataset(dataset, answer_key=False)
    assert not hidden.has_labels and hidden.labels is None


def test_validate_command_ok(example_dataset: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(example_dataset)])
    assert result.exit_code == 0, result.output
    assert "events" in result.output and "features available (19)" in result.output
    assert "0 error(s)" in result.output


def test_validate_command_reports_errors_and_writes_rejects(dataset: Path, tmp_path: Path) -> None:
    (dataset / "events.csv").write_text(HEADER + "E1,2025-03-04T19:41:07Z,PC4412,view,P001001\nE2,soon,PC4412,view,P001001\n")
    result = CliRunner().invoke(cli, ["validate", str(dataset), "--rejects", str(tmp_path / "rej")])
    assert result.exit_code == 1
    assert "events.csv, column timestamp, row 2: unparseable timestamp" in result.output
    assert "1 events row(s) set aside" in result.output
    assert (tmp_path / "rej" / "events.rejects.csv").exists()


def test_validate_command_missing_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such directory" in result.output
    assert "Traceback" not in result.output


def test_format_version_as_text_is_accepted_and_another_version_is_refused_even_leniently(dataset: Path) -> None:
    (dataset / "manifest.json").write_text('{"format_version": "1"}')
    assert load_dataset(dataset).problems == []
    (dataset / "manifest.json").write_text('{"format_version": 2}')
    with pytest.raises(DatasetError, match="format version 2 is not supported"):
        load_dataset(dataset, strict=False)


def test_rejects_file_is_safe_to_open_in_a_spreadsheet(dataset: Path, tmp_path: Path) -> None:
    (dataset / "events.csv").write_text(HEADER + '=HYPERLINK("http://x"),soon,PC4412,view,P001001\n')
    validate_dataset(dataset, rejects_dir=tmp_path / "rej")
    text = (tmp_path / "rej" / "events.rejects.csv").read_text()
    assert "'=HYPERLINK" in text
