"""Replay a data set against PostgreSQL as real, parameterised SQL, so pgaudit writes a real log of a synthetic
force (with the data set's answer key), for testing monitoring tools and the converter itself.

`replay_dataset` creates (replacing it if present) a small intelligence database (schema `intel`: people, vehicles, addresses,
incidents, case_links, intelligence_reports, other_records), loads the data set's subjects and cases, creates
one login role per member of staff (`sw_<user id in lower case>`, member of `sw_staff`), then runs every event
in time order from that member's own connection, at accelerated time. What the database cannot know travels
the documented way, in a tag comment at the start of the statement:

    /* user=PC4412 case=CR/2025/0042 reason=crime ts=2025-03-04T19:41:07Z ws=MDT-117 system=PNC rows=1 event=E0001 */

`ts` carries the original time, so `convert pgaudit` restores it. The subject is a bind parameter ($1) for
view and update, a literal in the COPY of an export, and `subject=` in the tag for a search (pgaudit does not
log which row a search returned). examples/mapping-pgaudit.toml reads the result back.

Needs psycopg 3 (`pip install 'snoopwatch[pg]'`).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from snoopwatch.convert.mapping import format_tag
from snoopwatch.dataset import load_dataset
from snoopwatch.errors import ConversionError

SCHEMA = "intel"
GROUP_ROLE = "sw_staff"
NO_MATCH = "NO-MATCH"
CORE_ACTIONS = ("search", "view", "export", "update")
# query_type -> (table, alias, column a search filters on)
TABLES = {
    "person": ("people", "p", "surname"),
    "vehicle": ("vehicles", "v", "vrm"),
    "address": ("addresses", "a", "postcode"),
    "incident": ("incidents", "i", "category"),
    "intelligence": ("intelligence_reports", "r", "grading"),
}
OTHER = ("other_records", "o", "kind")

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.people (person_id text PRIMARY KEY, surname text, forename text, sex text,
    date_of_birth date, postcode text, flags text, updated_at timestamptz);
CREATE TABLE IF NOT EXISTS {SCHEMA}.vehicles (vrm text PRIMARY KEY, person_id text, make text, updated_at timestamptz);
CREATE TABLE IF NOT EXISTS {SCHEMA}.addresses (address_id bigserial PRIMARY KEY, person_id text, postcode text,
    updated_at timestamptz);
CREATE TABLE IF NOT EXISTS {SCHEMA}.incidents (case_ref text PRIMARY KEY, unit text, category text,
    opened_at timestamptz, closed_at timestamptz, updated_at timestamptz);
CREATE TABLE IF NOT EXISTS {SCHEMA}.case_links (case_ref text, person_id text, role text);
CREATE TABLE IF NOT EXISTS {SCHEMA}.intelligence_reports (report_id bigserial PRIMARY KEY, person_id text,
    grading text, body text, updated_at timestamptz);
CREATE TABLE IF NOT EXISTS {SCHEMA}.other_records (record_id bigserial PRIMARY KEY, person_id text, kind text,
    updated_at timestamptz);
"""


@dataclass
class ReplayReport:
    """What a replay did."""

    events: int = 0
    roles: int = 0
    by_action: Counter = field(default_factory=Counter)
    subjects_loaded: int = 0
    cases_loaded: int = 0
    seconds: float = 0.0
    first_event: str | None = None
    last_event: str | None = None

    def summary_lines(self) -> list[str]:
        actions = ", ".join(f"{n:,} {a}" for a, n in sorted(self.by_action.items()))
        return [
            f"replayed {self.events:,} event(s) ({actions}) from {self.roles:,} role(s) in {self.seconds:.1f} s",
            f"loaded {self.subjects_loaded:,} subject(s) and {self.cases_loaded:,} case(s) into schema {SCHEMA}",
            f"original time span: {self.first_event} to {self.last_event}",
        ]


def role_name(user_id: str) -> str:
    """The database role for a member of staff: sw_ + the user id in lower case, other characters as _."""
    name = "sw_" + re.sub(r"[^a-z0-9_]", "_", str(user_id).lower())
    if len(name) > 63:
        name = name[:50] + "_" + hashlib.sha256(str(user_id).encode()).hexdigest()[:12]
    return name


def vehicle_registration(subject_id: str) -> str:
    """A deterministic registration mark for the vehicle a subject keeps."""
    digest = hashlib.sha256(f"vrm:{subject_id}".encode()).hexdigest().upper()
    letters = "".join(chr(ord("A") + int(c, 16) % 26) for c in digest[:5])
    return f"{letters[:2]}{int(digest[5:7], 16) % 90 + 10}{letters[2:]}"


def _text(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%S") + (f".{value.microsecond:06d}" if value.microsecond else "") + "Z"
    return str(value)


def statement_for(event: dict, search_values: dict[str, dict[str, str]]) -> tuple[str, tuple, bool]:
    """(SQL without tag, parameters, is_copy) for one event. The subject is $1 for view and update, a
    literal in an export's COPY, and absent from a search's SQL (the tag names it)."""
    query_type = event.get("query_type") or "person"
    table, alias, search_column = TABLES.get(query_type, OTHER)
    action = event.get("action")
    subject = event.get("subject_id")
    qualified = f"{SCHEMA}.{table}"
    if table == "incidents":
        select = (f"SELECT i.case_ref, i.category, l.role FROM {SCHEMA}.case_links l "
                  f"JOIN {qualified} i ON i.case_ref = l.case_ref")
        where_subject = "l.person_id"
    elif table == "vehicles":
        select = f"SELECT v.vrm, v.make, p.surname FROM {qualified} v JOIN {SCHEMA}.people p ON p.person_id = v.person_id"
        where_subject = "v.person_id"
    else:
        select = f"SELECT {alias}.* FROM {qualified} {alias}"
        where_subject = f"{alias}.person_id"
    if action == "update":
        if table == "incidents":
            return (f"UPDATE {qualified} SET updated_at = now() WHERE case_ref IN "
                    f"(SELECT case_ref FROM {SCHEMA}.case_links WHERE person_id = $1)", (subject,), False)
        return f"UPDATE {qualified} SET updated_at = now() WHERE person_id = $1", (subject,), False
    if action == "export":
        literal = "'" + (subject or NO_MATCH).replace("'", "''") + "'"
        column = where_subject if subject else f"{alias}.{search_column}"
        return f"COPY ({select} WHERE {column} = {literal}) TO STDOUT WITH (FORMAT csv)", (), True
    if action == "view":  # a view with no subject recorded still opens "a record": NULL key
        return f"{select} WHERE {where_subject} = $1", (subject,), False
    # search (and any other action): filter on the table's search column; the tag names the hit
    value = search_values.get(query_type, {}).get(subject, NO_MATCH) if subject else NO_MATCH
    return f"{select} WHERE {alias}.{search_column} = $1", (value,), False


def _tag_for(event: dict, search: bool) -> str:
    values = {"user": event["user_id"]}
    for key, column in (("case", "case_ref"), ("reason", "reason_code"), ("ts", "timestamp"),
                        ("for", "requested_by"), ("ws", "workstation"), ("system", "system"),
                        ("rows", "result_count"), ("event", "event_id")):
        if event.get(column):
            values[key] = event[column]
    if search and event.get("subject_id"):
        values["subject"] = event["subject_id"]
    if event.get("query_type") and event["query_type"] not in TABLES:
        values["type"] = event["query_type"]
    if event.get("action") not in CORE_ACTIONS:
        values["action"] = event["action"]
    return format_tag(values)


def _import_psycopg():
    try:
        import psycopg
        from psycopg import sql
    except ImportError as error:
        raise ConversionError("replay needs psycopg 3: pip install 'snoopwatch[pg]'") from error
    return psycopg, sql


def _dsn_for(dsn: str, role: str, password: str | None) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    params["user"] = role
    params.pop("password", None)
    if password:
        params["password"] = password
    params.setdefault("application_name", "snoopwatch-replay")
    return make_conninfo(**params)


def _setup(conn, sql, tables: dict[str, pd.DataFrame], events: pd.DataFrame, users: list[str],
           role_password: str | None, report: ReplayReport) -> dict[str, dict[str, str]]:
    """Schema, reference data and roles, with auditing off for this session where allowed."""
    with conn.cursor() as cur:
        try:
            cur.execute("SET pgaudit.log = 'none'")
        except Exception:  # not a superuser or no pgaudit: set-up lines are then logged as this role
            conn.rollback()
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cur.execute(DDL)
        subjects = tables.get("subjects")
        subject_ids = set(events["subject_id"].dropna().astype(str)) if "subject_id" in events else set()
        people = []
        if subjects is not None:
            for row in subjects.to_dict("records"):
                people.append((_text(row.get("subject_id")), _text(row.get("surname")), _text(row.get("forename")),
                               _text(row.get("sex")), _text(row.get("date_of_birth"))[:10] if _text(row.get("date_of_birth")) else None,
                               _text(row.get("postcode")), _text(row.get("flags"))))
        known = {p[0] for p in people}
        people += [(s, None, None, None, None, None, None) for s in sorted(subject_ids - known)]
        by_id = {p[0]: p for p in people}
        with cur.copy(f"COPY {SCHEMA}.people (person_id, surname, forename, sex, date_of_birth, postcode, flags) FROM STDIN") as copy:
            for person in people:
                copy.write_row(person)
        report.subjects_loaded = len(people)
        search_values: dict[str, dict[str, str]] = {q: {} for q in (*TABLES, "other")}
        for query_type in sorted(set(events.get("query_type", pd.Series(dtype=object)).dropna().astype(str))):
            wanted = sorted(set(events.loc[events["query_type"].astype(str) == query_type, "subject_id"].dropna().astype(str)))
            for subject in wanted:
                person = by_id.get(subject)
                if query_type == "vehicle":
                    vrm = vehicle_registration(subject)
                    cur.execute(f"INSERT INTO {SCHEMA}.vehicles (vrm, person_id, make) VALUES (%s, %s, %s) "
                                "ON CONFLICT DO NOTHING", (vrm, subject, "FORD"))
                    search_values["vehicle"][subject] = vrm
                elif query_type == "address":
                    postcode = (person[5] if person else None) or f"ZZ{subject}"
                    cur.execute(f"INSERT INTO {SCHEMA}.addresses (person_id, postcode) VALUES (%s, %s)", (subject, postcode))
                    search_values["address"][subject] = postcode
                elif query_type == "intelligence":
                    grading = f"G-{subject}"
                    cur.execute(f"INSERT INTO {SCHEMA}.intelligence_reports (person_id, grading, body) VALUES (%s, %s, %s)",
                                (subject, grading, "synthetic report"))
                    search_values["intelligence"][subject] = grading
                elif query_type == "incident":
                    search_values["incident"][subject] = f"linked-{subject}"
                elif query_type == "person":
                    search_values["person"][subject] = (person[1] if person and person[1] else subject)
                else:
                    cur.execute(f"INSERT INTO {SCHEMA}.other_records (person_id, kind) VALUES (%s, %s)", (subject, query_type))
                    search_values.setdefault(query_type, {})[subject] = query_type
        cases = tables.get("cases")
        if cases is not None:
            with cur.copy(f"COPY {SCHEMA}.incidents (case_ref, unit, category, opened_at, closed_at) FROM STDIN") as copy:
                for row in cases.to_dict("records"):
                    copy.write_row((_text(row.get("case_ref")), _text(row.get("unit")), _text(row.get("category")),
                                    _text(row.get("opened_at")), _text(row.get("closed_at"))))
            report.cases_loaded = len(cases)
        links = tables.get("case_subjects")
        if links is not None:
            with cur.copy(f"COPY {SCHEMA}.case_links (case_ref, person_id, role) FROM STDIN") as copy:
                for row in links.to_dict("records"):
                    copy.write_row((_text(row.get("case_ref")), _text(row.get("subject_id")), _text(row.get("role"))))
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (GROUP_ROLE,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(GROUP_ROLE)))
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), sql.Identifier(GROUP_ROLE)))
        cur.execute(sql.SQL("GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA {} TO {}").format(
            sql.Identifier(SCHEMA), sql.Identifier(GROUP_ROLE)))
        for user in users:
            role = role_name(user)
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            if role_password:
                cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(role_password)))
            cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(GROUP_ROLE), sql.Identifier(role)))
        report.roles = len(users)
    conn.commit()
    return search_values


def _execute(conn, tag: str, text: str, params: tuple, is_copy: bool) -> None:
    """Run one replayed statement from the member of staff's own connection."""
    with conn.cursor() as cur:
        if is_copy:
            with cur.copy(tag + " " + text) as copy:
                for _ in copy:
                    pass
        else:
            # Real bind parameters: psycopg sends %s as $1 with the value apart (server-side binding).
            cur.execute(tag.replace("%", "%%") + " " + text.replace("$1", "%s"), params)


def replay_dataset(
    dataset: str | Path,
    dsn: str,
    *,
    speed: float = 86_400.0,
    max_sleep: float = 1.0,
    limit: int | None = None,
    since: str | None = None,
    role_password: str | None = None,
    max_connections: int = 20,
    progress: Callable[[str, int, int], None] | None = None,
) -> ReplayReport:
    """Replay DATASET's events against the PostgreSQL at `dsn` (a superuser or a role that may create roles).

    speed: original seconds per replayed second (86,400 = a day a second); max_sleep caps any one pause.
    limit / since: replay only the first `limit` events from `since` on (a slice of a big force).
    """
    psycopg, sql = _import_psycopg()
    ds = load_dataset(dataset, answer_key=False)
    events = ds.events
    if since is not None:
        events = events[events["timestamp"] >= pd.Timestamp(since, tz="UTC")]
    if limit is not None:
        events = events.head(limit)
    events = events.sort_values("timestamp", kind="stable").reset_index(drop=True)
    if events.empty:
        raise ConversionError(f"{dataset}: no events to replay (check --since and --limit)")
    records = [{k: _text(v) for k, v in row.items()} for row in events.to_dict("records")]
    users = sorted({r["user_id"] for r in records})
    report = ReplayReport()
    started = time.monotonic()
    try:
        admin = psycopg.connect(dsn)
    except psycopg.Error as error:
        raise ConversionError(f"cannot connect to {dsn!r}: {str(error).strip().splitlines()[0]}") from error
    connections: OrderedDict[str, object] = OrderedDict()
    try:
        try:
            search_values = _setup(admin, sql, ds.tables, events, users, role_password, report)
        except psycopg.Error as error:
            raise ConversionError(f"setting up the replay database failed ({str(error).strip().splitlines()[0]}); "
                                  "connect as a role that may create schemas and roles") from error
        previous = None
        for index, event in enumerate(records):
            moment = pd.Timestamp(event["timestamp"])
            if previous is not None and speed > 0:
                pause = min((moment - previous).total_seconds() / speed, max_sleep)
                if pause > 0:
                    time.sleep(pause)
            previous = moment
            user = event["user_id"]
            conn = connections.get(user)
            if conn is None:
                if len(connections) >= max_connections:
                    _, oldest = connections.popitem(last=False)
                    oldest.close()
                try:
                    conn = psycopg.connect(_dsn_for(dsn, role_name(user), role_password), autocommit=True)
                except psycopg.Error as error:
                    raise ConversionError(f"cannot connect as role {role_name(user)}: "
                                          f"{str(error).strip().splitlines()[0]}; allow the sw_ roles in pg_hba.conf "
                                          "or pass --role-password") from error
                connections[user] = conn
            else:
                connections.move_to_end(user)
            text, params, is_copy = statement_for(event, search_values)
            is_search = event.get("action") not in ("view", "update", "export") or not event.get("subject_id")
            tag = _tag_for(event, search=is_search and event.get("action") != "export")
            try:
                _execute(conn, tag, text, params, is_copy)
            except psycopg.Error as error:
                raise ConversionError(f"replaying event {event.get('event_id')} as {role_name(user)} failed "
                                      f"({str(error).strip().splitlines()[0]})") from error
            report.events += 1
            report.by_action[event.get("action") or ""] += 1
            if progress is not None:
                progress("replaying", index + 1, len(records))
    finally:
        for conn in connections.values():
            conn.close()
        admin.close()
    report.seconds = time.monotonic() - started
    report.first_event, report.last_event = records[0]["timestamp"], records[-1]["timestamp"]
    return report
