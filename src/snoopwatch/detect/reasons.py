"""Reasons: which features made an event or an alert unusual, in codes and plain words.

A feature's evidence is its tail surprise in the suspicious direction (SnoopwatchForest.feature_surprise:
-log10 of the share of training events at least as extreme). An event's reasons are its features with
surprise >= REASON_MIN_SURPRISE, strongest first; an alert's reasons add the surprises over its events.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np

from snoopwatch.detect.alerts import Reason
from snoopwatch.features.registry import BY_NAME
from snoopwatch.features.rules import RULE_INPUTS, rule_flag_arrays

REASON_MIN_SURPRISE = 1.0  # at most one training event in ten is this extreme on the feature
EVENT_REASONS = 3
ALERT_REASONS = 5
_RELATIONS = (("self_lookup", "their own record"), ("surname_match_rarity", "same surname"),
              ("same_postcode_sector", "same postcode sector"), ("home_proximity", "close to home"),
              ("declared_association", "a declared relationship"), ("colleague_record", "a colleague"),
              ("subject_vip", "a public figure"), ("subject_vulnerable", "vulnerable"),
              ("subject_victim", "a victim"), ("subject_ocg", "organised-crime nominal"))
# Every feature column a summary reads.
SUMMARY_COLUMNS = tuple(dict.fromkeys([*RULE_INPUTS, *(column for column, _ in _RELATIONS)]))


def event_reason_codes(surprise: np.ndarray, features: list[str]) -> np.ndarray:
    """Per row: up to EVENT_REASONS reason codes joined by ';' (strongest first), '' when none."""
    reasons = EventReasons(features)
    codes = reasons.codes(surprise)  # (adds the texts it meets)
    return np.asarray(reasons.texts, dtype=object)[codes]


class EventReasons:
    """Event reason codes for many blocks of events: each distinct combination of reasons is made text
    once, however many blocks show it, and numbered (0 = no reason) in `texts`. Blocks may be coded on
    several threads at once."""

    def __init__(self, features: list[str]):
        self.features = list(features)
        self.names = [BY_NAME[name].reason for name in self.features]
        self.texts: list[str] = [""]
        self._position_of_text = {"": 0}
        self._combinations_met = np.zeros(0, dtype=np.int64)  # sorted, with the position of each one's text
        self._positions_met = np.zeros(0, dtype=np.int32)
        self._lock = threading.Lock()

    def codes(self, surprise: np.ndarray) -> np.ndarray:
        """Per row of surprise (rows x features): the position of its reason text in `texts` (int32)."""
        distinct, inverse = np.unique(self._combinations(surprise), return_inverse=True)
        with self._lock:
            at = np.searchsorted(self._combinations_met, distinct)
            met = at < len(self._combinations_met)
            met[met] = self._combinations_met[at[met]] == distinct[met]
            if not met.all():  # texts for the combinations first met in this block
                new = distinct[~met]
                positions = np.array([self._text_position(int(value)) for value in new], dtype=np.int32)
                combined = np.concatenate([self._combinations_met, new])
                order = np.argsort(combined, kind="stable")
                self._combinations_met = combined[order]
                self._positions_met = np.concatenate([self._positions_met, positions])[order]
            positions = self._positions_met[np.searchsorted(self._combinations_met, distinct)]
        return positions[inverse]

    def _combinations(self, surprise: np.ndarray) -> np.ndarray:
        """Per row: its `top` strongest features at or above REASON_MIN_SURPRISE, strongest first, as one
        integer (digits in base features + 1; the digit `features` means no reason)."""
        n, f = surprise.shape
        top = min(EVENT_REASONS, f)
        # The `top` strongest features per row, ties to the earlier feature (as a stable sort would order
        # them): repeated argmax, each pick masked out, instead of sorting all the features of every row.
        remaining = np.array(surprise, dtype=np.float32, order="C")
        order = np.empty((n, top), dtype=np.int64)
        strength = np.empty((n, top), dtype=remaining.dtype)
        rows = np.arange(n)
        for k in range(top):
            order[:, k] = remaining.argmax(axis=1)
            strength[:, k] = remaining[rows, order[:, k]]
            remaining[rows, order[:, k]] = -np.inf
        picked = np.where(strength >= REASON_MIN_SURPRISE, order, f)
        combination = np.zeros(n, dtype=np.int64)
        for k in range(top):
            combination = combination * (f + 1) + picked[:, k]
        return combination

    def _text_position(self, combination: int) -> int:
        """The position in `texts` of a combination's text, added when new (under the lock)."""
        f = len(self.features)
        value, parts = combination, []
        for _ in range(min(EVENT_REASONS, f)):
            value, idx = divmod(value, f + 1)
            parts.append(idx)
        text = ";".join(dict.fromkeys(self.names[i] for i in reversed(parts) if i < f))
        position = self._position_of_text.setdefault(text, len(self.texts))
        if position == len(self.texts):
            self.texts.append(text)
        return position


def alert_reasons(surprise: np.ndarray, features: list[str]) -> list[Reason]:
    """The alert's strongest features over its events, each with how many events show it."""
    hits = (surprise >= REASON_MIN_SURPRISE).sum(axis=0)
    total = np.where(surprise >= REASON_MIN_SURPRISE, surprise, 0.0).sum(axis=0)
    if total.sum() <= 0:
        return []
    weights = total / total.sum()
    reasons: dict[str, Reason] = {}
    for k in np.argsort(-weights, kind="stable"):
        if hits[k] == 0 or len(reasons) >= ALERT_REASONS:
            break
        spec = BY_NAME[features[k]]
        if spec.reason in reasons:
            continue
        text = f"{spec.reason_text} ({hits[k]} of {len(surprise)} look-up{'s' if len(surprise) > 1 else ''})"
        reasons[spec.reason] = Reason(spec.reason, text, round(float(weights[k]), 3))
    return list(reasons.values())


def _span_words(seconds: float) -> str:
    days = seconds / 86_400
    if days < 1:
        hours = max(1, round(seconds / 3600))
        return f"{hours} hour{'s' if hours > 1 else ''}"
    if days < 60:
        d = max(1, round(days))
        return f"{d} day{'s' if d > 1 else ''}"
    months = round(days / 30.4)
    return f"{months} months"


def _of(count: int, total: int) -> str:
    if count == total:
        return "all" if total > 2 else ("both" if total == 2 else "it")
    return f"{count} of {total}"


def summary(user_id: str, rows: Mapping[str, np.ndarray], times: np.ndarray, subjects: np.ndarray,
            reasons: list[Reason]) -> str:
    """One sentence an investigator can check against the log, e.g. "PC1 looked up 1 person 7 times over
    14 months (same rare surname, same postcode sector); none linked to a case; 5 of 7 off duty".

    rows: the events' features as arrays by feature name (the SUMMARY_COLUMNS present are read).
    """
    return summaries([user_id], rows, times, subjects, np.array([0, len(times)]), [reasons])[0]


def _segment_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sum of values[offsets[k]:offsets[k + 1]] for every k, exact for counts (empty segments sum to 0)."""
    running = np.concatenate([[0], np.cumsum(values, dtype=np.int64)])
    return running[offsets[1:]] - running[offsets[:-1]]


def _segment_extreme(values: np.ndarray, offsets: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """ufunc.reduce (np.maximum or np.minimum) over each segment; 0 for an empty one."""
    out = np.zeros(len(offsets) - 1, dtype=np.float64)
    full = offsets[1:] > offsets[:-1]
    if full.any():
        out[full] = ufunc.reduceat(np.asarray(values, dtype=np.float64), offsets[:-1][full])
    return out


def summaries(user_ids: list[str], rows: Mapping[str, np.ndarray], times: np.ndarray, subjects: np.ndarray,
              offsets: np.ndarray, reasons: list[list[Reason]]) -> list[str]:
    """summary() of many alerts at once: alert k's events are rows offsets[k]:offsets[k + 1] of the arrays
    (features by name, times, subjects). Every count is made in one pass over all the alerts' events, so
    thousands of alerts cost a few array operations and a sentence each."""
    offsets = np.asarray(offsets, dtype=np.int64)
    total = int(offsets[-1])
    counts = np.diff(offsets)
    flags = rule_flag_arrays(rows, total)
    unexplained = _segment_sums(flags["no_case_link"], offsets)
    off = _segment_sums(flags["off_roster"], offsets)
    spans = _segment_extreme(times, offsets, np.maximum) - _segment_extreme(times, offsets, np.minimum)
    hits, rare_surname = {}, np.zeros(len(counts), dtype=bool)
    for column, _ in _RELATIONS:
        if column in rows:
            values = np.asarray(rows[column], dtype=np.float64)
            hits[column] = _segment_sums(values > (0.5 if column == "home_proximity" else 0), offsets)
            if column == "surname_match_rarity":
                rare_surname = _segment_extreme(values, offsets, np.maximum) > 0.6
    case_columns = "explained_by_case" in rows or "case_ref_present" in rows
    mentioned = {"SELF", "SURNAME", "NEAR_HOME", "CLOSE_TO_HOME", "DECLARED_LINK", "COLLEAGUE", "VIP",
                 "VULNERABLE", "VICTIM", "OCG", "UNEXPLAINED", "NO_CASE_LINK", "OFF_DUTY", "UNEXPLAINED_FOR_ROLE",
                 "UNEXPLAINED_FOR_USER", "NO_CASE_REF"}
    sentences = []
    for k, user_id in enumerate(user_ids):
        n = int(counts[k])
        distinct = len({s for s in subjects[offsets[k]:offsets[k + 1]] if isinstance(s, str) and s})
        who = f"{distinct} {'person' if distinct == 1 else 'people'}" if distinct else "records"
        head = f"{user_id} looked up {who} {n} time{'s' if n > 1 else ''}"
        head += f" over {_span_words(float(spans[k]))}" if n > 1 else ""
        relations = []
        for column, words in _RELATIONS:
            hit = int(hits[column][k]) if column in hits else 0
            if hit:
                if column == "surname_match_rarity" and rare_surname[k]:
                    words = "same rare surname"
                relations.append(words if hit == n else f"{words} in {hit}")
        if relations:
            head += " (" + ", ".join(relations) + ")"
        clauses = [head]
        if case_columns:
            if unexplained[k] == n:
                clauses.append("none linked to a case" if n > 1 else "not linked to a case")
            elif unexplained[k]:
                clauses.append(f"{unexplained[k]} of {n} not linked to a case")
        if off[k]:
            clauses.append(f"{_of(int(off[k]), n)} off duty")
        extra = [r for r in reasons[k] if r.code not in mentioned][:1]
        if extra:
            clauses.append(extra[0].text.split(" (")[0])
        sentences.append("; ".join(clauses))
    return sentences
