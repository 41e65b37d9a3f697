"""The HTML report: self-contained, escaped, with the cards and (trainer mode) the answer key."""

from __future__ import annotations

import re

import pytest

from snoopwatch.dataset import load_dataset
from snoopwatch.errors import SnoopwatchError
from snoopwatch.report.html import CSP, render_html_report, write_html_report
from test_report_fixtures import (
    HOSTILE_REF,
    HOSTILE_SUMMARY,
    HOSTILE_SURNAME,
    copy_example,
    example_alerts,
    example_scores,
)


@pytest.fixture
def hostile(example_dataset, tmp_path):
    return load_dataset(copy_example(example_dataset, tmp_path / "hostile", hostile=True, labels=True))


def test_everything_from_the_log_is_escaped(hostile):
    html = render_html_report(hostile, example_scores(hostile), example_alerts(HOSTILE_SUMMARY))
    assert HOSTILE_SURNAME not in html
    assert "<script" not in html.lower()  # the report has no script of its own, and none got in
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;off duty&lt;/b&gt; &amp; at night" in html
    assert HOSTILE_REF not in html and "&#34;&gt;&lt;img src=&#34;http://127.0.0.1:9/leak.png&#34;&gt;" in html
    assert not re.search(r"<img[^>]+src=\"http", html)


def test_report_is_self_contained(hostile):
    html = render_html_report(hostile, example_scores(hostile), example_alerts())
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'.replace("'", "&#39;") in html
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources, "expected chart images and in-page links"
    assert all(s.startswith(("data:image/png;base64,", "#")) for s in sources)
    assert "<link" not in html and "@import" not in html and "url(" not in html


def test_card_explains_the_person_and_subjects(example_dataset):
    ds = load_dataset(example_dataset)
    html = render_html_report(ds, example_scores(ds), example_alerts())
    assert 'id="person-1"' in html and 'id="person-2"' not in html  # both alerts are PC4412's: one card
    card = html[html.index('id="person-1"'):]
    assert "Daniel Okafor" in card and "response officer" in card
    assert "same surname (held by 2 people on record)" in card and "neighbour (same postcode sector B12 9)" in card
    assert "declared association: family" in card and "public figure" in card
    assert card.count('src="data:image/png;base64,') == 3  # timeline, risk, hours
    assert "both searches off duty, at 01:12" in card
    assert '<span class="no">no</span>' in card  # the 01:12 look-ups were off the roster


def test_overview_counts(example_dataset):
    ds = load_dataset(example_dataset)
    html = render_html_report(ds, example_scores(ds), example_alerts())
    overview = html[html.index('id="overview"'):html.index('id="people"')]
    assert re.search(r'class="k">Staff</div><div class="v">4<', overview)
    assert re.search(r'class="k">Events</div><div class="v">8<', overview)
    assert "1 high" in overview and "1 medium" in overview and "0 critical" in overview


def test_no_alerts_still_makes_a_report(example_dataset):
    ds = load_dataset(example_dataset)
    html = render_html_report(ds, example_scores(ds), [])
    assert "No alerts" in html and 'class="card"' not in html


def test_reveal_needs_labels(example_dataset):
    ds = load_dataset(example_dataset)
    with pytest.raises(SnoopwatchError, match="needs a data set with an answer key"):
        render_html_report(ds, example_scores(ds), example_alerts(), reveal=True)


def test_reveal_shows_caught_missed_and_false_alarms(hostile):
    html = render_html_report(hostile, example_scores(hostile), example_alerts()[:1] + [
        {**example_alerts()[1], "alert_id": "A-fp"}], reveal=True)
    answers = html[html.index('id="answers"'):]
    caught = answers[answers.index("I-S3-1") - 600:answers.index("I-S3-1")]
    assert 'status caught">caught' in caught
    missed = answers[answers.index("I-S6-1") - 600:answers.index("I-S6-1")]
    assert 'status missed">missed' in missed
    assert "Call handler Patel runs a vehicle check" in answers
    false_alarms = answers[answers.index("False alarms"):]
    assert "A-fp" in false_alarms and "A-PC4412-20250306" not in false_alarms
    assert "Trainer mode" in html and "Answer key: planted case: S3" in html
    assert "<b>1 of 2</b> planted cases in the scored period caught; 1 of 2 alerts are false alarms." in html


def test_write_is_atomic_and_returns_path(example_dataset, tmp_path):
    ds = load_dataset(example_dataset)
    out = write_html_report(ds, example_scores(ds), example_alerts(), tmp_path / "sub" / "r.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]


def test_dollar_signs_in_names_do_not_break_charts(example_dataset, tmp_path):
    path = copy_example(example_dataset, tmp_path / "dollar")
    subjects = (path / "subjects.csv").read_text().replace("Okafor,Grace", "Ok$afor$,Grace")
    (path / "subjects.csv").write_text(subjects)
    ds = load_dataset(path)
    html = render_html_report(ds, example_scores(ds), example_alerts())
    assert "Ok$afor$" in html


def test_alert_on_events_missing_from_the_data_set_still_renders(example_dataset):
    ds = load_dataset(example_dataset)
    ghost = {**example_alerts()[0], "alert_id": "A-ghost", "user_id": "XX9999", "event_ids": ["E9998", "E9999"]}
    html = render_html_report(ds, example_scores(ds).iloc[0:0], [ghost])
    card = html[html.index('id="person-1"'):]
    assert "XX9999" in card and "2 event id(s) not found in the data set" in card
    assert 'src="data:image/png' not in card  # nothing to draw, and no broken chart


def test_display_timezone_moves_times_and_hours(example_dataset):
    ds = load_dataset(example_dataset)
    utc = render_html_report(ds, example_scores(ds), example_alerts())
    tokyo = render_html_report(ds, example_scores(ds), example_alerts(), timezone="Asia/Tokyo")
    assert "2025-03-06 01:12" in utc and "2025-03-06 10:12" in tokyo  # E0006 at 01:12Z is 10:12 in Tokyo
    assert "times in Asia/Tokyo" in tokyo


def test_progress_is_reported_per_card(example_dataset):
    ds = load_dataset(example_dataset)
    calls = []
    render_html_report(ds, example_scores(ds), example_alerts(), progress=lambda *a: calls.append(a))
    assert calls == [("drawing the report", 0, 1), ("drawing the report", 1, 1)]


def test_alerts_or_scores_from_another_data_set_are_refused(example_dataset):
    ds = load_dataset(example_dataset)
    alert = example_alerts()[0]
    someone_else = {**alert, "user_id": "XX9999"}  # the same event ids, another person's alert
    with pytest.raises(SnoopwatchError, match=r"the alerts do not come from this data set: event \S+ is XX9999's there"):
        render_html_report(ds, example_scores(ds), [someone_else])
    scores = example_scores(ds)
    last = scores.index[-1]
    with pytest.raises(SnoopwatchError, match="the scores do not come from this data set"):  # (not only the first)
        render_html_report(ds, scores.assign(user_id=scores["user_id"].where(scores.index != last, "XX9999")),
                           example_alerts())
    # a missing user id is not compared (nor a crash)
    render_html_report(ds, scores.assign(user_id=scores["user_id"].where(scores.index != last, None)), example_alerts())
