"""SQL of the apply executor: leases with fencing tokens, the change ledger, dead letters and
multi-step operations. Every function takes a Core ``Connection`` inside the caller's
transaction and never commits; every query is scoped by ``tenant_id``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from spectra.warehouse.db import dialect_insert
from spectra.warehouse.models import (
    AppliedChange,
    ApplyLease,
    ApplyOperation,
    ApplyOperationStep,
    FailedJob,
    natural_key,
)

LEASES = ApplyLease.__table__
CHANGES = AppliedChange.__table__
FAILED = FailedJob.__table__
OPERATIONS = ApplyOperation.__table__
STEPS = ApplyOperationStep.__table__


class StaleLease(RuntimeError):
    """The writer's fencing token is no longer the scope's current one: its write is refused."""


class IdempotencyKeyReused(ValueError):
    """The idempotency key is already taken by a change with different content."""


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)  # SQLite returns naive UTC
    return value


# --------------------------------------------------------------------------- leases


def acquire_lease(
    conn: Connection,
    *,
    tenant_id: str,
    scope: str,
    holder: str,
    ttl: dt.timedelta,
    now: dt.datetime,
) -> int | None:
    """Take the scope's lease if it is free or expired; returns the new fencing token or None.

    The token is the previous one plus one, whoever held it: it never goes back, so a token
    older than the current one always means "no longer yours".
    """
    conn.execute(
        dialect_insert(conn)(LEASES)
        .values(tenant_id=tenant_id, scope=scope, token=0, holder=None)
        .on_conflict_do_nothing(index_elements=natural_key(LEASES))
    )
    row = conn.execute(
        select(LEASES.c.token, LEASES.c.holder, LEASES.c.expires_at)
        .where(LEASES.c.tenant_id == tenant_id, LEASES.c.scope == scope)
        .with_for_update()
    ).one()
    expires = _aware(row.expires_at)
    if row.holder is not None and expires is not None and expires > now:
        return None
    token = int(row.token) + 1
    conn.execute(
        update(LEASES)
        .where(LEASES.c.tenant_id == tenant_id, LEASES.c.scope == scope)
        .values(token=token, holder=holder, acquired_at=now, expires_at=now + ttl)
    )
    return token


def check_lease(
    conn: Connection,
    *,
    tenant_id: str,
    scope: str,
    token: int,
    holder: str,
    ttl: dt.timedelta,
    now: dt.datetime,
) -> None:
    """Refuse (:class:`StaleLease`) unless ``token`` is still the scope's current token held by
    ``holder``; renews the lease. The UPDATE also locks the lease row until the caller's
    transaction ends, so no one can take the lease over in the middle of the write it guards."""
    result = conn.execute(
        update(LEASES)
        .where(
            LEASES.c.tenant_id == tenant_id,
            LEASES.c.scope == scope,
            LEASES.c.token == token,
            LEASES.c.holder == holder,
        )
        .values(expires_at=now + ttl)
    )
    if result.rowcount != 1:
        current = conn.execute(
            select(LEASES.c.token).where(LEASES.c.tenant_id == tenant_id, LEASES.c.scope == scope)
        ).scalar_one_or_none()
        raise StaleLease(
            f"fencing token {token} for {scope} is stale (current token {current}); write refused"
        )


def release_lease(conn: Connection, *, tenant_id: str, scope: str, token: int, holder: str) -> bool:
    """Free the lease if it is still ours (the token stays: the next holder takes token + 1)."""
    result = conn.execute(
        update(LEASES)
        .where(
            LEASES.c.tenant_id == tenant_id,
            LEASES.c.scope == scope,
            LEASES.c.token == token,
            LEASES.c.holder == holder,
        )
        .values(holder=None, expires_at=None)
    )
    return result.rowcount == 1


def lease_token(conn: Connection, *, tenant_id: str, scope: str) -> int:
    token = conn.execute(
        select(LEASES.c.token).where(LEASES.c.tenant_id == tenant_id, LEASES.c.scope == scope)
    ).scalar_one_or_none()
    return int(token or 0)


# --------------------------------------------------------------------------- the change ledger


def insert_change(conn: Connection, *, values: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Insert a change by (tenant, idempotency key), or return the one already there.

    Returns (row, created). The same key with other content raises :class:`IdempotencyKeyReused`.
    """
    tenant_id, key = values["tenant_id"], values["idempotency_key"]
    result = conn.execute(
        dialect_insert(conn)(CHANGES)
        .values(**values)
        .on_conflict_do_nothing(index_elements=natural_key(CHANGES))
    )
    row = get_change_by_key(conn, tenant_id=tenant_id, idempotency_key=key)
    assert row is not None
    if result.rowcount == 0 and row["payload"] != values["payload"]:
        raise IdempotencyKeyReused(
            f"idempotency key {key} of tenant {tenant_id!r} already names a different change"
        )
    return row, result.rowcount == 1


def get_change_by_key(
    conn: Connection, *, tenant_id: str, idempotency_key: str
) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(CHANGES).where(
                CHANGES.c.tenant_id == tenant_id, CHANGES.c.idempotency_key == idempotency_key
            )
        )
        .mappings()
        .one_or_none()
    )
    return dict(row) if row else None


def get_changes(conn: Connection, *, tenant_id: str, ids: Iterable[int]) -> list[dict[str, Any]]:
    ids = list(ids)
    if not ids:
        return []
    rows = conn.execute(
        select(CHANGES)
        .where(CHANGES.c.tenant_id == tenant_id, CHANGES.c.id.in_(ids))
        .order_by(CHANGES.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def campaign_changes(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    phases: Sequence[str],
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The campaign's changes in ``phases`` (oldest first); with ``now``, only those not
    deferred past it."""
    query = select(CHANGES).where(
        CHANGES.c.tenant_id == tenant_id,
        CHANGES.c.customer_id == customer_id,
        CHANGES.c.campaign_id == campaign_id,
        CHANGES.c.phase.in_(list(phases)),
    )
    if now is not None:
        query = query.where(
            or_(CHANGES.c.deferred_until.is_(None), CHANGES.c.deferred_until <= now)
        )
    return [dict(r) for r in conn.execute(query.order_by(CHANGES.c.id)).mappings()]


def campaigns_with_changes(
    conn: Connection, *, tenant_id: str | None, phases: Sequence[str]
) -> list[tuple[str, int, int]]:
    """(tenant, customer, campaign) with changes in ``phases``; ``tenant_id=None`` is the one
    deliberate cross-tenant read (a resume sweep maps one run per scope it returns)."""
    query = select(CHANGES.c.tenant_id, CHANGES.c.customer_id, CHANGES.c.campaign_id).where(
        CHANGES.c.phase.in_(list(phases))
    )
    if tenant_id is not None:
        query = query.where(CHANGES.c.tenant_id == tenant_id)
    rows = conn.execute(query.distinct().order_by(*query.selected_columns)).all()
    return [(str(t), int(c), int(k)) for t, c, k in rows]


def update_change(
    conn: Connection, *, tenant_id: str, change_id: int, now: dt.datetime, **values: Any
) -> None:
    """Write a change's new phase and/or values (``attempts=CHANGES.c.attempts + 1`` works)."""
    conn.execute(
        update(CHANGES)
        .where(CHANGES.c.tenant_id == tenant_id, CHANGES.c.id == change_id)
        .values(updated_at=now, **values)
    )


def count_changes_by_phase(conn: Connection, *, tenant_id: str) -> dict[str, int]:
    rows = conn.execute(
        select(CHANGES.c.phase, func.count())
        .where(CHANGES.c.tenant_id == tenant_id)
        .group_by(CHANGES.c.phase)
    ).all()
    return {str(p): int(n) for p, n in rows}


def recorded_changes_on(
    conn: Connection, *, tenant_id: str, customer_id: int, campaign_id: int, day: dt.date
) -> list[dict[str, Any]]:
    """Applied (recorded) changes of a campaign in force from ``day``."""
    rows = conn.execute(
        select(CHANGES)
        .where(
            CHANGES.c.tenant_id == tenant_id,
            CHANGES.c.customer_id == customer_id,
            CHANGES.c.campaign_id == campaign_id,
            CHANGES.c.phase == "recorded",
            CHANGES.c.effective_date == day,
        )
        .order_by(CHANGES.c.id)
    ).mappings()
    return [dict(r) for r in rows]


# --------------------------------------------------------------------------- dead letters


def open_failed_job(
    conn: Connection, *, change: dict[str, Any], error: str, now: dt.datetime
) -> int:
    """Record (or reopen) the dead letter of a change; returns its id."""
    existing = conn.execute(
        select(FAILED.c.id).where(
            FAILED.c.tenant_id == change["tenant_id"],
            FAILED.c.idempotency_key == change["idempotency_key"],
        )
    ).scalar_one_or_none()
    if existing is None:
        return int(
            conn.execute(
                FAILED.insert()
                .values(
                    tenant_id=change["tenant_id"],
                    change_id=change["id"],
                    idempotency_key=change["idempotency_key"],
                    payload=change["payload"],
                    error=error,
                    attempts=int(change["attempts"]),
                    status="open",
                    first_failed_at=now,
                    last_failed_at=now,
                    resolution="",
                )
                .returning(FAILED.c.id)
            ).scalar_one()
        )
    conn.execute(
        update(FAILED)
        .where(FAILED.c.id == existing)
        .values(
            error=error,
            attempts=int(change["attempts"]),
            status="open",
            last_failed_at=now,
            resolved_by=None,
            resolved_at=None,
        )
    )
    return int(existing)


def list_failed_jobs(
    conn: Connection, *, tenant_id: str, status: str | None = "open"
) -> list[dict[str, Any]]:
    query = select(FAILED).where(FAILED.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(FAILED.c.status == status)
    return [dict(r) for r in conn.execute(query.order_by(FAILED.c.id)).mappings()]


def get_failed_job(
    conn: Connection, *, tenant_id: str, job_id: int, for_update: bool = False
) -> dict[str, Any] | None:
    query = select(FAILED).where(FAILED.c.tenant_id == tenant_id, FAILED.c.id == job_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).mappings().one_or_none()
    return dict(row) if row else None


def resolve_failed_job(
    conn: Connection,
    *,
    tenant_id: str,
    job_id: int,
    status: str,
    by: str,
    resolution: str,
    now: dt.datetime,
) -> bool:
    """Mark an *open* job retried or discarded; False if it was not open (already resolved)."""
    result = conn.execute(
        update(FAILED)
        .where(
            and_(FAILED.c.tenant_id == tenant_id, FAILED.c.id == job_id, FAILED.c.status == "open")
        )
        .values(status=status, resolved_by=by, resolution=resolution, resolved_at=now)
    )
    return result.rowcount == 1


# --------------------------------------------------------------------------- operations


def get_or_create_operation(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    operation_key: str,
    kind: str,
    spec: dict[str, Any],
    now: dt.datetime,
) -> tuple[dict[str, Any], bool]:
    """The operation by (tenant, key), inserted ``running`` if new; returns (row, created).
    The same key with another spec raises :class:`IdempotencyKeyReused`."""
    result = conn.execute(
        dialect_insert(conn)(OPERATIONS)
        .values(
            tenant_id=tenant_id,
            customer_id=customer_id,
            operation_key=operation_key,
            kind=kind,
            status="running",
            spec=spec,
            error="",
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=natural_key(OPERATIONS))
    )
    row = (
        conn.execute(
            select(OPERATIONS).where(
                OPERATIONS.c.tenant_id == tenant_id, OPERATIONS.c.operation_key == operation_key
            )
        )
        .mappings()
        .one()
    )
    if row["spec"] != spec:
        raise IdempotencyKeyReused(
            f"operation key {operation_key} of tenant {tenant_id!r} already names another operation"
        )
    return dict(row), result.rowcount == 1


def operation_steps(conn: Connection, *, operation_id: int) -> dict[str, dict[str, Any]]:
    rows = conn.execute(select(STEPS).where(STEPS.c.operation_id == operation_id)).mappings()
    return {str(r["step"]): dict(r) for r in rows}


def set_operation_status(
    conn: Connection,
    *,
    tenant_id: str,
    operation_id: int,
    status: str,
    error: str,
    now: dt.datetime,
    deferred_until: dt.datetime | None = None,
) -> None:
    conn.execute(
        update(OPERATIONS)
        .where(OPERATIONS.c.tenant_id == tenant_id, OPERATIONS.c.id == operation_id)
        .values(status=status, error=error, updated_at=now, deferred_until=deferred_until)
    )


def harmful_final_effects(
    conn: Connection, *, tenant_id: str, customer_id: int, logical_date: dt.date
) -> list[tuple[int, dt.date, str, float]]:
    """(campaign, change day, metric, effect %) judged ``worsened`` at their final look."""
    from spectra.warehouse.models import ChangeEffectRow as E

    rows = conn.execute(
        select(E.campaign_id, E.change_date, E.metric, E.did_pct)
        .where(
            E.tenant_id == tenant_id,
            E.customer_id == customer_id,
            E.logical_date == logical_date,
            E.look == "final",
            E.verdict == "worsened",
        )
        .order_by(E.campaign_id, E.change_date, E.metric)
    ).all()
    seen: set[tuple[int, dt.date]] = set()
    out = []
    for campaign_id, change_date, metric, did_pct in rows:
        if (int(campaign_id), change_date) in seen:
            continue
        seen.add((int(campaign_id), change_date))
        out.append((int(campaign_id), change_date, str(metric), float(did_pct or 0.0)))
    return out


def get_operation(conn: Connection, *, tenant_id: str, operation_key: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(OPERATIONS).where(
                OPERATIONS.c.tenant_id == tenant_id, OPERATIONS.c.operation_key == operation_key
            )
        )
        .mappings()
        .one_or_none()
    )
    return dict(row) if row else None


def operations_with_status(
    conn: Connection,
    *,
    tenant_id: str | None,
    status: str,
    kind: str | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Operations in ``status`` (oldest first); with ``now``, only those not deferred past it.
    ``tenant_id=None`` is a deliberate cross-tenant read for a resume sweep, which then works
    each operation under its own tenant."""
    query = select(OPERATIONS).where(OPERATIONS.c.status == status)
    if now is not None:
        query = query.where(
            or_(OPERATIONS.c.deferred_until.is_(None), OPERATIONS.c.deferred_until <= now)
        )
    if tenant_id is not None:
        query = query.where(OPERATIONS.c.tenant_id == tenant_id)
    if kind is not None:
        query = query.where(OPERATIONS.c.kind == kind)
    return [dict(r) for r in conn.execute(query.order_by(OPERATIONS.c.id)).mappings()]


def save_step(
    conn: Connection,
    *,
    operation_id: int,
    step: str,
    result: dict[str, Any],
    found_existing: bool,
    now: dt.datetime,
    overwrite: bool = True,
) -> None:
    """Write a step row: overwrite it (a recovery point whose result grows, e.g. a send
    count), or with ``overwrite=False`` insert it once (a step done twice keeps the first)."""
    values = {"result": result, "found_existing": found_existing, "completed_at": now}
    insert = dialect_insert(conn)(STEPS).values(operation_id=operation_id, step=step, **values)
    keys = natural_key(STEPS)
    conn.execute(
        insert.on_conflict_do_update(index_elements=keys, set_=values)
        if overwrite
        else insert.on_conflict_do_nothing(index_elements=keys)
    )
