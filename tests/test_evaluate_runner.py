"""The evaluation runner on a small hand-built labelled data set (numpy, not our generator): detectors never
see labels, baselines behave, outputs are written, the CLI works end to end, seeds aggregate correctly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snoopwatch.cli import cli
from snoopwatch.dataset import Dataset, load_dataset
from snoopwatch.evaluate import DETECTORS, EvaluationError, evaluate_dataset, unavailable_reason
from snoopwatch.evaluate.baselines import Adapter, user_day_counts
from snoopwatch.evaluate.plots import write_plots
from snoopwatch.evaluate.runner import aggregate
from snoopwatch.evaluate.tables import markdown, read_results, write_results

SINCE = "2025-02-10"


def build_toy(root: Path, seed: int = 3) -> Path:
    """20 users working office hours on cases; U07 exports many strangers' records at night on 4 days of the
    scored period (case I1, 'bulk'); U12 views one subject at night twice with no case (case I2, 'slow')."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in pd.date_range("2025-01-01", "2025-02-28", freq="D", tz="UTC"):
        if day.day_of_week >= 5:
            continue
        for u in range(20):
            for _ in range(rng.poisson(8)):
                ts = day + pd.Timedelta(minutes=int(rng.integers(8 * 60, 17 * 60)))
                case = f"C{rng.integers(0, 30):03d}" if rng.random() < 0.8 else ""
                rows.append((ts, f"U{u:02d}", rng.choice(["search", "view"]), f"S{rng.integers(0, 200):04d}", case, ""))
    for day in ("2025-02-11", "2025-02-14", "2025-02-19", "2025-02-25"):
        for i in range(25):
            ts = pd.Timestamp(f"{day}T22:00:00Z") + pd.Timedelta(seconds=60 * i)
            rows.append((ts, "U07", "export", f"S{1000 + i:04d}", "", "I1"))
    for day in ("2025-02-12", "2025-02-20"):
        rows.append((pd.Timestamp(f"{day}T23:30:00Z"), "U12", "view", "S0999", "", "I2"))
    events = pd.DataFrame(rows, columns=["timestamp", "user_id", "action", "subject_id", "case_ref", "instance"])
    events = events.sort_values("timestamp", kind="stable").reset_index(drop=True)
    events.insert(0, "event_id", [f"E{i:06d}" for i in range(len(events))])
    root.mkdir(parents=True, exist_ok=True)
    out = events.drop(columns="instance").copy()
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out["query_type"] = "person"
    out.to_csv(root / "events.csv", index=False)
    pd.DataFrame({"user_id": [f"U{u:02d}" for u in range(20)]}).to_csv(root / "staff.csv", index=False)
    misuse = events[events["instance"] != ""]
    pd.DataFrame({"event_id": misuse["event_id"], "scenario": misuse["instance"].map({"I1": "bulk", "I2": "slow"}),
                  "instance_id": misuse["instance"]}).to_csv(root / "labels.csv", index=False)
    return root


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    return build_toy(tmp_path_factory.mktemp("toy") / "toy")


class Spy(Adapter):
    """Wraps a real detector; records every table it is handed and the scores it returns."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.inner = DETECTORS[name](seed=0)
        self.name = name
        self.seen: list[tuple[set[str], pd.Timestamp]] = []
        self.scores: pd.DataFrame | None = None

    def fit(self, history: Dataset) -> None:
        self.seen.append((set(history.tables), history.events["timestamp"].max()))
        self.inner.fit(history)

    def score(self, dataset: Dataset, since) -> pd.DataFrame:
        self.seen.append((set(dataset.tables), None))
        self.scores = self.inner.score(dataset, since)
        self.alerts = self.inner.alerts
        return self.scores


# Every detector that can run here (the snoopwatch detector and feature-based ones when installed).
LABEL_FREE = [n for n in ("counts-iforest", "random", "rules", "snoopwatch", "lof", "hbos") if unavailable_reason(n) is None]


def test_detectors_never_see_labels_and_fit_only_on_the_past(toy: Path):
    spies = [Spy(n) for n in LABEL_FREE]
    evaluate_dataset(load_dataset(toy), since=SINCE, detectors=spies)
    for spy in spies:
        fit_tables, fit_last = spy.seen[0]
        assert "labels" not in fit_tables and "instances" not in fit_tables
        assert fit_last < pd.Timestamp(SINCE, tz="UTC")
        assert "labels" not in spy.seen[1][0] and "instances" not in spy.seen[1][0]


def test_shuffled_labels_leave_scores_unchanged(toy: Path):
    dataset = load_dataset(toy)
    first = [Spy(n) for n in LABEL_FREE]
    evaluate_dataset(dataset, since=SINCE, detectors=first)
    shuffled_labels = dataset.labels.copy()
    rng = np.random.default_rng(0)
    shuffled_labels["event_id"] = rng.choice(dataset.events["event_id"].astype(object).to_numpy(), len(shuffled_labels),
                                             replace=False)
    shuffled = Dataset({**dataset.tables, "labels": shuffled_labels}, dataset.manifest, dataset.path)
    second = [Spy(n) for n in LABEL_FREE]
    evaluate_dataset(shuffled, since=SINCE, detectors=second)
    for a, b in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(a.scores.reset_index(drop=True), b.scores.reset_index(drop=True))


def test_counts_iforest_finds_the_night_exporter_and_random_does_not(toy: Path):
    result = evaluate_dataset(load_dataset(toy), since=SINCE, detectors=["counts-iforest", "random"], budget=50)
    values = {(r["detector"], r["scenario"], r["budget"], r["metric"]): r["value"] for r in result.records}
    assert values[("counts-iforest", "bulk", None, "auc")] > 0.95
    assert values[("counts-iforest", "bulk", 50.0, "case_recall")] == 1.0
    assert 0.3 < values[("random", "all", None, "auc")] < 0.7
    assert result.since_was_default is False and result.cases == 2


def test_user_day_counts_by_hand():
    events = pd.DataFrame({
        "timestamp": pd.to_datetime(["2025-06-01T05:30:00Z", "2025-06-01T12:00:00Z", "2025-06-01T13:00:00Z",
                                     "2025-06-02T12:00:00Z"], utc=True),
        "user_id": ["A", "A", "A", "A"],
        "action": ["search", "view", "export", "view"],
        "subject_id": ["s1", "s1", "s2", None],
        "case_ref": [None, "C1", None, "C1"],
    })
    counts, row = user_day_counts(events)
    assert row.tolist() == [0, 0, 0, 1]
    first = counts.iloc[0]
    # 05:30Z is 06:30 in London summer time: outside 07:00-19:00.
    assert (first["events"], first["subjects"], first["search"], first["view"], first["export"]) == (3, 2, 1, 1, 1)
    assert (first["off_hours"], first["no_case_ref"], first["query_types"]) == (1, 2, 0)
    assert counts.iloc[1]["subjects"] == 0


def test_default_split_is_the_last_third_and_stated(toy: Path):
    dataset = load_dataset(toy)
    first, last = dataset.events["timestamp"].min(), dataset.events["timestamp"].max()
    expected = (first + (last - first) * 2 / 3).floor("D")
    result = evaluate_dataset(dataset, detectors=["random"])
    assert result.since_was_default and pd.Timestamp(result.since) == expected
    assert "last third" in markdown(result)


def test_clear_errors(toy: Path, tmp_path: Path):
    dataset = load_dataset(toy)
    with pytest.raises(EvaluationError, match="no labels"):
        evaluate_dataset(dataset.without_answer_key(), detectors=["random"])
    with pytest.raises(EvaluationError, match="pick a date between"):
        evaluate_dataset(dataset, since="2030-01-01", detectors=["random"])
    with pytest.raises(EvaluationError, match="unknown detector"):
        evaluate_dataset(dataset, detectors=["magic"])


def test_unavailable_detectors_are_skipped_with_a_note(toy: Path, monkeypatch):
    import snoopwatch.evaluate.runner as runner

    monkeypatch.setattr(runner, "unavailable_reason", lambda name: "pyod is not installed" if name == "ecod" else None)
    result = evaluate_dataset(load_dataset(toy), since=SINCE, detectors=["random", "ecod"])
    assert [(r.detector, r.status) for r in result.runs] == [("random", "ok"), ("ecod", "skipped")]
    assert "ecod: skipped: pyod is not installed" in markdown(result)


def test_outputs_written(toy: Path, tmp_path: Path):
    result = evaluate_dataset(load_dataset(toy), since=SINCE, detectors=["counts-iforest", "random"])
    paths = write_results(result, tmp_path) | write_plots(result, tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["version"] == 1 and data["since"].startswith(SINCE)
    assert {r["detector"] for r in data["records"]} == {"counts-iforest", "random"}
    frame = pd.read_csv(tmp_path / "results.csv")
    assert list(frame.columns) == ["seed", "detector", "scenario", "budget", "metric", "value"]
    assert "| counts-iforest |" in (tmp_path / "results.md").read_text()
    for name in ("recall_vs_budget", "scenario_recall", "days_to_detect"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[name].stat().st_size > 5000
    assert markdown(read_results(tmp_path / "results.json")) == (tmp_path / "results.md").read_text()
    (tmp_path / "other.json").write_text('{"version": 99}')
    with pytest.raises(EvaluationError, match="not a version-1"):
        read_results(tmp_path / "other.json")


def test_aggregate_mean_and_std_over_seeds(toy: Path):
    dataset = load_dataset(toy)
    runs = [evaluate_dataset(dataset, since=SINCE, detectors=["random"], seed=s, budgets=[10]) for s in (1, 2, 3)]
    agg = {(r["detector"], r["scenario"], r["budget"], r["metric"]): r for r in aggregate(runs)}
    values = [next(r["value"] for r in e.records if r["scenario"] == "all" and r["metric"] == "auc") for e in runs]
    row = agg[("random", "all", None, "auc")]
    assert row["mean"] == pytest.approx(np.mean(values)) and row["std"] == pytest.approx(np.std(values, ddof=1))
    assert row["n"] == 3


def test_cli_end_to_end(toy: Path, tmp_path: Path):
    runner = CliRunner()
    out = tmp_path / "res"
    result = runner.invoke(cli, ["evaluate", str(toy), "--since", SINCE, "--detectors", "counts-iforest,random",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "| counts-iforest |" in result.stdout and "recall@10" in result.stdout
    assert (out / "results.json").exists() and (out / "recall_vs_budget.png").exists()
    bad = runner.invoke(cli, ["evaluate", str(toy), "--detectors", "random", "--since", "1999-01-01"])
    assert bad.exit_code == 2 and "pick a date between" in bad.output and "Traceback" not in bad.output
    assert runner.invoke(cli, ["evaluate"]).exit_code == 2


def test_feature_detectors_listed_with_reasons():
    assert set(DETECTORS) == {"snoopwatch", "rules", "counts-iforest", "random", "lof", "ecod", "hbos"}
    assert unavailable_reason("random") is None


def test_cli_multi_seed_mode_generates_and_aggregates(tmp_path: Path):
    pytest.importorskip("snoopwatch.synth")
    out = tmp_path / "seeds"
    result = CliRunner().invoke(cli, ["evaluate", "--seeds", "2", "--staff", "40", "--days", "28",
                                      "--detectors", "counts-iforest,random", "--out", str(out),
                                      "--retrain-every", "5"])
    assert result.exit_code == 0, result.output
    assert "mean ± standard deviation over 2 seed(s)" in result.stdout and " ± " in result.stdout
    assert "refitted every 5 days" in result.stdout
    data = json.loads((out / "results.json").read_text())
    assert data["version"] == 1 and data["seeds"] == [0, 1] and len(data["evaluations"]) == 2
    auc = next(r for r in data["records"] if (r["detector"], r["scenario"], r["metric"]) == ("random", "all", "auc"))
    per_seed = [next(r["value"] for r in e["records"] if (r["detector"], r["scenario"], r["metric"]) == ("random", "all", "auc"))
                for e in data["evaluations"]]
    assert auc["n"] == 2 and auc["mean"] == pytest.approx(np.mean(per_seed))
    assert (out / "scenario_recall.png").exists()
    clash = CliRunner().invoke(cli, ["evaluate", str(tmp_path), "--seeds", "2"])
    assert clash.exit_code == 2 and "not both" in clash.output


def test_shared_example_dataset_with_our_own_labels(example_dataset: Path, tmp_path: Path):
    """The hand-written example (not generated): E0006-E0007 (off-duty look-ups of a relative) labelled S3,
    E0008 (a public figure under an unrelated case) labelled S1. The rules baseline must rank E0006/E0007
    first on 2025-03-06 (four rules each); a detector that cannot train on 4 events fails with its reason."""
    import shutil

    root = tmp_path / "example"
    shutil.copytree(example_dataset, root)
    (root / "labels.csv").write_text("event_id,scenario,instance_id\nE0006,S3,X1\nE0007,S3,X1\nE0008,S1,X2\n")
    detectors = ["random", "counts-iforest"] + [d for d in ("rules", "snoopwatch") if unavailable_reason(d) is None]
    result = evaluate_dataset(load_dataset(root), since="2025-03-05T12:00:00Z", detectors=detectors, budget=10)
    assert result.events_history == 4 and result.events_scored == 4 and result.cases == 2 and result.k["10"] == 1
    values = {(r["detector"], r["scenario"], r["budget"], r["metric"]): r["value"] for r in result.records}
    if "rules" in detectors:
        assert values[("rules", "S3", 10.0, "case_recall")] == 1.0
        assert values[("rules", "all", 10.0, "case_recall")] == 0.5
    status = {r.detector: r for r in result.runs}
    assert status["random"].status == "ok" and status["counts-iforest"].status == "ok"
    if "snoopwatch" in detectors:
        assert status["snoopwatch"].status == "failed" and status["snoopwatch"].note
        assert "snoopwatch: failed" in markdown(result)


class Steps(Adapter):
    """Records what each fit and each scoring of a walk-forward evaluation is handed."""

    name = "steps"

    def __init__(self) -> None:
        super().__init__()
        self.fits: list[pd.Timestamp] = []  # the latest event each fit saw
        self.scored: list[tuple[pd.Timestamp, pd.Timestamp, int]] = []  # (since, latest event handed, rows scored)

    def fit(self, history: Dataset) -> None:
        assert history.labels is None
        self.fits.append(history.events["timestamp"].max())

    def score(self, dataset: Dataset, since) -> pd.DataFrame:
        events = dataset.events
        mask = (events["timestamp"] >= since).to_numpy()
        self.scored.append((since, events["timestamp"].max(), int(mask.sum())))
        self.alerts, self.alert_event_ids = 1, {str(events["event_id"][mask].iloc[0])}
        return pd.DataFrame({"event_id": events["event_id"][mask].to_numpy(dtype=object), "score": 1.0})


def test_walk_forward_refits_on_the_past_and_scores_each_step_once(toy: Path):
    dataset = load_dataset(toy)
    spy = Steps()
    result = evaluate_dataset(dataset, since=SINCE, detectors=[spy], retrain_every=7)
    since = pd.Timestamp(SINCE, tz="UTC")
    starts = [since + pd.Timedelta(days=7 * i) for i in range(len(spy.fits))]
    assert len(starts) == 3 and starts[-1] <= dataset.events["timestamp"].max() < starts[-1] + pd.Timedelta(days=7)
    for i, start in enumerate(starts):
        assert spy.fits[i] < start  # each fit sees only events before its day ...
        assert start - spy.fits[i] < pd.Timedelta(days=3)  # ... and every one of them (up to a weekend)
        handed_since, latest, _ = spy.scored[i]
        assert handed_since == start
        if i + 1 < len(starts):
            assert latest < starts[i + 1]  # scoring never sees past the next refit
    assert sum(rows for _, _, rows in spy.scored) == result.events_scored  # every scored event once
    assert result.retrain_every == 7 and result.runs[0].alerts == 3
    assert "refitted every 7 days" in markdown(result)


def test_one_step_walk_forward_is_the_plain_split(toy: Path):
    dataset = load_dataset(toy)
    plain = evaluate_dataset(dataset, since=SINCE, detectors=["counts-iforest"])
    walked = evaluate_dataset(dataset, since=SINCE, detectors=["counts-iforest"], retrain_every=365)
    pd.testing.assert_frame_equal(pd.DataFrame(plain.records), pd.DataFrame(walked.records))


def test_walk_forward_across_days_without_events(toy: Path, tmp_path: Path):
    """The toy log has no weekend events: a daily walk skips those days (the fit before scores on across
    them) instead of handing a detector nothing to score."""
    dataset = load_dataset(toy)
    spy = Steps()
    result = evaluate_dataset(dataset, since=SINCE, detectors=[spy, "counts-iforest"], retrain_every=1)
    assert [r.status for r in result.runs] == ["ok", "ok"]
    assert all(rows > 0 for _, _, rows in spy.scored)
    assert sum(rows for _, _, rows in spy.scored) == result.events_scored
    assert {start.day_of_week for start, _, _ in spy.scored} <= {0, 1, 2, 3, 4}  # weekdays only
    out = CliRunner().invoke(cli, ["evaluate", str(toy), "--since", SINCE, "--detectors", "counts-iforest,random",
                                   "--retrain-every", "1", "--out", str(tmp_path / "walk")])
    assert out.exit_code == 0, out.output
    assert "refitted every day of" in out.stdout
    assert json.loads((tmp_path / "walk" / "results.json").read_text())["retrain_every"] == 1


class Fails(Steps):
    """Fails at its second fit."""

    name = "fails"

    def fit(self, history: Dataset) -> None:
        super().fit(history)
        if len(self.fits) == 2:
            raise EvaluationError("no room on the second fit")


class Constant(Adapter):
    """Scores every event with score_of(events); two of these may share a name."""

    def __init__(self, name: str, score_of) -> None:
        super().__init__()
        self.name, self.score_of = name, score_of

    def fit(self, history: Dataset) -> None:
        return None

    def score(self, dataset: Dataset, since) -> pd.DataFrame:
        events = dataset.events[dataset.events["timestamp"] >= since]
        return pd.DataFrame({"event_id": events["event_id"].to_numpy(dtype=object),
                             "score": self.score_of(events).to_numpy(dtype=float)})


def test_a_detector_failing_mid_walk_says_where_and_the_others_go_on(toy: Path):
    result = evaluate_dataset(load_dataset(toy), since=SINCE, detectors=[Fails(), "random"], retrain_every=7)
    failed, ok = result.runs
    assert (failed.detector, failed.status, ok.status) == ("fails", "failed", "ok")
    assert failed.note.startswith("fit 2 of 3 (from 2025-02-17): ") and "no room" in failed.note


def test_detectors_sharing_a_name_are_measured_each_on_its_own(toy: Path):
    night = Constant("mine", lambda e: e["timestamp"].dt.hour)
    day = Constant("mine", lambda e: -e["timestamp"].dt.hour)
    result = evaluate_dataset(load_dataset(toy), since=SINCE, detectors=[night, day])
    aucs = [r["value"] for r in result.records if (r["scenario"], r["metric"]) == ("all", "auc")]
    assert len(aucs) == 2 and aucs[0] > 0.9 > 0.1 > aucs[1]  # the misuse is at night


def test_walk_forward_needs_a_positive_step(toy: Path):
    with pytest.raises(EvaluationError, match="at least 1 day"):
        evaluate_dataset(load_dataset(toy), since=SINCE, detectors=["random"], retrain_every=0)
    out = CliRunner().invoke(cli, ["evaluate", str(toy), "--since", SINCE, "--detectors", "random",
                                   "--retrain-every", "0"])
    assert out.exit_code == 2 and "--retrain-every" in out.output
