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


# Values real exports carry that the tables cannot hold as they are, read as the format means them.

def test_far_future_end_placeholder_reads_as_still_open(dataset: Path) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    cases = pd.read_csv(dataset / "cases.csv")
    never = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
    closed = [never if pd.isna(v) else dt.datetime.fromisoformat(v) for v in cases["closed_at"]]
    table = pa.table({"case_ref": cases["case_ref"], "unit": cases["unit"], "category": cases["category"],
                      "opened_at": pd.to_datetime(cases["opened_at"], utc=True),
                      "closed_at": pa.array(closed, pa.timestamp("us", tz="UTC"))})
    (dataset / "cases.csv").unlink()
    pq.write_table(table, dataset / "cases.parquet")
    staff = pd.read_csv(dataset / "staff.csv", dtype=str)
    staff["end_date"] = "9999-12-31"
    staff.to_csv(dataset / "staff.csv", index=False)
    loaded = load_dataset(dataset, strict=False)
    assert not loaded.rejects
    reread = loaded.cases.set_index("case_ref")["closed_at"]
    assert reread.isna().tolist() == cases["closed_at"].isna().tolist()  # the placeholders, and only they, are open
    assert loaded.staff["end_date"].isna().all()
    warned = {(p.file, p.column, p.level, p.message) for p in loaded.problems if p.message.startswith("far-future")}
    assert warned == {("cases.parquet", "closed_at", "warning", "far-future time read as still open"),
                      ("staff.csv", "end_date", "warning", "far-future date read as still open")}


def test_time_outside_what_tables_hold_is_a_row_problem_not_a_crash(dataset: Path) -> None:
    rows = "E1,2025-03-04T19:41:07Z,PC4412,view,P001001\nE2,9999-12-31T23:59:59Z,PC4412,view,P001001\n" \
           "E3,0001-01-01T00:00:00Z,PC4412,view,P001001\nE4,1600-01-01T00:00:00+01:00,PC4412,view,P001001\n"
    (dataset / "events.csv").write_text(HEADER + rows)
    (dataset / "rosters.csv").write_text("user_id,start,end\nPC4412,2025-03-04T14:00:00Z,9999-12-31T00:00:00Z\n")
    problems = validate_dataset(dataset).problems
    problem = _only(problems, file="events.csv", column="timestamp")
    assert problem.message == "time outside the years 1678 to 2261" and problem.rows == (2, 3, 4)
    assert _only(problems, file="rosters.csv").level == "error"  # a roster's end is not open-ended
    lenient = load_dataset(dataset, strict=False)
    assert lenient.events["event_id"].tolist() == ["E1"]
    assert lenient.rejects["events"]["event_id"].tolist() == ["E2", "E3", "E4"]


@pytest.mark.parametrize("bad", ["inf", "-Infinity", "1e30", "99999999999999999999999", "n/a"])
def test_unusable_optional_event_value_is_read_as_empty_and_the_event_kept(dataset: Path, bad: str) -> None:
    (dataset / "events.csv").write_text("event_id,timestamp,user_id,action,result_count\n"
                                        f"E1,2025-03-04T19:41:07Z,PC4412,search,3\nE2,2025-03-04T19:42:07Z,PC4412,search,{bad}\n")
    loaded = load_dataset(dataset, strict=False)
    assert loaded.events["event_id"].tolist() == ["E1", "E2"] and "events" not in loaded.rejects
    assert loaded.events["result_count"].isna().tolist() == [False, True]
    problem = _only(loaded.problems, column="result_count")
    assert problem.level == "warning" and problem.rows == (2,) and "read as empty; the event is kept" in problem.message


def test_result_count_out_of_range_in_parquet_is_read_as_empty(dataset: Path) -> None:
    events = pd.read_csv(dataset / "events.csv")
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    events["result_count"] = [float("inf"), 1e20] + [1.0] * (len(events) - 2)
    (dataset / "events.csv").unlink()
    events.to_parquet(dataset / "events.parquet", index=False)
    loaded = load_dataset(dataset, strict=False)
    assert len(loaded.events) == len(events)
    assert loaded.events["result_count"].isna().sum() == 2 and (loaded.events["result_count"].dropna() == 1).all()
    assert _only(loaded.problems, column="result_count").rows == (1, 2)


@pytest.mark.parametrize("dtype", ["uint64", "uint64[pyarrow]"])
def test_unsigned_counts_beyond_what_int64_holds_are_read_as_empty(dataset: Path, dtype: str) -> None:
    events = pd.read_csv(dataset / "events.csv")
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    events["result_count"] = pd.Series([2**64 - 1, 2**53 + 1] + [1] * (len(events) - 2), dtype=dtype)
    (dataset / "events.csv").unlink()
    events.to_parquet(dataset / "events.parquet", index=False)
    loaded = load_dataset(dataset, strict=False)
    assert len(loaded.events) == len(events)
    assert loaded.events["result_count"].tolist()[:2] == [pd.NA, 2**53 + 1]  # exact, not rounded through a float
    assert _only(loaded.problems, column="result_count").rows == (1,)


def test_far_future_text_end_beside_nanosecond_times_reads_as_still_open(dataset: Path) -> None:
    cases = pd.read_csv(dataset / "cases.csv", dtype=str)
    cases.loc[0, "closed_at"] = "2025-03-20T12:00:00.123456789Z"  # (pandas then parses the column in ns)
    cases.loc[1, "closed_at"] = "9999-12-31T00:00:00Z"
    cases.to_csv(dataset / "cases.csv", index=False)
    loaded = load_dataset(dataset, strict=False)
    assert "cases" not in loaded.rejects
    closed = loaded.cases["closed_at"]
    assert closed.iloc[0] == pd.Timestamp("2025-03-20T12:00:00.123456789Z") and pd.isna(closed.iloc[1])
    assert _only(loaded.problems, file="cases.csv").message == "far-future time read as still open"


def test_all_empty_end_column_without_a_time_zone_keeps_the_table(dataset: Path) -> None:
    cases = pd.read_csv(dataset / "cases.csv")
    cases["opened_at"] = pd.to_datetime(cases["opened_at"], utc=True)
    cases["closed_at"] = pd.Series(pd.NaT, index=cases.index, dtype="datetime64[ns]")  # (what pandas writes)
    (dataset / "cases.csv").unlink()
    cases.to_parquet(dataset / "cases.parquet", index=False)
    loaded = load_dataset(dataset, strict=False)
    assert len(loaded.cases) == len(cases) and loaded.cases["closed_at"].isna().all()
    assert not [p for p in loaded.problems if p.level == "error"]


def test_a_table_that_cannot_be_used_is_named_where_its_features_are_dropped(dataset: Path) -> None:
    from snoopwatch.features.build import allowed_features

    (dataset / "rosters.csv").write_text("user_id,start\nPC4412,2025-03-04T14:00:00Z\n")
    loaded = load_dataset(dataset, strict=False)
    why = "rosters was not used: rosters.csv, column end: required column missing"
    assert why in allowed_features(loaded)[1]["off_roster"]
    assert why in validate_dataset(dataset).features["roster"]


def test_training_when_every_event_was_set_aside_names_the_cause(dataset: Path, tmp_path: Path) -> None:
    rows = "".join(f"E{i},2025-03-04T19:{i:02d}:07,PC4412,view,P001001\n" for i in range(60))
    (dataset / "events.csv").write_text(HEADER + rows)
    result = CliRunner().invoke(cli, ["train", str(dataset), "--model", str(tmp_path / "m.skops")])
    assert result.exit_code == 2, result.output
    assert "60 event row(s) were set aside on reading, most for 'timestamp: timestamp has no offset'" in result.output
    assert "--timezone" in result.output and "Traceback" not in result.output


def test_period_that_ends_before_it_starts_is_a_warning(dataset: Path) -> None:
    (dataset / "rosters.csv").write_text("user_id,start,end\nPC4412,2025-03-04T14:00:00Z,2025-03-04T13:00:00Z\n"
                                         "PC4412,2025-03-05T14:00:00Z,2025-03-05T14:00:00Z\n")  # (no time: fine)
    problem = _only(validate_dataset(dataset).problems, file="rosters.csv")
    assert (problem.level, problem.column, problem.message, problem.rows) == ("warning", "end", "end is before start", (1,))
    assert len(load_dataset(dataset).rosters) == 2  # kept: a warning only


def test_unknown_time_zone_is_refused_even_when_no_time_needs_it(dataset: Path) -> None:
    with pytest.raises(DatasetError, match="unknown time zone 'Nowhere'"):
        load_dataset(dataset, source_timezone="Nowhere")


def test_a_table_whose_every_row_was_set_aside_is_named_with_the_reason(dataset: Path) -> None:
    from snoopwatch.features.build import allowed_features

    (dataset / "rosters.csv").write_text("user_id,start,end\nPC4412,2025-03-04T14:00:00,2025-03-04T23:00:00\n")
    why = allowed_features(load_dataset(dataset, strict=False))[1]["off_roster"]
    assert "rosters was not used: every one of its 1 rows was set aside (start: timestamp has no offset" in why


def test_too_few_events_before_until_still_says_move_until(dataset: Path) -> None:
    from snoopwatch.detect import train

    rows = "".join(f"E{i},2025-03-{4 + i // 40:02d}T19:{i % 40:02d}:07Z,PC4412,view,P001001\n" for i in range(120))
    (dataset / "events.csv").write_text(HEADER + rows + "E999,2025-03-09T10:00:00,PC4412,view,P001001\n")
    with pytest.raises(DatasetError, match=r"move --until later\); 1 event row\(s\) were also set aside"):
        train(load_dataset(dataset, strict=False), until="2025-03-05")


def test_open_ended_columns_are_optional_ones() -> None:
    from snoopwatch.dataset.schema import OPEN_ENDED, PERIODS, TABLES

    for table, columns in OPEN_ENDED.items():  # (an emptied required value would set the row aside)
        assert not set(columns) & set(TABLES[table].required)
    for table, first, last in PERIODS:
        assert {first, last} <= set(TABLES[table].columns)


def test_parquet_written_from_arrow_backed_frames_reads_the_same(dataset: Path) -> None:
    import pyarrow as pa

    events = pd.read_csv(dataset / "events.csv", dtype=str)
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True).astype("timestamp[us, tz=UTC][pyarrow]")
    (dataset / "events.csv").unlink()
    events.set_index("event_id").to_parquet(dataset / "events.parquet")  # (the ids kept as the index)
    staff = pd.read_csv(dataset / "staff.csv", dtype=str)
    staff["start_date"] = pd.to_datetime(staff["start_date"]).dt.date.astype(pd.ArrowDtype(pa.date32()))
    (dataset / "staff.csv").unlink()
    staff.to_parquet(dataset / "staff.parquet", index=False)
    loaded = load_dataset(dataset)
    assert loaded.events["event_id"].tolist() == events["event_id"].tolist()
    assert loaded.events["timestamp"].tolist() == pd.to_datetime(events["timestamp"].astype(str), utc=True).tolist()
    assert loaded.staff["start_date"].tolist() == pd.to_datetime(staff["start_date"].astype(str), utc=True).tolist()



def test_parquet_integers_with_a_missing_value_stay_exact(dataset: Path) -> None:
    events = pd.read_csv(dataset / "events.csv")
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    events["result_count"] = pd.array([2**60 + 1, None] + [1] * (len(events) - 2), dtype="Int64")
    (dataset / "events.csv").unlink()
    events.to_parquet(dataset / "events.parquet", index=False)
    loaded = load_dataset(dataset)
    assert loaded.events["result_count"].tolist()[:2] == [2**60 + 1, pd.NA] and not loaded.problems
