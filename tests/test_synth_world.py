"""The synthetic force as a world: organisation, rosters, workloads, legitimate look-alikes, format, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snoopwatch.dataset import load_dataset
from snoopwatch.errors import ScenarioError, SnoopwatchError
from snoopwatch.synth import SynthConfig, generate, write_world

ROSTERED_ROLES = ("response_officer", "neighbourhood_officer", "pcso", "detective", "custody_sergeant",
                  "detention_officer", "intelligence_analyst", "call_handler", "pnc_operator", "admin", "psd_investigator")


@pytest.fixture(scope="module")
def world():
    # Starts in March so the window crosses the change to British Summer Time.
    return generate(SynthConfig(staff=160, days=60, start="2025-03-03", seed=11))


@pytest.fixture(scope="module")
def normal(world):
    ev = world.events
    normal = ev[~ev["event_id"].isin(world.labels["event_id"])]
    return normal.merge(world.staff[["user_id", "role", "unit"]], on="user_id", how="left")


def _on_roster(events: pd.DataFrame, rosters: pd.DataFrame) -> np.ndarray:
    """Whether each event falls inside one of its user's rostered periods."""
    r = rosters.sort_values(["user_id", "start"])
    out = np.zeros(len(events), dtype=bool)
    pos = {u: i for i, u in enumerate(events.index)}
    for user, group in events.groupby("user_id", observed=True):
        rr = r[r["user_id"] == user]
        starts, ends = rr["start"].to_numpy(), rr["end"].to_numpy()
        t = group["timestamp"].to_numpy()
        i = np.searchsorted(starts, t, side="right") - 1
        ok = i >= 0
        ok[ok] = t[ok] < ends[i[ok]]
        out[[pos[k] for k in group.index]] = ok
    return out


def test_workforce_mix_and_units(world):
    staff = world.staff
    assert len(staff) == 160
    roles = set(staff["role"].astype(str))
    assert roles == set(ROSTERED_ROLES)
    officers = staff["role"].isin(["response_officer", "neighbourhood_officer", "detective", "custody_sergeant", "psd_investigator"]).mean()
    pcso = (staff["role"] == "pcso").mean()
    assert 0.58 <= officers <= 0.68 and 0.01 <= pcso <= 0.05
    assert {"CONTROL", "PNC-BUREAU", "CUSTODY", "INTEL", "PSD", "ADMIN", "RESP-NORTH", "CID-WEST"} <= set(staff["unit"].astype(str))


def test_staff_live_where_they_police_and_have_records(world):
    staff, subjects = world.staff, world.subjects
    area_units = staff[staff["unit"].astype(str).str.contains("-(?:NORTH|SOUTH|EAST|WEST)$")]
    district = area_units["home_postcode"].astype(str).str.extract(r"^WX(\d+) ")[0].astype(float)
    area_of_district = (district - 1) // 6
    unit_area = area_units["unit"].astype(str).str.rsplit("-", n=1).str[1].map({"NORTH": 0, "SOUTH": 1, "EAST": 2, "WEST": 3})
    assert (area_of_district == unit_area).mean() >= 0.6
    own = staff.dropna(subset=["subject_id"]).merge(subjects, on="subject_id", suffixes=("", "_s"))
    assert len(own) >= 0.7 * len(staff)
    assert own["flags"].astype(str).str.contains("staff").all()
    assert (own["surname"].astype(str) == own["surname_s"].astype(str)).all()
    assert (own["home_postcode"].astype(str) == own["postcode"].astype(str)).all()
    assert len(world.associations) > 0


def test_subjects_population(world):
    subjects, staff = world.subjects, world.staff
    assert 20 * len(staff) <= len(subjects) <= 30 * len(staff)
    counts = subjects["surname"].value_counts()
    assert counts.index[0] in ("Smith", "Jones", "Williams") and counts.iloc[0] >= 0.008 * len(subjects)
    assert counts.iloc[0] >= 10 * counts.median()  # skewed: many unrelated Smiths, many rare names
    flags = subjects["flags"].astype(str)
    for flag in ("vip", "vulnerable", "ocg", "staff", "victim"):
        assert flags.str.contains(flag).any(), flag
    sectors = subjects["postcode"].astype(str).str[:-2]
    assert sectors.nunique() < len(subjects) / 5  # clustered in sectors
    assert set(subjects["sex"].astype(str)) == {"F", "M"}


def test_rosters_follow_uk_local_time(world):
    r = world.rosters.merge(world.staff[["user_id", "role"]], on="user_id")
    early = r[(r["shift"] == "early") & (r["role"] == "response_officer")]
    local = early["start"].dt.tz_convert("Europe/London")
    assert (local.dt.hour == 7).all()
    assert set(early["start"].dt.hour) == {6, 7}  # 07:00 GMT in March, 06:00 UTC once summer time starts
    twelve = r[r["role"] == "call_handler"]
    hours = (twelve["end"] - twelve["start"]).dt.total_seconds() / 3600
    assert hours.between(11, 13).all()
    per_user = twelve.groupby("user_id", observed=True).size()
    assert per_user.median() == pytest.approx(60 / 2, rel=0.35)  # 4 on, 4 off


def test_starters_and_leavers_are_consistent(world):
    staff = world.staff
    start = pd.Timestamp("2025-03-03", tz="UTC")
    assert (staff["start_date"] > start).any() or (staff["end_date"].notna()).any()
    ev = world.events.merge(staff[["user_id", "start_date", "end_date"]], on="user_id")
    assert (ev["timestamp"] >= ev["start_date"]).all()
    ended = ev["end_date"].notna()
    # A night shift (plus overtime) that starts on the last day ends the next morning.
    assert (ev.loc[ended, "timestamp"] < ev.loc[ended, "end_date"] + pd.Timedelta(hours=36)).all()


def test_duty_adherence_per_role(world, normal):
    on = _on_roster(normal, world.rosters)
    share = pd.Series(on, index=normal.index).groupby(normal["role"], observed=True).mean()
    assert (share >= 0.95).all(), share.to_dict()
    assert (share < 1.0).any()  # a little legitimate overtime exists


def test_role_workloads(world, normal):
    shifts = world.rosters.merge(world.staff[["user_id", "role"]], on="user_id").groupby("role", observed=True).size()
    per_shift = normal.groupby("role", observed=True).size() / shifts
    assert 10 <= per_shift["response_officer"] <= 40
    assert 5 <= per_shift["pcso"] <= per_shift["response_officer"]
    assert per_shift["detective"] > per_shift["response_officer"]
    for busy in ("intelligence_analyst", "call_handler", "pnc_operator"):
        assert per_shift[busy] >= 2 * per_shift["response_officer"], busy


def test_no_case_accesses_for_every_role(normal):
    share = normal["case_ref"].isna().groupby(normal["role"], observed=True).mean()
    assert (share >= 0.05).all(), share.to_dict()
    assert share["call_handler"] > share["detective"]
    with_case = normal["case_ref"].notna().mean()
    assert 0.3 <= with_case <= 0.9


def test_case_references_mostly_real_some_typos(world, normal):
    refs = normal["case_ref"].dropna().astype(str)
    known = refs.isin(world.cases["case_ref"].astype(str))
    assert known.mean() >= 0.95
    assert (~known).sum() > 0


def test_work_is_about_the_users_cases(world, normal):
    cs = world.case_staff[["case_ref", "user_id"]].astype(str).assign(on_case=True)
    withref = normal.dropna(subset=["case_ref"])[["user_id", "case_ref", "unit"]].astype(str)
    joined = withref.merge(cs, on=["case_ref", "user_id"], how="left")
    cases = world.cases[["case_ref", "unit"]].astype(str).rename(columns={"unit": "case_unit"})
    joined = joined.merge(cases, on="case_ref", how="left")
    explained = joined["on_case"].fillna(False).astype(bool) | (joined["unit"] == joined["case_unit"])
    assert explained.mean() >= 0.5


def test_legitimate_look_alikes(world, normal):
    analysts = normal[normal["role"] == "intelligence_analyst"]
    assert (analysts["action"] == "export").mean() >= 0.03
    assert (analysts["result_count"] >= 40).sum() > 0
    psd = normal[normal["role"] == "psd_investigator"].merge(world.subjects[["subject_id", "flags"]], on="subject_id")
    assert psd["flags"].astype(str).str.contains("staff").mean() >= 0.2
    pnc = normal[normal["role"] == "pnc_operator"]
    assert pnc["requested_by"].notna().mean() >= 0.7
    assert (pnc["requested_by"].astype(str) != pnc["user_id"].astype(str)).all()
    custody = normal[normal["role"].isin(["custody_sergeant", "detention_officer"])].dropna(subset=["subject_id"])
    burst = custody.groupby(["user_id", "subject_id"], observed=True)["timestamp"].agg(["size", "min", "max"])
    burst = burst[(burst["size"] >= 4) & (burst["max"] - burst["min"] <= pd.Timedelta(hours=1))]
    assert len(burst) > 0
    night = normal[normal["role"] == "call_handler"]["timestamp"].dt.tz_convert("Europe/London").dt.hour
    assert ((night < 6) | (night >= 22)).mean() > 0.05  # the control room works around the clock


def test_demand_curve_peaks_in_the_evening(world):
    cases = world.cases[world.cases["category"].isin(["asb", "assault", "domestic", "rtc"])]
    hours = cases["opened_at"].dt.tz_convert("Europe/London").dt.hour
    evening = hours.between(18, 21).mean() / 4
    dawn = hours.between(3, 6).mean() / 4
    assert evening > 2 * dawn
    ops = world.cases[world.cases["category"] == "organised_crime"]
    assert len(ops) >= 2
    ocg = world.case_subjects.merge(world.subjects[["subject_id", "flags"]], on="subject_id")
    ocg = ocg[ocg["case_ref"].isin(ops["case_ref"])]
    assert ocg["flags"].astype(str).str.contains("ocg").mean() >= 0.6


def test_written_data_set_loads_strictly(world, tmp_path):
    path = write_world(world, tmp_path / "force")
    ds = load_dataset(path, strict=True)
    assert not ds.errors
    assert len(ds.events) == len(world.events)
    assert ds.manifest["seed"] == 11 and ds.manifest["format_version"] == 1
    assert ds.manifest["rows"]["labels"] == len(world.labels)
    assert set(ds.labels["event_id"]) <= set(ds.events["event_id"])
    inst = ds.instances.set_index("instance_id")
    counts = ds.labels.groupby("instance_id", observed=True).size()
    assert (inst.loc[counts.index, "n_events"].astype(int) == counts).all()
    assert inst["narrative"].str.len().min() > 30
    # The in-memory world is exactly what a reader gets back from disk (evaluate uses it without writing).
    for name, frame in world.tables.items():
        pd.testing.assert_frame_equal(ds.tables[name].reset_index(drop=True), frame.reset_index(drop=True), obj=name)


def test_same_seed_same_tables_and_bytes(tmp_path):
    cfg = SynthConfig(staff=60, days=21, seed=5, scenarios=("S2", "S9", "S1"))
    a, b = generate(cfg), generate(cfg)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_categorical=True)
    pa_, pb = write_world(a, tmp_path / "a"), write_world(b, tmp_path / "b")
    for file in sorted(p.name for p in pa_.iterdir()):
        assert (pa_ / file).read_bytes() == (pb / file).read_bytes(), file
    c = generate(SynthConfig(staff=60, days=21, seed=6, scenarios=("S2", "S9", "S1")))
    assert not a.events["timestamp"].equals(c.events["timestamp"])


def test_clean_force_and_bad_parameters():
    clean = generate(SynthConfig(staff=50, days=14, seed=1, insiders=0))
    assert len(clean.labels) == 0 and len(clean.instances) == 0 and len(clean.events) > 1000
    with pytest.raises(ScenarioError, match="unknown scenario 'S99'"):
        SynthConfig(scenarios="S2,S99")
    for bad in (dict(stealth=1.5), dict(staff=5), dict(days=3), dict(start="not a date"), dict(insiders=-1),
                dict(scenarios=" , ")):
        with pytest.raises(SnoopwatchError):
            SynthConfig(**bad)


@pytest.mark.parametrize("seed", [0, 791])  # 791 once drew the same outside postcode twice
def test_pools_hold_unique_names_and_postcodes(seed):
    from snoopwatch.synth.pools import build_pools

    pools = build_pools(seed, np.random.default_rng(seed))
    for values in (pools.postcodes, pools.surnames, pools.forenames_f, pools.forenames_m):
        assert len(set(values)) == len(values)
    assert (pools.pc_area[: pools.n_in_force] >= 0).all() and (pools.pc_area[pools.n_in_force:] == -1).all()
