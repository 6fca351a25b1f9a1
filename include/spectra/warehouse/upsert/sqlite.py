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

    head = f"INSERT INTO {target} ({', '.join(quote(c) for c in plan.insert_columns)}) VALUES "
    tail = plan.conflict_clause(quote, target, dialect="sqlite")
    full_sql = values_sql(per_statement)

    written = 0
    values = map(row_function, rows)
    with missing_column_is_misuse(plan):
        while batch := list(islice(values, per_statement)):
            sql = full_sql if len(batch) == per_statement else values_sql(len(batch))
            result = conn.exec_driver_sql(sql, fixed + tuple(chain.from_iterable(batch)))
            written += result.rowcount
    return written
