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

from spectra.warehouse.upsert.plan import Plan, missing_column_is_misuse

# Rows per multi-row INSERT on SQLite: large enough to amortise statement overhead, small
# enough to stay far below SQLITE_LIMIT_VARIABLE_NUMBER (32 766 by default, 999 on old builds).
_SQLITE_ROWS_PER_STATEMENT = 500


def upsert_sqlite(conn: Connection, plan: Plan, rows: Sequence[Any]) -> int:
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
    n_columns = len(plan.insert_columns)
    driver = conn.connection.driver_connection
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if driver else 999
    per_statement = max(1, min(_SQLITE_ROWS_PER_STATEMENT, limit // n_columns))

    placeholders = "(" + ", ".join("?" * n_columns) + ")"
    head = f"INSERT INTO {target} ({', '.join(quote(c) for c in plan.insert_columns)}) VALUES "
    tail = plan.conflict_clause(quote, target, dialect="sqlite")
    full_sql = head + ", ".join([placeholders] * per_statement) + tail

    written = 0
    values = map(row_function, rows)
    with missing_column_is_misuse(plan):
        while batch := list(islice(values, per_statement)):
            sql = (
                full_sql
                if len(batch) == per_statement
                else (head + ", ".join([placeholders] * len(batch)) + tail)
            )
            result = conn.exec_driver_sql(sql, tuple(chain.from_iterable(batch)))
            written += result.rowcount
    return written
