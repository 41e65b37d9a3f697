"""A tiny hand-built force for tests and examples (not the synthetic generator): a few units working their
cases on duty, some control-room checks on request, and optional planted look-ups of a relative.

Small and fast (a few thousand events), built from numpy with a seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from snoopwatch.dataset.model import Dataset

START = pd.Timestamp("2025-01-06", tz="UTC")


def _cat(values) -> pd.Series:
    return pd.Series(values, dtype="object").astype("category")


def toy_dataset(days: int = 40, users: int = 24, seed: int = 0, planted: bool = True) -> Dataset:
    """A small force: 3 units of officers plus 4 control-room operators; ~10 accesses per duty day.

    With planted=True, user U000 looks up their relative (same rare surname, same postcode sector, no
    case) off duty on a few days; these events' ids start with "X".
    """
    rng = np.random.default_rng(seed)
    n_subjects = 400
    units = np.array(["RESP-A", "RESP-B", "CID"])
    user_ids = np.array([f"U{i:03d}" for i in range(users)])
    roles = np.where(np.arange(users) < users - 4, "response_officer", "call_handler")
    user_unit = np.where(roles == "call_handler", "CONTROL", units[np.arange(users) % 3])
    common = np.array(["Smith", "Jones", "Brown", "Taylor", "Wilson", "Evans"])
    subj_surname = common[rng.integers(0, len(common), n_subjects)].astype(object)
    subj_surname[7] = "Quarshie"
    sectors = np.array(["B1 1", "B2 2", "B3 3", "B4 4", "B5 5"])
    subj_sector = sectors[rng.integers(0, len(sectors), n_subjects)].astype(object)
    subj_sector[7] = "B9 9"
    subject_ids = np.array([f"P{i:05d}" for i in range(n_subjects)])
    staff_surname = common[rng.integers(0, len(common), users)].astype(object)
    staff_surname[0] = "Quarshie"
    staff_sector = sectors[rng.integers(0, len(sectors), users)].astype(object)
    staff_sector[0] = "B9 9"
    staff = pd.DataFrame({
        "user_id": _cat(user_ids), "role": _cat(roles), "unit": _cat(user_unit), "surname": _cat(staff_surname),
        "home_postcode": _cat([f"{s}AB" for s in staff_sector]),
    })
    subjects = pd.DataFrame({
        "subject_id": _cat(subject_ids), "surname": _cat(subj_surname),
        "postcode": _cat([f"{s}XY" for s in subj_sector]), "flags": _cat([""] * n_subjects),
    })
    # Cases: each unit opens two a day; each has 3 subjects and one assigned officer of the unit.
    n_cases = days * 6
    case_unit = units[np.arange(n_cases) % 3]
    opened = START + pd.to_timedelta(np.arange(n_cases) // 6, unit="D") + pd.to_timedelta(rng.integers(0, 20, n_cases), unit="h")
    closed = opened + pd.to_timedelta(rng.integers(3, 15, n_cases), unit="D")
    case_refs = np.array([f"CR/{i:05d}" for i in range(n_cases)])
    officers = {u: np.flatnonzero(user_unit == u) for u in units}
    owner = np.array([officers[u][rng.integers(0, len(officers[u]))] for u in case_unit])
    cases = pd.DataFrame({"case_ref": _cat(case_refs), "unit": _cat(case_unit), "category": _cat(["theft"] * n_cases),
                          "opened_at": opened, "closed_at": closed})
    case_subj = rng.integers(8, n_subjects, (n_cases, 3))
    case_subjects = pd.DataFrame({"case_ref": _cat(np.repeat(case_refs, 3)), "subject_id": _cat(subject_ids[case_subj.ravel()]),
                                  "role": _cat(["suspect", "witness", "other"] * n_cases)})
    case_staff = pd.DataFrame({"case_ref": _cat(case_refs), "user_id": _cat(user_ids[owner]),
                               "from": opened, "to": closed})
    # Rosters: everyone works 08:00-18:00 five days in seven (staggered).
    day_idx, user_idx = np.meshgrid(np.arange(days), np.arange(users), indexing="ij")
    on = (day_idx + user_idx) % 7 < 5
    r_day, r_user = day_idx[on], user_idx[on]
    starts = START + pd.to_timedelta(r_day, unit="D") + pd.Timedelta(hours=8)
    rosters = pd.DataFrame({"user_id": _cat(user_ids[r_user]), "start": starts, "end": starts + pd.Timedelta(hours=10)})
    # Normal work: 10 accesses per duty day, officers on their open cases, operators on request.
    per = 10
    e_user = np.repeat(r_user, per)
    e_day = np.repeat(r_day, per)
    e_time = START + pd.to_timedelta(e_day, unit="D") + pd.Timedelta(hours=8) + pd.to_timedelta(rng.integers(0, 36_000, len(e_user)), unit="s")
    e_case = np.full(len(e_user), -1)
    e_subject = rng.integers(8, n_subjects, len(e_user))
    requested = np.full(len(e_user), None, dtype=object)
    for u in range(users):  # per user (two dozen), not per event
        mine = np.flatnonzero(e_user == u)
        if roles[u] == "call_handler":
            requested[mine] = user_ids[rng.integers(0, users - 4, len(mine))]
            continue
        theirs = np.flatnonzero(owner == u)
        if len(theirs) == 0:
            continue
        open_at = opened.asi8[theirs][None, :] <= e_time.asi8[mine][:, None]
        still = closed.asi8[theirs][None, :] >= e_time.asi8[mine][:, None]
        ok = open_at & still
        pick = np.where(ok.any(axis=1), np.argmax(ok * rng.random(ok.shape), axis=1), -1)
        have = pick >= 0
        e_case[mine[have]] = theirs[pick[have]]
        e_subject[mine[have]] = case_subj[theirs[pick[have]], rng.integers(0, 3, have.sum())]
    events = pd.DataFrame({
        "event_id": [f"E{i:06d}" for i in range(len(e_user))],
        "timestamp": e_time, "user_id": user_ids[e_user], "action": rng.choice(["search", "view"], len(e_user)),
        "query_type": "person", "subject_id": subject_ids[e_subject],
        "case_ref": np.where(e_case >= 0, case_refs[np.maximum(e_case, 0)], None), "requested_by": requested,
        "reason_code": np.where(e_case >= 0, "crime", "stop"),
    })
    if planted:
        when = START + pd.to_timedelta(np.array([days // 2, days // 2 + 3, days - 3, days - 2]), unit="D") + pd.Timedelta(hours=23)
        extra = pd.DataFrame({"event_id": [f"X{i:03d}" for i in range(len(when))], "timestamp": when,
                              "user_id": "U000", "action": "view", "query_type": "person", "subject_id": "P00007",
                              "case_ref": None, "requested_by": None, "reason_code": None})
        events = pd.concat([events, extra], ignore_index=True)
    events = events.sort_values("timestamp", kind="stable").reset_index(drop=True)
    for column in ("user_id", "action", "query_type", "subject_id", "case_ref", "requested_by", "reason_code"):
        events[column] = _cat(events[column].where(events[column].notna(), None))
    events["event_id"] = events["event_id"].astype(pd.StringDtype("pyarrow"))
    tables = {"events": events, "staff": staff, "subjects": subjects, "cases": cases, "case_subjects": case_subjects,
              "case_staff": case_staff, "rosters": rosters}
    return Dataset(tables, {"format_version": 1, "generator": "snoopwatch toy"})
