"""Each planted scenario: labelled events whose counts, spans, timing and relations match its data file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snoopwatch.synth import SynthConfig, generate
from snoopwatch.synth.scenarios import get_scenario, load_catalogue

WINDOW_DAYS = 100


@pytest.fixture(scope="module", params=[3, 8])
def world(request):
    return generate(SynthConfig(staff=170, days=WINDOW_DAYS, seed=request.param))


def _sector(postcodes: pd.Series) -> pd.Series:
    return postcodes.astype(str).str[:-2]


def misuse(world, scenario: str) -> pd.DataFrame:
    """The scenario's events that opened or returned one record (a search that returned a list names no
    subject), joined with the insider's staff row and the subject's record."""
    ev = misuse_all(world, scenario)
    return ev[ev["subject_id"].notna()].reset_index(drop=True)


def misuse_all(world, scenario: str) -> pd.DataFrame:
    """Every event of the scenario, joined with the insider's staff row and the subject's record."""
    labels = world.labels[world.labels["scenario"] == scenario]
    assert len(labels) > 0, f"{scenario} planted nothing"
    ev = world.events.merge(labels, on="event_id")
    staff = world.staff.rename(columns={"subject_id": "own_subject", "surname": "user_surname"})
    ev = ev.merge(staff[["user_id", "role", "unit", "user_surname", "home_postcode", "own_subject"]], on="user_id")
    return ev.merge(world.subjects, on="subject_id", how="left")


def lookups(ev: pd.DataFrame) -> int:
    """Look-ups = searches (S13 opens records directly, so its views count)."""
    return int((ev["action"] == "search").sum())


def on_duty_share(world, ev: pd.DataFrame) -> float:
    r = world.rosters
    hits = 0
    for user, group in ev.groupby("user_id", observed=True):
        rr = r[r["user_id"] == user].sort_values("start")
        i = np.searchsorted(rr["start"].to_numpy(), group["timestamp"].to_numpy(), side="right") - 1
        ok = i >= 0
        ok[ok] = group["timestamp"].to_numpy()[ok] < rr["end"].to_numpy()[i[ok]]
        hits += ok.sum()
    return hits / len(ev)


def user_cases(world, user: str) -> set[str]:
    cs = world.case_staff
    return set(cs.loc[cs["user_id"] == user, "case_ref"].astype(str))


def test_every_scenario_planted_with_answer_key(world):
    ids = [s.id for s in load_catalogue()]
    assert ids == [f"S{i}" for i in range(1, 14)]
    planted = set(world.instances["scenario"].astype(str))
    assert planted == set(ids)
    inst = world.instances
    counts = world.labels.groupby("instance_id", observed=True).size()
    assert (inst.set_index("instance_id").loc[counts.index, "n_events"].astype(int) == counts).all()
    ev = world.events.merge(world.labels, on="event_id")
    span = ev.groupby("instance_id", observed=True)["timestamp"].agg(["min", "max"])
    joined = inst.set_index("instance_id").join(span)
    assert (joined["first_at"] == joined["min"]).all() and (joined["last_at"] == joined["max"]).all()
    # misuse users are real staff and one user per instance
    assert ev.groupby("instance_id", observed=True)["user_id"].nunique().max() == 1


@pytest.fixture(scope="module")
def crowd_world():
    """A bigger force, so that 1-3% of it is a crowd worth measuring."""
    return generate(SynthConfig(staff=700, days=30, seed=5, scenarios=("S1",)))


def test_s1_crowd_within_72_hours(crowd_world):
    _check_s1(crowd_world, min_within=0.7)


def test_s1_crowd_on_one_vip(world):
    _check_s1(world, min_within=0.0)


def _check_s1(world, min_within: float):
    p = get_scenario("S1").parameters
    ev = misuse(world, "S1")
    assert ev["subject_id"].nunique() == 1 and ev["flags"].astype(str).str.contains("vip").all()
    users = ev["user_id"].nunique()
    expected = np.clip(np.array(p["force_share"]) * len(world.staff), p["min_users"], p["max_users"])
    assert round(expected[0]) <= users <= round(expected[1]) + 1
    case = world.case_subjects[(world.case_subjects["subject_id"] == ev["subject_id"].iloc[0])
                               & (world.case_subjects["role"] == "suspect")]
    opened_all = world.cases.set_index("case_ref").loc[case["case_ref"].astype(str), "opened_at"]
    opened = opened_all[opened_all <= ev["timestamp"].min()].max()  # the arrest the crowd reacts to
    within = (ev["timestamp"] - opened) <= pd.Timedelta(hours=p["within_hours"] + 6)
    assert within.mean() >= min_within
    assert within.mean() > 0
    assigned = set(world.case_staff.loc[world.case_staff["case_ref"].isin(case["case_ref"]), "user_id"].astype(str))
    assert not assigned & set(ev["user_id"].astype(str))
    per_user = ev[ev["action"] == "search"].groupby("user_id", observed=True).size()
    assert per_user.between(*p["lookups_per_user"]).all()


def test_s2_undeclared_ex_sharing_surname_or_sector(world):
    p = get_scenario("S2").parameters
    ev = misuse(world, "S2")
    linked = (ev["surname"].astype(str) == ev["user_surname"].astype(str)) | (
        _sector(ev["postcode"]) == _sector(ev["home_postcode"]))
    assert linked.mean() >= 0.5  # the ex always shares one; a new partner may share neither
    declared = world.associations.merge(ev[["user_id", "subject_id"]].drop_duplicates(), on=["user_id", "subject_id"])
    assert len(declared) == 0
    assert 1 <= ev["subject_id"].nunique() <= p["targets"][1]
    assert p["lookups"][0] <= lookups(misuse_all(world, "S2")) <= p["lookups"][1]
    assert ev["query_type"].isin(["person", "vehicle", "address", "incident", "intelligence"]).all()


def test_s3_self_family_neighbours(world):
    p = get_scenario("S3").parameters
    ev = misuse(world, "S3")
    related = ((ev["subject_id"].astype(str) == ev["own_subject"].astype(str))
               | (ev["surname"].astype(str) == ev["user_surname"].astype(str))
               | (_sector(ev["postcode"]) == _sector(ev["home_postcode"])))
    assert related.all()
    assert p["lookups"][0] <= lookups(misuse_all(world, "S3")) <= p["lookups"][1]


def test_s4_polling_another_units_operation(world):
    p = get_scenario("S4").parameters
    ev = misuse(world, "S4")
    assert ev["flags"].astype(str).str.contains("ocg").all()
    cs = world.case_subjects.merge(world.cases, on="case_ref")
    ops = cs[cs["category"] == "organised_crime"]
    user = str(ev["user_id"].iloc[0])
    on_op = ops[ops["subject_id"].isin(ev["subject_id"])]
    assert set(ev["subject_id"].astype(str)) <= set(on_op["subject_id"].astype(str))
    op_refs = set(on_op["case_ref"].astype(str))
    assert not op_refs & user_cases(world, user)
    assert (on_op["unit"].astype(str) != str(ev["unit"].iloc[0])).all()
    live = on_op.groupby("case_ref", observed=True)[["opened_at", "closed_at"]].first()
    active = (ev["timestamp"] >= live["opened_at"].min()) & (
        live["closed_at"].isna().any() | (ev["timestamp"] <= live["closed_at"].max()))
    assert active.all()  # polled while the operation is live
    assert p["lookups"][0] <= lookups(misuse_all(world, "S4")) <= p["lookups"][1]
    assert ev["subject_id"].nunique() >= 2


def test_s5_newsworthy_within_the_hour(world):
    p = get_scenario("S5").parameters
    ev = misuse(world, "S5")
    assert lookups(misuse_all(world, "S5")) >= p["min_cases"]
    searches = ev
    cs = world.case_subjects.merge(world.cases, on="case_ref")
    user = str(ev["user_id"].iloc[0])
    for _, row in searches.iterrows():
        cases = cs[cs["subject_id"] == row["subject_id"]]
        delay = row["timestamp"] - cases["opened_at"]
        fresh = cases[(delay >= pd.Timedelta(minutes=p["minutes_after"][0] - 1)) & (delay <= pd.Timedelta(minutes=p["minutes_after"][1] + 1))]
        assert len(fresh) >= 1
        assert not set(fresh["case_ref"].astype(str)) & user_cases(world, user)


def test_s6_far_away_people_no_requester(world):
    p = get_scenario("S6").parameters
    ev = misuse(world, "S6")
    assert not ev["postcode"].astype(str).str.startswith("WX").any()
    assert ev["requested_by"].isna().mean() >= 0.7
    assert lookups(misuse_all(world, "S6")) >= p["lookups"][0]
    assert on_duty_share(world, ev) >= 0.9
    days = ev["timestamp"].dt.floor("D").nunique()
    assert lookups(misuse_all(world, "S6")) / days <= p["per_day"][1] + 0.01


def test_s7_one_category_with_exports_every_shift(world):
    p = get_scenario("S7").parameters
    ev = misuse(world, "S7")
    assert (ev["role"] == "call_handler").all()
    assert (ev["action"] == "export").mean() >= 0.2
    cs = world.case_subjects.merge(world.cases, on="case_ref")
    rtc_people = set(cs.loc[cs["category"] == "rtc", "subject_id"].astype(str))
    assert ev["subject_id"].dropna().astype(str).isin(rtc_people).mean() >= 0.95
    assert on_duty_share(world, ev) >= 0.99
    per_day = ev[ev["action"] == "search"].groupby(ev["timestamp"].dt.floor("12h")).size()
    assert per_day.max() <= 2 * p["per_shift"][1]


def test_s8_off_duty_rapid_and_sex_skewed(world):
    p = get_scenario("S8").parameters
    ev = misuse(world, "S8")
    assert (ev["sex"] == "F").mean() >= p["female_share"] - 0.1
    assert on_duty_share(world, ev) <= 0.6
    gaps = ev["timestamp"].sort_values().diff().dt.total_seconds().dropna()
    assert gaps.median() <= 120
    assert lookups(misuse_all(world, "S8")) >= 2 * p["lookups_per_session"][0]


def test_s9_slow_on_shift_compressed(world):
    p = get_scenario("S9").parameters
    ev = misuse(world, "S9")
    n = lookups(misuse_all(world, "S9"))
    assert p["min_lookups"] <= n <= p["lookups"][1]
    span = ev["timestamp"].max() - ev["timestamp"].min()
    assert span >= pd.Timedelta(days=0.5 * WINDOW_DAYS)
    assert on_duty_share(world, ev[ev["action"] == "search"]) >= 0.7
    assert ev["reason_code"].notna().mean() >= 0.8
    assert 1 <= ev["subject_id"].nunique() <= p["targets"][1]
    user = str(ev["user_id"].iloc[0])
    cs = world.case_subjects[world.case_subjects["case_ref"].astype(str).isin(user_cases(world, user))]
    assert not set(ev["subject_id"].astype(str)) & set(cs["subject_id"].astype(str))
    narrative = world.instances.loc[world.instances["scenario"] == "S9", "narrative"].iloc[0]
    assert "compressed" in narrative  # a 100-day window cannot hold years


def test_s10_victims_of_a_case_the_user_is_not_on(world):
    p = get_scenario("S10").parameters
    ev = misuse(world, "S10")
    cs = world.case_subjects.merge(world.cases, on="case_ref")
    hit = cs[cs["subject_id"].isin(ev["subject_id"]) & cs["role"].isin(["victim", "witness"])]
    user = str(ev["user_id"].iloc[0])
    candidates = hit[(hit["unit"].astype(str) != str(ev["unit"].iloc[0])) & ~hit["case_ref"].astype(str).isin(user_cases(world, user))]
    assert set(ev["subject_id"].astype(str)) <= set(candidates["subject_id"].astype(str))
    assert p["lookups"][0] <= lookups(misuse_all(world, "S10")) <= p["lookups"][1]


def test_s11_vulnerable_women_after_closure(world):
    p = get_scenario("S11").parameters
    ev = misuse(world, "S11")
    assert (ev["sex"] == "F").all() and ev["flags"].astype(str).str.contains("vulnerable").all()
    user = str(ev["user_id"].iloc[0])
    cs = world.case_subjects.merge(world.cases, on="case_ref")
    own = cs[cs["case_ref"].astype(str).isin(user_cases(world, user)) & (cs["role"] == "victim")]
    lo = pd.Timedelta(days=p["days_after_closure"][0] - 0.01)
    hi = pd.Timedelta(days=p["days_after_closure"][1] + 31)  # views spread over a month from the first
    for subject, group in ev.groupby("subject_id", observed=True):
        closed = own.loc[own["subject_id"] == subject, "closed_at"].dropna().to_numpy()
        assert len(closed) >= 1
        after = group["timestamp"].to_numpy()[:, None] - closed[None, :]
        assert ((after >= lo) & (after <= hi)).any(axis=1).all()
    assert ev["subject_id"].nunique() <= p["women"][1]


def test_s12_vehicle_keepers_in_the_home_sector(world):
    p = get_scenario("S12").parameters
    ev = misuse(world, "S12")
    assert (ev.loc[ev["action"] == "search", "query_type"] == "vehicle").all()  # views may open the keeper
    assert (_sector(ev["postcode"]) == _sector(ev["home_postcode"])).all()
    assert 1 <= lookups(misuse_all(world, "S12")) <= p["episodes"][1] * p["checks_per_episode"][1]


def test_s13_single_burst_after_an_arrest(world):
    p = get_scenario("S13").parameters
    ev = misuse(world, "S13")
    assert ev["subject_id"].nunique() == 1
    assert p["views"][0] <= len(ev) <= p["views"][1]
    assert ev["timestamp"].max() - ev["timestamp"].min() <= pd.Timedelta(hours=1)
    user = str(ev["user_id"].iloc[0])
    cs = world.case_subjects[world.case_subjects["subject_id"] == ev["subject_id"].iloc[0]]
    assert not set(cs["case_ref"].astype(str)) & user_cases(world, user)
    opened = world.cases.set_index("case_ref").loc[cs["case_ref"].astype(str), "opened_at"]
    assert (ev["timestamp"].min() - opened.max()) <= pd.Timedelta(hours=p["hours_after_arrest"][1] + 24 * 10)


def test_personal_scenarios_happen_largely_off_duty(world):
    off = [1 - on_duty_share(world, misuse_all(world, sid)) for sid in ("S2", "S3", "S8", "S10", "S11", "S12")]
    assert np.mean(off) >= 0.3
    slow = misuse_all(world, "S9")
    assert on_duty_share(world, slow) > 1 - np.mean(off)


def test_misusers_type_reasons_and_sometimes_real_references(world):
    ev = world.events.merge(world.labels, on="event_id")
    assert ev["reason_code"].notna().mean() >= 0.6
    refs = ev["case_ref"].dropna().astype(str)
    assert refs.isin(world.cases["case_ref"].astype(str)).sum() > 0


def test_stealth_raises_cover_and_keeps_misuse_on_shift():
    shares = {}
    for stealth in (0.0, 1.0):
        w = generate(SynthConfig(staff=120, days=60, seed=4, stealth=stealth, scenarios=("S2", "S3", "S12", "S10")))
        ev = w.events.merge(w.labels, on="event_id")
        shares[stealth] = (ev["reason_code"].notna().mean(), ev["case_ref"].notna().mean(), on_duty_share(w, ev))
    assert shares[1.0][0] > shares[0.0][0]
    assert shares[1.0][1] > shares[0.0][1]
    assert shares[1.0][2] > shares[0.0][2]


def test_insiders_cycle_through_selected_scenarios():
    w = generate(SynthConfig(staff=120, days=40, seed=2, scenarios=("S9", "S3"), insiders=4))
    counts = w.instances["scenario"].astype(str).value_counts().to_dict()
    assert counts == {"S9": 2, "S3": 2}
    assert w.instances["user_id"].nunique() == 4


def test_catalogue_ships_in_the_package_and_is_complete():
    from importlib import resources
    from pathlib import Path

    folder = resources.files("snoopwatch.synth.scenarios")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".toml"))
    assert names == sorted(f"S{i}.toml" for i in range(1, 14))
    for s in load_catalogue():
        assert s.story and s.mirrors and s.shape and s.detector_sees and s.roles and s.parameters, s.id
        assert "{user}" in s.narrative, s.id
    readme = Path(__file__).resolve().parents[1] / "synthetic" / "scenarios" / "README.md"
    if readme.exists():  # source checkout: the documented location points at the single source of truth
        assert "src/snoopwatch/synth/scenarios" in readme.read_text(encoding="utf-8")
