"""Hand-made scores and alerts on the shared example data set, for the report tests (no detector needed).

The builders here are imported by the other tests/test_report_*.py files; the tests in this file check
that the fixtures themselves follow the contract in DATASET.md, so a broken fixture fails loudly here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from snoopwatch.dataset import Dataset, load_dataset

HOSTILE_SURNAME = "Okafor<script>document.title='pwned'</script>"
HOSTILE_REF = '"><img src="http://127.0.0.1:9/leak.png">'
HOSTILE_SUMMARY = "Searched twice <b>off duty</b> & at night <script>alert(1)</script>"
MODEL = {"name": "snoopwatch-iforest", "version": "0.1.0", "file_hash": "sha256:3f2a9c"}


def copy_example(source: Path, target: Path, *, hostile: bool = False, labels: bool = False) -> Path:
    """A copy of the example data set; hostile plants markup in names and a reference, labels adds an answer key."""
    shutil.copytree(source, target)
    if hostile:
        staff = pd.read_csv(target / "staff.csv", dtype="string")
        staff.loc[staff["user_id"] == "PC4412", "surname"] = HOSTILE_SURNAME
        staff.to_csv(target / "staff.csv", index=False)
        subjects = pd.read_csv(target / "subjects.csv", dtype="string")
        subjects.loc[subjects["subject_id"] == "P001002", "surname"] = HOSTILE_SURNAME
        subjects.to_csv(target / "subjects.csv", index=False)
        events = pd.read_csv(target / "events.csv", dtype="string")
        events.loc[events["event_id"] == "E0008", "case_ref"] = HOSTILE_REF
        events.to_csv(target / "events.csv", index=False)
    if labels:
        pd.DataFrame({"event_id": ["E0006", "E0007", "E0004"], "scenario": ["S3", "S3", "S6"],
                      "instance_id": ["I-S3-1", "I-S3-1", "I-S6-1"]}).to_csv(target / "labels.csv", index=False)
        pd.DataFrame({"instance_id": ["I-S3-1", "I-S6-1"], "scenario": ["S3", "S6"], "user_id": ["PC4412", "CH0931"],
                      "n_events": [2, 1],
                      "narrative": ["PC Okafor looks up his cousin Grace at 01:12, off duty, with no case.",
                                    "Call handler Patel runs a vehicle check for a private investigator."],
                      }).to_csv(target / "instances.csv", index=False)
    return target


def example_scores(dataset: Dataset) -> pd.DataFrame:
    """One score per event; the relative look-ups and the public figure score highest."""
    events = dataset.events
    high = {"E0006": 0.81, "E0007": 0.86, "E0008": 0.64}
    codes = {"E0006": "surname;near_home;off_duty;no_case", "E0007": "surname;near_home;off_duty;no_case",
             "E0008": "vip;case_unrelated"}
    ids = events["event_id"].astype("string")
    return pd.DataFrame({
        "event_id": ids, "user_id": events["user_id"].astype("string"), "timestamp": events["timestamp"],
        "score": ids.map(lambda e: high.get(e, 0.12)).astype("float64"),
        "reasons": ids.map(lambda e: codes.get(e, "")).astype("string"),
    })


def example_alerts(summary: str = "Searched twice, off duty at 01:12, a relative with the same surname and no case.") -> list[dict]:
    """Two alerts for PC4412 shaped as DATASET.md says (one line of an alerts file each)."""
    return [
        {"alert_id": "A-PC4412-20250306", "user_id": "PC4412", "window_start": "2025-03-06T00:00:00Z",
         "window_end": "2025-03-06T23:59:59Z", "risk": 87.0, "severity": "high", "event_ids": ["E0006", "E0007"],
         "reasons": [
             {"code": "surname", "text": "searched a person with the same surname who lives in the same postcode sector", "weight": 0.52},
             {"code": "off_duty", "text": "both searches off duty, at 01:12", "weight": 0.31},
             {"code": "no_case", "text": "no case reference entered", "weight": 0.17}],
         "summary": summary, "model": MODEL},
        {"alert_id": "A-PC4412-vip", "user_id": "PC4412", "window_start": "2025-03-06T09:00:00Z",
         "window_end": "2025-03-06T10:00:00Z", "risk": 55.0, "severity": "medium", "event_ids": ["E0008"],
         "reasons": [{"code": "vip", "text": "viewed a public figure under an unrelated case reference", "weight": 0.7}],
         "summary": "Viewed a public figure under a case reference that has nothing to do with him.", "model": MODEL},
    ]


def test_fixture_alerts_follow_the_contract(example_dataset):
    ds = load_dataset(example_dataset)
    ids = set(ds.events["event_id"].astype("string"))
    for alert in example_alerts():
        for key in ("alert_id", "user_id", "window_start", "window_end", "risk", "severity", "event_ids",
                    "reasons", "summary", "model"):
            assert key in alert
        assert set(alert["event_ids"]) <= ids
        users = set(ds.events.loc[ds.events["event_id"].isin(alert["event_ids"]), "user_id"].astype("string"))
        assert users == {alert["user_id"]}


def test_fixture_scores_cover_every_event(example_dataset):
    ds = load_dataset(example_dataset)
    scores = example_scores(ds)
    assert len(scores) == len(ds.events) and scores["score"].notna().all()


def test_hostile_and_labelled_copy_loads(example_dataset, tmp_path):
    ds = load_dataset(copy_example(example_dataset, tmp_path / "ds", hostile=True, labels=True))
    assert HOSTILE_SURNAME in set(ds.staff["surname"].astype("string"))
    assert ds.has_labels and len(ds.instances) == 2
