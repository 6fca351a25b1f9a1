"""PostgreSQL: rows rendered in COPY text format and streamed into a temporary staging table,
then one ``INSERT ... SELECT ... ON CONFLICT`` into the target."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    Table,
    Time,
)
from sqlalchemy import exc as sa_exc

from spectra.warehouse.db import dbapi_connection
from spectra.warehouse.upsert.plan import Plan, dedupe, missing_column_is_misuse

# Characters handed to the PostgreSQL COPY stream per read.
_COPY_READ_SIZE = 1 << 20


def _copy_text_template(table: Table, name: str) -> str:
    """Python expression (over ``{v}``) rendering a non-NULL value in COPY text format."""
    column_type = table.c[name].type
    if isinstance(column_type, Boolean):
        return "('t' if {v} else 'f')"
    if isinstance(column_type, Integer | Float | Numeric):
        return "str({v})"
    if isinstance(column_type, Date | DateTime | Time):
        return "({v} if {v}.__class__ is str else {v}.isoformat())"
    if isinstance(column_type, JSON):
        return "_esc(_json({v}))"
    return "_esc(str({v}))"


def _copy_text_expr(table: Table, name: str, expr: str, index: int) -> str:
    """Python expression rendering ``expr`` in COPY text format, ``\\N`` for NULL."""
    var = f"v{index}"
    rendered = _copy_text_template(table, name).format(v=var)
    return f"('\\\\N' if ({var} := {expr}) is None else {rendered})"


def _copy_escape(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


class _LineStream(io.TextIOBase):
    """A read-only text stream over lines produced lazily, so psycopg2 can send COPY data
    while the rest is still being rendered (the server parses it in parallel)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._buffer = ""
        # psycopg2 turns an exception raised in read() into QueryCanceled; keep the original.
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        try:
            return self._read(size)
        except BaseException as error:
            self.error = error
            raise

    def _read(self, size: int | None) -> str:
        if size is None or size < 0:
            out, self._buffer = self._buffer + "".join(self._lines), ""
            return out
        parts = [self._buffer]
        have = len(self._buffer)
        for line in self._lines:
            parts.append(line)
            have += len(line)
            if have >= size:
                break
        data = "".join(parts)
        out, self._buffer = data[:size], data[size:]
        return out


def upsert_postgresql(conn: Connection, plan: Plan, rows: Sequence[Any]) -> int:
    dialect = conn.dialect
    preparer = dialect.identifier_preparer
    quote = preparer.quote
    target = preparer.format_table(plan.table)
    rows = dedupe(plan, rows)

    namespace: dict[str, Any] = {"_esc": _copy_escape, "_json": _json_dumps(conn)}

    def value_expr(expr: str, i: int) -> str:
        return _copy_text_expr(plan.table, plan.row_columns[i], expr, i)

    # Fixed columns (constants, defaults) are rendered once, then appended to every line.
    fixed = plan.fixed_values(
        lambda name, value: _copy_text_value(plan.table, name, value, namespace)
    )
    fixed_text = ("\t" if plan.row_columns and fixed else "") + "\t".join(fixed)
    render = plan.compile_row_function(value_expr, namespace, wrap="'\\t'.join")

    def stream() -> _LineStream:
        return _LineStream(line + fixed_text + "\n" for line in map(render, rows))

    columns = ", ".join(quote(c) for c in plan.insert_columns)
    cursor = dbapi_connection(conn).cursor()
    dbapi_error = dialect.loaded_dbapi.Error
    statement = ""
    lines: _LineStream | None = None
    try:
        if _probably_new(cursor, plan, rows, target, quote):
            # No stored row shares the first or the last key (a first load, a new slice):
            # COPY straight into the table, with no staging copy and no ON CONFLICT probe
            # per row (measured: about half the server's time of a first load). The primary
            # key still guards it: a row that does exist after all aborts the COPY with a
            # unique violation, which rolls back to the savepoint and takes the staging path.
            statement = f"COPY {target} ({columns}) FROM STDIN"
            cursor.execute("SAVEPOINT _spectra_copy")
            lines = stream()
            try:
                cursor.copy_expert(statement, lines, size=_COPY_READ_SIZE)
            except dbapi_error as error:
                if lines.error is not None or getattr(error, "pgcode", None) != _UNIQUE_VIOLATION:
                    raise
                cursor.execute("ROLLBACK TO SAVEPOINT _spectra_copy")
            else:
                cursor.execute("RELEASE SAVEPOINT _spectra_copy")
                return len(rows)
        stage = quote(f"_spectra_stage_{plan.table.name}")
        statement = (
            f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
            f"SELECT {columns} FROM {target} WITH NO DATA"
        )
        cursor.execute(statement)
        statement = f"COPY {stage} ({columns}) FROM STDIN"
        lines = stream()
        cursor.copy_expert(statement, lines, size=_COPY_READ_SIZE)
        statement = (
            f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage}"
            + plan.conflict_clause(quote, target, dialect="postgresql")
        )
        cursor.execute(statement)
        written = cursor.rowcount
        statement = f"DROP TABLE {stage}"
        cursor.execute(statement)
    except dbapi_error as error:
        if lines is not None and lines.error is not None:  # rendering a row failed
            with missing_column_is_misuse(plan):
                raise lines.error from error
        # Same exception types as every other SQLAlchemy call (IntegrityError, ...).
        raise sa_exc.DBAPIError.instance(statement, None, error, dbapi_error) from error
    finally:
        cursor.close()
    return int(written)


_UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE unique_violation


def _probably_new(
    cursor: Any, plan: Plan, rows: Sequence[Any], target: str, quote: Callable[[str], str]
) -> bool:
    """Whether neither the first nor the last row's key is stored (two index probes).

    Rows of one pull come in date order, so a re-pull over stored days finds its first
    row; a slice of days never loaded finds neither. Only a hint: the COPY it leads to is
    still checked by the primary key.
    """
    constants = plan.constant_columns
    keys = plan.keys
    where = " AND ".join(f"{quote(k)} = %s" for k in keys)
    probe = f"SELECT 1 FROM {target} WHERE {where} LIMIT 1"
    for row in (rows[0], rows[-1]):
        values = [constants[k] if k in constants else row[plan.field(k)] for k in keys]
        cursor.execute(probe, values)
        if cursor.fetchone() is not None:
            return False
    return True


def _copy_text_value(table: Table, name: str, value: Any, namespace: dict[str, Any]) -> str:
    expr = _copy_text_expr(table, name, "value", 0)
    return eval(expr, dict(namespace), {"value": value})  # fixed templates only


def _json_dumps(conn: Connection) -> Callable[[Any], str]:
    serializer = getattr(conn.dialect, "_json_serializer", None)
    return serializer or json.dumps
