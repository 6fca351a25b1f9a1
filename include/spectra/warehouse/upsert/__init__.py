"""Fast, replay-safe bulk upserts for SQLite and PostgreSQL (checksums: ``warehouse.checksums``).

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

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from spectra.warehouse.upsert.plan import Plan, TableLike, UpsertError, resolve_table
from spectra.warehouse.upsert.postgresql import upsert_postgresql
from spectra.warehouse.upsert.sqlite import (
    drop_stage_sqlite,
    merge_sqlite,
    stage_sqlite,
    upsert_sqlite,
)

__all__ = [
    "Columns",
    "StagedUpserts",
    "TableLike",
    "UpsertError",
    "bulk_upsert",
    "resolve_table",
]


class Columns:
    """Rows given column by column (``{"clicks": [...], ...}``), as API decoders produce them.

    Hundreds of thousands of per-row dicts cost more than the write itself; with columns the
    rows are C-level tuples (``zip``) addressed by position. Every column has the same length.
    ``constants`` are columns with one value for every row (the tenant, the account, the day
    of the pull): each is converted and sent once per statement, not once per row.
    """

    def __init__(
        self, columns: Mapping[str, Sequence[Any]], *, constants: Mapping[str, Any] | None = None
    ) -> None:
        self.names = tuple(columns)
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise UpsertError(f"columns differ in length: {sorted(lengths)}")
        self.length = lengths.pop() if lengths else 0
        self.values = tuple(columns.values())
        self.constants = dict(constants or {})

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
    if not len(rows):
        return 0
    plan, payload = _plan(table, rows, keys=keys, freshness_column=freshness_column)
    if not conn.in_transaction():
        # The rows go through the driver; make sure they land in a transaction the caller's
        # conn.commit() will commit (and that SQLite's BEGIN hook has run).
        conn.begin()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return upsert_sqlite(conn, plan, payload)
    if dialect == "postgresql":
        return upsert_postgresql(conn, plan, payload)
    raise UpsertError(f"bulk_upsert supports sqlite and postgresql, not {dialect!r}")


def _plan(
    table: TableLike,
    rows: Sequence[Mapping[str, Any]] | Columns,
    *,
    keys: Sequence[str],
    freshness_column: str | None,
) -> tuple[Plan, Sequence[Any]]:
    """The call's plan and its rows as the plan reads them."""
    target = resolve_table(table)
    payload: Sequence[Any]  # tuples in the plan's column order, or mappings by name
    if isinstance(rows, Columns):
        plan = Plan.build(
            target,
            dict.fromkeys(rows.names),
            keys=keys,
            freshness_column=freshness_column,
            positional=True,
            constants=rows.constants,
        )
        payload = rows.tuples()
    else:
        plan = Plan.build(target, rows[0], keys=keys, freshness_column=freshness_column)
        payload = rows
    return plan, payload


class StagedUpserts:
    """``bulk_upsert`` calls staged now and applied later, on SQLite, on one connection.

    SQLite has one write lock for the whole file: a load that holds it while its rows stream
    in from the network holds back every other writer. Staging inserts each call's rows into
    a TEMP table of the connection (its own database: no lock on the main file), so it can
    run while the next pull decodes; :meth:`merge` then applies every staged call, in order,
    inside the caller's write transaction, each as one ``INSERT ... SELECT ... ON CONFLICT``
    in key order (no Python per row while the lock is held). Same contract as
    ``bulk_upsert``; :meth:`discard` drops what a failed load left staged.
    """

    def __init__(self, conn: Connection) -> None:
        if conn.dialect.name != "sqlite":
            raise UpsertError(f"staged upserts are for sqlite, not {conn.dialect.name!r}")
        self._conn = conn
        self._staged: list[tuple[Plan, str]] = []
        self._made: list[str] = []  # every stage created (a rolled-back merge restores its own)

    def upsert(
        self,
        conn: Connection,
        table: TableLike,
        rows: Sequence[Mapping[str, Any]] | Columns,
        *,
        keys: Sequence[str],
        freshness_column: str | None = None,
    ) -> int:
        """Stage ``rows`` (``bulk_upsert``'s arguments); returns how many were staged.

        ``conn`` must be this stager's connection, outside any transaction."""
        if conn is not self._conn:
            raise UpsertError("rows must be staged on the stager's own connection")
        if conn.in_transaction():
            raise UpsertError("staging runs outside a transaction (it takes no write lock)")
        if not len(rows):
            return 0
        plan, payload = _plan(table, rows, keys=keys, freshness_column=freshness_column)
        stage = f"_spectra_stage_{len(self._made) + 1}"
        self._made.append(stage)
        stage_sqlite(conn, plan, payload, stage)
        self._staged.append((plan, stage))
        return len(rows)

    def merge(self) -> int:
        """Apply every staged call in order, in the connection's (write) transaction."""
        if not self._conn.in_transaction():
            raise UpsertError("merge runs inside the caller's write transaction")
        written = 0
        while self._staged:
            plan, stage = self._staged.pop(0)
            written += merge_sqlite(self._conn, plan, stage)
        return written

    def discard(self) -> None:
        """Drop every stage still there (a load that failed, or whose merge rolled back);
        outside any transaction."""
        self._staged.clear()
        while self._made:
            drop_stage_sqlite(self._conn, self._made.pop())
