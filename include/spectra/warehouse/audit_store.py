"""Storage of the hash-chained audit log: append under the chain head's lock, read in order.

Appends serialise per tenant on the ``audit_chain_heads`` row (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite's write transactions are serial already), so ``seq`` is dense and every
row links to the one before it. An append is three statements (lock the head, insert the row,
move the head); the head row is created only by a tenant's first append. An append joins the caller's transaction: the audit row of a
phase commits, or rolls back, with the phase itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from spectra.domain.audit import GENESIS, HASHED_FIELDS, row_hash
from spectra.warehouse.db import dialect_insert
from spectra.warehouse.models import AuditChainHead, AuditRow, natural_key

# What a caller records: every hashed field but those the append sets (tenant, seq, time).
AUDIT_COLUMNS = tuple(f for f in HASHED_FIELDS if f not in ("tenant_id", "seq", "recorded_at"))


# Built once: the executor appends a row per phase of every change (six a change), and a
# statement built per call (``insert().values(**row)``) cost as much again as running it.
_HEAD = AuditChainHead.__table__
_LOCK_HEAD = (
    select(_HEAD.c.seq, _HEAD.c.row_hash)
    .where(_HEAD.c.tenant_id == bindparam("tenant"))
    .with_for_update()
)
_INSERT_ROW = insert(AuditRow.__table__)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.tenant_id == bindparam("tenant"))
    .values(seq=bindparam("new_seq"), row_hash=bindparam("new_hash"))
)


def append_audit_row(conn: Connection, *, tenant_id: str, fields: Mapping[str, Any]) -> int:
    """Append one row to the tenant's chain (inside the caller's transaction); returns its seq."""
    unknown = set(fields) - set(AUDIT_COLUMNS)
    if unknown:
        raise TypeError(f"unknown audit fields: {sorted(unknown)}")
    head = conn.execute(_LOCK_HEAD, {"tenant": tenant_id}).one_or_none()
    if head is None:
        # A tenant's first append: the head row is created before it is locked. Two first
        # appends would otherwise both find no row to lock and both write seq 1 (seen with two
        # executor processes on PostgreSQL); ON CONFLICT DO NOTHING makes the second wait for
        # the first to commit, and its lock then reads the first one's head.
        conn.execute(
            dialect_insert(conn)(AuditChainHead)
            .values(tenant_id=tenant_id, seq=0, row_hash=GENESIS)
            .on_conflict_do_nothing(index_elements=natural_key(AuditChainHead))
        )
        head = conn.execute(_LOCK_HEAD, {"tenant": tenant_id}).one()
    prev_seq, prev_hash = int(head[0]), str(head[1])
    row: dict[str, Any] = {
        "actor": "system",
        "entity": "",
        "change_key": None,
        "before": None,
        "after": None,
        "reasoning": "",
        "evidence_ids": [],
        "prompt_version": None,
        "request_id": None,
        "detail": {},
        **fields,
        "tenant_id": tenant_id,
        "seq": prev_seq + 1,
        # microseconds survive both backends; the hash is computed on exactly what is stored
        "recorded_at": dt.datetime.now(dt.UTC),
    }
    row["evidence_ids"] = list(row["evidence_ids"] or [])
    row["detail"] = dict(row["detail"] or {})
    row["prev_hash"] = prev_hash
    row["row_hash"] = row_hash(prev_hash, row)
    conn.execute(_INSERT_ROW, row)
    conn.execute(
        _MOVE_HEAD, {"tenant": tenant_id, "new_seq": row["seq"], "new_hash": row["row_hash"]}
    )
    return int(row["seq"])


def audit_rows(conn: Connection, *, tenant_id: str) -> Iterator[dict[str, Any]]:
    """The tenant's audit rows in chain order, as dicts of every column."""
    cols = AuditRow.__table__.c
    result = conn.execute(
        select(AuditRow.__table__).where(cols.tenant_id == tenant_id).order_by(cols.seq)
    )
    for row in result.mappings():
        yield dict(row)


def chain_head(conn: Connection, *, tenant_id: str) -> tuple[int, str] | None:
    head = conn.execute(
        select(AuditChainHead.seq, AuditChainHead.row_hash).where(
            AuditChainHead.tenant_id == tenant_id
        )
    ).one_or_none()
    return (int(head[0]), str(head[1])) if head else None


def audited_tenants(conn: Connection) -> list[str]:
    """Every tenant with an audit chain (for ``spectra audit verify`` over all of them)."""
    return list(
        conn.execute(select(AuditChainHead.tenant_id).order_by(AuditChainHead.tenant_id)).scalars()
    )


__all__ = ["AUDIT_COLUMNS", "append_audit_row", "audit_rows", "audited_tenants", "chain_head"]
