"""Every feature column, documented: what it measures, which tables it needs, its risk direction, its reason.

`direction` says which way is suspicious: +1 higher = less explained, -1 higher = better explained,
0 no prior (the forest alone judges). The detector uses it to let the forest be surprised only in the
suspicious direction, and reasons name the feature by `reason` with the plain `reason_text`.

`group` is a name from snoopwatch.dataset.capabilities.FEATURE_GROUPS (so `validate` and `train` tell
the same story about what was dropped); `needs` adds requirements of this feature beyond its group's, or
replaces them for a feature that reads none of its group's tables (with_group_needs=False).
"""

from __future__ import annotations

from dataclasses import dataclass

from snoopwatch.dataset.capabilities import FEATURE_GROUPS


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    group: str
    description: str
    direction: int
    reason: str
    reason_text: str
    needs: tuple[str, ...] = ()
    # False: `needs` alone decides (the feature reads none of its group's tables, e.g. the employment dates
    # of the roster group need no roster).
    with_group_needs: bool = True

    @property
    def requirements(self) -> tuple[str, ...]:
        if not self.with_group_needs:
            return self.needs
        group = next(g for g in FEATURE_GROUPS if g.name == self.group)
        return tuple(dict.fromkeys(group.needs + self.needs))


F = FeatureSpec
FEATURES: tuple[FeatureSpec, ...] = (
    # purpose: is the access explained by a case?
    F("case_ref_present", "case_reference", "1 when the user typed a case reference, else 0", -1,
      "NO_CASE_REF", "no case reference given"),
    F("case_ref_unknown", "case_reference", "1 when the case reference is not in the cases table (typo or fabrication)", 1,
      "UNKNOWN_CASE_REF", "case reference that does not exist", ("cases.case_ref",)),
    F("case_not_open", "case_status", "1 when the referenced case was not open at the time (before opening or after closing)", 1,
      "CASE_NOT_OPEN", "case reference not open at the time"),
    F("days_after_case_closed", "case_status", "log(1 + days) since the referenced case closed; 0 while open", 1,
      "AFTER_CLOSURE", "case reference closed days before", ("cases.closed_at",)),
    F("user_on_case", "case_assignment", "1 when the user was assigned to the referenced case at the time", -1,
      "NOT_ON_CASE", "user not assigned to the referenced case"),
    F("unit_on_case", "case_assignment", "1 when the referenced case belongs to the user's unit", -1,
      "NOT_UNIT_CASE", "case belongs to another unit", ("events.case_ref", "staff.unit", "cases.unit"), False),
    F("subject_on_case", "case_subject", "1 when the subject is linked to the referenced case", -1,
      "SUBJECT_NOT_ON_CASE", "subject not linked to the case given", ("events.case_ref",)),
    F("case_subject_mismatch", "case_subject", "1 when an open case is referenced but the subject looked up is not linked to it", 1,
      "CASE_MISMATCH", "case reference given does not involve this person", ("events.case_ref", "cases.opened_at")),
    F("subject_on_user_case", "case_subject", "1 when the subject is on a case the user was assigned to and that was open at the time", -1,
      "NO_CASE_LINK", "subject on none of the user's cases", ("case_staff.user_id",)),
    F("subject_on_user_closed_case", "case_subject", "1 when the subject was on a case of the user that had already closed (and is on no current one)", 1,
      "REOPENED_CLOSED", "subject of the user's closed case looked up again", ("case_staff.user_id",)),
    F("subject_on_requester_case", "case_subject", "1 when the check was requested by someone assigned to an open case holding the subject", -1,
      "REQUESTER_NO_CASE", "requester has no case with the subject", ("case_staff.user_id", "events.requested_by")),
    F("hours_since_case_opened", "case_subject", "log(1 + hours since the newest case holding the subject was opened), capped at 30 days", -1,
      "FRESH_CASE", "within hours of a case being opened", ("cases.opened_at",)),
    F("subject_on_unit_case", "unit_cases", "1 when the subject is on an open case of the user's unit", -1,
      "NOT_UNIT_SUBJECT", "subject on no case of the user's unit"),
    F("subject_on_other_unit_case", "unit_cases", "1 when the subject is on another unit's open case but on none of the user's or unit's", 1,
      "OTHER_UNIT_CASE", "subject under investigation by another unit"),
    F("explained_by_case", "case_subject", "how far work explains the access: 1 the subject is on an open case of the user (or requester); 0.5 on an open case of the unit, or of a referenced open case, or run for a named requester; 0 none", -1,
      "UNEXPLAINED", "not linked to any case the user or their unit works"),
    F("unexplained_rarity_role", "case_subject", "(1 - explained) x -log(share of unexplained accesses among the role's earlier accesses)", 1,
      "UNEXPLAINED_FOR_ROLE", "unexplained access, unusual for the role", ("staff.role",)),
    F("unexplained_rarity_user", "case_subject", "(1 - explained) x -log(share of unexplained accesses among the user's earlier accesses, shrunk to the role)", 1,
      "UNEXPLAINED_FOR_USER", "unexplained access, unusual for this user"),
    F("unexplained_lift_user", "case_subject", "log of the user's earlier share of unexplained accesses over the role's (shrunk): a habit of looking without a case", 1,
      "UNEXPLAINED_HABIT", "often looks people up without a case, unlike role peers"),
    # relationship: who is the subject to the user?
    F("self_lookup", "self", "1 when the subject is the user's own record", 1, "SELF", "looked up their own record"),
    F("surname_match_rarity", "surname", "when the subject shares the user's surname: log(subjects / subjects with that surname) / log(subjects), else 0", 1,
      "SURNAME", "same surname as the user"),
    F("same_postcode_sector", "near_home", "1 when the subject lives in the user's home postcode sector", 1,
      "NEAR_HOME", "lives in the user's postcode sector", ("staff.home_postcode", "subjects.postcode")),
    F("home_proximity", "near_home", "1 / (1 + km between the subject's and the user's homes), 0 when unknown", 1,
      "CLOSE_TO_HOME", "lives close to the user", ("staff.home_lat", "subjects.lat")),
    F("declared_association", "declared_association", "1 when the user declared a relationship with the subject", 1,
      "DECLARED_LINK", "someone the user declared a relationship with"),
    F("colleague_record", "subject_flags", "1 when the subject is a member of staff (flag staff or another user's own record)", 1,
      "COLLEAGUE", "a colleague's record"),
    F("subject_vip", "subject_flags", "1 when the subject is flagged vip (public figure)", 1, "VIP", "a public figure"),
    F("subject_vulnerable", "subject_flags", "1 when the subject is flagged vulnerable", 1, "VULNERABLE", "a vulnerable person"),
    F("subject_ocg", "subject_flags", "1 when the subject is flagged ocg (organised-crime nominal)", 1, "OCG", "an organised-crime nominal"),
    F("subject_victim", "subject_flags", "1 when the subject is flagged victim or is a victim on any case", 1, "VICTIM", "a victim"),
    # time
    F("off_roster", "roster", "1 when the user had no rostered duty covering the time (users without rosters: 0)", 1,
      "OFF_DUTY", "off duty"),
    F("minutes_off_duty", "roster", "log(1 + minutes to the nearest rostered duty) when off duty, else 0", 1,
      "FAR_FROM_DUTY", "long before or after a shift"),
    F("hour_rarity_user", "hour_rarity", "-log(share of the user's earlier events in this hour of day, shrunk to the role's)", 1,
      "ODD_HOUR_USER", "at an hour unusual for this user"),
    F("hour_rarity_role", "hour_rarity", "-log(share of the role's earlier events in this hour of day)", 1,
      "ODD_HOUR_ROLE", "at an hour unusual for the role"),
    F("outside_employment", "roster", "1 when the time is before the user's start date or after their end date", 1,
      "NOT_EMPLOYED", "outside the user's employment dates", ("staff.start_date|staff.end_date",), False),
    # history: this user and this subject over time (earlier events only)
    F("first_access_pair", "subject_history", "1 when the user never touched this subject before", 1,
      "FIRST_LOOK", "first time this user looked at the subject"),
    F("prior_unexplained_days", "subject_history", "log(1 + earlier days on which the user looked at this subject without a case explaining it)", 1,
      "REPEAT_NO_CASE", "looked at the same person again without a case"),
    F("prior_unexplained_span", "subject_history", "days since the first of those unexplained look-ups of this subject / days the log has known the user (at least 30): 1 = as long as the log has known them", 1,
      "LONG_RUNNING", "repeat look-ups of the same person over a long time"),
    F("lone_repeat_no_case", "subject_history", "log(1 + earlier unexplained days on this subject) / (1 + colleagues' look-up days on it in the user's unit over the last 90 days): a repeat interest the user's team does not share", 1,
      "LONE_INTEREST", "looked again, without a case, at a person no colleague in their unit looks at", ("staff.unit",)),
    # crowd
    F("crowd_3d", "crowd", "log(1 + user-days on this subject in the last 3 days, this one included)", 1,
      "CROWD", "many staff looked at this subject in a few days"),
    F("crowd_excess", "crowd", "log(1 + user-days in the last 3 days) - log(1 + its usual rate over the 90 days before)", 1,
      "CROWD_SPIKE", "sudden rush of staff on this subject"),
    # volume and mix
    F("day_volume_vs_own", "volume", "log(1 + user's events today so far) - log(1 + user's mean events per earlier active day)", 1,
      "VOLUME_SELF", "more look-ups than the user's usual day"),
    F("day_volume_vs_role", "role_peers", "log(1 + user's events today so far) - log(1 + role's mean events per user-day before today)", 1,
      "VOLUME_PEERS", "more look-ups than role peers"),
    F("is_export", "exports", "1 when the action is an export (print, download, screen capture)", 1, "EXPORT", "exported"),
    F("export_lift_user", "exports", "log of the user's earlier export share over the role's (shrunk)", 1,
      "EXPORTER", "exports far more than role peers"),
    F("category_lift_user", "category_concentration", "log of the user's earlier share of this query type / case category over the role's (shrunk)", 1,
      "CONCENTRATION", "concentrates on one kind of record"),
    F("category_rarity_role", "category_concentration", "-log(role's earlier share of this query type / case category)", 1,
      "ODD_RECORD_TYPE", "kind of record the role rarely touches"),
    F("reason_rarity_role", "role_peers", "-log(role's earlier share of this reason code, empty included)", 1,
      "ODD_REASON", "reason code the role rarely uses", ("events.reason_code",)),
    F("area_rarity_unit", "role_peers", "-log(share of the unit's earlier look-ups in the subject's postcode district): people far from the unit's patch", 1,
      "FAR_FROM_PATCH", "lives outside the area the user's unit works", ("subjects.postcode",)),
    F("result_count_log", "volume", "log(1 + result_count) (bulk result sets)", 1, "BULK", "large result set",
      ("events.result_count",)),
    # operator checks
    F("requested_by_other", "operator", "1 when the check was run on behalf of another user", -1,
      "NO_REQUESTER", "no requester named"),
    F("self_initiated_operator", "operator", "1 - requested, times the role's earlier share of requested checks (operators acting for themselves)", 1,
      "OPERATOR_SELF", "operator ran the check for no requester"),
)

BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}

# The features that are flags: 1 or 0, nothing else (each description starts "1 when"). build_features
# keeps them one byte an event, not four: at 10M events that is 800 MB less to hold and first touch.
FLAGS: frozenset[str] = frozenset(f.name for f in FEATURES if f.description.startswith("1 when "))

# Raised whenever a feature keeps its name but changes what it measures, or the event score combines the
# features differently: a model trained under another version judges values it was never shown, or reads
# its score calibration on another scale (train records it; detect says so). History:
#   1: the first definitions;
#   2 (2026-12-07): prior_unexplained_span is a share of the days the log has known the user (at least 30),
#      no longer span / (days known + 30), which grew with the log;
#   3 (2026-12-07): the event score no longer discounts the evidence of when (off duty, outside employment,
#      the hour) where a case explains the access (snoopwatch.detect.model.TIME_GROUPS).
DEFINITIONS_VERSION = 3
# Per earlier version: what changed since (for detect's note).
_TIME_EVIDENCE = "the score's off-duty, employment-date and hour evidence"
CHANGED_SINCE = {1: f"prior_unexplained_span and {_TIME_EVIDENCE}", 2: _TIME_EVIDENCE}

# Columns that carry the classic audit rules, for baselines (evaluate's "rules only") and summaries.
RULE_COLUMNS: dict[str, tuple[str, ...]] = {
    "no_case_link": ("explained_by_case",),      # rule fires when the value is 0
    "surname_match": ("surname_match_rarity", "self_lookup"),  # fires when > 0
    "near_home": ("same_postcode_sector", "home_proximity"),  # fires when sector 1 or proximity > 0.5
    "off_roster": ("off_roster",),               # fires when 1
    "vip_staff_subject": ("subject_vip", "colleague_record"),  # fires when 1
}


def describe_table() -> str:
    """A Markdown table of every feature: name, group, direction, description."""
    lines = ["| feature | group | direction | description |", "|---|---|---|---|"]
    for f in FEATURES:
        lines.append(f"| `{f.name}` | {f.group} | {f.direction:+d} | {f.description} |")
    return "\n".join(lines)
