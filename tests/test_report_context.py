"""The plain facts the report states: postcode sectors, duty at a time, who a subject is to a person."""

from __future__ import annotations

import pandas as pd
import pytest

from snoopwatch.dataset import Dataset, load_dataset
from snoopwatch.report.charts import merge_intervals
from snoopwatch.report.context import on_duty, postcode_sector, subject_relations


@pytest.mark.parametrize(("postcode", "sector"), [
    ("B12 9QX", "B12 9"), ("b129qx", "B12 9"), ("SW1A 1AA", "SW1A 1"), (" M1  1AE ", "M1 1"),
    ("", None), (None, None), ("NOTAPC", None), (float("nan"), None),
])
def test_postcode_sector(postcode, sector):
    assert postcode_sector(postcode) == sector


def _stamp(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_on_duty_handles_nested_and_overlapping_shifts():
    rosters = pd.DataFrame({"user_id": ["U1", "U1", "U1", "U2"],
                            "start": [_stamp("2025-01-01 08:00"), _stamp("2025-01-01 09:00"), _stamp("2025-01-02 20:00"),
                                      _stamp("2025-01-01 00:00")],
                            "end": [_stamp("2025-01-01 18:00"), _stamp("2025-01-01 10:00"), _stamp("2025-01-03 06:00"),
                                    _stamp("2025-01-05 00:00")]})
    ds = Dataset({"events": pd.DataFrame(), "rosters": rosters})
    times = pd.Series([_stamp("2025-01-01 07:59"), _stamp("2025-01-01 12:00"), _stamp("2025-01-01 18:00"),
                       _stamp("2025-01-03 01:00"), _stamp("2025-01-03 07:00")])
    assert on_duty(ds, "U1", times).tolist() == [False, True, False, True, False]
    assert on_duty(ds, "nobody", times).tolist() == [False] * 5
    assert on_duty(Dataset({"events": pd.DataFrame()}), "U1", times) is None


def test_relations_in_the_example(example_dataset):
    ds = load_dataset(example_dataset)
    rel = subject_relations(ds, "PC4412", ["P000101", "P001002", "P001001", "P001004", "P000102", "P001005"])
    kinds = {sid: [k for k, _ in r["tags"]] for sid, r in rel.items()}
    assert kinds["P000101"] == ["self"]  # his own record: not also "same surname" or "colleague"
    assert kinds["P001002"] == ["surname", "neighbour", "declared"]
    assert kinds["P001001"] == ["case"]  # on CR/2025/0042, which he works: an explanation
    assert "victim" in [t for _, t in rel["P001004"]["tags"]] and "vulnerable" in [t for _, t in rel["P001004"]["tags"]]
    assert ("colleague", "colleague (DC1180)") in rel["P000102"]["tags"]
    assert ("flag", "public figure") in rel["P001005"]["tags"]
    assert rel["P001002"]["name"] == "Grace Okafor"


def test_merge_intervals():
    a, b, c, d = (_stamp(f"2025-01-0{i}") for i in (1, 2, 3, 4))
    assert merge_intervals([(c, d), (a, b), (b, c)]) == [(a, d)]
    assert merge_intervals([(a, b), (c, d)]) == [(a, b), (c, d)]


def test_neighbour_uses_coordinates_when_both_sides_have_them():
    staff = pd.DataFrame({"user_id": ["U1"], "surname": ["Ng"], "home_postcode": ["B12 9QX"],
                          "home_lat": [52.4700], "home_lon": [-1.8900]})
    subjects = pd.DataFrame({"subject_id": ["near", "far_same_sector", "sector_only"],
                             "surname": ["A", "B", "C"], "postcode": ["B1 1AA", "B12 9ZZ", "B12 9AB"],
                             "lat": [52.4730, 52.5600, None], "lon": [-1.8900, -1.8900, None]})
    ds = Dataset({"events": pd.DataFrame(), "staff": staff, "subjects": subjects})
    rel = subject_relations(ds, "U1", ["near", "far_same_sector", "sector_only"])
    assert rel["near"]["tags"] == [("neighbour", "lives 0.3 km from them")]
    assert rel["far_same_sector"]["tags"] == []  # 10 km away: the shared sector does not count
    assert rel["sector_only"]["tags"] == [("neighbour", "neighbour (same postcode sector B12 9)")]
