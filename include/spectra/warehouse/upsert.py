"""Fast, replay-safe bulk upserts and content checksums for SQLite and PostgreSQL.

``bulk_upsert`` is the only way ingest writes fact tables. Its contract:

- rows are keyed by a natural key that matches a unique constraint of the table;
- a conflicting row is overwritten only when its ``freshness_column`` (e.g. ``reported_as_of``)
  is at least as fresh as the stored one, so re-pulling an old day never regresses numbers
  that Google restated later;
- rows whose values are already stored are not rewritten (no dead tuples, no WAL, no
  trigger noise), so loading the same day twice writes nothing the second time;
- the return value is the number of rows inserted or changed.

Speed comes from doing as little per-row Python as possible: each call compiles one small
row function for the column set (the same trick SQLAlchemy uses internally), SQLite gets
multi-row ``VALUES`` statements, and PostgreSQL gets a streamed ``COPY`` into a temporary
staging table followed by one ``INSERT ... SELECT ... ON CONFLICT``. Both run inside the
caller's transaction: nothing is committed here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain, islice
from operator import itemgetter
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
    UniqueConstraint,
    select,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from spectra.warehouse.models import Base

TableLike = Table | type[Any] | str

# Rows per multi-row INSERT on SQLite: large enough to amortise statement overhead, small
# enough to stay far below SQLITE_LIMIT_VARIABLE_NUMBER (32 766 by default, 999 on old builds).
_SQLITE_ROWS_PER_STATEMENT = 500
# Characters handed to the PostgreSQL COPY stream per read.
_COPY_READ_SIZE = 1 << 20


class UpsertError(ValueError):
    """The call itself is wrong (unknown column, keys without a unique constraint, ...)."""


class Columns:
    """Rows given column by column (``{"clicks": [...], ...}``), as API decoders produce them.

    Hundreds of thousands of per-row dicts cost more than the write itself; with columns the
    rows are C-level tuples (``zip``) addressed by position. Every column has the same length.
    """

    def __init__(self, columns: Mapping[str, Sequence[Any]]) -> None:
        self.names = tuple(columns)
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise UpsertError(f"columns differ in length: {sorted(lengths)}")
        self.length = lengths.pop() if lengths else 0
        self.values = tuple(columns.values())

    def __len__(self) -> int:
        return self.length

    def tuples(self) -> list[tuple[Any, ...]]:
        return list(zip(*self.values, strict=True))


def bulk_upsert(
    conn: Connection | Session,
    table: TableLike,
    rows: Sequence[Mapping[str, Any]] | Columns,
    *,
    keys: Sequence[str],
    freshness_column: str | None = None,
) -> int:
    """Insert ``rows`` or update them on conflict over ``keys``; return rows inserted or changed.

    ``rows`` is a sequence of mappings, or :class:`Columns` (the fast path for large loads).

    All rows must carry the same columns (those of the first row). Non-key columns are
    overwritten from the row; columns the rows do not carry keep their stored value on update
    and get the model's Python default on insert. With ``freshness_column``, a stored row is
    only overwritten by one whose value there is ``>=`` (a NULL stored value counts as stale).
    Duplicate keys within ``rows`` resolve as if applied in order. Runs in the caller's
    transaction; the caller commits.
    """
    if isinstance(conn, Session):
        conn = conn.connection()
    target = resolve_table(table)
    if not len(rows):
        return 0
    payload: Sequence[Any]  # tuples in the plan's column order, or mappings by name
    if isinstance(rows, Columns):
        plan = _Plan.build(
            target,
            dict.fromkeys(rows.names),
            keys=keys,
            freshness_column=freshness_column,
            positional=True,
        )
        payload = rows.tuples()
    else:
        plan = _Plan.build(target, rows[0], keys=keys, freshness_column=freshness_column)
        payload = rows
    if not conn.in_transaction():
        # The rows go through the driver; make sure they land in a transaction the caller's
        # conn.commit() will commit (and that SQLite's BEGIN hook has run).
        conn.begin()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return _upsert_sqlite(conn, plan, payload)
    if dialect == "postgresql":
        return _upsert_postgresql(conn, plan, payload)
    raise UpsertError(f"bulk_upsert supports sqlite and postgresql, not {dialect!r}")


def resolve_table(table: TableLike) -> Table:
    """Accept a Table, a mapped class or a table name of the warehouse metadata."""
    if isinstance(table, Table):
        return table
    if isinstance(table, str):
        try:
            return Base.metadata.tables[table]
        except KeyError:
            raise UpsertError(f"unknown warehouse table {table!r}") from None
    mapped = getattr(table, "__table__", None)
    if isinstance(mapped, Table):
        return mapped
    raise UpsertError(f"not a table: {table!r}")


class _Plan:
    """Everything about one call that does not depend on the individual rows."""

    def __init__(
        self,
        table: Table,
        row_columns: list[str],
        default_columns: dict[str, Any],
        keys: list[str],
        update_columns: list[str],
        freshness_column: str | None,
        positional: bool = False,
    ) -> None:
        self.positional = positional  # rows are tuples in row_columns order, not mappings
        self.table = table
        self.row_columns = row_columns
        self.default_columns = default_columns
        self.insert_columns = row_columns + list(default_columns)
        self.keys = keys
        self.update_columns = update_columns
        self.freshness_column = freshness_column

    @classmethod
    def build(
        cls,
        table: Table,
        first_row: Mapping[str, Any],
        *,
        keys: Sequence[str],
        freshness_column: str | None,
        positional: bool = False,
    ) -> _Plan:
        row_columns = list(first_row)
        unknown = [c for c in row_columns if c not in table.c]
        if unknown:
            raise UpsertError(f"{table.name}: unknown columns {unknown}")
        keys = list(keys)
        if not keys:
            raise UpsertError("keys must not be empty")
        missing_keys = [k for k in keys if k not in first_row]
        if missing_keys:
            raise UpsertError(f"{table.name}: rows lack key columns {missing_keys}")
        if not _is_unique(table, keys):
            raise UpsertError(
                f"{table.name}: keys {keys} match no primary key or unique constraint, "
                "so ON CONFLICT cannot use them"
            )
        if freshness_column is not None:
            if freshness_column not in first_row:
                raise UpsertError(f"{table.name}: rows lack freshness column {freshness_column!r}")
            if freshness_column in keys:
                raise UpsertError("the freshness column cannot be part of the key")
        default_columns: dict[str, Any] = {}
        for column in table.columns:
            if column.name in first_row or column.default is None:
                continue
            default = column.default
            if getattr(default, "is_scalar", False):
                default_columns[column.name] = default.arg  # type: ignore[attr-defined]
            elif getattr(default, "is_callable", False):
                # One value per call: a batch is one load, e.g. one created_at for all rows.
                default_columns[column.name] = default.arg(None)  # type: ignore[attr-defined]
        update_columns = [c for c in row_columns if c not in keys]
        return cls(
            table, row_columns, default_columns, keys, update_columns, freshness_column, positional
        )

    def field(self, name: str) -> Any:
        """How a row is indexed for column ``name``: its position, or its name."""
        return self.row_columns.index(name) if self.positional else name

    # ------------------------------------------------------------------ SQL pieces

    def conflict_clause(self, quote: Callable[[str], str], target: str, *, dialect: str) -> str:
        """``ON CONFLICT (...) DO UPDATE SET ... WHERE <fresher> AND <changed>``."""
        conflict = ", ".join(quote(k) for k in self.keys)
        if not self.update_columns:
            return f" ON CONFLICT ({conflict}) DO NOTHING"
        assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in self.update_columns)
        conditions = []
        if self.freshness_column is not None:
            f = quote(self.freshness_column)
            conditions.append(f"({target}.{f} IS NULL OR excluded.{f} >= {target}.{f})")
        conditions.append(self._changed_condition(quote, target, dialect=dialect))
        return f" ON CONFLICT ({conflict}) DO UPDATE SET {assignments} WHERE " + " AND ".join(
            conditions
        )

    def _changed_condition(self, quote: Callable[[str], str], target: str, *, dialect: str) -> str:
        """True when the stored row differs from the incoming one (NULL-safe)."""
        # SQLite spells IS DISTINCT FROM as IS NOT (row values since 3.15; the long form
        # only arrived in 3.39).
        operator = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"

        def side(prefix: str) -> str:
            parts = []
            for name in self.update_columns:
                expr = f"{prefix}.{quote(name)}"
                # PostgreSQL's json type has no equality operator; compare its text.
                if isinstance(self.table.c[name].type, JSON):
                    expr = f"CAST({expr} AS TEXT)"
                parts.append(expr)
            return "(" + ", ".join(parts) + ")" if len(parts) > 1 else parts[0]

        return f"{side(target)} {operator} {side('excluded')}"

    # ------------------------------------------------------------------ row functions

    def compile_row_function(
        self,
        value_expr: Callable[[str, int], str],
        namespace: dict[str, Any],
        *,
        wrap: str = "",
        with_defaults: bool = True,
    ) -> Callable[[Mapping[str, Any]], Any]:
        """Generate ``def _row(r): return <wrap>((expr(col0), expr(col1), ..., defaults))``.

        Column names only enter the source as ``repr()`` string literals, and only after
        they were checked against the table, so nothing untrusted is executed.
        """
        exprs = [
            value_expr(f"r[{self.field(name)!r}]", i) for i, name in enumerate(self.row_columns)
        ]
        if with_defaults:
            exprs += [f"_d{i}" for i in range(len(self.default_columns))]
            namespace.update({f"_d{i}": v for i, v in enumerate(self.default_columns.values())})
        source = f"def _row(r):\n    return {wrap}(({', '.join(exprs)},))\n"
        exec(source, namespace)  # generated from validated column names, see docstring
        return namespace["_row"]


def _is_unique(table: Table, keys: Sequence[str]) -> bool:
    wanted = set(keys)
    candidates = [{c.name for c in table.primary_key.columns}]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            candidates.append({c.name for c in constraint.columns})
    candidates += [{c.name for c in ix.columns} for ix in table.indexes if ix.unique]
    candidates += [{c.name} for c in table.columns if c.unique]
    return wanted in candidates


def _dedupe(plan: _Plan, rows: Sequence[Any]) -> Sequence[Any]:
    """Drop rows superseded by a later row with the same key (as sequential upserts would).

    PostgreSQL refuses to touch one row twice in a single statement, so duplicates must go
    before the INSERT ... SELECT. Fast path: one C-level pass to detect that there are none.
    """
    key_of = itemgetter(*(plan.field(k) for k in plan.keys))
    if len(set(map(key_of, rows))) == len(rows):
        return rows
    winners: dict[Any, Any] = {}
    fresh = plan.field(plan.freshness_column) if plan.freshness_column is not None else None
    for row in rows:
        key = key_of(row)
        kept = winners.get(key)
        if (
            kept is None
            or fresh is None
            or kept[fresh] is None
            or (row[fresh] is not None and row[fresh] >= kept[fresh])
        ):
            winners[key] = row
    return list(winners.values())


# --------------------------------------------------------------------------- SQLite


def _upsert_sqlite(conn: Connection, plan: _Plan, rows: Sequence[Any]) -> int:
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
    with _missing_column_is_misuse(plan):
        while batch := list(islice(values, per_statement)):
            sql = (
                full_sql
                if len(batch) == per_statement
                else (head + ", ".join([placeholders] * len(batch)) + tail)
            )
            result = conn.exec_driver_sql(sql, tuple(chain.from_iterable(batch)))
            written += result.rowcount
    return written


@contextmanager
def _missing_column_is_misuse(plan: _Plan) -> Iterator[None]:
    try:
        yield
    except KeyError as error:
        raise UpsertError(
            f"{plan.table.name}: a row lacks column {error}; "
            "every row must carry the columns of the first row"
        ) from error


# --------------------------------------------------------------------------- PostgreSQL


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


def _upsert_postgresql(conn: Connection, plan: _Plan, rows: Sequence[Any]) -> int:
    dialect = conn.dialect
    preparer = dialect.identifier_preparer
    quote = preparer.quote
    target = preparer.format_table(plan.table)
    rows = _dedupe(plan, rows)

    namespace: dict[str, Any] = {"_esc": _copy_escape, "_json": _json_dumps(conn)}

    def value_expr(expr: str, i: int) -> str:
        return _copy_text_expr(plan.table, plan.row_columns[i], expr, i)

    # Defaults are rendered once, then appended verbatim to every line.
    defaults_text = "".join(
        "\t" + _copy_text_value(plan.table, name, value, namespace)
        for name, value in plan.default_columns.items()
    )
    render = plan.compile_row_function(
        value_expr, namespace, wrap="'\\t'.join", with_defaults=False
    )
    lines = (line + defaults_text + "\n" for line in map(render, rows))

    stage = quote(f"_spectra_stage_{plan.table.name}")
    columns = ", ".join(quote(c) for c in plan.insert_columns)
    statements = [
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
        f"SELECT {columns} FROM {target} WITH NO DATA",
        f"COPY {stage} ({columns}) FROM STDIN",
        f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage}"
        + plan.conflict_clause(quote, target, dialect="postgresql"),
        f"DROP TABLE {stage}",
    ]
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    dbapi_error = dialect.loaded_dbapi.Error
    stream = _LineStream(lines)
    statement = statements[0]
    try:
        cursor.execute(statement)
        statement = statements[1]
        cursor.copy_expert(statement, stream, size=_COPY_READ_SIZE)
        statement = statements[2]
        cursor.execute(statement)
        written = cursor.rowcount
        statement = statements[3]
        cursor.execute(statement)
    except dbapi_error as error:
        if stream.error is not None:  # rendering a row failed, not the database
            with _missing_column_is_misuse(plan):
                raise stream.error from error
        # Same exception types as every other SQLAlchemy call (IntegrityError, ...).
        raise sa_exc.DBAPIError.instance(statement, None, error, dbapi_error) from error
    finally:
        cursor.close()
    return int(written)


def _copy_text_value(table: Table, name: str, value: Any, namespace: dict[str, Any]) -> str:
    expr = _copy_text_expr(table, name, "value", 0)
    return eval(expr, dict(namespace), {"value": value})  # fixed templates only


def _json_dumps(conn: Connection) -> Callable[[Any], str]:
    serializer = getattr(conn.dialect, "_json_serializer", None)
    return serializer or json.dumps


# --------------------------------------------------------------------------- checksums


def table_checksums(
    conn: Connection | Session,
    tables: Iterable[TableLike],
    *,
    tenant_id: str | None = None,
    exclude_columns: Sequence[str] = ("id",),
) -> dict[str, str]:
    """An order-independent SHA-256 of each table's content (optionally one tenant's rows).

    Meant for idempotency checks ("load day D twice -> identical checksums"). Row order and
    surrogate ids do not matter; duplicate rows do (the digest is over the sorted multiset
    of row digests). Values are normalised (aware datetimes to naive UTC, JSON with sorted
    keys), so the same content hashes alike on SQLite and PostgreSQL.
    """
    if isinstance(conn, Session):
        conn = conn.connection()
    checksums: dict[str, str] = {}
    for table_like in tables:
        table = resolve_table(table_like)
        columns = sorted(c.name for c in table.columns if c.name not in exclude_columns)
        query = select(*(table.c[c] for c in columns))
        if tenant_id is not None:
            if "tenant_id" not in table.c:
                raise UpsertError(f"{table.name} has no tenant_id column to filter on")
            query = query.where(table.c.tenant_id == tenant_id)
        normalisers: list[tuple[int, Callable[[Any], Any]]] = []
        for i, name in enumerate(columns):
            normaliser = _normaliser(table.c[name].type)
            if normaliser is not None:
                normalisers.append((i, normaliser))
        sha256 = hashlib.sha256
        row_digests: list[bytes] = []
        result = conn.execution_options(stream_results=True, yield_per=10_000).execute(query)
        for partition in result.partitions():
            for row in partition:
                values = tuple(row)
                if normalisers:
                    as_list = list(values)
                    for i, normalise in normalisers:
                        if as_list[i] is not None:
                            as_list[i] = normalise(as_list[i])
                    values = tuple(as_list)
                # repr() is exact for the Python values SQLAlchemy returns (floats
                # round-trip, dates and Decimals are unambiguous, None is not 'None').
                row_digests.append(sha256(repr(values).encode()).digest())
        row_digests.sort()
        total = sha256(repr(columns).encode())
        total.update(b"".join(row_digests))
        checksums[table.name] = total.hexdigest()
    return checksums


def _normaliser(column_type: Any) -> Callable[[Any], Any] | None:
    if isinstance(column_type, DateTime):
        return _naive_utc
    if isinstance(column_type, JSON):
        return _sorted_json
    return None


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; PostgreSQL aware ones."""
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _sorted_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
