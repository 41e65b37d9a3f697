"""The mapping file: how a database's audit records become data-set events (see examples/mapping-pgaudit.toml).

A database audit log says which role ran which SQL on which tables. What an investigator needs is who the
END USER was, which person or record they looked at, for which case, and whether they searched, viewed,
exported or changed it. The mapping (TOML) says how to read those from the log:

- `[tables."schema.table"]`: the tables that hold people, vehicles, incidents, intelligence ...; each gives
  the `query_type` and how the subject is identified (`subject_column`: the value the statement compares
  that column with, a bind parameter `$N` or a literal; or `subject_param = N`). Table order is priority:
  a statement touching several mapped tables takes its query type from the first one listed.
- `[user]`: where the end user comes from, tried in order (`from = ["tag", "application_name", "role"]`),
  with optional patterns that pull the user id out of a role or application name.
- `[tag]`: keys of the tag comment the application adds to its SQL
  (`/* user=PC123 case=CR/2025/0042 reason=crime */`) and the event column each fills. A value from the tag
  wins over one derived from the SQL.
- `[[actions]]`: rules, first match wins, from the audited command (SELECT, COPY, UPDATE ...) and an optional
  regular expression on the statement to the event's action (search, view, export, update).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from snoopwatch.convert.common import EVENT_COLUMNS
from snoopwatch.errors import ConversionError

USER_SOURCES = ("tag", "application_name", "role")
DEFAULT_TAG_KEYS = {
    "user": "user_id", "case": "case_ref", "reason": "reason_code", "ts": "timestamp",
    "for": "requested_by", "ws": "workstation", "subject": "subject_id", "action": "action",
    "type": "query_type", "system": "system", "rows": "result_count", "event": "event_id",
}
DEFAULT_ACTIONS = (
    ({"COPY"}, None, "export"),
    ({"SELECT"}, None, "search"),
    ({"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE"}, None, "update"),
)

_TAG_COMMENT = re.compile(r"/\*(.*?)\*/", re.S)
# key=value pairs of a tag comment, separated by spaces or commas (/* user=PC1, case=X */); a value may be
# quoted in double or single quotes (sqlcommenter writes key='value').
_TAG_PAIR = re.compile(r"""([A-Za-z_][\w-]*)=("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s"',][^\s,]*|)""")


@dataclass(frozen=True)
class TableRule:
    """One mapped table: what kind of record it holds and how a statement names its subject."""

    name: str
    query_type: str
    subject_column: str | None = None
    subject_param: int | None = None
    pattern: re.Pattern | None = None

    def matches(self, table: str) -> bool:
        """`intel.people` matches a rule for `intel.people` or for `people` (any schema); case-insensitive,
        whatever the quoting of either (`intel."People"`, `"intel"."people"`)."""
        table, name = _unquoted(table), _unquoted(self.name)
        return table == name or ("." not in name and table.rsplit(".", 1)[-1] == name)


_IDENTIFIER = re.compile(r'"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^."`]+')


def _unquoted(name: str) -> str:
    """A dotted table name without identifier quotes ("..." or `...`), in lower case."""
    parts = [part[1:-1].replace(part[0] * 2, part[0]) if part[0] in '"`' else part.strip()
             for part in _IDENTIFIER.findall(name.strip())]
    return ".".join(parts).lower()


@dataclass(frozen=True)
class ActionRule:
    commands: frozenset[str] | None
    statement: re.Pattern | None
    action: str


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file."""

    tables: tuple[TableRule, ...]
    actions: tuple[ActionRule, ...]
    user_from: tuple[str, ...] = ("tag", "role")
    role_pattern: re.Pattern | None = None
    application_pattern: re.Pattern | None = None
    user_case: str = "keep"
    ignore_roles: frozenset[str] = frozenset()
    tag_keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TAG_KEYS))
    system: str | None = None
    path: str | None = None
    # tables touched -> matching rules (a statement shape repeats millions of times in a log)
    table_cache: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass
class Statement:
    """One audited statement as a log shows it, whatever the database (fields the log lacks are None)."""

    timestamp: str | None
    role: str | None
    application: str | None
    commands: set[str]
    tables: list[str]
    text: str
    params: list[str] | None = None
    rows: int | None = None
    source: str = ""
    backslash_escapes: bool = False  # MariaDB string literals use \' ; PostgreSQL's use ''


def _compile(pattern: str | None, where: str) -> re.Pattern | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ConversionError(f"mapping {where}: {pattern!r} is not a valid regular expression ({error})") from error


def _subject_pattern(column: str) -> re.Pattern:
    col = re.escape(column)
    return re.compile(
        rf"""(?is)(?<![\w$."`])(?:[`"]?[A-Za-z_]\w*[`"]?\.)?[`"]?{col}[`"]?\s*=\s*"""
        rf"""(?:\$(\d+)|'((?:[^'\\]|''|\\.)*)'|(-?\d+(?:\.\d+)?)(?![\w.]))"""
    )


def _as_set(value, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConversionError(f"mapping {where}: give a command name or a list of names, e.g. [\"SELECT\"]")
    return frozenset(v.upper() for v in value)


def _names(value, where: str) -> frozenset[str]:
    """A name or a list of names, as given (a lone string is one name, not its letters)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConversionError(f"mapping {where}: give a name or a list of names, e.g. [\"postgres\"]")
    return frozenset(value)


def parse_mapping(data: dict, path: str | None = None) -> Mapping:
    """A Mapping from the TOML document's data; every mistake is a ConversionError naming the key."""
    where = path or "file"
    tables_data = data.get("tables")
    if not isinstance(tables_data, dict) or not tables_data:
        raise ConversionError(f"mapping {where}: no [tables.\"schema.table\"] sections; name at least the table "
                              "that holds people, with query_type and subject_column")
    tables = []
    for name, spec in tables_data.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("query_type"), str):
            raise ConversionError(f"mapping {where}: table {name!r} needs query_type = \"person\" (or vehicle, ...)")
        param = spec.get("subject_param")
        if param is not None and (not isinstance(param, int) or param < 1):
            raise ConversionError(f"mapping {where}: table {name!r}: subject_param must be a parameter number, 1 or more")
        column = spec.get("subject_column")
        tables.append(TableRule(name, spec["query_type"], column, param,
                                _subject_pattern(column) if column else None))
    actions = []
    for i, rule in enumerate(data.get("actions", [])):
        if not isinstance(rule, dict) or not isinstance(rule.get("action"), str):
            raise ConversionError(f"mapping {where}: [[actions]] rule {i + 1} needs action = \"search\" (or view, export, update)")
        actions.append(ActionRule(_as_set(rule.get("command"), f"[[actions]] rule {i + 1}"),
                                  _compile(rule.get("statement"), f"[[actions]] rule {i + 1}"), rule["action"]))
    if not actions:
        actions = [ActionRule(frozenset(c), None, a) for c, _, a in DEFAULT_ACTIONS]
    user = data.get("user", {})
    sources = user.get("from", ["tag", "role"])
    if isinstance(sources, str):
        sources = [sources]
    bad = [s for s in sources if s not in USER_SOURCES]
    if bad or not sources:
        raise ConversionError(f"mapping {where}: [user] from = {sources!r}; use any of {', '.join(USER_SOURCES)}")
    case = user.get("case", "keep")
    if case not in ("keep", "upper", "lower"):
        raise ConversionError(f"mapping {where}: [user] case must be keep, upper or lower")
    tag_keys = dict(DEFAULT_TAG_KEYS)
    if "tag" in data:
        tag_keys = {}
        for key, column in data["tag"].items():
            if column not in EVENT_COLUMNS:
                raise ConversionError(f"mapping {where}: [tag] {key} = {column!r} is not an events column; "
                                      f"use one of {', '.join(EVENT_COLUMNS)}")
            tag_keys[key] = column
    return Mapping(
        tables=tuple(tables), actions=tuple(actions), user_from=tuple(sources),
        role_pattern=_compile(user.get("role_pattern"), "[user] role_pattern"),
        application_pattern=_compile(user.get("application_pattern"), "[user] application_pattern"),
        user_case=case, ignore_roles=_names(user.get("ignore_roles", []), f"{where}: [user] ignore_roles"), tag_keys=tag_keys,
        system=data.get("system"), path=path,
    )


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file (TOML)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConversionError(f"{path}: no such mapping file; start from examples/mapping-pgaudit.toml") from error
    except tomllib.TOMLDecodeError as error:
        raise ConversionError(f"{path}: not valid TOML ({error}); fix the line it names") from error
    return parse_mapping(data, str(path))


def parse_tag(text: str) -> dict[str, str]:
    """key=value pairs of the first comment in `text` that has any (`/* user=PC123 case="A B" */`)."""
    for comment in _TAG_COMMENT.finditer(text):
        pairs = _TAG_PAIR.findall(comment.group(1))
        if pairs:
            out = {}
            for key, value in pairs:
                if value[:1] in ('"', "'"):
                    value = re.sub(r"\\(.)", r"\1", value[1:-1])
                out[key] = value
            return out
    return {}


def format_tag(values: dict[str, str]) -> str:
    """The tag comment for `values` (the inverse of parse_tag); values are quoted when they need it and can
    never close the comment early."""
    parts = []
    for key, value in values.items():
        value = str(value)
        if not re.fullmatch(r"[\w./:+@-]+", value):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("*/", "*\\/") + '"'
        parts.append(f"{key}={value}")
    return "/* " + " ".join(parts) + " */"


def _user_from_name(name: str | None, pattern: re.Pattern | None) -> str | None:
    if not name:
        return None
    if pattern is None:
        return name
    match = pattern.search(name)
    if match is None:
        return None
    return match.groupdict().get("user") or (match.group(1) if match.groups() else match.group(0))


def subject_from_statement(rule: TableRule, stmt: Statement) -> str | None:
    """The subject a statement names for this table: a bind parameter or the value compared with the column."""
    params = stmt.params or []
    if rule.subject_param is not None:
        if rule.subject_param <= len(params) and params[rule.subject_param - 1] != "":
            return params[rule.subject_param - 1]
        return None
    if rule.pattern is None:
        return None
    match = rule.pattern.search(stmt.text)
    if match is None:
        return None
    param, literal, number = match.groups()
    if param is not None:
        index = int(param)
        return params[index - 1] if 0 < index <= len(params) and params[index - 1] != "" else None
    if literal is not None:
        if stmt.backslash_escapes:
            literal = re.sub(r"\\(.)", r"\1", literal)
        return literal.replace("''", "'")
    return number


def mapped_tables(mapping: Mapping, tables: list[str]) -> list[TableRule]:
    """Mapping rules for the tables a statement touched, in the mapping's priority order."""
    key = tuple(tables)
    found = mapping.table_cache.get(key)
    if found is None:
        found = [rule for rule in mapping.tables if any(rule.matches(t) for t in tables)]
        if len(mapping.table_cache) < 10_000:
            mapping.table_cache[key] = found
    return found


def interpret(mapping: Mapping, stmt: Statement) -> tuple[str, dict | str]:
    """("event", row) for an event, ("skip", kind) for a statement that is not relevant, or
    ("reject", reason) for a relevant one that cannot be used."""
    if stmt.role is not None and stmt.role in mapping.ignore_roles:
        return "skip", "role in ignore_roles"
    rules = mapped_tables(mapping, stmt.tables)
    if not rules:
        return "skip", "statement on tables not in the mapping"
    tag = parse_tag(stmt.text)
    row: dict[str, str | None] = {"system": mapping.system, "query_type": rules[0].query_type}
    for rule in rules:
        subject = subject_from_statement(rule, stmt)
        if subject is not None:
            row["subject_id"] = subject
            break
    for rule in mapping.actions:
        if rule.commands is not None and not (rule.commands & stmt.commands):
            continue
        if rule.statement is not None and rule.statement.search(stmt.text) is None:
            continue
        row["action"] = rule.action
        break
    if stmt.rows is not None:
        row["result_count"] = str(stmt.rows)
    row["timestamp"] = stmt.timestamp
    tagged = {mapping.tag_keys[k]: v for k, v in tag.items() if k in mapping.tag_keys}
    user = None
    for source in mapping.user_from:
        if source == "tag":
            user = tagged.get("user_id")
        elif source == "role":
            user = _user_from_name(stmt.role, mapping.role_pattern)
        else:
            user = _user_from_name(stmt.application, mapping.application_pattern)
        if user:
            break
    tagged.pop("user_id", None)
    row.update({k: v for k, v in tagged.items() if v != ""})
    if not user:
        return "reject", f"no end user (looked in {', '.join(mapping.user_from)})"
    if mapping.user_case == "upper":
        user = user.upper()
    elif mapping.user_case == "lower":
        user = user.lower()
    row["user_id"] = user
    if not row.get("action"):
        return "skip", f"no action rule for {'/'.join(sorted(stmt.commands)) or 'this command'}"
    row["source"] = stmt.source
    return "event", row


def example_mapping_text() -> str:
    """The documented example mapping shipped with the package (same text as examples/mapping-pgaudit.toml)."""
    return resources.files("snoopwatch.convert").joinpath("mapping-pgaudit.toml").read_text(encoding="utf-8")
