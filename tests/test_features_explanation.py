"""How far work explains an access: own case, a mismatched reference, and file work after closure."""

from __future__ import annotations

import pandas as pd
import pytest

from snoopwatch.dataset.io import coerce_table
from snoopwatch.dataset.model import Dataset
from snoopwatch.features import build_features


def _dataset(events: list[tuple[str, str, str, str | None]]) -> Dataset:
    raw = {
        "staff": pd.DataFrame({"user_id": ["DC1"], "role": ["detective"], "unit": ["CID"]}),
        "subjects": pd.DataFrame({"subject_id": ["P1", "P2"]}),
        "cases": pd.DataFrame({"case_ref": ["CR1"], "unit": ["CID"], "opened_at": ["2025-03-01T09:00:00Z"],
                               "closed_at": ["2025-03-10T09:00:00Z"]}),
        "case_subjects": pd.DataFrame({"case_ref": ["CR1"], "subject_id": ["P1"]}),
        "case_staff": pd.DataFrame({"case_ref": ["CR1"], "user_id": ["DC1"], "from": ["2025-03-01T09:00:00Z"],
                                    "to": ["2025-03-10T09:00:00Z"]}),
        "events": pd.DataFrame(events, columns=["event_id", "timestamp", "subject_id", "case_ref"]).assign(
            user_id="DC1", action="view"),
    }
    return Dataset({name: coerce_table(name, frame).frame for name, frame in raw.items()})


def test_reference_explains_only_through_the_subject_and_file_work_fades() -> None:
    ds = _dataset([
        ("on_case", "2025-03-02T10:00:00Z", "P1", "CR1"),      # own open case holding the subject
        ("mismatch", "2025-03-02T11:00:00Z", "P2", "CR1"),     # own open case, but not this person
        ("file_work", "2025-03-13T10:00:00Z", "P1", None),     # three days after the case closed
        ("long_after", "2025-04-10T10:00:00Z", "P1", None),    # a month after: nothing explains it
    ])
    f = build_features(ds).frame.set_axis(ds.events["event_id"].astype(str))
    assert f.loc["on_case", "explained_by_case"] == 1
    assert f.loc["mismatch", "explained_by_case"] == 0 and f.loc["mismatch", "case_subject_mismatch"] == 1
    assert f.loc["on_case", "case_subject_mismatch"] == 0
    assert f.loc["file_work", "explained_by_case"] == 0.5
    assert f.loc["long_after", "explained_by_case"] == 0
    assert f.loc["long_after", "subject_on_user_closed_case"] == 1


def _repeat_log(with_colleague: bool) -> Dataset:
    rows = [("u1-d1", "2025-03-01T10:00:00Z", "U1"), ("u1-d2", "2025-03-02T10:00:00Z", "U1"),
            ("u1-d3", "2025-03-03T10:00:00Z", "U1")]
    if with_colleague:
        rows += [("u2-d1", "2025-03-01T12:00:00Z", "U2"), ("u2-d2", "2025-03-02T12:00:00Z", "U2")]
    raw = {
        "staff": pd.DataFrame({"user_id": ["U1", "U2", "U3"], "role": ["pc"] * 3, "unit": ["A", "A", "B"]}),
        "events": pd.DataFrame(rows, columns=["event_id", "timestamp", "user_id"]).assign(
            action="view", subject_id="P1"),
    }
    return Dataset({name: coerce_table(name, frame).frame for name, frame in raw.items()})


def test_a_repeat_interest_the_unit_shares_is_less_lonely() -> None:
    alone = build_features(_repeat_log(False)).frame.set_axis(["u1-d1", "u1-d2", "u1-d3"])
    shared_ds = _repeat_log(True)
    shared = build_features(shared_ds).frame.set_axis(shared_ds.events["event_id"].astype(str))
    assert alone.loc["u1-d1", "lone_repeat_no_case"] == 0  # nothing earlier to repeat
    assert alone.loc["u1-d3", "lone_repeat_no_case"] > alone.loc["u1-d2", "lone_repeat_no_case"] > 0
    # Two earlier colleague-days on the same person in the same unit divide the lonely repeat by three.
    assert shared.loc["u1-d3", "lone_repeat_no_case"] == pytest.approx(alone.loc["u1-d3", "lone_repeat_no_case"] / 3)
