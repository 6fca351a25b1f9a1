"""Order-independent content checksums of warehouse tables: the idempotency proofs' measure
(load a day twice -> identical checksums) on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    select,
)
from sqlalchemy.orm import Session

from spectra.warehouse.upsert.plan import TableLike, UpsertError, resolve_table


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
