"""Edge cases a daily run meets: a quiet period with no alert, a log without subjects, a folder as model path."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from snoopwatch.cli import cli
from snoopwatch.dataset.model import Dataset
from snoopwatch.detect import detect, train
from snoopwatch.detect._toy import toy_dataset
from snoopwatch.features import build_features


@pytest.fixture(scope="module")
def toy():
    ds = toy_dataset(days=30, seed=4)
    return ds, train(ds, until="2025-01-20", seed=0)


def test_a_period_with_nothing_to_alert_scores_and_raises_no_alert(toy):
    ds, model = toy
    last = ds.events["timestamp"].max()
    result = detect(ds, model, since=last + pd.Timedelta(seconds=1))  # nothing left to score
    assert len(result.scores) == 0 and result.alerts == []
    quiet = detect(ds, model, since=last, budget=0.001)
    assert len(quiet.scores) >= 1 and len(quiet.alerts) <= 1


def test_a_log_without_subjects_keeps_every_other_feature(toy):
    ds, _ = toy
    tables = dict(ds.tables)
    tables["events"] = ds.events.drop(columns=["subject_id"])
    with_subjects = build_features(ds).frame
    without = build_features(Dataset(tables, {})).frame
    for column in ("case_ref_present", "off_roster", "hour_rarity_user", "day_volume_vs_own"):
        if column in with_subjects.columns:
            assert column in without.columns
            pd.testing.assert_series_equal(without[column], with_subjects[column], check_names=False)


def test_a_folder_as_model_path_is_a_one_sentence_error(tmp_path, toy):
    ds, _ = toy
    result = CliRunner().invoke(cli, ["detect", str(tmp_path), "--model", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "is a directory" in result.output


def test_a_daily_run_raises_the_alerts_a_run_over_the_whole_period_raises_that_day():
    """The roll-up remembers the year before --since, so running day by day loses no month or year window."""
    ds = toy_dataset(days=40, seed=2)
    model = train(ds, until="2025-01-20", seed=0)
    whole = detect(ds, model, since="2025-01-20")
    days = sorted({a.window_end for a in whole.alerts})
    assert days, "the toy force should raise alerts after the training period"
    checked = 0
    for end in days[-3:]:
        day_start = pd.Timestamp(end) - pd.Timedelta(days=1)
        daily = detect(ds, model, since=day_start)
        assert [a.to_dict() for a in daily.alerts if a.window_end == end] == \
            [a.to_dict() for a in whole.alerts if a.window_end == end]
        assert daily.scores["timestamp"].min() >= day_start
        checked += 1
    assert checked
    assert any(pd.Timestamp(a.window_start) < pd.Timestamp(a.window_end) - pd.Timedelta(days=1) for a in whole.alerts)
