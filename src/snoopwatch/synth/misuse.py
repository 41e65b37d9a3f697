"""Planted misuse: every scenario of the catalogue instantiated on chosen insiders, with its relation built
into the world (an undeclared ex who kept the surname, a public figure's arrest, an operation whose nominals
include the insider's associate, women from the insider's own closed cases).

Two phases: `plan_misuse` picks insiders and adds what the scenarios need to the world before normal work is
generated (so legitimate work on those cases exists too); `MisusePlan.realise` then writes the misuse events
and the answer key. Parameters come from the scenario data files (snoopwatch/synth/scenarios/*.toml).

Long-horizon scenarios (S2, S4, S5, S6, S7, S9) describe months or years. When the generated window is
shorter than the scenario's span, the span is compressed to 90% of the window and the number of look-ups is
scaled by the same factor (never below the file's minimum); the instance narrative states the compression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from snoopwatch.synth.cases import CAT, CATEGORIES, NEWSWORTHY, SROLE, CaseBook
from snoopwatch.synth.context import Context
from snoopwatch.synth.events import EventBlock
from snoopwatch.synth.organisation import FLAG_BITS, REL, ROLE_INDEX, ROLES, UNIT_AREA, UNIT_INDEX, UNITS
from snoopwatch.synth.scenarios import Scenario, get_scenario
from snoopwatch.synth.timeutil import DAY, HOUR, NAT, local_to_utc, utc_to_local
from snoopwatch.synth.vocab import A, Q, R
from snoopwatch.synth.workload import _expand

# Local hours when off-duty misuse happens: evenings, late nights, and daytime on rest days.
_OFF_HOURS = np.array([3, 2.5, 1.5, .5, .2, .2, .3, .5, .8, 1, 1, 1, 1, 1, 1, 1, 1.2, 1.5, 2, 2.5, 3, 3.5, 3.5, 3.2])
_OFF_HOURS = _OFF_HOURS / _OFF_HOURS.sum()


@dataclass
class Episode:
    scenario: Scenario
    number: int
    insider: int
    data: dict = field(default_factory=dict)


@dataclass
class MisusePlan:
    episodes: list[Episode]
    stealth: float
    skipped: list[str] = field(default_factory=list)

    def realise(self, ctx: Context) -> tuple[EventBlock, pd.DataFrame]:
        """Misuse events (instance codes index the returned answer-key rows) and the instance rows."""
        blocks: list[EventBlock] = []
        rows: list[dict] = []
        for ep in self.episodes:
            made = REALISE[ep.scenario.id](ctx, ep, self.stealth, len(rows))
            for block, row in made:
                if len(block) == 0:
                    continue
                blocks.append(block)
                rows.append(row)
        instances = pd.DataFrame(rows, columns=["instance_id", "scenario", "user", "narrative"])
        return EventBlock.concat(blocks), instances


# ---------------------------------------------------------------------------- planning

def plan_misuse(cfg, rng: np.random.Generator, pools, staff, subjects, relations, shifts, book: CaseBook,
                strikes: dict, start: int, end: int) -> MisusePlan:
    ids = cfg.scenario_ids()
    n = len(ids) if cfg.insiders is None else cfg.insiders
    shift_count = np.bincount(shifts.user, minlength=len(staff))
    active = (staff.start_day * DAY <= start) & (staff.end_day * DAY >= end) & (shift_count >= 8)
    used = np.zeros(len(staff), dtype=bool)
    plan = MisusePlan([], float(cfg.stealth))
    counters: dict[str, int] = {}
    world = dict(pools=pools, staff=staff, subjects=subjects, relations=relations, shifts=shifts, book=book,
                 strikes=strikes, start=start, end=end)
    for i in range(n):
        scenario = get_scenario(ids[i % len(ids)])
        roles = [ROLE_INDEX[r] for r in scenario.roles]
        ok = active & ~used & np.isin(staff.role, roles) & REQUIRE.get(scenario.id, _anyone)(world)
        if not ok.any():
            ok = active & ~used & REQUIRE.get(scenario.id, _anyone)(world)
        if not ok.any():
            plan.skipped.append(scenario.id)
            continue
        insider = int(rng.choice(np.flatnonzero(ok)))
        used[insider] = True
        counters[scenario.id] = counters.get(scenario.id, 0) + 1
        ep = Episode(scenario, counters[scenario.id], insider)
        PREPARE.get(scenario.id, lambda *a: None)(rng, ep, world)
        plan.episodes.append(ep)
    return plan


def _anyone(world) -> np.ndarray:
    return np.ones(len(world["staff"]), dtype=bool)


def _has_relation(kind: str):
    def check(world) -> np.ndarray:
        rel = world["relations"]
        sel = (rel.relation == REL[kind]) & ~rel.declared
        return np.isin(np.arange(len(world["staff"])), rel.staff[sel])
    return check


def _home_in_force(world) -> np.ndarray:
    return world["staff"].home < world["pools"].n_in_force


def _area_unit(world) -> np.ndarray:
    return UNIT_AREA[world["staff"].unit] >= 0


REQUIRE: dict[str, Callable] = {
    "S2": _has_relation("ex_partner"),
    "S3": _has_relation("family"),
    "S4": _has_relation("associate"),
    "S12": _home_in_force,
    "S11": _area_unit,
}


def _prepare_s1(rng, ep: Episode, world) -> None:
    """A public figure is arrested in the window: a real case with a response officer and custody."""
    subjects, staff, book = world["subjects"], world["staff"], world["book"]
    start, end = world["start"], world["end"]
    vips = np.flatnonzero((subjects.flags & FLAG_BITS["vip"]) > 0)
    vip = int(rng.choice(vips))
    area = int(world["pools"].pc_area[subjects.postcode[vip]])
    unit = UNIT_INDEX[f"RESP-{('NORTH', 'SOUTH', 'EAST', 'WEST')[area if area >= 0 else 0]}"]
    t = start + int(rng.uniform(0.1, 0.6) * (end - start))
    case = book.add_cases([unit], [CAT["assault"]], [t], [t + 30 * DAY])
    public = np.flatnonzero((subjects.flags & FLAG_BITS["staff"]) == 0)
    victim = int(rng.choice(public))
    book.link_subjects(np.array([case[0], case[0]]), np.array([vip, victim]), np.array([SROLE["suspect"], SROLE["victim"]]))
    officers = np.flatnonzero(staff.unit == unit)
    book.assign(case, [int(rng.choice(officers))])
    arrested = t + int(rng.uniform(1, 4) * HOUR)
    book.arrest(case, [vip], [arrested])
    ep.data.update(case=int(case[0]), vip=vip, news=arrested + 30 * 60)  # word spreads after the booking


def _prepare_s4(rng, ep: Episode, world) -> None:
    """The insider's undeclared associate is an organised-crime nominal on another unit's operation."""
    staff, subjects, rel, book = world["staff"], world["subjects"], world["relations"], world["book"]
    strikes = world["strikes"]
    ops = strikes["case"]
    op_unit = np.concatenate(book.unit)[ops]
    closed = np.concatenate(book.closed)[ops]
    live = (op_unit != staff.unit[ep.insider]) & ((closed == NAT) | (closed > world["start"] + 60 * DAY))
    choices = ops[live] if live.any() else ops
    k = int(rng.integers(0, choices.size))
    op = int(choices[k])
    sel = np.flatnonzero((rel.staff == ep.insider) & (rel.relation == REL["associate"]) & ~rel.declared)
    associate = int(rel.subject[sel[0]])
    subjects.flags[associate] |= FLAG_BITS["ocg"]
    subjects.nominal[associate] = True
    book.link_subjects(np.array([op]), np.array([associate]), SROLE["suspect"])
    strike = int(strikes["strike"][np.flatnonzero(ops == op)[0]])
    ep.data.update(case=op, associate=associate, strike=strike)


def _prepare_s11(rng, ep: Episode, world) -> None:
    """The officer attends incidents with vulnerable women; each case closes within days."""
    p = ep.scenario.parameters
    staff, subjects, book, shifts = world["staff"], world["subjects"], world["book"], world["shifts"]
    start, end = world["start"], world["end"]
    area = UNIT_AREA[staff.unit[ep.insider]]
    pc_area = world["pools"].pc_area[subjects.postcode]
    women = np.flatnonzero(((subjects.flags & FLAG_BITS["vulnerable"]) > 0) & (subjects.sex == 0)
                           & ((subjects.flags & FLAG_BITS["staff"]) == 0) & (pc_area == area))
    if women.size == 0:
        women = np.flatnonzero(((subjects.flags & FLAG_BITS["vulnerable"]) > 0) & (subjects.sex == 0))
    k = int(min(rng.integers(p["women"][0], p["women"][1] + 1), women.size))
    chosen = rng.choice(women, k, replace=False)
    own = np.flatnonzero(shifts.user == ep.insider)
    own = own[(shifts.start[own] >= start) & (shifts.start[own] < start + int(0.55 * (end - start)))]
    if own.size == 0:
        own = np.flatnonzero(shifts.user == ep.insider)
    picks = rng.choice(own, k, replace=own.size < k)
    opened = shifts.start[picks] + (rng.random(k) * (shifts.end[picks] - shifts.start[picks]) * 0.8).astype(np.int64)
    closed = opened + (rng.uniform(1, min(10.0, max(1.5, 0.15 * (end - start) / DAY)), k) * DAY).astype(np.int64)
    cats = rng.choice([CAT["domestic"], CAT["concern_for_welfare"]], k)
    codes = book.add_cases(np.full(k, staff.unit[ep.insider]), cats, opened, closed)
    book.link_subjects(codes, chosen, SROLE["victim"])
    book.assign(codes, np.full(k, ep.insider))
    subjects.flags[chosen] |= FLAG_BITS["victim"]
    ep.data.update(cases=codes, women=chosen, closed=closed)


PREPARE: dict[str, Callable] = {"S1": _prepare_s1, "S4": _prepare_s4, "S11": _prepare_s11}


# ---------------------------------------------------------------------------- shared helpers

def _rint(rng, pair) -> int:
    return int(rng.integers(int(pair[0]), int(pair[1]) + 1))


def _span(rng, ctx: Context, ep: Episode, n_key: str = "lookups", min_key: str | None = None) -> tuple[int, int, str]:
    """(span seconds, number of look-ups, compression note) for a long-horizon scenario."""
    p = ep.scenario.parameters
    desired_days = float(rng.uniform(*p["span_days"]))
    desired_n = _rint(rng, p[n_key])
    window_days = (ctx.end - ctx.start) / DAY
    max_days = 0.9 * window_days
    if desired_days <= max_days:
        return int(desired_days * DAY), desired_n, ""
    floor = int(p[min_key]) if min_key else int(p[n_key][0])
    n = min(desired_n, max(floor, int(round(desired_n * max_days / desired_days))))
    years = desired_days / 365.25
    note = (f" (compressed to fit the {window_days:.0f}-day window: the real pattern is {desired_n} look-ups over "
            f"{years:.1f} years, here {n} over {max_days:.0f} days)")
    return int(max_days * DAY), n, note


def _window(rng, ctx: Context, span: int) -> tuple[int, int]:
    room = max(ctx.end - ctx.start - span - DAY, 0)
    lo = ctx.start + int(rng.random() * room)
    return lo, lo + span


def _on_duty_times(ctx: Context, user: int, n: int, lo: int, hi: int) -> np.ndarray:
    rng = ctx.rng
    s, e = ctx.user_shifts(user)
    sel = (s >= lo) & (s < hi)
    if not sel.any():
        sel = (e > ctx.start) & (s < ctx.end)
    s, e = s[sel], e[sel]
    k = rng.integers(0, s.size, n)
    return s[k] + (rng.random(n) * np.maximum(e[k] - s[k] - 900, 60)).astype(np.int64)


def _off_duty_times(ctx: Context, user: int, n: int, lo: int, hi: int) -> np.ndarray:
    rng = ctx.rng
    out = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    lo_local = utc_to_local(np.array([lo]))[0] // DAY
    hi_local = max(utc_to_local(np.array([hi]))[0] // DAY, lo_local + 1)
    for _ in range(12):
        day = rng.integers(lo_local, hi_local, todo.size)
        hour = rng.choice(24, todo.size, p=_OFF_HOURS)
        local = day * DAY + hour * HOUR + rng.integers(0, HOUR, todo.size)
        t = np.clip(local_to_utc(local), ctx.start, ctx.end - 60)
        out[todo] = t
        bad = ctx.is_on_duty(np.full(todo.size, user), t)
        todo = todo[bad]
        if todo.size == 0:
            break
    return out


def _times(ctx: Context, user: int, n: int, lo: int, hi: int, on_share: float, stealth: float) -> np.ndarray:
    """Instants for misuse look-ups: on duty with the scenario's share (raised by stealth), else off duty."""
    share = on_share + (1 - on_share) * stealth * 0.6
    on = ctx.rng.random(n) < share
    t = np.empty(n, dtype=np.int64)
    t[on] = _on_duty_times(ctx, user, int(on.sum()), lo, hi)
    t[~on] = _off_duty_times(ctx, user, int((~on).sum()), lo, hi)
    return np.sort(t)


def _cover(ctx: Context, user: int, t: np.ndarray, plausible: tuple[str, ...], stealth: float) -> tuple[np.ndarray, np.ndarray]:
    """Reason codes and case references a misuser types: plausible codes, sometimes a real reference of
    their own (unrelated to the subject), rarely an invented one; stealth raises both shares."""
    rng = ctx.rng
    n = t.size
    u = rng.random(n)
    reason = np.where(u < 0.45 + 0.5 * stealth, np.array([R[r] for r in plausible])[rng.integers(0, len(plausible), n)],
                      np.where(u < 0.8, -1, R["admin"]))
    entered = np.full(n, -1, dtype=np.int64)
    use_ref = rng.random(n) < 0.05 + 0.35 * stealth
    if use_ref.any():
        users = np.full(int(use_ref.sum()), user)
        case = ctx.users_case(users, t[use_ref], np.full(users.size, 60 * DAY))
        missing = case < 0
        case[missing] = ctx.units_case(ctx.staff.unit[users[missing]], t[use_ref][missing], np.full(int(missing.sum()), 30 * DAY))
        entered[use_ref] = case
    invent = (entered < 0) & (rng.random(n) < 0.02 + 0.05 * stealth) & (len(ctx.cases) > 0)
    if invent.any():
        entered[invent] = ctx.add_reference(rng.integers(0, len(ctx.cases), int(invent.sum())), "fabricated")
    return reason.astype(np.int64), entered


def _lookups(ctx: Context, user: int, t: np.ndarray, subject: np.ndarray, query: np.ndarray, reason: np.ndarray,
             entered: np.ndarray, instance: int, views: float = 0.8, export: float = 0.0,
             requester: np.ndarray | None = None, search_first: bool = True) -> EventBlock:
    """Misuse look-ups as events (search, then views/exports) labelled with `instance`."""
    rng = ctx.rng
    m = t.size
    users = np.full(m, user, dtype=np.int64)
    # Searching by name often returns a list (many Smiths) before the record is opened, as in normal work.
    multi = (rng.random(m) < 0.2) if search_first else np.zeros(m, dtype=bool)
    n_views = np.where(multi, np.maximum(rng.poisson(views, m), 1), rng.poisson(views, m))
    results = np.where(multi, np.maximum(2, rng.geometric(0.15, m)), 1)
    n_export = (rng.random(m) < export).astype(np.int64)
    role = ctx.staff.role[user]
    block = _expand(ctx, t, users, np.asarray(query, dtype=np.int64), np.asarray(subject, dtype=np.int64), entered,
                    reason, results, requester if requester is not None else np.full(m, -1),
                    multi, n_views, n_export, np.zeros(m, dtype=np.int64),
                    control=ROLES[role].unit in ("CONTROL", "PNC-BUREAU"), custody=ROLES[role].unit == "CUSTODY",
                    instance=instance)
    if not search_first:
        block.action[block.action == A["search"]] = A["view"]
    return block


def _fmt(template: str, values: dict) -> str:
    class Safe(dict):
        def __missing__(self, key):
            return "{" + key + "}"
    return template.format_map(Safe(values))


def _days(seconds: float) -> str:
    d = seconds / DAY
    if d < 2:
        hours = max(round(seconds / HOUR), 1)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if d < 60:
        return f"{d:.0f} days"
    return f"{d / 30.4:.0f} months"


def _person(ctx: Context, subject: int) -> str:
    s = ctx.subjects
    return f"{s.forename[subject]} {ctx.pools.surnames[s.surname[subject]]}"


def _base(ctx: Context, ep: Episode, t: np.ndarray) -> dict:
    st = ctx.staff
    off = 1.0 - ctx.is_on_duty(np.full(t.size, ep.insider), t).mean() if t.size else 0.0
    return {"user": st.user_id[ep.insider], "role": ROLES[st.role[ep.insider]].name.replace("_", " "),
            "unit": UNITS[st.unit[ep.insider]], "n_lookups": int(t.size),
            "span": _days(float(t.max() - t.min())) if t.size > 1 else "one sitting",
            "off_duty": f"{off:.0%}", "compression": ""}


def _row(ep: Episode, suffix: str, instance_code: int, values: dict, ctx: Context, user: int | None = None) -> dict:
    return {"instance_id": f"{ep.scenario.id}-{ep.number:02d}{suffix}", "scenario": ep.scenario.id,
            "user": ep.insider if user is None else user, "narrative": _fmt(ep.scenario.narrative, values)}


def _ref(ctx: Context, case: int) -> str:
    return str(ctx.cases.refs[case])


def _relation_subjects(ctx: Context, user: int, kinds: tuple[str, ...], undeclared: bool = True) -> np.ndarray:
    rel = ctx.relations
    sel = (rel.staff == user) & np.isin(rel.relation, [REL[k] for k in kinds])
    if undeclared:
        sel &= ~rel.declared
    return rel.subject[sel]


def _not_users_cases(ctx: Context, user: int, cases: np.ndarray) -> np.ndarray:
    """Mask of cases the user is not assigned to and their unit does not own."""
    assigned = np.unique(ctx.cases.st_case[ctx.cases.st_user == user])
    return ~np.isin(cases, assigned) & (ctx.cases.unit[cases] != ctx.staff.unit[user])


def _known_through_work(ctx: Context, user: int) -> np.ndarray:
    """Subjects on any case the user is assigned to or their unit owns (misuse targets avoid them, so a
    planted case is never explained by real work)."""
    c = ctx.cases
    cases = np.union1d(c.st_case[c.st_user == user], np.flatnonzero(c.unit == ctx.staff.unit[user]))
    return np.unique(c.cs_subject[np.isin(c.cs_case, cases)])


# ---------------------------------------------------------------------------- scenarios

def _s1(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p, st = ctx.rng, ep.scenario.parameters, ctx.staff
    case, vip, news = ep.data["case"], ep.data["vip"], ep.data["news"]
    n_staff = len(st)
    n_users = int(np.clip(round(rng.uniform(*p["force_share"]) * n_staff), p["min_users"], p["max_users"]))
    assigned = ctx.cases.st_user[ctx.cases.st_case == case]
    day = news // DAY
    eligible = np.flatnonzero(np.isin(st.role, [ROLE_INDEX[r] for r in ep.scenario.roles])
                              & (st.start_day <= day) & (st.end_day > day + 10) & ~np.isin(np.arange(n_staff), assigned))
    users = rng.choice(eligible, min(n_users, eligible.size), replace=False)
    users[0] = ep.insider if ep.insider in eligible else users[0]
    out = []
    for k, user in enumerate(users):
        n = _rint(rng, p["lookups_per_user"])
        within = rng.random(n) < p["share_within"]
        delay = np.where(within, rng.uniform(0.1, p["within_hours"], n) * HOUR, rng.uniform(p["within_hours"], 240, n) * HOUR)
        t = np.sort(news + delay.astype(np.int64))
        # Curiosity at work: move looks onto the viewer's next duty when they were off.
        on = rng.random(n) < p["on_duty_share"]
        s, e = ctx.user_shifts(int(user))
        idx = np.searchsorted(e, t)
        has = idx < s.size
        next_start = s[np.minimum(idx, s.size - 1)]
        soon = has & (next_start - news < p["within_hours"] * HOUR)
        move = on & soon & ~ctx.is_on_duty(np.full(n, user), t)
        t[move] = np.maximum(next_start[move], t[move]) + rng.integers(300, 3 * HOUR, int(move.sum()))
        t = np.sort(np.minimum(t, ctx.end - 60))
        reason, entered = _cover(ctx, int(user), t, ("incident", "intelligence", "arrest"), stealth)
        block = _lookups(ctx, int(user), t, np.full(n, vip), np.full(n, Q["person"]), reason, entered, code + k, views=1.0)
        values = _base(ctx, Episode(ep.scenario, ep.number, int(user)), t)
        values.update(target=_person(ctx, vip), case=_ref(ctx, case), crowd=len(users),
                      span=_days(float(t.max() - (news - 30 * 60))))
        out.append((block, _row(ep, f"-{k + 1:03d}", code + k, values, ctx, user=int(user))))
    return out


def _s2(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    ex = _relation_subjects(ctx, ep.insider, ("ex_partner",))[0]
    others = list(_relation_subjects(ctx, ep.insider, ("ex_new_partner",)))
    family = list(_relation_subjects(ctx, ep.insider, ("family",)))
    k = _rint(rng, p["targets"])
    targets = [int(ex)] + others[: max(k - 1, 0)]
    if len(targets) < k and family:
        targets += family[: k - len(targets)]
    span, n, note = _span(rng, ctx, ep)
    lo, hi = _window(rng, ctx, span)
    # Bursts: a session of 1-5 look-ups within an hour.
    sessions = []
    left = n
    while left > 0:
        b = min(left, _rint(rng, p["burst_size"]))
        sessions.append(b)
        left -= b
    starts = _times(ctx, ep.insider, len(sessions), lo, hi, p["on_duty_share"], stealth)
    t = np.concatenate([s + np.sort(rng.integers(0, 40 * 60, b)) for s, b in zip(starts, sessions, strict=True)])
    t = np.minimum(t, ctx.end - 60)
    first = rng.random(n) < 0.5
    subj = np.where(first, targets[0], np.array(targets)[rng.integers(0, len(targets), n)])
    mix = p["query_mix"]
    q = rng.choice([Q[x] for x in mix], n, p=np.array(list(mix.values())) / sum(mix.values()))
    reason, entered = _cover(ctx, ep.insider, t, ("stop", "intelligence", "crime"), stealth)
    block = _lookups(ctx, ep.insider, t, subj, q, reason, entered, code)
    values = _base(ctx, ep, t)
    others = [_person(ctx, s) for s in targets[1:]]
    values.update(target=_person(ctx, int(ex)), bursts=len(sessions), compression=note,
                  others=("people close to them (" + ", ".join(others) + ")") if others else "no one else")
    return [(block, _row(ep, "", code, values, ctx))]


def _s3(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    st = ctx.staff
    pool = []
    if st.subject[ep.insider] >= 0 and rng.random() < p["include_self"]:
        pool.append(("self", int(st.subject[ep.insider])))
    pool += [("family", int(s)) for s in _relation_subjects(ctx, ep.insider, ("family",))]
    pool += [("neighbour", int(s)) for s in _relation_subjects(ctx, ep.insider, ("neighbour",))]
    k = min(_rint(rng, p["targets"]), len(pool))
    chosen = [pool[i] for i in sorted(rng.choice(len(pool), k, replace=False))]
    n = _rint(rng, p["lookups"])
    span = int(min(rng.uniform(*p["span_days"]), 0.9 * (ctx.end - ctx.start) / DAY) * DAY)
    lo, hi = _window(rng, ctx, span)
    t = _times(ctx, ep.insider, n, lo, hi, p["on_duty_share"], stealth)
    subj = np.array([s for _, s in chosen])[rng.integers(0, k, n)]
    q = rng.choice([Q["person"], Q["address"], Q["vehicle"]], n, p=[.7, .2, .1])
    reason, entered = _cover(ctx, ep.insider, t, ("stop", "intelligence", "crime"), stealth)
    block = _lookups(ctx, ep.insider, t, subj, q, reason, entered, code)
    values = _base(ctx, ep, t)
    values["targets"] = ", ".join(("their own record" if kind == "self" else f"{kind} {_person(ctx, s)}") for kind, s in chosen)
    return [(block, _row(ep, "", code, values, ctx))]


def _s4(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    op, associate, strike = ep.data["case"], ep.data["associate"], ep.data["strike"]
    lo_i, hi_i = ctx.cs_offsets[op], ctx.cs_offsets[op + 1]
    nominals = ctx.cs_subject_sorted[lo_i:hi_i][ctx.cs_role_sorted[lo_i:hi_i] == SROLE["suspect"]]
    others = nominals[nominals != associate]
    k = min(_rint(rng, p["targets"]), nominals.size)
    targets = np.concatenate([[associate], rng.choice(others, max(k - 1, 0), replace=False)]) if others.size else np.array([associate])
    span, n, note = _span(rng, ctx, ep)
    strike = int(np.clip(strike, ctx.start + 7 * DAY, ctx.end - DAY))
    hi = strike
    lo = max(ctx.start, int(ctx.cases.opened[op]) + DAY, hi - span)  # only while the operation is live
    if hi - lo < 7 * DAY:
        hi = max(hi, min(ctx.end - HOUR, lo + 14 * DAY))
    before = rng.random(n) < p["share_before_strike"]
    t = np.empty(n, dtype=np.int64)
    t[before] = _times(ctx, ep.insider, int(before.sum()), max(lo, hi - p["before_strike_days"] * DAY), hi, p["on_duty_share"], stealth)
    t[~before] = _times(ctx, ep.insider, int((~before).sum()), lo, hi, p["on_duty_share"], stealth)
    t = np.sort(t)
    subj = np.where(rng.random(n) < 0.4, associate, targets[rng.integers(0, targets.size, n)])
    q = rng.choice([Q["person"], Q["intelligence"], Q["vehicle"], Q["address"]], n, p=[.45, .35, .1, .1])
    reason, entered = _cover(ctx, ep.insider, t, ("intelligence", "crime", "stop"), stealth)
    block = _lookups(ctx, ep.insider, t, subj, q, reason, entered, code, views=1.0)
    values = _base(ctx, ep, t)
    values.update(n_targets=int(np.unique(subj).size), case=_ref(ctx, op), case_unit=UNITS[ctx.cases.unit[op]],
                  target=_person(ctx, associate), compression=note)
    return [(block, _row(ep, "", code, values, ctx))]


def _s5(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    c = ctx.cases
    window_days = (ctx.end - ctx.start) / DAY
    n_cases = max(int(p["min_cases"]), int(round(rng.uniform(*p["per_month"]) * window_days / 30.4)))
    newsworthy = np.isin(c.category, [CAT[x] for x in NEWSWORTHY])
    has_vip = np.zeros(len(c), dtype=bool)
    has_vip[c.cs_case[(ctx.subjects.flags[c.cs_subject] & FLAG_BITS["vip"]) > 0]] = True
    idx = np.flatnonzero((newsworthy | has_vip) & (c.opened >= ctx.start) & (c.opened < ctx.end - 2 * HOUR))
    idx = idx[_not_users_cases(ctx, ep.insider, idx)]
    if idx.size == 0:
        return []
    # Spread roughly one a month: pick from time-ordered candidates at even strides.
    idx = idx[np.argsort(c.opened[idx], kind="stable")]
    picks = idx[np.unique(np.linspace(0, idx.size - 1, min(n_cases, idx.size)).astype(int))]
    t = c.opened[picks] + (rng.uniform(*p["minutes_after"], picks.size) * 60).astype(np.int64)
    subj = ctx.case_subject(picks)
    views = rng.integers(p["views_per_case"][0], p["views_per_case"][1] + 1, picks.size)
    reason, entered = _cover(ctx, ep.insider, t, ("incident", "intelligence"), stealth)
    block = _lookups(ctx, ep.insider, t, subj, np.full(picks.size, Q["incident"]), reason, entered, code,
                     views=float(views.mean()) - 1)
    values = _base(ctx, ep, t)
    values.update(n_cases=int(picks.size))
    return [(block, _row(ep, "", code, values, ctx))]


def _s6(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    span, n, note = _span(rng, ctx, ep)
    lo, hi = _window(rng, ctx, span)
    s, e = ctx.user_shifts(ep.insider)
    sel = np.flatnonzero((s >= lo) & (s < hi))
    if sel.size == 0:
        sel = np.flatnonzero((s >= ctx.start) & (s < ctx.end))
    per = rng.integers(p["per_day"][0], p["per_day"][1] + 1, sel.size)
    shift = np.repeat(sel, per)
    if shift.size > n:
        shift = np.sort(rng.choice(shift, n, replace=False))
    t = s[shift] + (rng.random(shift.size) * (e[shift] - s[shift] - 600)).astype(np.int64)
    t = np.sort(t)
    m = t.size
    far = np.flatnonzero((ctx.subject_area < 0) & ((ctx.subjects.flags & FLAG_BITS["staff"]) == 0))
    subj = rng.choice(far, m)
    mix = p["query_mix"]
    q = rng.choice([Q[x] for x in mix], m, p=np.array(list(mix.values())) / sum(mix.values()))
    reason, entered = _cover(ctx, ep.insider, t, ("stop", "admin", "crime"), stealth)
    requester = np.full(m, -1, dtype=np.int64)
    fake = rng.random(m) < p["fabricated_requester_share"] * stealth
    officers = np.flatnonzero(np.isin(ctx.staff.role, [ROLE_INDEX["response_officer"], ROLE_INDEX["neighbourhood_officer"]]))
    requester[fake] = rng.choice(officers, int(fake.sum()))
    block = _lookups(ctx, ep.insider, t, subj, q, reason, entered, code, views=0.3, requester=requester)
    values = _base(ctx, ep, t)
    values.update(per_day=f"{m / max(np.unique(shift).size, 1):.1f}", compression=note)
    return [(block, _row(ep, "", code, values, ctx))]


def _s7(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    c = ctx.cases
    span = int(min(rng.uniform(*p["span_days"]), 0.9 * (ctx.end - ctx.start) / DAY) * DAY)
    lo, hi = _window(rng, ctx, span)
    s, e = ctx.user_shifts(ep.insider)
    sel = np.flatnonzero((s >= lo) & (s < hi))
    rtc = np.flatnonzero(c.category == CAT["rtc"])
    rtc = rtc[np.argsort(c.opened[rtc], kind="stable")]
    if sel.size == 0 or rtc.size == 0:
        return []
    per = rng.integers(p["per_shift"][0], p["per_shift"][1] + 1, sel.size)
    shift = np.repeat(sel, per)
    t = np.sort(s[shift] + (rng.random(shift.size) * (e[shift] - s[shift] - 600)).astype(np.int64))
    # The freshest collisions reported in the three days before each look-up.
    opened = c.opened[rtc]
    hi_i = np.searchsorted(opened, t)
    lo_i = np.searchsorted(opened, t - 3 * DAY)
    pick = lo_i + (rng.random(t.size) * np.maximum(hi_i - lo_i, 1)).astype(np.int64)
    case = rtc[np.clip(pick, 0, rtc.size - 1)]
    subj = ctx.case_subject(case)
    reason = np.where(rng.random(t.size) < 0.7 + 0.3 * stealth, R["accident"], R["incident"])
    entered = np.where(rng.random(t.size) < 0.6 + 0.3 * stealth, case, -1)
    block = _lookups(ctx, ep.insider, t, subj, np.full(t.size, Q["incident"]), reason, entered, code,
                     views=1.0, export=p["export_share"])
    values = _base(ctx, ep, t)
    values.update(n_shifts=int(sel.size))
    return [(block, _row(ep, "", code, values, ctx))]


def _s8(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    weeks = max((ctx.end - ctx.start) / (7 * DAY), 1)
    n_sessions = max(2, int(round(rng.uniform(*p["sessions_per_week"]) * weeks * 0.5)))
    lo, hi = _window(rng, ctx, int(0.5 * (ctx.end - ctx.start)))
    # Compulsive browsing is hard to disguise: stealth does little to it.
    starts = _times(ctx, ep.insider, n_sessions, lo, hi, p["on_duty_share"], stealth * 0.3)
    sizes = rng.integers(p["lookups_per_session"][0], p["lookups_per_session"][1] + 1, n_sessions)
    gaps = [np.cumsum(rng.integers(p["seconds_between"][0], p["seconds_between"][1] + 1, k)) for k in sizes]
    t = np.minimum(np.concatenate([s + g for s, g in zip(starts, gaps, strict=True)]), ctx.end - 60)
    n = t.size
    subs = ctx.subjects
    age = (ctx.start // DAY - subs.dob_day) / 365.25
    public = (subs.flags & FLAG_BITS["staff"]) == 0
    women = np.flatnonzero(public & (subs.sex == 0) & (age >= 17) & (age <= 40))
    men = np.flatnonzero(public & (subs.sex == 1))
    female = rng.random(n) < p["female_share"]
    subj = np.where(female, rng.choice(women, n), rng.choice(men, n))
    reason, entered = _cover(ctx, ep.insider, t, ("intelligence", "stop"), stealth * 0.3)
    block = _lookups(ctx, ep.insider, t, subj, np.full(n, Q["person"]), reason, entered, code, views=0.6)
    values = _base(ctx, ep, t)
    values.update(n_sessions=n_sessions, female=f"{(subs.sex[subj] == 0).mean():.0%}")
    return [(block, _row(ep, "", code, values, ctx))]


def _s9(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    span, n, note = _span(rng, ctx, ep, min_key="min_lookups")
    lo, hi = _window(rng, ctx, span)
    k = _rint(rng, p["targets"])
    home_area = ctx.pools.pc_area[ctx.staff.home[ep.insider]]
    known = _known_through_work(ctx, ep.insider)
    # People near the insider's home whom no case of theirs explains; in a long window a busy unit may have
    # met everyone nearby, so widen to the whole force, and only as a last resort accept anyone.
    targets = np.zeros(0, dtype=np.int64)
    for area in (max(int(home_area), -1), -1):
        candidates = ctx.public_pool.draw(rng, np.full(50 * k, area))
        candidates = np.unique(candidates[~np.isin(candidates, known)])
        if candidates.size:
            targets = rng.choice(candidates, min(k, candidates.size), replace=False)
            break
    if targets.size == 0:
        targets = ctx.public_pool.draw(rng, np.full(k, -1))
    k = targets.size
    # Evenly spread, jittered: one look every few weeks (or months, in a long window).
    base = np.linspace(lo, hi, n)
    t = _on_duty_times(ctx, ep.insider, n, lo, hi)
    s, e = ctx.user_shifts(ep.insider)
    nearest = np.clip(np.searchsorted(s, base), 0, s.size - 1)
    on = rng.random(n) < p["on_duty_share"] + (1 - p["on_duty_share"]) * stealth
    t[on] = s[nearest[on]] + (rng.random(int(on.sum())) * np.maximum(e[nearest[on]] - s[nearest[on]] - 900, 60)).astype(np.int64)
    t[~on] = _off_duty_times(ctx, ep.insider, int((~on).sum()), lo, hi)
    t = np.sort(np.clip(t, ctx.start, ctx.end - 60))
    subj = targets[rng.integers(0, k, n)]
    q = rng.choice([Q["person"], Q["intelligence"], Q["address"]], n, p=[.6, .3, .1])
    reason, entered = _cover(ctx, ep.insider, t, ("intelligence", "stop", "crime"), max(stealth, 0.8))
    block = _lookups(ctx, ep.insider, t, subj, q, reason, entered, code, views=0.7)
    values = _base(ctx, ep, t)
    values.update(targets=" and ".join(_person(ctx, int(s)) for s in targets), compression=note)
    return [(block, _row(ep, "", code, values, ctx))]


def _s10(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    c = ctx.cases
    cats = [CAT[x] for x in ("domestic", "sexual_offence", "assault", "serious_assault")]
    room = min(30 * DAY, int(0.4 * (ctx.end - ctx.start)))
    idx = np.flatnonzero(np.isin(c.category, cats) & (c.opened >= ctx.start) & (c.opened < ctx.end - room))
    idx = idx[_not_users_cases(ctx, ep.insider, idx)]
    if idx.size == 0:
        return []
    known = _known_through_work(ctx, ep.insider)
    people = np.zeros(0, dtype=np.int32)
    for case in rng.permutation(idx)[:200]:
        lo_i, hi_i = ctx.cs_offsets[case], ctx.cs_offsets[case + 1]
        people = ctx.cs_subject_sorted[lo_i:hi_i][np.isin(ctx.cs_role_sorted[lo_i:hi_i], [SROLE["victim"], SROLE["witness"]])]
        people = people[~np.isin(people, known)]
        if people.size:
            break
    if people.size == 0:
        return []
    case = int(case)
    n = _rint(rng, p["lookups"])
    span = int(rng.uniform(*p["span_days"]) * DAY)
    lo = int(c.opened[case]) + HOUR
    hi = min(lo + span, ctx.end - HOUR)
    closed = int(ctx.closed_inf[case])
    t = _times(ctx, ep.insider, n, lo, hi, p["on_duty_share"], stealth)
    if closed < hi:
        late = rng.random(n) < p["after_closure_share"]
        t[late] = _off_duty_times(ctx, ep.insider, int(late.sum()), closed, hi)
        t = np.sort(t)
    subj = people[rng.integers(0, people.size, n)]
    reason, entered = _cover(ctx, ep.insider, t, ("crime", "intelligence"), stealth)
    block = _lookups(ctx, ep.insider, t, subj, rng.choice([Q["person"], Q["incident"]], n, p=[.6, .4]), reason, entered, code)
    values = _base(ctx, ep, t)
    values.update(targets=" and ".join(_person(ctx, int(s)) for s in np.unique(subj)), case=_ref(ctx, case),
                  category=CATEGORIES[c.category[case]].name.replace("_", " "), case_unit=UNITS[c.unit[case]])
    return [(block, _row(ep, "", code, values, ctx))]


def _s11(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    ts, subj = [], []
    for woman, closed in zip(ep.data["women"], ep.data["closed"], strict=True):
        k = _rint(rng, p["views_per_woman"])
        lo_days, hi_days = p["days_after_closure"]
        room = (ctx.end - 2 * DAY - closed) / DAY   # a short window squeezes the delay, never below the minimum
        if room < lo_days:
            continue
        first = int(closed + rng.uniform(lo_days, min(hi_days, room)) * DAY)
        t = _times(ctx, ep.insider, k, first, min(first + 30 * DAY, ctx.end - HOUR), p["on_duty_share"], stealth)
        t = np.maximum(t, closed + DAY)
        ts.append(t)
        subj.append(np.full(k, woman))
    if not ts:
        return []
    t = np.concatenate(ts)
    s = np.concatenate(subj)
    order = np.argsort(t, kind="stable")
    t, s = t[order], s[order]
    q = rng.choice([Q["person"], Q["address"]], t.size, p=[.6, .4])
    reason, entered = _cover(ctx, ep.insider, t, ("crime", "safeguarding"), stealth)
    block = _lookups(ctx, ep.insider, t, s, q, reason, entered, code, views=1.2)
    values = _base(ctx, ep, t)
    values.update(n_targets=int(np.unique(s).size), cases=", ".join(_ref(ctx, int(x)) for x in ep.data["cases"]))
    return [(block, _row(ep, "", code, values, ctx))]


def _s12(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    home = ctx.staff.home[ep.insider]
    sector = ctx.pools.pc_sector[ctx.subjects.postcode]
    nearby = np.flatnonzero((sector == ctx.pools.pc_sector[home]) & ((ctx.subjects.flags & FLAG_BITS["staff"]) == 0))
    unknown = nearby[~np.isin(nearby, _known_through_work(ctx, ep.insider))]
    nearby = unknown if unknown.size else nearby  # a long window may leave no neighbour unmet by work
    if nearby.size == 0:
        return []
    episodes = _rint(rng, p["episodes"])
    starts = _times(ctx, ep.insider, episodes, ctx.start, ctx.end - DAY, p["on_duty_share"], stealth)
    ts, subj = [], []
    for s0 in starts:
        k = _rint(rng, p["checks_per_episode"])
        ts.append(s0 + np.sort(rng.integers(0, 45 * 60, k)))
        subj.append(rng.choice(nearby, k))
    t = np.minimum(np.concatenate(ts), ctx.end - 60)
    s = np.concatenate(subj)
    reason, entered = _cover(ctx, ep.insider, t, ("stop",), stealth)
    block = _lookups(ctx, ep.insider, t, s, np.full(t.size, Q["vehicle"]), reason, entered, code, views=0.4)
    values = _base(ctx, ep, t)
    values.update(episodes=episodes, n_targets=int(np.unique(s).size))
    return [(block, _row(ep, "", code, values, ctx))]


def _s13(ctx: Context, ep: Episode, stealth: float, code: int):
    rng, p = ctx.rng, ep.scenario.parameters
    c = ctx.cases
    idx = np.flatnonzero((c.ar_time >= ctx.start) & (c.ar_time < ctx.end - 3 * DAY))
    idx = idx[_not_users_cases(ctx, ep.insider, c.ar_case[idx]) & ~np.isin(c.ar_subject[idx], _known_through_work(ctx, ep.insider))]
    if idx.size == 0:
        return []
    a = int(rng.choice(idx))
    n = _rint(rng, p["views"])
    first = int(c.ar_time[a] + rng.uniform(*p["hours_after_arrest"]) * HOUR)
    t = np.sort(first + rng.integers(0, 40 * 60, n))
    reason, entered = _cover(ctx, ep.insider, t, ("arrest", "custody", "crime"), stealth)
    q = rng.choice([Q["person"], Q["incident"]], n, p=[.5, .5])
    block = _lookups(ctx, ep.insider, t, np.full(n, c.ar_subject[a]), q, reason, entered, code, views=0.0, search_first=False)
    values = _base(ctx, ep, t)
    values.update(target=_person(ctx, int(c.ar_subject[a])), case=_ref(ctx, int(c.ar_case[a])),
                  span=_days(float(t.max() - c.ar_time[a])))
    return [(block, _row(ep, "", code, values, ctx))]


REALISE: dict[str, Callable] = {"S1": _s1, "S2": _s2, "S3": _s3, "S4": _s4, "S5": _s5, "S6": _s6, "S7": _s7,
                                "S8": _s8, "S9": _s9, "S10": _s10, "S11": _s11, "S12": _s12, "S13": _s13}
