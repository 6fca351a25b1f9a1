"""Bodies of ``spectra_apply``'s tasks: proposals -> guardrails -> approval -> rate limit -> apply.

XCom carries proposal ids and verdicts (:func:`spectra.guardrails.proposals._item`); the rows
stay in the warehouse. Approvals are Airflow's own HITL operator; who answered is checked in
:mod:`spectra.guardrails.proposals` against the tenant's roles, because Airflow's auth managers
are not per tenant.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)


def scopes_of_run(
    events: Iterable[Any], params: Mapping[str, Any], *, day: dt.date | None
) -> list[dict[str, Any]]:
    """Which accounts' proposals of which day this run takes.

    Asset-triggered: each ``proposals`` event names its account and day in its ``extra``
    (the daily run's ``propose`` task sets it); an event without one (an older producer)
    stands for every account of its source run, read from the proposals' ``dag_run_id``.
    Triggered by hand: ``params.tenant_id`` (and ``params.day``, default the run's logical
    date; asset-triggered runs have none)."""
    from spectra.guardrails.proposals import Scope
    from spectra.warehouse.db import make_engine

    scopes: set[Scope] = set()
    source_runs: set[str] = set()
    for event in events:
        extra = getattr(event, "extra", None) or {}
        if {"tenant_id", "customer_id", "logical_date"} <= set(extra):
            scopes.add(Scope.of(extra))
        elif getattr(event, "source_run_id", None):
            source_runs.add(str(event.source_run_id))
    if source_runs:
        from spectra.warehouse.agent_store import proposal_scopes_of_runs

        engine = make_engine()
        try:
            with engine.connect() as conn:
                rows = proposal_scopes_of_runs(conn, sorted(source_runs))
        finally:
            engine.dispose()
        scopes |= {Scope(t, int(c), d) for t, c, d in rows}
    if not scopes and params.get("tenant_id"):
        wanted = dt.date.fromisoformat(params["day"]) if params.get("day") else day
        if wanted is None:
            raise ValueError(
                "a run by hand needs params.day (YYYY-MM-DD) when it has no logical date"
            )
        from spectra.warehouse.repositories import list_active_accounts

        engine = make_engine()
        try:
            with engine.connect() as conn:
                accounts = list_active_accounts(conn, tenant_id=params["tenant_id"])
        finally:
            engine.dispose()
        scopes = {Scope(a.tenant_id, int(a.customer_id), wanted) for a in accounts}
    return [s.as_dict() for s in sorted(scopes, key=lambda s: (s.tenant_id, s.customer_id))]


def guard(scopes: Sequence[Mapping[str, Any]], *, run_id: str) -> list[dict[str, Any]]:
    """Every guardrail on every proposal of the scopes; verdicts stored on the proposals."""
    from spectra.guardrails import proposals
    from spectra.guardrails.config import load_config
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        items = proposals.guard_proposals(
            engine,
            [proposals.Scope.of(s) for s in scopes],
            run_id=run_id,
            config=load_config(),
        )
    finally:
        engine.dispose()
    for item in items:
        log.info(
            "proposal %s (%s, campaign %s): %s — %s",
            item["proposal_id"],
            item["kind"],
            item["campaign_id"],
            item["guardrail_status"],
            item["reason"],
        )
    return items


def autopilot(guarded: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Proposals that passed every guardrail and need nobody (the tenant's autopilot is on)."""
    return [dict(i) for i in guarded if i["guardrail_status"] == "accepted"]


def approval_bodies(guarded: Sequence[Mapping[str, Any]]) -> list[str]:
    """The Required Actions to open, one per proposal that needs a person."""
    from spectra.guardrails import proposals
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        return proposals.request_approvals(engine, guarded)
    finally:
        engine.dispose()


def approved(
    guarded: Sequence[Mapping[str, Any]], responses: Sequence[Mapping[str, Any] | None] | None
) -> list[dict[str, Any]]:
    """The answers onto the proposals; the ones approved by a tenant's approver go on."""
    from spectra.guardrails import proposals
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        out = proposals.record_answers(engine, guarded, list(responses or []))
    finally:
        engine.dispose()
    log.info("approved: %s", [i["proposal_id"] for i in out] or "none")
    return out


def rate_limit_ready(item: Mapping[str, Any], *, now: dt.datetime | None = None) -> bool:
    """The sensor's poke: may this proposal's change go out now?"""
    from spectra.guardrails import proposals, service
    from spectra.guardrails.config import load_config
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        candidate = proposals.candidate_of(
            engine, tenant_id=item["tenant_id"], proposal_id=int(item["proposal_id"])
        )
        wait = service.rate_limit_status(engine, candidate, now=now, config=load_config())
    finally:
        engine.dispose()
    log.info("proposal %s: %s", item["proposal_id"], wait.reason)
    return wait.ready


def apply(item: Mapping[str, Any], *, conn_id: str) -> dict[str, Any]:
    """The executor applies one approved proposal; its outcome lands on the proposal.

    The change takes effect when the daily run of the proposal's day has pulled (the next day,
    06:00 UTC: ``domain.clock.daily_pull_instant``; the ledger's ``effective_date``, the
    sandbox's clock), whatever the apply run's own date: the learning window counts from it.
    Never from the start of the proposal's day, which had already passed: measured in the
    closed-loop evaluation, a budget raised "from the start" of a day the spend monitor had
    already watched overspent that day past its limit (1 of 3 seeds, tracking_outage)."""
    from spectra.airflow.hooks import GoogleAdsHook
    from spectra.apply.executor import ApplyConfig, apply_changes
    from spectra.domain.clock import daily_pull_instant
    from spectra.guardrails import proposals
    from spectra.warehouse.db import make_engine

    tenant, pid = item["tenant_id"], int(item["proposal_id"])
    client, creds = GoogleAdsHook(conn_id).get_conn()
    engine = make_engine()
    try:
        change, day = proposals.change_of(engine, tenant_id=tenant, proposal_id=pid)
        report = apply_changes(
            engine, client, [change], creds=creds,
            config=ApplyConfig(as_of=daily_pull_instant(day)),
        )  # fmt: skip
        outcome = report.outcomes.get(change.idempotency_key)
        result = outcome.outcome if outcome else "deferred"
        detail = outcome.error if outcome else report.deferred.get(change.idempotency_key, "")
        proposals.record_applied(
            engine, tenant_id=tenant, proposal_id=pid, outcome=result, detail=detail
        )
    finally:
        engine.dispose()
    log.info("proposal %s: %s %s", pid, result, detail)
    return {"proposal_id": pid, "outcome": result}
