"""Build a whole synthetic force (organisation, rosters, cases, normal work, planted misuse) and turn it
into data-set tables (shared/DATASET.md) or a data-set directory."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from snoopwatch import __version__
from snoopwatch.errors import SnoopwatchError
from snoopwatch.synth.cases import CATEGORIES, SUBJECT_ROLES, build_cases
from snoopwatch.synth.context import Context
from snoopwatch.synth.events import EventBlock
from snoopwatch.synth.organisation import (
    FLAG_BITS,
    RELATIONS,
    ROLES,
    UNITS,
    build_staff,
    build_subjects,
    district_weights,
)
from snoopwatch.synth.pools import build_pools
from snoopwatch.synth.rosters import SHIFT_NAMES, build_rosters
from snoopwatch.synth.timeutil import DAY, LOCAL_ZONE, NAT, to_dates, to_timestamps
from snoopwatch.synth.vocab import ACTIONS, QUERY_TYPES, REASONS, SYSTEMS
from snoopwatch.synth.workload import events_per_staff_day_estimate, normal_work

TEXT = pd.StringDtype("pyarrow")
GENERATOR_NAME = "snoopwatch.synth"


class SynthConfigError(SnoopwatchError):
    """A generator parameter is out of range."""


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of a synthetic force. `scenarios` is "all" or a tuple of ids ("S2", "S9"); `insiders` is
    the number of planted misuse episodes (None = one per selected scenario; 0 = a clean force);
    `stealth` (0..1) raises the share of plausible reason codes and real case references in misuse and
    keeps more of it on shift."""

    staff: int = 300
    days: int = 180
    start: str = "2025-01-06"
    seed: int = 7
    scenarios: str | tuple[str, ...] = "all"
    insiders: int | None = None
    stealth: float = 0.5
    subjects_per_staff: int = 25

    def __post_init__(self) -> None:
        if not isinstance(self.staff, int) or self.staff < 40:
            raise SynthConfigError(f"staff must be a whole number of at least 40 (got {self.staff!r}) so that every role is present")
        if not isinstance(self.days, int) or self.days < 14:
            raise SynthConfigError(f"days must be at least 14 (got {self.days!r})")
        if not 0.0 <= float(self.stealth) <= 1.0:
            raise SynthConfigError(f"stealth must be between 0 and 1 (got {self.stealth!r})")
        if self.insiders is not None and self.insiders < 0:
            raise SynthConfigError(f"insiders must be 0 or more (got {self.insiders!r})")
        try:
            ts = pd.Timestamp(self.start)
        except (ValueError, TypeError) as error:
            raise SynthConfigError(f"start must be a date like 2025-01-06 (got {self.start!r})") from error
        if ts.tzinfo is not None or ts != ts.normalize():
            raise SynthConfigError(f"start must be a plain date like 2025-01-06 (got {self.start!r})")
        if isinstance(self.scenarios, str) and self.scenarios != "all":
            object.__setattr__(self, "scenarios", tuple(s.strip().upper() for s in self.scenarios.split(",") if s.strip()))
        if not isinstance(self.scenarios, str):
            from snoopwatch.synth.scenarios import scenario_ids
            known = scenario_ids()
            wanted = tuple(s.strip().upper() for s in self.scenarios)
            unknown = [s for s in wanted if s not in known]
            if unknown:
                from snoopwatch.errors import ScenarioError
                raise ScenarioError(f"unknown scenario {unknown[0]!r}; choose from {', '.join(known)} or 'all'")
            if not wanted:
                raise SynthConfigError("no scenario selected; name some (S2,S9), use 'all', or plant none with insiders=0")
            object.__setattr__(self, "scenarios", wanted)

    @property
    def start_day(self) -> int:
        return int(pd.Timestamp(self.start).value // (DAY * 10**9))

    def scenario_ids(self) -> tuple[str, ...]:
        from snoopwatch.synth.scenarios import scenario_ids
        return scenario_ids() if self.scenarios == "all" else tuple(self.scenarios)


@dataclass
class World:
    """A generated force: data-set tables in the format's types plus the manifest."""

    tables: dict[str, pd.DataFrame]
    manifest: dict = field(default_factory=dict)
    config: SynthConfig | None = None

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)


def generate(cfg: SynthConfig | None = None, progress=None, **fields) -> World:
    """Generate a synthetic force. `progress(description, done, total)` is called between stages."""
    cfg = cfg or SynthConfig(**fields)
    stages = 8
    tick = (lambda text, k: progress(text, k, stages)) if progress else (lambda text, k: None)
    seeds = np.random.SeedSequence(cfg.seed).spawn(8)
    rngs = [np.random.default_rng(s) for s in seeds]
    start = cfg.start_day * DAY
    end = start + cfg.days * DAY
    tick("pools and organisation", 0)
    pools = build_pools(cfg.seed, rngs[0])
    weights = district_weights(rngs[0])
    staff = build_staff(rngs[1], pools, cfg.staff, cfg.start_day, cfg.days, weights)
    subjects, relations = build_subjects(rngs[1], pools, staff, cfg.staff * cfg.subjects_per_staff, cfg.start_day, weights)
    tick("rosters", 1)
    shifts = build_rosters(rngs[2], staff, cfg.start_day, cfg.days)
    tick("cases", 2)
    book, strikes = build_cases(rngs[3], staff, subjects, pools, shifts, start, end)
    from snoopwatch.synth.misuse import plan_misuse
    plan = plan_misuse(cfg, rngs[5], pools, staff, subjects, relations, shifts, book, strikes, start, end)
    cases = book.freeze()
    cases.make_refs()
    ctx = Context(rngs[4], pools, staff, subjects, relations, shifts, cases, strikes, start, end)
    tick("normal work", 3)
    normal = normal_work(ctx)
    tick("misuse", 4)
    ctx.rng = rngs[6]
    misuse, instances = plan.realise(ctx)
    tick("tables", 5)
    events = EventBlock.concat([normal, misuse])
    keep = np.flatnonzero((events.time >= start) & (events.time < end))
    # One sort key: time, then user, then action (ties keep generation order, which is deterministic).
    key = ((events.time[keep] - start) << 22 | events.user[keep].astype(np.int64)) << 2 | events.action[keep]
    events = events.take(keep[np.argsort(key, kind="stable")])
    # Subject numbers are shuffled so that a record's id says nothing about how it was generated.
    subject_numbers = rngs[7].permutation(len(subjects)) + 1
    tables = _tables(ctx, events, instances, subject_numbers)
    planted_episodes = {str(i).rsplit("-", 1)[0] if str(i).count("-") == 2 else str(i)
                        for i in tables["instances"]["instance_id"].astype(str)}
    skipped = plan.skipped + [ep.scenario.id for ep in plan.episodes
                              if f"{ep.scenario.id}-{ep.number:02d}" not in planted_episodes]
    manifest = _manifest(cfg, tables, start, end, skipped)
    tick("generated", 7)
    return World(tables, manifest, cfg)


def _cat(codes: np.ndarray, vocab) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=pd.Index(list(vocab), dtype=object)))


def _cat_values(values) -> pd.Series:
    """Strings (None = missing) as a categorical with object-dtype categories, as the data-set reader gives."""
    values = np.asarray(values, dtype=object)
    present = np.array([v is not None for v in values], dtype=bool) if values.size else np.zeros(0, dtype=bool)
    vocab = sorted(set(values[present].tolist()))
    index = {v: i for i, v in enumerate(vocab)}
    codes = np.array([index[v] if ok else -1 for v, ok in zip(values, present, strict=True)], dtype=np.int64)
    return _cat(codes, vocab)


def _text(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), dtype=TEXT)


def _flag_strings() -> list[str]:
    names = list(FLAG_BITS)
    out = []
    for mask in range(32):
        out.append(";".join(n for n in names if mask & FLAG_BITS[n]))
    return out


def _tables(ctx: Context, ev: EventBlock, instances: pd.DataFrame, subject_numbers: np.ndarray) -> dict[str, pd.DataFrame]:
    staff, subjects, pools, cases = ctx.staff, ctx.subjects, ctx.pools, ctx.cases
    n_sub = len(subjects)
    subject_ids = np.char.add("P", np.char.zfill(subject_numbers.astype(str), max(7, len(str(n_sub))))).astype(object)
    user_ids = staff.user_id
    flag_vocab = _flag_strings()[1:]  # mask 0 (no flag) is a missing value
    flags = _cat(np.asarray(subjects.flags, dtype=np.int64) - 1, flag_vocab)
    staff_tab = pd.DataFrame({
        "user_id": _cat(np.arange(len(staff)), user_ids),
        "role": _cat(staff.role, [r.name for r in ROLES]),
        "unit": _cat(staff.unit, UNITS),
        "surname": _cat(staff.surname, pools.surnames),
        "forename": _text(staff.forename),
        "home_postcode": _cat(staff.home, pools.postcodes),
        "home_lat": pools.pc_lat[staff.home].round(5),
        "home_lon": pools.pc_lon[staff.home].round(5),
        "subject_id": _cat(staff.subject, subject_ids),
        "start_date": to_dates(staff.start_day),
        "end_date": to_dates(np.where(staff.end_day >= 10**7, -(10**9), staff.end_day - 1)),
    })
    subj_tab = pd.DataFrame({
        "subject_id": _cat(np.arange(n_sub), subject_ids),
        "surname": _cat(subjects.surname, pools.surnames),
        "forename": _text(subjects.forename),
        "sex": _cat(subjects.sex, ["F", "M"]),
        "date_of_birth": to_dates(subjects.dob_day),
        "postcode": _cat(subjects.postcode, pools.postcodes),
        "lat": pools.pc_lat[subjects.postcode].round(5),
        "lon": pools.pc_lon[subjects.postcode].round(5),
        "flags": flags,
    }).iloc[np.argsort(subject_numbers, kind="stable")].reset_index(drop=True)
    # Case references: real ones, then mistyped or fabricated ones (deduplicated by their text).
    ref_text = _reference_texts(ctx)
    ref_vocab, ref_map = np.unique(ref_text, return_inverse=True)
    real = np.arange(len(cases))
    case_tab = pd.DataFrame({
        "case_ref": _cat(ref_map[real], ref_vocab),
        "unit": _cat(cases.unit, UNITS),
        "category": _cat(cases.category, [c.name for c in CATEGORIES]),
        "opened_at": to_timestamps(cases.opened),
        "closed_at": to_timestamps(cases.closed),
    })
    case_tab["case_ref"] = case_tab["case_ref"].cat.remove_unused_categories()
    ref_cats = case_tab["case_ref"].cat.categories
    cs_tab = pd.DataFrame({
        "case_ref": pd.Categorical(ref_vocab[ref_map[cases.cs_case]], categories=ref_cats),
        "subject_id": _cat(cases.cs_subject, subject_ids),
        "role": _cat(cases.cs_role, SUBJECT_ROLES),
    }).drop_duplicates(["case_ref", "subject_id"], ignore_index=True)
    st_to = cases.closed[cases.st_case]
    cst_tab = pd.DataFrame({
        "case_ref": pd.Categorical(ref_vocab[ref_map[cases.st_case]], categories=ref_cats),
        "user_id": _cat(cases.st_user, user_ids),
        "from": to_timestamps(cases.opened[cases.st_case]),
        "to": to_timestamps(st_to),
    }).drop_duplicates(["case_ref", "user_id"], ignore_index=True)
    sh = ctx.shifts
    in_window = (sh.end > ctx.start) & (sh.start < ctx.end)
    ros_tab = pd.DataFrame({
        "user_id": _cat(sh.user[in_window], user_ids),
        "start": to_timestamps(sh.start[in_window]),
        "end": to_timestamps(sh.end[in_window]),
        "shift": _cat(np.searchsorted(sorted(set(SHIFT_NAMES)), np.array(SHIFT_NAMES)[sh.code[in_window]]), sorted(set(SHIFT_NAMES))),
    })
    rel = ctx.relations
    dec = rel.declared
    assoc_tab = pd.DataFrame({
        "user_id": _cat(rel.staff[dec], user_ids),
        "subject_id": _cat(rel.subject[dec], subject_ids),
        "relation": _cat(rel.relation[dec], RELATIONS),
    })
    n = len(ev)
    event_ids = _event_ids(n)
    events = pd.DataFrame({
        "event_id": pd.Series(pd.arrays.ArrowStringArray(event_ids), dtype=TEXT),
        "timestamp": to_timestamps(ev.time),
        "user_id": _cat(ev.user, user_ids),
        "action": _cat(ev.action, ACTIONS),
        "system": _cat(ev.system, SYSTEMS),
        "query_type": _cat(ev.query, QUERY_TYPES),
        "subject_id": _cat(ev.subject, subject_ids),
        "case_ref": _cat(np.where(ev.case >= 0, ref_map[np.maximum(ev.case, 0)], -1), ref_vocab),
        "reason_code": _cat(ev.reason, REASONS),
        "workstation": _cat(ev.workstation, ctx.workstation_names),
        "result_count": pd.array(ev.results, dtype="Int64"),
        "requested_by": _cat(ev.requester, user_ids),
    })
    labelled = np.flatnonzero(ev.instance >= 0)
    inst_ids = instances["instance_id"].to_numpy(dtype=object) if len(instances) else np.zeros(0, dtype=object)
    inst_scen = instances["scenario"].to_numpy(dtype=object) if len(instances) else np.zeros(0, dtype=object)
    labels = pd.DataFrame({
        "event_id": events["event_id"].iloc[labelled].reset_index(drop=True),
        "scenario": _cat_values(inst_scen[ev.instance[labelled]]),
        "instance_id": _cat_values(inst_ids[ev.instance[labelled]]),
    })
    inst_tab = _instance_table(instances, ev, labelled, user_ids)
    return {"events": events, "staff": staff_tab, "subjects": subj_tab, "cases": case_tab, "case_subjects": cs_tab,
            "case_staff": cst_tab, "rosters": ros_tab, "associations": assoc_tab, "labels": labels,
            "instances": inst_tab}


def _event_ids(n: int) -> pa.StringArray:
    """E000000001, E000000002, ...: fixed-width ids built straight into an Arrow string buffer."""
    width = max(9, len(str(n)))
    number = np.arange(1, n + 1, dtype=np.int64)
    chars = np.empty((n, width + 1), dtype=np.uint8)
    chars[:, 0] = ord("E")
    for k in range(width):
        chars[:, width - k] = (number // 10**k) % 10 + ord("0")
    offsets = np.arange(0, (n + 1) * (width + 1), width + 1, dtype=np.int32 if (n + 1) * (width + 1) < 2**31 else np.int64)
    kind = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    array = pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(chars.reshape(-1))])
    return array.cast(pa.string()) if kind != pa.string() else array


def _reference_texts(ctx: Context) -> np.ndarray:
    """Texts of every reference code: real case refs, then typos (one digit changed) and fabrications."""
    refs = list(ctx.cases.refs)
    if ctx.typo_source:
        src = np.array(ctx.typo_source)
        kind = np.array(ctx.typo_kind)
        rng = np.random.default_rng(len(refs) + len(src))
        digits = rng.integers(0, 10, src.size)
        pos = rng.integers(1, 4, src.size)
        for ref, d, p, k in zip(ctx.cases.refs[src], digits, pos, kind, strict=True):
            if k == "typo":
                chars = list(ref)
                i = len(chars) - p
                chars[i] = str(d) if chars[i] != str(d) else str((d + 1) % 10)
                refs.append("".join(chars))
            else:
                head, year, num = ref.split("/")
                refs.append(f"{head}/{year}/{str((int(num) * 7 + 1357 + int(d)) % 10**len(num)).zfill(len(num))}")
    return np.array(refs, dtype=object)


def _instance_table(instances: pd.DataFrame, ev: EventBlock, labelled: np.ndarray, user_ids) -> pd.DataFrame:
    columns = ["instance_id", "scenario", "user_id", "first_at", "last_at", "n_events", "narrative"]
    if not len(instances):
        return pd.DataFrame({
            "instance_id": _cat_values([]), "scenario": _cat_values([]), "user_id": _cat_values([]),
            "first_at": pd.Series([], dtype="datetime64[ns, UTC]"), "last_at": pd.Series([], dtype="datetime64[ns, UTC]"),
            "n_events": pd.array([], dtype="Int64"), "narrative": pd.Series([], dtype=TEXT)})[columns]
    code = ev.instance[labelled]
    times = ev.time[labelled]
    k = len(instances)
    count = np.bincount(code, minlength=k)
    first = np.full(k, np.iinfo(np.int64).max)
    last = np.full(k, np.iinfo(np.int64).min)
    np.minimum.at(first, code, times)
    np.maximum.at(last, code, times)
    present = count > 0
    out = pd.DataFrame({
        "instance_id": _cat_values(instances["instance_id"].to_numpy(dtype=object)[present]),
        "scenario": _cat_values(instances["scenario"].to_numpy(dtype=object)[present]),
        "user_id": _cat_values(user_ids[instances["user"].to_numpy()[present]]),
        "first_at": to_timestamps(first[present]),
        "last_at": to_timestamps(last[present]),
        "n_events": pd.array(count[present], dtype="Int64"),
        "narrative": pd.Series(instances["narrative"].to_numpy(dtype=object)[present], dtype=TEXT),
    })
    return out[columns]


def _manifest(cfg: SynthConfig, tables: dict[str, pd.DataFrame], start: int, end: int, skipped: list[str]) -> dict:
    """seed, parameters, versions, row counts, time range, misuse counts per scenario (and any scenario that
    could not be planted in this force, e.g. too few cases in a very short window)."""
    import faker
    import pyarrow

    ev = tables["events"]
    per_scenario = tables["instances"].groupby("scenario", observed=True).size() if len(tables["instances"]) else pd.Series(dtype=int)
    staff_days = int(tables["rosters"]["user_id"].nunique()) * cfg.days
    return {
        "format_version": 1,
        "generator": {"name": GENERATOR_NAME, "version": __version__},
        "seed": cfg.seed,
        "timezone": LOCAL_ZONE,
        "parameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "versions": {"snoopwatch": __version__, "numpy": np.__version__, "pandas": pd.__version__,
                     "pyarrow": pyarrow.__version__, "faker": faker.VERSION},
        "rows": {name: int(len(frame)) for name, frame in tables.items()},
        "time_range": [pd.Timestamp(start, unit="s", tz="UTC").isoformat().replace("+00:00", "Z"),
                       pd.Timestamp(end, unit="s", tz="UTC").isoformat().replace("+00:00", "Z")],
        "events_time_range": ([ev["timestamp"].iloc[0].isoformat().replace("+00:00", "Z"),
                               ev["timestamp"].iloc[-1].isoformat().replace("+00:00", "Z")] if len(ev) else []),
        "misuse_instances": {k: int(per_scenario[k]) for k in sorted(per_scenario.index.astype(str), key=lambda x: int(x[1:]))},
        "misuse_not_planted": {k: skipped.count(k) for k in sorted(set(skipped), key=lambda x: int(x[1:]))},
        "misuse_events": int(len(tables["labels"])),
        "events_per_staff_day": round(len(ev) / max(staff_days, 1), 2),
        "events_per_duty_by_role": {k: round(v, 1) for k, v in events_per_staff_day_estimate().items()},
    }


def write_world(world: World, out_dir: str | os.PathLike[str], fmt: str = "parquet") -> Path:
    """Write a generated force as a data-set directory (every table in `fmt`, plus manifest.json)."""
    from snoopwatch.dataset.save import save_dataset

    out = Path(out_dir)
    save_dataset(world.tables, out, fmt=fmt, manifest=world.manifest)
    return out


def generate_dataset(out_dir: str | os.PathLike[str], fmt: str = "parquet", progress=None, force: bool = True,
                     **cfg_fields) -> Path:
    """Generate a force with `cfg_fields` (see SynthConfig) and write it to `out_dir`."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SnoopwatchError(f"{out} is a file; give a directory for the data set")
    if not force and out.exists() and any(out.iterdir()):
        raise SnoopwatchError(f"{out} is not empty; choose a new directory or pass --force to overwrite it")
    world = generate(SynthConfig(**cfg_fields), progress=progress)
    if progress:
        progress("writing", 7, 8)
    path = write_world(world, out, fmt=fmt)
    if progress:
        progress("written", 8, 8)
    return path


__all__ = ["SynthConfig", "SynthConfigError", "World", "generate", "generate_dataset", "write_world", "NAT"]
