"""What every monitor does the same way: its status changes are approved changes of origin
``monitor``, applied through the apply executor at the run's instant, and each outcome is read
back from the ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

import pybreaker
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.apply.executor import ApplyConfig, ChangeOutcome, apply_changes
from spectra.domain.changes import ApprovedChange, EntityRef, Origin, OriginKind
from spectra.warehouse import monitor_store as store

ACTOR = "spectra-monitor"


class JsonReport:
    """``as_dict`` for the monitors' report dataclasses: small and JSON-ready, since a report
    travels by XCom; dates and instants become ISO strings, everything else is already plain."""

    def as_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items()}


def status_change(
    *,
    tenant_id: str,
    customer_id: int,
    entity: EntityRef,
    target: str,
    ref: str,
    reasoning: str,
    evidence_ids: Sequence[str] = (),
) -> ApprovedChange:
    """Pause or enable one entity; ``ref`` names the monitor, the action and the run's instant,
    so a re-run of the same run finds the same idempotency key."""
    return ApprovedChange(
        tenant_id=tenant_id,
        customer_id=customer_id,
        entity=entity,
        field="status",
        target=target,
        origin=Origin(kind=OriginKind.MONITOR, ref=ref, actor=ACTOR),
        reasoning=reasoning,
        evidence_ids=tuple(evidence_ids),
    )


def apply_at(
    engine: Engine,
    client: Any,
    changes: Sequence[ApprovedChange],
    *,
    clock: dt.datetime,
    creds: AdsCredentials | None,
    apply_config: ApplyConfig | None,
    breaker: pybreaker.CircuitBreaker | None,
) -> dict[str, ChangeOutcome]:
    """Apply ``changes`` through the executor at the run's instant; outcomes by key."""
    if not changes:
        return {}
    config = replace(apply_config or ApplyConfig(actor=ACTOR), as_of=clock)
    report = apply_changes(engine, client, changes, creds=creds, config=config, breaker=breaker)
    return report.outcomes


def publish_alerts(
    engine: Engine,
    *,
    tenant_id: str,
    customer_id: int,
    monitor: str,
    alerts: Sequence[dict[str, Any]],
    seen: set[str],
    now: dt.datetime,
) -> int:
    """Raise this run's alerts, resolve the monitor's others; the number of outbox events."""
    events = 0
    with engine.begin() as conn:
        for alert in alerts:
            change = store.raise_alert(
                conn,
                tenant_id=tenant_id,
                customer_id=customer_id,
                monitor=monitor,
                now=now,
                **alert,
            )
            events += bool(change.event)
        resolved = store.resolve_absent(
            conn,
            tenant_id=tenant_id,
            customer_id=customer_id,
            monitor=monitor,
            seen=seen | {a["dedup_key"] for a in alerts},
            now=now,
        )
    return events + len(resolved)


def applied(outcomes: dict[str, ChangeOutcome], change: ApprovedChange) -> bool:
    outcome = outcomes.get(change.idempotency_key)
    return outcome is not None and outcome.outcome == "applied"


def failure(outcomes: dict[str, ChangeOutcome], change: ApprovedChange) -> str:
    outcome = outcomes.get(change.idempotency_key)
    if outcome is None:
        return "not applied (the campaign was busy with another writer)"
    return outcome.error or outcome.outcome


__all__ = ["ACTOR", "applied", "apply_at", "failure", "publish_alerts", "status_change"]
