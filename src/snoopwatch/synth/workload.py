"""Normal work: what each role looks up while on duty, vectorised per lookup then expanded to events.

A lookup is a search (sometimes returning a list, e.g. a common surname) followed by views of the chosen
record, sometimes an export or update. Most lookups are about a case of the user or their unit; a
realistic share carries no case reference (stop checks, callers, proactive checks, analysts' research,
colleagues vetted by professional standards). Custody staff add a burst of look-ups at each booking-in.
"""

from __future__ import annotations

import numpy as np

from snoopwatch.synth.cases import CATEGORIES
from snoopwatch.synth.context import Context
from snoopwatch.synth.events import EventBlock
from snoopwatch.synth.organisation import ROLE_INDEX, ROLES, UNIT_AREA
from snoopwatch.synth.timeutil import DAY, HOUR, local_to_utc
from snoopwatch.synth.vocab import A, Q, R, S

PURPOSES = ("own", "unit", "nocase", "recent", "arrest", "bulk", "operator", "colleague")
P = {p: i for i, p in enumerate(PURPOSES)}


# Per role: events per rostered hour, purpose mix, query-type mix (person, vehicle, address, incident,
# intelligence), mean extra views per lookup, share of list-returning searches, export share, case
# look-back (days), no-case reason, no-case subject pool.
PROFILES: dict[str, dict] = {
    "response_officer": dict(rate=2.0, purposes={"own": .42, "unit": .13, "nocase": .45}, query=(.5, .32, .08, .08, .02),
                             views=0.7, multi=.2, export=.002, lookback=4, reason="stop", pool="public"),
    "neighbourhood_officer": dict(rate=1.5, purposes={"own": .35, "unit": .2, "nocase": .45}, query=(.5, .1, .15, .1, .15),
                                  views=0.9, multi=.2, export=.003, lookback=60, reason="intelligence", pool="public"),
    "pcso": dict(rate=0.9, purposes={"own": .3, "unit": .2, "nocase": .5}, query=(.55, .1, .2, .15, 0),
                 views=0.6, multi=.2, export=.0, lookback=30, reason="intelligence", pool="public"),
    "detective": dict(rate=3.0, purposes={"own": .72, "unit": .18, "nocase": .10}, query=(.45, .1, .1, .1, .25),
                      views=2.0, multi=.25, export=.01, lookback=200, reason="intelligence", pool="nominal"),
    "custody_sergeant": dict(rate=1.2, purposes={"arrest": .7, "nocase": .3}, query=(.7, 0, .05, .15, .1),
                             views=1.2, multi=.1, export=.005, lookback=1, reason="custody", pool="nominal"),
    "detention_officer": dict(rate=1.0, purposes={"arrest": .7, "nocase": .3}, query=(.75, 0, .05, .1, .1),
                              views=1.0, multi=.1, export=.0, lookback=1, reason="custody", pool="nominal"),
    "psd_investigator": dict(rate=2.5, purposes={"own": .6, "colleague": .25, "unit": .15}, query=(.7, .05, .05, .1, .1),
                             views=1.5, multi=.15, export=.02, lookback=200, reason="complaint", pool="staff"),
    "intelligence_analyst": dict(rate=12.0, purposes={"own": .3, "bulk": .35, "recent": .25, "nocase": .10},
                                 query=(.35, .05, .05, .05, .5), views=1.0, multi=.3, export=.05, lookback=400,
                                 reason="intelligence", pool="nominal"),
    "call_handler": dict(rate=6.0, purposes={"nocase": .75, "recent": .25}, query=(.45, .1, .3, .15, 0),
                         views=0.4, multi=.25, export=.0, lookback=1, reason="incident", pool="any"),
    "pnc_operator": dict(rate=10.0, purposes={"operator": .9, "nocase": .1}, query=(.55, .45, 0, 0, 0),
                         views=0.3, multi=.15, export=.0, lookback=3, reason="admin", pool="any"),
    "admin": dict(rate=4.0, purposes={"own": .85, "nocase": .15}, query=(.8, .05, .1, .05, 0),
                  views=0.8, multi=.2, export=.03, lookback=20, reason="admin", pool="any"),
}
OVERTIME_SHARE = 0.05      # duties whose work runs on after the rostered end (legitimate overtime)
EARLY_START_SHARE = 0.10   # duties where the user logs on a little before the rostered start
LATE_FILE_WORK_SHARE = 0.04  # own-case look-ups allowed on cases closed up to 60 days earlier
# Share of no-case look-ups on the user's own watch list of local prolific offenders.
WATCH_SHARE = {"response_officer": 0.15, "neighbourhood_officer": 0.4, "pcso": 0.4, "detective": 0.4}
FIELD_ROLES = tuple(ROLE_INDEX[r] for r in ("response_officer", "neighbourhood_officer", "pcso"))
CONTROL_ROLES = (ROLE_INDEX["call_handler"], ROLE_INDEX["pnc_operator"])
CUSTODY_ROLES = (ROLE_INDEX["custody_sergeant"], ROLE_INDEX["detention_officer"])
_CATEGORY_REASON = np.array([R[c.reason] for c in CATEGORIES], dtype=np.int8)
_RECENT_PREFIX = {"call_handler": ("INC", DAY // 2), "intelligence_analyst": ("CR", 60 * DAY)}


def events_per_staff_day_estimate() -> dict[str, float]:
    """Rough normal events per rostered duty by role (rate x usual duty length), for sizing runs."""
    lengths = {"response": 10, "neighbourhood": 8, "twelve": 12, "office": 8.5, "detective": 8.8}
    return {r.name: PROFILES[r.name]["rate"] * lengths[r.roster] for r in ROLES}


def normal_work(ctx: Context, progress=None) -> EventBlock:
    """Every role's legitimate look-ups over all rostered duties, plus custody booking bursts."""
    blocks = [_lookups_for_role(ctx, role.name) for role in ROLES]
    if progress:
        progress("normal work", 1, 2)
    blocks.append(_custody_bursts(ctx))
    blocks.append(_on_call(ctx))
    return EventBlock.concat(blocks)


ON_CALL_ROLES = ("detective", "psd_investigator")
ON_CALL_WEEK_SHARE = 1 / 6      # share of weeks a detective is on call
CALLOUTS_PER_ON_CALL_WEEK = 1.2


def _on_call(ctx: Context) -> EventBlock:
    """Detectives and professional-standards investigators on call: short bursts of work on their own cases
    in the evening, at night or at the weekend, outside any rostered duty (legitimate off-duty access)."""
    rng = ctx.rng
    st = ctx.staff
    members = np.flatnonzero(np.isin(st.role, [ROLE_INDEX[r] for r in ON_CALL_ROLES]))
    weeks = max(int((ctx.end - ctx.start) // (7 * DAY)), 1)
    on_call = rng.random((members.size, weeks)) < ON_CALL_WEEK_SHARE
    who, week = np.nonzero(on_call)
    n = rng.poisson(CALLOUTS_PER_ON_CALL_WEEK, who.size)
    user = np.repeat(members[who], n)
    day = ctx.start // DAY + np.repeat(week, n) * 7 + rng.integers(0, 7, user.size)
    hour = rng.choice([19, 20, 21, 22, 23, 0, 1, 2, 10, 14], user.size)
    start = local_to_utc(day * DAY + hour * HOUR + rng.integers(0, HOUR, user.size))
    keep = ~ctx.is_on_duty(user, start) & (start >= ctx.start) & (start < ctx.end)
    day_of = start // DAY
    keep &= (st.start_day[user] <= day_of) & (day_of < st.end_day[user])
    user, start = user[keep], start[keep]
    k = rng.integers(3, 11, user.size)
    u = np.repeat(user, k)
    t = np.repeat(start, k) + np.concatenate([np.sort(rng.integers(0, 40 * 60, j)) for j in k]) if k.size else np.zeros(0, np.int64)
    case = ctx.users_case(u, t, np.full(u.size, 200 * DAY), tries=6)
    has = case >= 0
    u, t, case = u[has], t[has], case[has]
    m = u.size
    if m == 0:
        return EventBlock.empty()
    subject = ctx.case_subject(case)
    reason = _CATEGORY_REASON[ctx.cases.category[case]].astype(np.int64)
    q = rng.choice(5, m, p=[.5, .05, .1, .15, .2])
    return _expand(ctx, t, u, q, subject.astype(np.int64), case, reason, np.ones(m, dtype=np.int64),
                   np.full(m, -1), np.zeros(m, dtype=bool), rng.poisson(1.2, m), np.zeros(m, dtype=np.int64),
                   np.zeros(m, dtype=np.int64), control=False, custody=False)


def _lookups_for_role(ctx: Context, role_name: str) -> EventBlock:
    rng = ctx.rng
    prof = PROFILES[role_name]
    r = ROLE_INDEX[role_name]
    sh = ctx.shifts
    sel = np.flatnonzero(ctx.staff.role[sh.user] == r)
    if sel.size == 0:
        return EventBlock.empty()
    hours = (sh.end[sel] - sh.start[sel]) / HOUR
    ev_per_lookup = 1 + prof["views"] + prof["export"]
    n = rng.poisson(prof["rate"] * hours / ev_per_lookup)
    shift = np.repeat(sel, n)
    user = sh.user[shift]
    lo = sh.start[shift]
    hi = sh.end[shift].copy()
    overtime = rng.random(sel.size) < OVERTIME_SHARE
    extra = np.where(overtime, (rng.uniform(0.5, 2.5, sel.size) * HOUR).astype(np.int64), 0)
    hi = hi + np.repeat(extra, n)
    early = rng.random(sel.size) < EARLY_START_SHARE
    lo = lo - np.repeat(np.where(early, rng.integers(5 * 60, 40 * 60, sel.size), 0), n)
    t = lo + (rng.random(shift.size) * (hi - lo - 300)).astype(np.int64)
    m = t.size
    # Purpose, then the case, subject, reason.
    names = list(prof["purposes"])
    weights = np.array([prof["purposes"][k] for k in names])
    purpose = np.array([P[k] for k in names])[rng.choice(len(names), m, p=weights / weights.sum())]
    case = np.full(m, -1, dtype=np.int64)
    subject = np.full(m, -1, dtype=np.int64)
    requester = np.full(m, -1, dtype=np.int64)
    results = np.ones(m, dtype=np.int64)
    lookback = np.full(m, int(prof["lookback"] * DAY))
    unit = ctx.staff.unit[user]

    own = purpose == P["own"]
    case[own] = ctx.users_case(user[own], t[own], lookback[own], tries=6)
    # File work after closure (court files, reviews, disclosure): some look-ups on recently closed cases.
    late = own & (rng.random(m) < LATE_FILE_WORK_SHARE)
    case[late] = ctx.users_case(user[late], t[late], np.maximum(lookback[late], 90 * DAY), tries=6, grace=60 * DAY)
    # A user with no open case of their own at that moment works on one of the unit's.
    unit_p = (purpose == P["unit"]) | (own & (case < 0))
    case[unit_p] = ctx.units_case(unit[unit_p], t[unit_p], np.maximum(lookback[unit_p], 3 * DAY), tries=4)
    if role_name in _RECENT_PREFIX:
        prefix, back = _RECENT_PREFIX[role_name]
        rec = (purpose == P["recent"]) | (own & (case < 0))
        case[rec] = ctx.recent_case(prefix, t[rec], back)
    arrest = purpose == P["arrest"]
    if arrest.any():
        k = ctx.recent_arrest(t[arrest], DAY)
        case[arrest] = np.where(k >= 0, ctx.cases.ar_case[np.maximum(k, 0)], -1)
        subject[arrest] = np.where(k >= 0, ctx.cases.ar_subject[np.maximum(k, 0)], -1)
    op = purpose == P["operator"]
    if op.any():
        requester[op] = ctx.on_duty(t[op], FIELD_ROLES)
        with_case = op & (requester >= 0) & (rng.random(m) < 0.4)
        case[with_case] = ctx.units_case(ctx.staff.unit[requester[with_case]], t[with_case], np.full(with_case.sum(), 3 * DAY))
    bulk = purpose == P["bulk"]
    if bulk.any():
        ops = bulk & (rng.random(m) < 0.5)
        case[ops] = ctx.users_case(user[ops], t[ops], lookback[ops])
        results[bulk] = np.exp(rng.uniform(np.log(40), np.log(4000), bulk.sum())).astype(np.int64)
    need_subject = (subject < 0) & ~bulk
    from_case = need_subject & (case >= 0)
    subject[from_case] = ctx.case_subject(case[from_case])
    nocase = need_subject & (subject < 0)
    colleague = nocase & ((purpose == P["colleague"]) | (prof["pool"] == "staff"))
    subject[colleague] = ctx.staff_records[rng.integers(0, ctx.staff_records.size, colleague.sum())]
    rest = nocase & ~colleague
    area = UNIT_AREA[unit[rest]]
    if role_name in ("pnc_operator",):
        req = requester[rest]
        area = np.where(req >= 0, UNIT_AREA[ctx.staff.unit[np.maximum(req, 0)]], area)
    if prof["pool"] == "nominal":
        subject[rest] = ctx.nominal_pool.draw(rng, area)
    else:
        subject[rest] = ctx.public_pool.draw(rng, area if prof["pool"] != "any" else np.full(rest.sum(), -1))
    # Field officers and detectives keep returning to the same local prolific offenders with no case
    # (a legitimate long-horizon recurrence that looks like slow misuse).
    share = WATCH_SHARE.get(role_name, 0.0)
    if share:
        watched = rest & (rng.random(m) < share)
        slot = rng.integers(0, ctx.watchlist.shape[1], watched.sum())
        subject[watched] = ctx.watchlist[user[watched], slot]
    # Reason codes that fit the role and the case.
    reason = np.full(m, R[prof["reason"]], dtype=np.int64)
    has_case = case >= 0
    reason[has_case] = _CATEGORY_REASON[ctx.cases.category[case[has_case]]]
    if role_name in ("custody_sergeant", "detention_officer"):
        reason[has_case] = np.where(rng.random(has_case.sum()) < 0.7, R["custody"], R["arrest"])
    if role_name == "response_officer":
        reason[~has_case] = np.where(rng.random((~has_case).sum()) < 0.85, R["stop"], R["intelligence"])
    if role_name == "pnc_operator":
        reason[op & ~has_case] = R["stop"]
    sloppy = rng.random(m)
    reason[sloppy < 0.03] = -1
    reason[(sloppy >= 0.03) & (sloppy < 0.05)] = R["admin"]
    # The reference actually typed: usually right, sometimes left out, occasionally mistyped.
    entered = case.copy()
    u = rng.random(m)
    entered[has_case & (u < 0.06)] = -1
    typo = has_case & (u >= 0.06) & (u < 0.075)
    if typo.any():
        entered[typo] = ctx.add_reference(case[typo], "typo")
    # Query types and systems.
    q = rng.choice(5, m, p=np.array(prof["query"]) / sum(prof["query"]))
    if role_name == "response_officer":
        stop = ~has_case
        q[stop] = rng.choice(5, stop.sum(), p=[.55, .42, .03, 0, 0])
    multi = (rng.random(m) < prof["multi"]) | bulk
    results[multi & ~bulk] = np.maximum(2, rng.geometric(0.15, (multi & ~bulk).sum()))
    n_views = rng.poisson(prof["views"], m)
    n_views = np.where(multi & ~bulk & (n_views == 0), 1, n_views)
    n_export = (rng.random(m) < prof["export"] + np.where(bulk, 0.3, 0)).astype(np.int64)
    n_update = (rng.random(m) < (0.06 if role_name in ("detective", "custody_sergeant", "detention_officer") else 0.01)).astype(np.int64)
    return _expand(ctx, t, user, q, subject, entered, reason, results, requester, multi, n_views, n_export,
                   n_update, control=r in CONTROL_ROLES, custody=r in CUSTODY_ROLES)


def _expand(ctx: Context, t, user, q, subject, entered, reason, results, requester, multi, n_views, n_export,
            n_update, *, control: bool, custody: bool, instance: np.ndarray | int = -1) -> EventBlock:
    """Lookups to events: a search, then views, exports and updates a few seconds to minutes apart."""
    rng = ctx.rng
    per = 1 + n_views + n_export + n_update
    idx = np.repeat(np.arange(t.size), per)
    k = np.arange(idx.size) - np.repeat(np.cumsum(per) - per, per)
    gaps = np.where(k == 0, 0, rng.exponential(45.0, idx.size).astype(np.int64) + 3)
    # cumulative gap within each lookup
    cum = np.cumsum(gaps)
    start_of = np.repeat(np.cumsum(per) - per, per)
    offset = cum - cum[start_of]
    time = t[idx] + offset
    action = np.full(idx.size, A["search"], dtype=np.int64)
    nv = n_views[idx]
    ne = n_export[idx]
    action[(k >= 1) & (k <= nv)] = A["view"]
    action[(k > nv) & (k <= nv + ne)] = A["export"]
    action[k > nv + ne] = A["update"]
    qt = q[idx].copy()
    # Views after a person search often open the linked intelligence or incident record.
    viewq = (action == A["view"]) & (rng.random(idx.size) < 0.35)
    qt[viewq] = rng.choice([Q["person"], Q["incident"], Q["intelligence"], Q["address"]], viewq.sum())
    system = _system_for(rng, qt, action, control, custody)
    subj = subject[idx].copy()
    res = np.where(k == 0, results[idx], 1)
    subj[(k == 0) & multi[idx]] = -1
    export = action == A["export"]
    res[export] = np.where(results[idx][export] > 1, results[idx][export], 1)
    subj[export & (results[idx] > 1)] = -1
    users = user[idx]
    inst = np.broadcast_to(np.asarray(instance), t.shape)[idx] if np.ndim(instance) else instance
    return EventBlock.build(idx.size, time=time, user=users, action=action, query=qt, system=system, subject=subj,
                            case=entered[idx], reason=reason[idx], workstation=ctx.workstations(users),
                            results=res, requester=requester[idx], instance=inst)


def _system_for(rng, qt, action, control: bool, custody: bool) -> np.ndarray:
    system = np.full(qt.size, S["RMS"], dtype=np.int64)
    pnc = np.isin(qt, [Q["person"], Q["vehicle"]]) & ((action == A["search"]) | (rng.random(qt.size) < 0.3))
    system[pnc] = S["PNC"]
    system[qt == Q["intelligence"]] = S["INTEL"]
    if control:
        system[qt == Q["incident"]] = S["CAD"]
    if custody:
        system[(action == A["update"]) | ((qt == Q["person"]) & (action == A["view"]) & (rng.random(qt.size) < 0.5))] = S["CUSTODY"]
    return system


def _custody_bursts(ctx: Context) -> EventBlock:
    """At each booking-in, the custody officer on duty runs a quick burst on the arrested person."""
    rng = ctx.rng
    c = ctx.cases
    in_window = (c.ar_time >= ctx.start) & (c.ar_time < ctx.end)
    idx = np.flatnonzero(in_window)
    if idx.size == 0:
        return EventBlock.empty()
    t = c.ar_time[idx] + rng.integers(10 * 60, 50 * 60, idx.size)
    user = ctx.on_duty(t, CUSTODY_ROLES)
    ok = user >= 0
    idx, t, user = idx[ok], t[ok], user[ok]
    m = idx.size
    n_views = rng.integers(3, 8, m)
    reason = np.where(rng.random(m) < 0.8, R["custody"], R["arrest"])
    entered = c.ar_case[idx].astype(np.int64)
    entered[rng.random(m) < 0.05] = -1
    return _expand(ctx, t, user, np.full(m, Q["person"]), c.ar_subject[idx].astype(np.int64), entered, reason,
                   np.ones(m, dtype=np.int64), np.full(m, -1), np.zeros(m, dtype=bool), n_views,
                   np.zeros(m, dtype=np.int64), np.ones(m, dtype=np.int64), control=False, custody=True)
