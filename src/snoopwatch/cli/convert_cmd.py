"""`snoopwatch convert` (real logs into a data set) and `snoopwatch replay` (a data set into a real pgaudit log)."""

from __future__ import annotations

from pathlib import Path

import click

from snoopwatch.console import stderr_console, stdout_console

_FORMATS = click.Choice(["parquet", "csv", "csv.gz", "jsonl"])


def _common(func):
    """Options every converter shares."""
    func = click.option("--answer-key/--no-answer-key", default=True, show_default=True,
                        help="With --context, also copy labels and instances (kept only for converted event ids).")(func)
    func = click.option("--context", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DATASET",
                        help="Copy the context tables (staff, subjects, cases, rosters ...) from this data set.")(func)
    func = click.option("--format", "fmt", type=_FORMATS, default="parquet", show_default=True,
                        help="File format of the data set written.")(func)
    func = click.option("--out", "-o", required=True, type=click.Path(path_type=Path), metavar="DATASET",
                        help="Data-set directory to write (rejects go to DATASET/rejects/).")(func)
    return func


def _print_report(report) -> None:
    console = stdout_console()
    for line in report.summary_lines():
        console.print(line, markup=False, highlight=False)


@click.group()
def convert() -> None:
    """Convert real audit logs into a data set (see shared/DATASET.md).

    Every input record is accounted for: converted, skipped as not relevant (counted by kind), or
    rejected with its reason in DATASET/rejects/. Event ids come from the tag's event= key when the
    application sets one, otherwise from the event's content, so the same log always gives the same ids.
    """


@convert.command("pgaudit")
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", "-m", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Mapping file (TOML); start from examples/mapping-pgaudit.toml.")
@click.option("--log-format", type=click.Choice(["auto", "csvlog", "jsonlog", "stderr"]), default="auto",
              show_default=True, help="Log file format; auto looks at the first line.")
@click.option("--prefix", metavar="LOG_LINE_PREFIX",
              help="The server's log_line_prefix, for plain stderr logs (e.g. '%m [%p] %q%u@%d ').")
@click.option("--timezone", metavar="ZONE",
              help="The server's log_timezone (IANA name), needed when log times carry a zone abbreviation such as BST.")
@_common
def convert_pgaudit_cmd(logs, mapping, log_format, prefix, timezone, out, fmt, context, answer_key) -> None:
    """PostgreSQL logs with pgaudit records (csvlog, jsonlog or stderr) -> data set.

    Give either the .csv or the .json files of one server, not both (they hold the same records).
    """
    from snoopwatch.convert.pgaudit import convert_pgaudit

    report = convert_pgaudit(logs, mapping, out, log_format=log_format, prefix=prefix, timezone=timezone,
                             fmt=fmt, context=context, answer_key=answer_key)
    _print_report(report)


@convert.command("mariadb")
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", "-m", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Mapping file (TOML), as for pgaudit; table names are database.table.")
@click.option("--timezone", required=True, metavar="ZONE",
              help="The server's time zone (IANA name, e.g. Europe/London): server_audit times have no zone.")
@click.option("--query-log-limit", type=int, default=1024, show_default=True,
              help="The server's server_audit_query_log_limit; statements this long were cut and are reported.")
@_common
def convert_mariadb_cmd(logs, mapping, timezone, query_log_limit, out, fmt, context, answer_key) -> None:
    """MariaDB server_audit files -> data set."""
    from snoopwatch.convert.mariadb import convert_mariadb

    report = convert_mariadb(logs, mapping, out, timezone=timezone, query_log_limit=query_log_limit,
                             fmt=fmt, context=context, answer_key=answer_key)
    _print_report(report)


@convert.command("csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--map", "column_map", multiple=True, metavar="COLUMN=SOURCE,...",
              help="Events column = export column, e.g. timestamp=ts,user_id=officer,subject_id=nominal. Repeatable.")
@click.option("--value", "value_maps", multiple=True, metavar="COLUMN:FROM=TO,...",
              help="Translate values, e.g. action:QRY=search,DSP=view. Repeatable.")
@click.option("--set", "constants", multiple=True, metavar="COLUMN=VALUE",
              help="A fixed value for a column, e.g. system=PNC. Repeatable.")
@click.option("--timezone", metavar="ZONE",
              help="IANA zone of times written without an offset (e.g. Europe/London). Without it such rows are rejected.")
@_common
def convert_csv_cmd(file, column_map, value_maps, constants, timezone, out, fmt, context, answer_key) -> None:
    """Any CSV, JSON lines or Parquet export -> data set, by naming its columns.

    Rows are typed, validated and set aside exactly as the data-set reader does (same reasons).
    """
    from snoopwatch.convert.tabular import convert_table, parse_pairs, parse_value_maps

    report = convert_table(file, parse_pairs(column_map, "--map"), out, timezone=timezone,
                           values=parse_value_maps(value_maps), constants=parse_pairs(constants, "--set"),
                           fmt=fmt, context=context, answer_key=answer_key)
    _print_report(report)


@convert.command("example-mapping")
def convert_example_mapping_cmd() -> None:
    """Print the documented example mapping (for the schema `replay` creates); redirect it to a file and edit."""
    from snoopwatch.convert.mapping import example_mapping_text

    click.echo(example_mapping_text(), nl=False)


@click.command()
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dsn", required=True, metavar="DSN",
              help="PostgreSQL to replay into, as a role that may create roles (postgresql://postgres@127.0.0.1:5432/db).")
@click.option("--speed", type=float, default=86_400.0, show_default=True,
              help="Original seconds per replayed second (0 = no pauses).")
@click.option("--max-sleep", type=float, default=1.0, show_default=True, help="Longest single pause, in seconds.")
@click.option("--limit", type=int, help="Replay only the first N events (after --since).")
@click.option("--since", metavar="TIME", help="Replay events from this time on (ISO 8601).")
@click.option("--role-password", envvar="SNOOPWATCH_ROLE_PASSWORD",
              help="Password given to the created staff roles, when the server requires one (or set SNOOPWATCH_ROLE_PASSWORD).")
def replay(dataset, dsn, speed, max_sleep, limit, since, role_password) -> None:
    """Replay DATASET's events as parameterised SQL against PostgreSQL, one role per member of staff.

    Creates (replacing) schema intel with people, vehicles, addresses, incidents, case links and
    intelligence reports; end user, case and original time travel in a tag comment, so
    `snoopwatch convert pgaudit --mapping examples/mapping-pgaudit.toml` restores the events.
    """
    from snoopwatch.console import progress
    from snoopwatch.convert.replay import replay_dataset

    with progress() as bar:
        task = bar.add_task("replaying", total=None)

        def step(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=total)

        report = replay_dataset(dataset, dsn, speed=speed, max_sleep=max_sleep, limit=limit, since=since,
                                role_password=role_password, progress=step)
    console = stdout_console()
    for line in report.summary_lines():
        console.print(line, markup=False, highlight=False)
    stderr_console().print("convert the server's log with: snoopwatch convert pgaudit LOG --mapping "
                           "examples/mapping-pgaudit.toml --out DIR", markup=False, highlight=False)
