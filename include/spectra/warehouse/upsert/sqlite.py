"""SQLite: multi-row ``VALUES`` statements with the conflict clause, values through SQLAlchemy's
bind processors except where a C-level fast path is exact (dates)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from itertools import chain, islice
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    DateTime,
)

from spectra.warehouse.db import dbapi_connection
from spectra.warehouse.upsert.plan import Plan, missing_column_is_misuse

# Rows per multi-row INSERT on SQLite: large enough to amortise statement overhead, small
# enough to stay far below SQLITE_LIMIT_VARIABLE_NUMBER (32 766 by default, 999 on old builds).
_SQLITE_ROWS_PER_STATEMENT = 500


def upsert_sqlite(conn: Connection, plan: Plan, rows: Sequence[Any]) -> int:
    return _insert_values(conn, plan, rows, staging=None)


def stage_sqlite(conn: Connection, plan: Plan, rows: Sequence[Any], stage: str) -> None:
    """Insert ``rows`` into a new TEMP table ``stage`` (no key, no conflict clause), outside
    any transaction on the main database, so no write lock is taken; ``merge_sqlite`` later
    moves them into the table under the write lock.

    The staging columns have no declared type, so they keep each value exactly as bound and
    the target table applies its own column affinity when the rows are merged, as it would
    have on a direct insert.
    """
    raw = dbapi_connection(conn)
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(c) for c in plan.insert_columns)
    raw.execute(f"CREATE TEMP TABLE {quote(stage)} ({columns})")
    raw.execute("BEGIN DEFERRED")  # a transaction of the temp database only: no lock on main
    try:
        _insert_values(conn, plan, rows, staging=stage)
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")


def merge_sqlite(conn: Connection, plan: Plan, stage: str) -> int:
    """Upsert the staged rows into the table in key order (one statement, SQLite's own sorter
    and B-tree work, no Python per row); returns rows inserted or changed. Drops the stage.

    In key order each row lands beside the previous one in the table's B-tree (clustered on
    its key), and ``rowid`` keeps rows sharing a key in the order they came (the last wins).
    """
    quote = conn.dialect.identifier_preparer.quote
    target = conn.dialect.identifier_preparer.format_table(plan.table)
    columns = ", ".join(quote(c) for c in plan.insert_columns)
    order = ", ".join(quote(k) for k in plan.keys)
    # "WHERE true": SQLite would read the ON of ON CONFLICT as a join constraint otherwise
    sql = (
        f"INSERT INTO {target} ({columns}) SELECT {columns} FROM temp.{quote(stage)} "
        f"WHERE true ORDER BY {order}, rowid"
        + plan.conflict_clause(quote, target, dialect="sqlite")
    )
    with missing_column_is_misuse(plan):
        written = conn.exec_driver_sql(sql).rowcount
    drop_stage_sqlite(conn, stage)
    return int(written)


def drop_stage_sqlite(conn: Connection, stage: str) -> None:
    quote = conn.dialect.identifier_preparer.quote
    dbapi_connection(conn).execute(f"DROP TABLE IF EXISTS temp.{quote(stage)}")


def _insert_values(
    conn: Connection, plan: Plan, rows: Sequence[Any], *, staging: str | None
) -> int:
    """Multi-row INSERTs of ``rows``: into the table with its conflict clause, or (``staging``)
    into that temp table as they are, through the driver (outside SQLAlchemy's transaction)."""
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    target = dialect.identifier_preparer.format_table(plan.table)
    processors: dict[str, Any] = {}

    def value_expr(expr: str, i: int) -> str:
        column = plan.table.c[plan.row_columns[i]]
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is None:
            return expr
        processors[f"_p{i}"] = processor
        if isinstance(column.type, Date) and not isinstance(column.type, DateTime):
            # SQLAlchemy stores SQLite dates as 'YYYY-MM-DD', which is date.isoformat(); its
            # generic processor costs ~1 us a value, a third of the whole upsert. Exact
            # dates take the C fast path, ISO strings (as the Google Ads API sends them, already
            # checked by ingest's screen) pass through, anything else goes to the processor.
            return (
                f"(v{i}.isoformat() if (v{i} := {expr}).__class__ is _date "
                f"else v{i} if v{i}.__class__ is str else _p{i}(v{i}))"
            )
        return f"_p{i}({expr})"

    processors["_date"] = dt.date
    row_function = plan.compile_row_function(value_expr, processors)

    def processed(name: str, value: Any) -> Any:
        processor = plan.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        return value if processor is None or value is None else processor(value)

    # The fixed columns (tenant, account, the pull's day, model defaults) are bound once per
    # statement as numbered parameters ?1..?F that every row's VALUES tuple repeats: a third
    # of a performance row's values, not bound and not built into tuples row by row.
    fixed = tuple(plan.fixed_values(processed))
    n_fixed, n_row = len(fixed), len(plan.row_columns)
    limit = dbapi_connection(conn).getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max(1, min(_SQLITE_ROWS_PER_STATEMENT, (limit - n_fixed) // max(n_row, 1)))
    fixed_marks = [f"?{k + 1}" for k in range(n_fixed)]

    def values_sql(n_rows: int) -> str:
        tuples = []
        for j in range(n_rows):
            first = n_fixed + j * n_row + 1
            marks = [f"?{first + k}" for k in range(n_row)] + fixed_marks
            tuples.append("(" + ", ".join(marks) + ")")
        return head + ", ".join(tuples) + tail

    into = f"temp.{quote(staging)}" if staging else target
    head = f"INSERT INTO {into} ({', '.join(quote(c) for c in plan.insert_columns)}) VALUES "
    tail = "" if staging else plan.conflict_clause(quote, target, dialect="sqlite")
    execute = dbapi_connection(conn).execute if staging else conn.exec_driver_sql
    full_sql = values_sql(per_statement)

    written = 0
    values = map(row_function, rows)
    with missing_column_is_misuse(plan):
        while batch := list(islice(values, per_statement)):
            sql = full_sql if len(batch) == per_statement else values_sql(len(batch))
            result = execute(sql, fixed + tuple(chain.from_iterable(batch)))
            written += result.rowcount
    return written
