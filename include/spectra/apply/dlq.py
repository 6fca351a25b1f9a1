"""Dead letters: changes that exhausted their retries wait in ``failed_jobs`` for a person.

``retry`` puts the change back on the normal path (phase ``approved``, then lock, phases and
read-before-send), so a dead letter whose mutation did land after all is found at its target and
recorded without a second send. A job can be retried or discarded once; discarding needs a
reason and, like a retry, is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pybreaker
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.domain.changes import Phase, advance
from spectra.observability import audit
from spectra.warehouse import apply_store as store


class DeadLetterNotFound(LookupError):
    """No dead letter with this id for the tenant."""


class DeadLetterNotOpen(ValueError):
    """The dead letter was already retried or discarded."""


def list_dead_letters(
    engine: Engine, *, tenant_id: str, status: str | None = "open"
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return store.list_failed_jobs(conn, tenant_id=tenant_id, status=status)


def show_dead_letter(engine: Engine, *, tenant_id: str, job_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        job = store.get_failed_job(conn, tenant_id=tenant_id, job_id=job_id)
        if job is None:
            raise DeadLetterNotFound(f"no dead letter {job_id} for tenant {tenant_id!r}")
        change = store.get_changes(conn, tenant_id=tenant_id, ids=[job["change_id"]])
    return {**job, "change": change[0] if change else None}


def _resolve(
    engine: Engine, *, tenant_id: str, job_id: int, status: str, actor: str, reason: str
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        job = store.get_failed_job(conn, tenant_id=tenant_id, job_id=job_id, for_update=True)
        if job is None:
            raise DeadLetterNotFound(f"no dead letter {job_id} for tenant {tenant_id!r}")
        if not store.resolve_failed_job(
            conn,
            tenant_id=tenant_id,
            job_id=job_id,
            status=status,
            by=actor,
            resolution=reason,
            now=now,
        ):
            raise DeadLetterNotOpen(f"dead letter {job_id} is {job['status']}, not open")
        change = store.get_changes(conn, tenant_id=tenant_id, ids=[job["change_id"]])[0]
        phase = advance(change["phase"], Phase.APPROVED if status == "retried" else Phase.REJECTED)
        store.update_change(
            conn,
            tenant_id=tenant_id,
            change_id=change["id"],
            now=now,
            phase=phase.value,
            attempts=0 if status == "retried" else change["attempts"],
            error="" if status == "retried" else f"discarded: {reason}",
            deferred_until=None,
        )
        audit.record(
            conn,
            tenant_id=tenant_id,
            action="dlq_retry" if status == "retried" else "dlq_discard",
            actor=actor,
            entity=change["entity_key"],
            change_key=change["idempotency_key"],
            reasoning=reason,
            detail={"failed_job": job_id, "error": job["error"], "attempts": job["attempts"]},
        )
    return change


def retry_dead_letter(
    engine: Engine,
    client: Any,
    *,
    tenant_id: str,
    job_id: int,
    actor: str,
    creds: AdsCredentials | None = None,
    config: Any = None,
    breaker: pybreaker.CircuitBreaker | None = None,
) -> str:
    """Re-enter the normal path with a fresh attempt budget; returns the change's outcome."""
    from spectra.apply.executor import ApplyConfig, Executor

    change = _resolve(
        engine,
        tenant_id=tenant_id,
        job_id=job_id,
        status="retried",
        actor=actor,
        reason="retried from the dead-letter queue",
    )
    ex = Executor(engine, client, creds=creds, config=config or ApplyConfig(), breaker=breaker)
    report = ex.run_campaign(tenant_id, int(change["customer_id"]), int(change["campaign_id"]))
    outcome = report.outcomes.get(change["idempotency_key"])
    return outcome.outcome if outcome else "pending"


def discard_dead_letter(
    engine: Engine, *, tenant_id: str, job_id: int, actor: str, reason: str
) -> None:
    """Give up on a dead letter (the change ends rejected); ``reason`` is required and audited."""
    if not reason.strip():
        raise ValueError("discarding a dead letter needs a reason")
    _resolve(
        engine, tenant_id=tenant_id, job_id=job_id, status="discarded", actor=actor, reason=reason
    )


__all__ = [
    "DeadLetterNotFound",
    "DeadLetterNotOpen",
    "discard_dead_letter",
    "list_dead_letters",
    "retry_dead_letter",
    "show_dead_letter",
]
