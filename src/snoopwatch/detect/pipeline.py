"""detect: score every event from `since` on, roll scores up into per-user risk, raise budgeted alerts.

Events before `since` are history: they feed the features (first look, repeat look-ups, baselines), and
the last year of them is scored for the roll-up's memory only (month and year windows, re-alert memory),
never written and never alerted on its own. Every event at or after `since` is scored and appears in
Detection.scores; an alert's events may reach back into the history its window covers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from snoopwatch.dataset.io import arrow_allocates_from_malloc, parse_instant
from snoopwatch.dataset.model import Dataset
from snoopwatch.detect import rollup
from snoopwatch.detect.alerts import Alert, Detection, alert_id, severity_for
from snoopwatch.detect.allowlist import AllowEntry, load_allowlist, match
from snoopwatch.detect.model import TrainedModel
from snoopwatch.detect.reasons import SUMMARY_COLUMNS, EventReasons, alert_reasons, summaries
from snoopwatch.detect.rollup import daily_budget
from snoopwatch.errors import DatasetError
from snoopwatch.features import DEFINITIONS_VERSION, build_features
from snoopwatch.features._util import DAY
from snoopwatch.features.registry import CHANGED_SINCE

REASONS_FROM_SCORE = 1.0   # events scoring below this (9 in 10 normal events) get no reason codes
MAX_ALERT_EVENTS = 50
# Scores drift as the scored events move away from the training window (README, "What to expect"): the
# share of normal accesses scoring 2 or more rose from 0.45% to 1.0% one month after training and 4.3%
# four months after. Past this many days, detect says so and how to retrain.
STALE_MODEL_DAYS = 45


def _neutral_fill(model: TrainedModel, name: str) -> float:
    """A value the model treats as unremarkable for a feature this data set cannot supply."""
    k = model.features.index(name)
    floor = float(model.estimator.floor_[k])
    sign = float(model.estimator.signs_[k]) or 1.0
    return floor * sign if np.isfinite(floor) else 0.0


def _factorize_users(users: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, user id text per code), codes numbered in order of first appearance (as
    pd.factorize of the text numbers them). A category column is factorized by its integer codes, so the
    id text is made once per user, not once per event."""
    if isinstance(users.dtype, pd.CategoricalDtype):
        codes, first = pd.factorize(users.cat.codes.to_numpy())
        names = np.asarray(users.cat.categories.astype(str), dtype=object)
        return codes, np.append(names, "nan")[first]  # code -1 (a missing id) reads "nan", as astype(str) does
    codes, names = pd.factorize(users.astype(str).to_numpy())
    return codes, np.asarray(names, dtype=object)


def _arrow_text(names: np.ndarray, codes: np.ndarray) -> pd.Series:
    """names[codes] as a Series of text in Arrow storage (pandas' own text dtype), gathered by Arrow."""
    taken = pc.take(pa.array(names, type=pa.large_string()), pa.array(codes))
    return pd.Series(pd.arrays.ArrowStringArray(taken), dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _by_user(users: pd.Series, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, pd.Series, np.ndarray,
                                                         rollup.UserDays]:
    """What detect reads per user and needs no score for: (user code per row, user id per code, user id
    per row as Arrow text, UTC day per row, the rows grouped by (user, day))."""
    user_codes, user_names = _factorize_users(users)
    day = np.floor(t / DAY).astype(np.int64)
    return user_codes, user_names, _arrow_text(user_names, user_codes), day, rollup.UserDays.of(user_codes, day)


def _stale_model_note(model: TrainedModel, last_scored: float) -> str | None:
    """A note when the last scored event is more than STALE_MODEL_DAYS after the training window ends."""
    window = model.envelope.get("training_window") or [None, None]
    if window[1] is None or not np.isfinite(last_scored):
        return None
    trained_to = pd.Timestamp(window[1])
    last = pd.Timestamp(last_scored, unit="s", tz="UTC")
    gap = (last - trained_to).days
    if gap <= STALE_MODEL_DAYS:
        return None
    return (f"the model was trained on events up to {trained_to:%Y-%m-%d} and the scored events run to "
            f"{last:%Y-%m-%d}, {gap} days later; scores drift as that gap grows (more normal accesses look "
            f"rare, so alerts get noisier): retrain on recent events, e.g. snoopwatch train DATASET --until "
            f"{last.replace(day=1):%Y-%m-%d}")


def _definitions_note(model: TrainedModel) -> str | None:
    """A note when the model was trained under other feature definitions than this snoopwatch computes
    (models from before versions were recorded count as version 1)."""
    trained = model.envelope.get("feature_definitions", 1)
    if trained == DEFINITIONS_VERSION:
        return None
    changed = CHANGED_SINCE.get(trained) if isinstance(trained, int) else None
    what = f" ({changed} changed)" if changed else ""
    return (f"the model was trained with feature definitions version {trained} and this snoopwatch computes "
            f"version {DEFINITIONS_VERSION}{what}; scores are unreliable until you retrain: snoopwatch train "
            "DATASET --until DATE")


def _iso_days(days: np.ndarray) -> list[str]:
    """UTC days (days since 1970-01-01) as ISO 8601 instants at midnight, e.g. 2025-01-06T00:00:00Z."""
    return [f"{text}T00:00:00Z" for text in np.datetime_as_string(np.asarray(days, dtype="datetime64[D]"))]


def detect(dataset: Dataset, model: TrainedModel, since: str | pd.Timestamp | None = None, budget: float = 10.0,
           allowlist: list[AllowEntry] | str | Path | None = None,
           progress: Callable[[str, int, int], None] | None = None) -> Detection:
    """Score events at or after `since` (all when None), roll up per user, and raise alerts.

    budget: alerts per day per 1,000 staff (at least one a day). allowlist: entries or a file path.
    """
    with arrow_allocates_from_malloc():
        return _detect(dataset, model, since, budget, allowlist, progress)


def _detect(dataset: Dataset, model: TrainedModel, since: str | pd.Timestamp | None, budget: float,
            allowlist: list[AllowEntry] | str | Path | None,
            progress: Callable[[str, int, int], None] | None) -> Detection:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if budget <= 0:
        raise DatasetError(f"budget {budget} must be above 0 (alerts per day per 1,000 staff)")
    dataset = dataset.without_answer_key()
    entries = load_allowlist(allowlist) if isinstance(allowlist, str | Path) else list(allowlist or [])
    since_ts = parse_instant(since, "--since")
    events = dataset.events
    notes: list[str] = []

    fs = build_features(dataset, features=model.features, progress=progress)
    timings["features"] = time.perf_counter() - started
    frame = fs.frame
    for name in model.features:
        if name not in frame.columns:
            frame[name] = np.float32(_neutral_fill(model, name))
            notes.append(f"feature {name} missing from this data set ({fs.dropped.get(name, 'unavailable')}); "
                         "treated as unremarkable")
    t = fs.times  # the events' instants in seconds, as the features read them
    scored = np.ones(len(events), dtype=bool) if since_ts is None else t >= since_ts.value / 1e9
    for note in (_definitions_note(model), _stale_model_note(model, float(t[scored].max()) if scored.any() else np.nan)):
        if note:
            notes.append(note)
    # The roll-up also sees the year before --since (scored, never written or alerted), so a daily run's
    # month and year windows hold the months and the year, not just the day.
    lookback = max(rollup.WINDOWS.values()) * DAY
    context = np.ones(len(events), dtype=bool) if since_ts is None else t >= since_ts.value / 1e9 - lookback
    # Rows that cannot be scored are the rows the loader set aside; every kept row has finite features
    # (build_features reads NaN and infinities as 0, and a missing feature gets a finite neutral value).
    rejected = dataset.rejects.get("events")
    reject_frame = rejected.reset_index(drop=True) if rejected is not None and len(rejected) else pd.DataFrame()
    everything = bool(context.all())  # the usual case (no --since): use the frames as they are
    idx = np.flatnonzero(context)
    in_scope = scored[idx]
    sub = frame if everything else frame.iloc[idx]
    step = time.perf_counter()
    roles = fs.roles if everything or fs.roles is None else fs.roles[idx]
    # Reasons as a position among the distinct reason texts (0 = none), made text once at the end.
    event_reasons = EventReasons(model.features)
    reason_of = np.zeros(len(idx), dtype=np.int32)

    def explain(start: int, block_score: np.ndarray, surprise: np.ndarray) -> None:
        """Reason codes for the block's scored events at or above REASONS_FROM_SCORE, from the surprises
        the scoring has just computed."""
        rows = np.flatnonzero((block_score >= REASONS_FROM_SCORE) & in_scope[start:start + len(block_score)])
        if len(rows):
            reason_of[start + rows] = event_reasons.codes(surprise[rows])

    needed = [c for c in ("event_id", "user_id", "timestamp", "subject_id") if c in events.columns]
    ev = events if everything else events[needed].iloc[idx]  # only the columns used below, when a subset
    t_scored = t if everything else t[idx]
    with ThreadPoolExecutor(1) as pool:
        # What the roll-up needs and no score decides is made on a thread of its own while the events
        # are scored (the scoring's two threads leave part of the second core idle).
        ahead = pool.submit(_by_user, ev["user_id"], t_scored)
        score = model.event_scores(sub, roles, on_block=explain)[0]
        np.maximum(score, 0.0, out=score)
        score += 0.0  # no negative zero in the scores file
        timings["score"] = time.perf_counter() - step  # scoring and reason codes
        step = time.perf_counter()
        user_codes, user_names, user_text, day, user_days = ahead.result()

    rows_all = pd.DataFrame({
        # event ids stay in the table's own (Arrow) storage, and user ids are taken into Arrow storage
        # from the distinct names: no Python string per event
        "event_id": ev["event_id"].reset_index(drop=True), "user_id": user_text,
        "timestamp": ev["timestamp"].reset_index(drop=True), "score": score.astype(np.float64),
        "reasons": _arrow_text(np.array(event_reasons.texts, dtype=object), reason_of),
    })
    scores = rows_all if bool(in_scope.all()) else rows_all[in_scope].reset_index(drop=True)
    timings["reasons"] = time.perf_counter() - step

    # Allow-list: which scored events each entry covers.
    step = time.perf_counter()
    hits = np.zeros((len(rows_all), 0), dtype=bool)
    if entries:
        role = None
        if dataset.staff is not None and "role" in dataset.staff.columns:
            role_of = dict(zip(dataset.staff["user_id"].astype(str), dataset.staff["role"].astype(object), strict=False))
            role = rows_all["user_id"].map(role_of)
        subject = ev["subject_id"].reset_index(drop=True) if "subject_id" in ev.columns else None
        hits = match(entries, rows_all["user_id"], role, subject, rows_all["timestamp"])
    allowed = hits.any(axis=1)

    staff = dataset.staff_count
    per_day = daily_budget(budget, staff)
    # The (user, day)s with events at or after --since: ascending, as the grouping holds them.
    in_scope_days = user_days.per_group(in_scope, np.logical_or)
    scope_keys = user_days.key[in_scope_days]

    def raised(selected: pd.DataFrame) -> pd.DataFrame:
        """Alerts only for a user and day with events at or after --since; earlier days are memory."""
        keys = selected["user"].to_numpy(np.int64) * (1 << 32) + selected["day"].to_numpy(np.int64)
        return selected[np.isin(keys, scope_keys)]

    cands = rollup.candidates(user_codes, day, score, ~allowed, user_days)
    chosen = raised(rollup.select(cands, per_day))
    ref = model.model_ref
    alerts: list[Alert] = []
    # The events behind each alert, then their feature surprises in one pass.
    alert_rows = []
    for row in chosen.itertuples(index=False):  # one iteration per alert (a budgeted handful a day)
        rows = user_days.rows(row.user, row.start_day, row.day)
        rows = rows[(score[rows] >= row.level) & ~allowed[rows]]
        alert_rows.append(np.sort(rows[np.argsort(-score[rows], kind="stable")[:MAX_ALERT_EVENTS]]))
    every = np.concatenate(alert_rows) if alert_rows else np.zeros(0, dtype=np.int64)
    # Features, event ids and subjects of the alerts' events only (a few thousand), not of every event.
    alert_features = {name: sub[name].to_numpy()[every] for name in SUMMARY_COLUMNS if name in sub.columns}
    alert_event_ids = ev["event_id"].iloc[every].astype(str).to_numpy(dtype=object)
    alert_subjects = (ev["subject_id"].iloc[every].astype(object).where(ev["subject_id"].iloc[every].notna(), "")
                      .astype(str).to_numpy(dtype=object) if "subject_id" in ev.columns
                      else np.full(len(every), "", dtype=object))
    if len(every):
        surprise_all = model.estimator.feature_surprise(sub.iloc[every][model.features].to_numpy(np.float32),
                                                        roles[every] if roles is not None else None)
    else:  # a quiet period: no alert, nothing to explain
        surprise_all = np.zeros((0, len(model.features)), dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in alert_rows])]).astype(np.int64)
    whys = [alert_reasons(surprise_all[offsets[k]:offsets[k + 1]], model.features) for k in range(len(alert_rows))]
    users = [str(user_names[u]) for u in chosen["user"]]
    # Summaries, days and risks of every alert at once (a busy year holds thousands of alerts).
    sentences = summaries(users, alert_features, t_scored[every], alert_subjects, offsets, whys)
    starts = _iso_days(chosen["start_day"].to_numpy(np.int64))
    ends = _iso_days(chosen["day"].to_numpy(np.int64) + 1)
    risks = rollup.risk_from_evidence(chosen["evidence"].to_numpy(np.float64))
    for k, row in enumerate(chosen.itertuples(index=False)):
        event_ids = alert_event_ids[offsets[k]:offsets[k + 1]].tolist()
        user, start, end, why, sentence, risk = users[k], starts[k], ends[k], whys[k], sentences[k], int(risks[k])
        alerts.append(Alert(
            alert_id=alert_id(user, start, end, ref["file_hash"], event_ids, str(row.window)), user_id=user,
            window_start=start, window_end=end, risk=risk, severity=severity_for(risk), event_ids=event_ids,
            reasons=why, summary=sentence, model=ref, window=str(row.window), evidence=round(float(row.evidence), 3),
        ))

    # What the allow-list suppressed: events per entry, and alerts that would have been raised without it.
    suppressed_rows = []
    if entries:
        plain = raised(rollup.select(rollup.candidates(user_codes, day, score, np.ones(len(score), bool), user_days),
                                     per_day))
        raised = set(zip(chosen["user"], chosen["day"], strict=True))
        lost = plain[[(u, d) not in raised for u, d in zip(plain["user"], plain["day"], strict=True)]]
        for j, entry in enumerate(entries):
            lost_count = 0
            for row in lost.itertuples(index=False):
                lost_count += bool(hits[user_days.rows(row.user, row.start_day, row.day), j].any())
            suppressed_rows.append({"entry": entry.label, "why": entry.why, "events": int(hits[in_scope, j].sum()),
                                    "alerts": lost_count})
    suppressed = pd.DataFrame(suppressed_rows, columns=["entry", "why", "events", "alerts"])
    timings["rollup"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - started
    days = int(np.unique(user_days.day[in_scope_days]).size)  # days with events at or after --since
    alerts.sort(key=lambda a: (a.window_end, -a.risk, a.user_id))
    return Detection(scores=scores, alerts=alerts, rejects=reject_frame, suppressed=suppressed,
                     features_used=list(model.features), notes=notes, budget_per_day=per_day, days=days,
                     staff=staff, seconds=timings)
