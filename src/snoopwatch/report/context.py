"""What the report says about a person and the people they looked up, from the data set's context tables.

Everything here is plain description an investigator can check in the source tables (who the subject is
to the person, whether the person was on duty), not a model output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from snoopwatch.dataset.model import Dataset

NEAR_KM = 1.0
FLAG_WORDS = {"vip": "public figure", "vulnerable": "vulnerable", "ocg": "organised-crime nominal",
              "victim": "victim", "staff": "colleague"}


def postcode_sector(postcode: object) -> str | None:
    """UK postcode sector ("B12 9QX" -> "B12 9"); None when it is not a postcode."""
    if postcode is None or pd.isna(postcode):
        return None
    compact = "".join(str(postcode).upper().split())
    if len(compact) < 5 or not compact[-3].isdigit():
        return None
    return f"{compact[:-3]} {compact[-3]}"


def _text(value: object) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def staff_record(dataset: Dataset, user_id: str) -> dict:
    """The staff row of a person as plain strings (empty dict when the person is not in `staff`)."""
    staff = dataset.staff
    if staff is None:
        return {}
    rows = staff[staff["user_id"].astype("string") == user_id]
    if rows.empty:
        return {}
    row = rows.iloc[0]
    return {c: _text(row[c]) for c in staff.columns if c not in ("start_date", "end_date")} | {
        "start_date": row.get("start_date"), "end_date": row.get("end_date")}


def display_name(record: dict, user_id: str) -> str:
    """"Forename Surname" when the staff table names the person, else the user id."""
    name = " ".join(p for p in (record.get("forename", ""), record.get("surname", "")) if p)
    return name or user_id


def _haversine_km(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype="float64")) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * np.arcsin(np.sqrt(a))


def subject_relations(dataset: Dataset, user_id: str, subject_ids: list[str]) -> dict[str, dict]:
    """subject_id -> {name, postcode, tags: [(kind, words)]} saying who each subject is to the person.

    kinds: self, surname, neighbour, declared, colleague, flag, case (an explanation: on the person's case).
    """
    person = staff_record(dataset, user_id)
    subjects = dataset.subjects
    rows = {}
    if subjects is not None and subject_ids:
        sub = subjects[subjects["subject_id"].astype("string").isin(subject_ids)]
        rows = {str(r["subject_id"]): r for _, r in sub.iterrows()}
    staff = dataset.staff
    colleague_of: dict[str, str] = {}
    if staff is not None and "subject_id" in staff.columns:
        linked = staff[staff["subject_id"].notna()]
        colleague_of = dict(zip(linked["subject_id"].astype("string"), linked["user_id"].astype("string"), strict=True))
    declared: dict[str, str] = {}
    if dataset.associations is not None:
        assoc = dataset.associations[dataset.associations["user_id"].astype("string") == user_id]
        relation = assoc["relation"] if "relation" in assoc.columns else pd.Series("", index=assoc.index)
        declared = dict(zip(assoc["subject_id"].astype("string"), relation.map(_text), strict=True))
    on_cases = _subjects_on_persons_cases(dataset, user_id)

    home_sector = postcode_sector(person.get("home_postcode"))
    home_lat, home_lon = _float(person.get("home_lat")), _float(person.get("home_lon"))
    surname = person.get("surname", "").casefold()
    out: dict[str, dict] = {}
    surname_counts: dict[str, int] = {}
    for sid in subject_ids:
        row = rows.get(sid)
        name = " ".join(p for p in (_text(row.get("forename")), _text(row.get("surname")))) if row is not None else ""
        tags: list[tuple[str, str]] = []
        is_self = bool(sid) and sid == person.get("subject_id")
        if is_self:
            tags.append(("self", "their own record"))  # the same person: no surname or address "match"
        if row is not None:
            if surname and not is_self and _text(row.get("surname")).casefold() == surname:
                if surname not in surname_counts:
                    surname_counts[surname] = int((subjects["surname"].astype("string").str.casefold() == surname).sum())
                shared = surname_counts[surname]
                # How rare the name is tells the investigator how much a match means (Smith vs Okafor).
                tags.append(("surname", f"same surname (held by {shared:,} people on record)" if shared > 1
                             else "same surname"))
            lat, lon = _float(row.get("lat")), _float(row.get("lon"))
            coordinates = None not in (home_lat, home_lon, lat, lon)
            sector = postcode_sector(row.get("postcode"))
            if is_self:
                pass
            elif coordinates:  # DATASET.md: coordinates when both sides have them, else the postcode sector
                km = float(_haversine_km(home_lat, home_lon, np.array([lat]), np.array([lon]))[0])
                if km <= NEAR_KM:
                    tags.append(("neighbour", f"lives {km:.1f} km from them"))
            elif home_sector and sector == home_sector:
                tags.append(("neighbour", f"neighbour (same postcode sector {sector})"))
            flags = [f.strip().lower() for f in _text(row.get("flags")).split(";") if f.strip()]
            for flag in flags:
                if flag == "staff" and sid in colleague_of and colleague_of[sid] != user_id:
                    continue  # said below, with the colleague's id
                if flag == "staff" and is_self:
                    continue
                tags.append(("flag", FLAG_WORDS.get(flag, flag)))
        if sid in colleague_of and colleague_of[sid] != user_id:
            tags.append(("colleague", f"colleague ({colleague_of[sid]})"))
        if sid in declared:
            tags.append(("declared", f"declared association{': ' + declared[sid] if declared[sid] else ''}"))
        if sid in on_cases:
            tags.append(("case", "on a case they work"))
        out[sid] = {"name": name.strip(), "postcode": _text(row.get("postcode")) if row is not None else "",
                    "tags": tags}
    return out


def _float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number


def _subjects_on_persons_cases(dataset: Dataset, user_id: str) -> set[str]:
    """Subjects linked to any case the person is assigned to (at any time): a work explanation."""
    if dataset.case_staff is None or dataset.case_subjects is None:
        return set()
    cases = dataset.case_staff.loc[dataset.case_staff["user_id"].astype("string") == user_id, "case_ref"]
    linked = dataset.case_subjects[dataset.case_subjects["case_ref"].astype("string").isin(cases.astype("string"))]
    return set(linked["subject_id"].astype("string"))


def on_duty(dataset: Dataset, user_id: str, times: pd.Series) -> np.ndarray | None:
    """For each time, whether the person was rostered on duty; None when there are no rosters."""
    rosters = dataset.rosters
    if rosters is None:
        return None
    mine = rosters[rosters["user_id"].astype("string") == user_id].sort_values("start")
    if mine.empty:
        return np.zeros(len(times), dtype=bool)
    starts = mine["start"].to_numpy("datetime64[ns]")
    ends = mine["end"].to_numpy("datetime64[ns]")
    # Longest-running shift so far, so overlapping or nested shifts still count.
    running_end = np.maximum.accumulate(ends)
    stamps = pd.to_datetime(times, utc=True).dt.tz_convert(None).to_numpy("datetime64[ns]")
    idx = np.searchsorted(starts, stamps, side="right") - 1
    valid = idx >= 0
    result = np.zeros(len(stamps), dtype=bool)
    result[valid] = stamps[valid] < running_end[idx[valid]]
    return result


def duty_periods(dataset: Dataset, user_id: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame | None:
    """The person's roster rows overlapping [start, end]; None when the data set has no rosters."""
    rosters = dataset.rosters
    if rosters is None:
        return None
    mine = rosters[(rosters["user_id"].astype("string") == user_id) & (rosters["end"] >= start) & (rosters["start"] <= end)]
    return mine[["start", "end"]].reset_index(drop=True)
