"""Which detector feature groups a data set's tables allow: shown by `validate`, used by `train`.

Each group needs some tables and columns; a data set without them still works, with that group dropped.
A requirement is "table.column"; alternatives are joined with "|" (any one is enough).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureGroup:
    name: str
    explains: str
    needs: tuple[str, ...]


FEATURE_GROUPS: tuple[FeatureGroup, ...] = (
    FeatureGroup("case_reference", "a case reference was entered, and whether it exists", ("events.case_ref",)),
    FeatureGroup("case_status", "the referenced case was open or closed at the time", ("events.case_ref", "cases.opened_at")),
    FeatureGroup("case_assignment", "the user (or the user's unit) works the case", ("events.case_ref", "case_staff.user_id")),
    FeatureGroup("case_subject", "the subject is linked to the referenced case, or to any of the user's cases", ("events.subject_id", "case_subjects.subject_id")),
    FeatureGroup("unit_cases", "the subject is on a case of the user's unit", ("events.subject_id", "staff.unit", "cases.unit", "case_subjects.subject_id")),
    FeatureGroup("self", "the user looked up their own record", ("events.subject_id", "staff.subject_id")),
    FeatureGroup("surname", "subject shares the user's surname (weighted by rarity)", ("events.subject_id", "staff.surname", "subjects.surname")),
    FeatureGroup("near_home", "subject lives near the user", ("events.subject_id", "staff.home_postcode|staff.home_lat", "subjects.postcode|subjects.lat")),
    FeatureGroup("declared_association", "the user declared a relationship with the subject", ("events.subject_id", "associations.subject_id")),
    FeatureGroup("subject_flags", "subject is a colleague, public figure, vulnerable, organised-crime nominal or victim", ("events.subject_id", "subjects.flags")),
    FeatureGroup("roster", "the user was on duty, and minutes outside duty", ("rosters.start",)),
    FeatureGroup("hour_rarity", "how unusual the hour is for this user and role", ("events.timestamp",)),
    FeatureGroup("role_peers", "volume and mix against role peers", ("staff.role",)),
    FeatureGroup("subject_history", "first access and repeat look-ups of one subject over months and years", ("events.subject_id",)),
    FeatureGroup("crowd", "distinct users on one subject in a few days against its usual", ("events.subject_id",)),
    FeatureGroup("volume", "the user's day against their own baseline", ("events.user_id",)),
    FeatureGroup("exports", "share of exports", ("events.action",)),
    FeatureGroup("category_concentration", "concentration on one case category or query type", ("events.query_type|cases.category",)),
    FeatureGroup("operator", "check run on behalf of another user", ("events.requested_by",)),
)


def _has(present: dict[str, set[str]], requirement: str) -> bool:
    return any(
        table in present and column in present[table]
        for table, column in (alt.split(".", 1) for alt in requirement.split("|"))
    )


def missing_reason(needs: list[str], not_used: dict[str, str] | None = None) -> str:
    """'needs a.x, b.y or c.z' for unmet requirements, with why a table they name was not used (from
    Dataset.tables_not_used), e.g. a rosters file without its end column."""
    text = "needs " + ", ".join(req.replace("|", " or ") for req in needs)
    tables = dict.fromkeys(alt.split(".", 1)[0] for req in needs for alt in req.split("|"))
    why = [f"{table} was not used: {not_used[table]}" for table in tables if not_used and table in not_used]
    return text + (f" ({'; '.join(why)})" if why else "")


def feature_groups_allowed(present: dict[str, set[str]], not_used: dict[str, str] | None = None) -> dict[str, str | None]:
    """Map each feature group to None when allowed, or to the reason it must be dropped.

    `present` maps table name to the set of columns that table has (with at least one value); `not_used`
    (Dataset.tables_not_used) says why a table the data set has a file of was not used.
    """
    result: dict[str, str | None] = {}
    for group in FEATURE_GROUPS:
        missing = [req for req in group.needs if not _has(present, req)]
        result[group.name] = None if not missing else missing_reason(missing, not_used)
    return result
