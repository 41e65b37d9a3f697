"""Feature functions: values on the hand-written example, clean degradation, no look-ahead, order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snoopwatch.dataset import FEATURE_GROUPS, load_dataset
from snoopwatch.dataset.model import Dataset
from snoopwatch.detect._toy import toy_dataset
from snoopwatch.features import BY_NAME, FEATURES, RULE_COLUMNS, build_features, rule_flags

GROUP_NAMES = {g.name for g in FEATURE_GROUPS}


@pytest.fixture(scope="module")
def example(example_dataset):
    ds = load_dataset(example_dataset, answer_key=False)
    fs = build_features(ds)
    frame = fs.frame.set_axis(ds.events["event_id"].astype(str), axis=0)
    return ds, fs, frame


def test_every_feature_is_documented_in_a_known_group():
    assert len({f.name for f in FEATURES}) == len(FEATURES)
    for spec in FEATURES:
        assert spec.group in GROUP_NAMES, spec.name
        assert spec.direction in (-1, 0, 1)
        assert spec.description and spec.reason and spec.reason_text
    for columns in RULE_COLUMNS.values():
        assert all(c in BY_NAME for c in columns)


def test_example_explained_work_and_the_relative(example):
    _, fs, f = example
    assert fs.dropped == {"home_proximity": "near_home: needs staff.home_lat, subjects.lat"}
    # E0001-E0003: the user and the subject are on the referenced open case.
    assert (f.loc[["E0001", "E0002", "E0003"], "explained_by_case"] == 1).all()
    # E0004: a control-room check for PC4412, whose open case holds the subject.
    assert f.loc["E0004", "subject_on_requester_case"] == 1 and f.loc["E0004", "explained_by_case"] == 1
    # E0006-E0007: PC4412, off duty at 01:12, a relative (same surname, same sector, declared), no case.
    for eid in ("E0006", "E0007"):
        row = f.loc[eid]
        assert row["explained_by_case"] == 0 and row["off_roster"] == 1 and row["minutes_off_duty"] > 0
        assert row["surname_match_rarity"] > 0 and row["same_postcode_sector"] == 1
        assert row["declared_association"] == 1 and row["self_lookup"] == 0
    # The second look-up of the relative is not a first look.
    assert f.loc["E0006", "first_access_pair"] == 1 and f.loc["E0007", "first_access_pair"] == 0
    # E0008: a public figure under a case reference that does not hold him: the reference explains
    # nothing, and the mismatch is itself evidence.
    assert f.loc["E0008", "subject_vip"] == 1 and f.loc["E0008", "subject_on_case"] == 0
    assert f.loc["E0008", "explained_by_case"] == 0 and f.loc["E0008", "case_subject_mismatch"] == 1
    flags = rule_flags(fs.frame)
    assert flags["surname_match"].sum() == 2 and flags["vip_staff_subject"].sum() == 1


def test_surname_weight_follows_rarity():
    ds = toy_dataset(days=20, planted=True)
    fs = build_features(ds)
    planted = ds.events["event_id"].astype(str).str.startswith("X").to_numpy()
    rare = fs.frame["surname_match_rarity"].to_numpy()[planted]
    common = fs.frame["surname_match_rarity"].to_numpy()[~planted]
    assert rare.min() > common[common > 0].max()  # "Quarshie" (1 subject) outweighs any shared common name


def _without(ds: Dataset, *names: str, columns: dict[str, list[str]] | None = None) -> Dataset:
    tables = {k: v for k, v in ds.tables.items() if k not in names}
    for table, cols in (columns or {}).items():
        tables[table] = tables[table].drop(columns=cols)
    return Dataset(tables, dict(ds.manifest))


@pytest.mark.parametrize("drop,columns,gone", [
    (("rosters",), None, {"off_roster", "minutes_off_duty"}),
    (("case_staff",), None, {"user_on_case", "subject_on_user_case", "subject_on_requester_case"}),
    (("subjects",), None, {"surname_match_rarity", "same_postcode_sector", "subject_vip"}),
    (("staff", "subjects", "cases", "case_subjects", "case_staff", "rosters", "associations"), None,
     {"self_lookup", "case_ref_unknown", "off_roster", "outside_employment"}),
    ((), {"events": ["subject_id"]}, {"first_access_pair", "crowd_3d", "surname_match_rarity"}),
    ((), {"events": ["requested_by"]}, {"requested_by_other", "self_initiated_operator"}),
])
def test_missing_tables_drop_features_with_reasons(example_dataset, drop, columns, gone):
    ds = _without(load_dataset(example_dataset, answer_key=False), *drop, columns=columns)
    fs = build_features(ds)
    assert gone <= set(fs.dropped), set(fs.dropped)
    for name in gone:
        assert fs.dropped[name].startswith(BY_NAME[name].group + ": needs")
    assert len(fs.frame) == len(ds.events) and list(fs.frame.columns) == fs.used
    assert np.isfinite(fs.frame.to_numpy()).all()
    assert set(fs.used).isdisjoint(fs.dropped)


def test_no_look_ahead_history_uses_only_earlier_events():
    """An event's features are the same whether or not the log goes on after it."""
    ds = toy_dataset(days=30)
    full = build_features(ds).frame
    cut = ds.events["timestamp"].quantile(0.6)
    early = ds.events["timestamp"] < cut
    tables = dict(ds.tables)
    tables["events"] = ds.events[early].reset_index(drop=True)
    partial = build_features(Dataset(tables, {})).frame
    pd.testing.assert_frame_equal(full[early.to_numpy()].reset_index(drop=True), partial, check_exact=False, rtol=1e-6)


def test_row_order_does_not_matter():
    ds = toy_dataset(days=15)
    base = build_features(ds).frame.set_axis(ds.events["event_id"].astype(str), axis=0)
    shuffled = ds.events.sample(frac=1.0, random_state=3).reset_index(drop=True)
    tables = dict(ds.tables)
    tables["events"] = shuffled
    other = build_features(Dataset(tables, {})).frame.set_axis(shuffled["event_id"].astype(str), axis=0)
    pd.testing.assert_frame_equal(base.sort_index(), other.sort_index(), check_exact=False, rtol=1e-6)


_users = st.sampled_from(["A", "B", "C"])
_subjects = st.one_of(st.none(), st.sampled_from(["S1", "S2", "S3"]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10 * 86_400), _users, _subjects, st.sampled_from(["search", "view", "export"]),
                          st.one_of(st.none(), st.sampled_from(["C1", "C9"]))), min_size=1, max_size=40))
def test_any_small_log_gives_finite_features(rows):
    events = pd.DataFrame(rows, columns=["t", "user_id", "subject_id", "action", "case_ref"])
    events["timestamp"] = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(events.pop("t"), unit="s")
    events["event_id"] = pd.Series([f"E{i}" for i in range(len(events))], dtype="string[pyarrow]")
    for column in ("user_id", "subject_id", "action", "case_ref"):
        events[column] = events[column].astype("category")
    staff = pd.DataFrame({"user_id": pd.Categorical(["A", "B"]), "role": pd.Categorical(["x", "y"]),
                          "surname": pd.Categorical(["Lee", "Kaur"])})
    subjects = pd.DataFrame({"subject_id": pd.Categorical(["S1", "S2"]), "surname": pd.Categorical(["Lee", "Ng"]),
                             "flags": pd.Categorical(["vip", None])})
    cases = pd.DataFrame({"case_ref": pd.Categorical(["C1"]), "opened_at": pd.to_datetime(["2025-01-03"], utc=True),
                          "closed_at": pd.to_datetime([None], utc=True)})
    ds = Dataset({"events": events, "staff": staff, "subjects": subjects, "cases": cases}, {})
    fs = build_features(ds)
    assert fs.frame.shape == (len(events), len(fs.used))
    assert np.isfinite(fs.frame.to_numpy()).all()
    pairs = {(u, s) for _, u, s, _, _ in rows if s is not None}
    if pairs:
        assert fs.frame["first_access_pair"].sum() == len(pairs)
    else:
        assert "first_access_pair" in fs.dropped


def test_long_running_span_means_the_same_early_and_late_in_a_log():
    """prior_unexplained_span is a share of how long the log has known the user: a weekly look-up without a
    case, kept up since the user's first day, reads 1 after three months and after three years alike (so a
    model trained on a short log does not find a routine interest 'never seen' later); a user new to the
    log is measured against a month."""
    start = pd.Timestamp("2022-01-03 09:00", tz="UTC")
    days = np.arange(0, 3 * 365, 7)
    events = pd.DataFrame({
        "timestamp": start + pd.to_timedelta(np.r_[days, 1000, 1007], unit="D"),
        "user_id": pd.Categorical(["A"] * len(days) + ["B", "B"]),
        "subject_id": pd.Categorical(["S1"] * len(days) + ["S2", "S2"]),
        "action": pd.Categorical(["view"] * (len(days) + 2)),
    })
    events = events.sort_values("timestamp", kind="stable").reset_index(drop=True)
    events["event_id"] = pd.Series([f"E{i}" for i in range(len(events))], dtype="string[pyarrow]")
    fs = build_features(Dataset({"events": events}, {}), features=["prior_unexplained_span"])
    span = fs.frame["prior_unexplained_span"].to_numpy()
    at = {(u, int((t - start) / pd.Timedelta(days=1))): v
          for u, t, v in zip(events["user_id"], events["timestamp"], span, strict=True)}
    assert at[("A", 0)] == 0.0  # no earlier look-up
    assert at[("A", 14)] == pytest.approx(14 / 30)  # known for two weeks: measured against a month
    assert at[("A", 91)] == pytest.approx(1.0) and at[("A", 1092)] == pytest.approx(1.0)
    assert at[("B", 1007)] == pytest.approx(7 / 30)  # B is new to the log on day 1,000


def test_features_that_read_none_of_their_groups_tables_survive_its_absence(example_dataset):
    """The employment dates need no roster, and a case's unit needs no case_staff."""
    from snoopwatch.features.build import allowed_features

    ds = load_dataset(example_dataset)
    used, dropped = allowed_features(Dataset({k: v for k, v in ds.tables.items() if k not in ("rosters", "case_staff")},
                                             dict(ds.manifest)))
    assert "outside_employment" in used and "unit_on_case" in used
    assert "off_roster" in dropped and "user_on_case" in dropped
