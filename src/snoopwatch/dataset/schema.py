"""The data-set format, version 1 (shared/DATASET.md) as data: tables, columns and their types.

Every reader, writer, validator and converter takes its column lists from here, so the contract is written
once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FORMAT_VERSION = 1

# Column kinds. `time`: ISO 8601 instant with an explicit offset, held as datetime64[ns, UTC].
# `date`: calendar date (YYYY-MM-DD), held as datetime64[ns, UTC] at midnight. `category`: short
# repeated text (ids, codes), held as pandas category. `text`: free or unique text, held as a string
# dtype. `int` / `float`: numbers (nullable integers are Int64).
TIME, DATE, CATEGORY, TEXT, INT, FLOAT = "time", "date", "category", "text", "int", "float"


@dataclass(frozen=True)
class TableSpec:
    """One table of the format: which columns it must have, which it may have, and their kinds."""

    name: str
    one_row_per: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    kinds: dict[str, str] = field(default_factory=dict)
    # (column, other table, other column): a value here must exist there (empty values are allowed).
    references: tuple[tuple[str, str, str], ...] = ()
    # Columns whose values must be unique when present.
    unique: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional

    def kind(self, column: str) -> str:
        return self.kinds.get(column, CATEGORY)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "events",
            "audited action on the searched system",
            ("timestamp", "user_id", "action"),
            (
                "event_id", "system", "query_type", "subject_id", "case_ref", "reason_code",
                "workstation", "result_count", "requested_by",
            ),
            {"timestamp": TIME, "event_id": TEXT, "result_count": INT},
            unique=("event_id",),
        ),
        TableSpec(
            "staff",
            "account holder (HR directory)",
            ("user_id",),
            (
                "role", "unit", "surname", "forename", "home_postcode", "home_lat", "home_lon",
                "subject_id", "start_date", "end_date",
            ),
            {
                "forename": TEXT, "home_lat": FLOAT, "home_lon": FLOAT,
                "start_date": DATE, "end_date": DATE,
            },
            unique=("user_id",),
        ),
        TableSpec(
            "subjects",
            "person/record held in the system",
            ("subject_id",),
            ("surname", "forename", "sex", "date_of_birth", "postcode", "lat", "lon", "flags"),
            {"forename": TEXT, "date_of_birth": DATE, "lat": FLOAT, "lon": FLOAT},
            unique=("subject_id",),
        ),
        TableSpec(
            "cases",
            "incident / crime / operation",
            ("case_ref",),
            ("unit", "category", "opened_at", "closed_at"),
            {"opened_at": TIME, "closed_at": TIME},
            unique=("case_ref",),
        ),
        TableSpec(
            "case_subjects",
            "subject linked to a case",
            ("case_ref", "subject_id"),
            ("role",),
            references=(("case_ref", "cases", "case_ref"), ("subject_id", "subjects", "subject_id")),
        ),
        TableSpec(
            "case_staff",
            "member of staff assigned to a case",
            ("case_ref", "user_id"),
            ("from", "to"),
            {"from": TIME, "to": TIME},
            references=(("case_ref", "cases", "case_ref"), ("user_id", "staff", "user_id")),
        ),
        TableSpec(
            "rosters",
            "rostered duty period",
            ("user_id", "start", "end"),
            ("shift",),
            {"start": TIME, "end": TIME},
            references=(("user_id", "staff", "user_id"),),
        ),
        TableSpec(
            "associations",
            "relationship a member of staff has declared",
            ("user_id", "subject_id"),
            ("relation",),
            references=(("user_id", "staff", "user_id"), ("subject_id", "subjects", "subject_id")),
        ),
        TableSpec(
            "labels",
            "misuse event (ground truth; never read by train or detect)",
            ("event_id", "scenario", "instance_id"),
            (),
            {"event_id": TEXT},
            references=(("event_id", "events", "event_id"),),
            unique=("event_id",),
        ),
        TableSpec(
            "instances",
            "misuse case in the answer key",
            ("instance_id", "scenario", "user_id"),
            ("first_at", "last_at", "n_events", "narrative"),
            {"first_at": TIME, "last_at": TIME, "n_events": INT, "narrative": TEXT},
            unique=("instance_id",),
        ),
    )
}

# Required values: a row with one of these empty cannot be used.
REQUIRED_VALUES: dict[str, tuple[str, ...]] = {name: spec.required for name, spec in TABLES.items()}

# Periods a row spans, as (table, start column, end column): an end before its start is worth a warning.
PERIODS = (("staff", "start_date", "end_date"), ("cases", "opened_at", "closed_at"),
           ("case_staff", "from", "to"), ("rosters", "start", "end"))
# Ends whose empty value means "still open" (DATASET.md), per table; a far-future placeholder such as
# 9999-12-31 in them means the same.
OPEN_ENDED: dict[str, tuple[str, ...]] = {"staff": ("end_date",), "cases": ("closed_at",), "case_staff": ("to",)}

# Tables that hold the answer key: train and detect never read them.
ANSWER_KEY_TABLES = ("labels", "instances")
CONTEXT_TABLES = ("staff", "subjects", "cases", "case_subjects", "case_staff", "rosters", "associations")

# Extensions a table file may have, in the order a reader prefers them when several exist.
EXTENSIONS = (".parquet", ".csv.gz", ".csv", ".jsonl")
JSONL_TABLES = ("events",)
MANIFEST = "manifest.json"

# Files a data-set directory may also hold without being an error.
KNOWN_EXTRA_FILES = ("README.md", "README.txt", MANIFEST)

# Subject flags the format names.
KNOWN_FLAGS = ("vip", "staff", "vulnerable", "ocg", "victim")
CORE_ACTIONS = ("search", "view", "export", "update")
