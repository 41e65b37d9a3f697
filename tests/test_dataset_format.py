"""The data-set format: every table round-trips through every file type with its types intact."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snoopwatch.dataset import (
    TABLES,
    derive_event_ids,
    load_dataset,
    read_table,
    save_dataset,
    with_derived_event_ids,
    write_table,
)


@pytest.fixture()
def full_tables(example_dataset) -> dict[str, pd.DataFrame]:
    """The example data set plus an answer key, so that every table of the format is present."""
    ds = load_dataset(example_dataset)
    tables = dict(ds.tables)
    tables["labels"] = pd.DataFrame({"event_id": ["E0006", "E0007"], "scenario": ["S3", "S3"],
                                     "instance_id": ["I1", "I1"]})
    tables["instances"] = pd.DataFrame({
        "instance_id": ["I1"], "scenario": ["S3"], "user_id": ["PC4412"],
        "first_at": ["2025-03-06T01:12:09Z"], "last_at": ["2025-03-06T01:12:51Z"], "n_events": [2],
        "narrative": ['PC4412 looked up a relative, "Grace", off duty; no case.'],
    })
    return tables


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as plain objects, so frames compare by content rather than by dtype spelling."""
    out = frame.reset_index(drop=True).copy()
    for column in out.columns:
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out[sorted(out.columns)]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "csv.gz", "jsonl"])
def test_every_table_round_trips(tmp_path: Path, full_tables, fmt: str) -> None:
    save_dataset(full_tables, tmp_path / "ds", fmt=fmt, manifest={"generator": "test"})
    again = load_dataset(tmp_path / "ds")
    assert again.problems == []
    assert set(again.tables) == set(TABLES)
    for name in TABLES:
        original = load_dataset_table_typed(full_tables[name], name, tmp_path)
        loaded = again.tables[name]
        if name == "events":
            original = original.sort_values("timestamp", kind="stable")
        pd.testing.assert_frame_equal(_normalised(loaded), _normalised(original), check_dtype=False)
        # Types come back as the schema says, whatever the file type.
        for column in loaded.columns:
            kind = TABLES[name].kind(column)
            if kind in ("time", "date"):
                assert str(loaded[column].dtype) == "datetime64[ns, UTC]", (name, column)
    assert again.manifest["format_version"] == 1
    assert again.manifest["generator"] == "test"


def load_dataset_table_typed(frame: pd.DataFrame, name: str, tmp_path: Path) -> pd.DataFrame:
    """Type a hand-built frame the way the reader would (via a Parquet round trip of its own)."""
    path = tmp_path / f"typed-{name}.csv"
    frame.to_csv(path, index=False)
    return read_table(path, name).frame


def test_jsonl_applies_to_events_only(tmp_path: Path, full_tables) -> None:
    written = save_dataset(full_tables, tmp_path, fmt="jsonl")
    assert written["events"].name == "events.jsonl"
    assert written["staff"].name == "staff.csv"


def test_saving_in_another_format_removes_the_old_copy(tmp_path: Path, full_tables) -> None:
    save_dataset(full_tables, tmp_path, fmt="csv")
    save_dataset(full_tables, tmp_path, fmt="parquet")
    assert not (tmp_path / "events.csv").exists()
    assert load_dataset(tmp_path).problems == []


def test_same_input_same_bytes(tmp_path: Path, full_tables) -> None:
    for fmt in ("parquet", "csv.gz"):
        save_dataset(full_tables, tmp_path / "a", fmt=fmt)
        save_dataset(full_tables, tmp_path / "b", fmt=fmt)
        ext = ".parquet" if fmt == "parquet" else ".csv.gz"
        assert (tmp_path / "a" / f"events{ext}").read_bytes() == (tmp_path / "b" / f"events{ext}").read_bytes()


def test_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("timestamp,user_id,action\n2025-07-01T10:00:00+01:00,U1,search\n2025-07-01T09:30:00Z,U1,view\n")
    frame = read_table(path).frame
    assert frame["timestamp"].tolist() == [pd.Timestamp("2025-07-01T09:00:00Z"), pd.Timestamp("2025-07-01T09:30:00Z")]


def test_source_timezone_reads_local_times_with_daylight_saving(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("timestamp,user_id,action\n2025-07-01T10:00:00,U1,search\n2025-01-15T10:00:00,U1,search\n")
    frame = read_table(path, source_timezone="Europe/London").frame
    assert frame["timestamp"].tolist() == [pd.Timestamp("2025-07-01T09:00:00Z"), pd.Timestamp("2025-01-15T10:00:00Z")]


def test_parquet_timestamp_with_zone_is_read_as_utc(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "timestamp": pd.to_datetime(["2025-07-01T10:00:00"]).tz_localize("Europe/London"),
        "user_id": ["U1"], "action": ["search"],
    })
    frame.to_parquet(tmp_path / "events.parquet")
    loaded = load_dataset(tmp_path)
    assert loaded.events["timestamp"].iloc[0] == pd.Timestamp("2025-07-01T09:00:00Z")


def test_numeric_ids_in_parquet_become_text(tmp_path: Path) -> None:
    pd.DataFrame({"timestamp": ["2025-01-01T00:00:00Z"], "user_id": [4412], "action": ["view"],
                  "result_count": [3]}).to_parquet(tmp_path / "events.parquet")
    events = load_dataset(tmp_path).events
    assert events["user_id"].astype(str).tolist() == ["4412"]
    assert events["result_count"].tolist() == [3]


def test_unknown_columns_are_kept(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text("timestamp,user_id,action,terminal_colour\n2025-01-01T00:00:00Z,U1,view,blue\n")
    assert load_dataset(tmp_path).events["terminal_colour"].tolist() == ["blue"]


def test_missing_event_ids_are_derived_deterministically(tmp_path: Path) -> None:
    text = "timestamp,user_id,action,subject_id\n2025-01-01T00:00:00Z,U1,view,P1\n2025-01-01T00:00:00Z,U1,view,P1\n2025-01-01T00:00:01Z,U2,view,P1\n"
    (tmp_path / "events.csv").write_text(text)
    first = load_dataset(tmp_path).events["event_id"].tolist()
    second = load_dataset(tmp_path).events["event_id"].tolist()
    assert first == second
    assert len(set(first)) == 3  # two identical rows still get different ids
    assert first[1] == first[0] + "-1"


def test_derived_ids_do_not_depend_on_timestamp_resolution() -> None:
    base = pd.DataFrame({"timestamp": pd.to_datetime(["2025-01-01T00:00:00Z"]), "user_id": ["U1"], "action": ["view"]})
    coarse = base.assign(timestamp=base["timestamp"].astype("datetime64[s, UTC]"))
    fine = base.assign(timestamp=base["timestamp"].astype("datetime64[ns, UTC]"))
    assert (derive_event_ids(coarse) == derive_event_ids(fine)).all()


def test_partial_event_ids_are_filled_not_replaced() -> None:
    events = pd.DataFrame({"event_id": ["A", None], "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True),
                           "user_id": ["U1", "U1"], "action": ["view", "view"]})
    filled = with_derived_event_ids(events)["event_id"].tolist()
    assert filled[0] == "A" and filled[1].startswith("h")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    surnames=st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), min_size=1, max_size=30)
        .filter(lambda s: s.strip() == s and s.strip() != ""),
        min_size=1, max_size=5),
    fmt=st.sampled_from(["parquet", "csv", "csv.gz"]),
)
def test_any_text_survives_a_round_trip(tmp_path_factory, surnames: list[str], fmt: str) -> None:
    """Names come from the log and may hold commas, quotes, newlines, formula characters or markup."""
    directory = tmp_path_factory.mktemp("text")
    subjects = pd.DataFrame({"subject_id": [f"P{i}" for i in range(len(surnames))], "surname": surnames})
    ext = {"parquet": ".parquet", "csv": ".csv", "csv.gz": ".csv.gz"}[fmt]
    write_table(subjects, directory / f"subjects{ext}")
    back = read_table(directory / f"subjects{ext}").frame
    assert back["surname"].astype(str).tolist() == surnames


@settings(max_examples=40, deadline=None)
@given(st.lists(st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                             max_value=pd.Timestamp("2060-01-01").to_pydatetime()), min_size=1, max_size=20))
def test_instants_survive_csv_to_the_microsecond(tmp_path_factory, instants) -> None:
    directory = tmp_path_factory.mktemp("times")
    stamps = pd.Series(pd.to_datetime(instants)).dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    frame = pd.DataFrame({"timestamp": stamps, "user_id": "U1", "action": "view"})
    write_table(frame, directory / "events.csv")
    back = read_table(directory / "events.csv").frame
    assert back["timestamp"].tolist() == stamps.tolist()


def test_example_dataset_copy_in_csv_gz_loads_the_same(tmp_path: Path, example_dataset) -> None:
    shutil.copytree(example_dataset, tmp_path / "ds")
    plain = load_dataset(tmp_path / "ds")
    save_dataset(plain.tables, tmp_path / "gz", fmt="csv.gz", manifest=plain.manifest)
    again = load_dataset(tmp_path / "gz")
    assert again.events["event_id"].tolist() == plain.events["event_id"].tolist()


def test_written_files_follow_the_umask_not_mkstemp(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        write_table(pd.DataFrame({"subject_id": ["P1"]}), tmp_path / "subjects.csv")
    finally:
        os.umask(old)
    assert (tmp_path / "subjects.csv").stat().st_mode & 0o777 == 0o644


def test_distinct_text_reads_categories_in_use_and_plain_text_alike():
    from snoopwatch.dataset.io import distinct_text

    plain = pd.Series(["PC2", None, "PC1", "PC2"], dtype=object)
    category = pd.Series(pd.Categorical(["PC2", None, "PC1", "PC2"], categories=["PC1", "PC2", "PC9"]))
    assert distinct_text(plain).tolist() == ["PC2", "PC1"]  # first appearance
    assert distinct_text(category).tolist() == ["PC1", "PC2"]  # category order; unused PC9 and missing left out
    assert distinct_text(category).dtype == object


def test_reading_allocates_arrow_memory_from_malloc_and_gives_the_pool_back(example_dataset, monkeypatch):
    import pyarrow as pa

    from snoopwatch.dataset import io

    seen = []
    real_read = io.read_table

    def spying_read(*args, **kwargs):
        seen.append(pa.default_memory_pool().backend_name)
        return real_read(*args, **kwargs)

    monkeypatch.setattr("snoopwatch.dataset.load.read_table", spying_read)
    before = pa.default_memory_pool().backend_name
    load_dataset(example_dataset)
    assert seen and set(seen) == {pa.system_memory_pool().backend_name}
    assert pa.default_memory_pool().backend_name == before  # restored on leaving

    with pytest.raises(RuntimeError), io.arrow_allocates_from_malloc():
        raise RuntimeError("restored on an error too")
    assert pa.default_memory_pool().backend_name == before
