"""The guardrails service: gather a candidate's facts from the warehouse, run the rules,
store the decision and audit it; locks, roles and autopilot with their permission checks.

Entry points take an ``Engine`` and primitives (Cosmic Python's service layer); the rules
themselves are pure (:mod:`spectra.guardrails.rules`), the SQL is in
:mod:`spectra.warehouse.guardrail_store`. A refused action is audited *and* committed before
:class:`PermissionDenied` is raised, so the refusal is never lost with the caller's rollback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine

from spectra.analytics.search_terms import campaign_term_tests, parse_evidence_id
from spectra.domain.changes import EntityKind
from spectra.guardrails.candidate import (
    CandidateChange,
    Evidence,
    Lock,
    ManualEdit,
    RecentChange,
    SpendLimits,
    StructureCounts,
    Value,
)
from spectra.guardrails.config import GuardrailConfig
from spectra.guardrails.permissions import Action, PermissionDenied, Role, allows
from spectra.guardrails.ratelimit import (
    OPERATIONS_WINDOW,
    RateWait,
    rate_limit,
)
from spectra.guardrails.rules import (
    Decision,
    Facts,
    evaluate,
    is_significant,
    learning_window_free_at,
)
from spectra.observability import audit
from spectra.warehouse import guardrail_store as store
from spectra.warehouse.agent_store import search_term_totals

# how far back "converting" looks for the pause-of-a-converting-entity approval rule
CONVERTING_LOOKBACK_DAYS = 30


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_instant(value: dt.date | dt.datetime) -> dt.datetime:
    """A logical date is its midnight UTC; a naive datetime is UTC."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)


# --------------------------------------------------------------------------- facts


def _value(v: Any) -> Value | None:
    return v if isinstance(v, int | str) and not isinstance(v, bool) else None


def recent_changes(
    conn: Connection, *, tenant_id: str, customer_id: int, campaign_id: int
) -> list[RecentChange]:
    """The campaign's ledger as the learning-rate rule reads it. A change is dated by the
    logical day it took effect (the executor's ``effective_date``, which is the run's
    logical date), so re-runs and backfills see the same window wherever they run."""
    out = []
    for row in store.campaign_ledger(
        conn, tenant_id=tenant_id, customer_id=customer_id, campaign_id=campaign_id
    ):
        effective = row["effective_date"]
        at = as_instant(effective) if effective is not None else store.aware(row["created_at"])
        assert at is not None
        before = row["before_value"]
        if before is None:  # not read back yet: the proposal's own current value, if any
            before = (row["payload"] or {}).get("current")
        out.append(
            RecentChange(
                campaign_id=int(row["campaign_id"]),
                entity_key=row["entity_key"],
                field=row["field"],
                effective_at=at,
                before=_value(before),
                after=_value(
                    row["after_value"] if row["after_value"] is not None else row["target"]
                ),
                origin_kind=row["origin_kind"],
                idempotency_key=row["idempotency_key"],
            )
        )
    return out


def _evidence(rows: Sequence[dict[str, Any]]) -> list[Evidence]:
    """A verdict is significant when BH-adjusted significant; lag-complete when its day's
    lag curve was usable and its test window ends by the day conversions are complete
    through; seasonally adjusted when its run fitted a seasonal profile."""
    out = []
    for r in rows:
        usable = bool(r["lag_usable"])
        until = r["conversions_until"]
        seasonal = bool(r["seasonality"])
        if r["kind"] == "verdict":
            complete = usable and (until is None or r["test_end"] <= until)
            out.append(
                Evidence(
                    evidence_id=f"verdict:{r['id']}",
                    kind="verdict",
                    campaign_id=r["campaign_id"],
                    entity_id=r["entity_id"],
                    significant=r["verdict"] in ("significant_increase", "significant_decrease"),
                    lag_complete=complete,
                    seasonally_adjusted=seasonal,
                )
            )
        else:
            out.append(
                Evidence(
                    evidence_id=f"envelope:{r['id']}",
                    kind="envelope",
                    campaign_id=r["campaign_id"],
                    entity_id=r["entity_id"],
                    significant=r["direction"] != "hold",
                    lag_complete=usable,
                    seasonally_adjusted=seasonal,
                    direction=r["direction"],
                    max_change_pct=float(r["max_change_pct"]),
                )
            )
    return out


def gather_facts(
    conn: Connection,
    candidate: CandidateChange,
    *,
    as_of: dt.datetime,
    now: dt.datetime,
    config: GuardrailConfig,
    flight_end: dt.date | None = None,
    flight_start: dt.date | None = None,
) -> Facts:
    """Read everything the rules need about one candidate (tenant-scoped)."""
    t, c, camp = candidate.tenant_id, candidate.customer_id, candidate.campaign_id
    cfg = config.for_tenant(t)
    locks = [
        Lock(
            lock_id=r["id"],
            campaign_id=r["campaign_id"],
            field=r["field"],
            created_by=r["created_by"],
            expires_at=r["expires_at"],
            reason=r["reason"],
            lifted_at=r["lifted_at"],
        )
        for r in store.campaign_locks(conn, tenant_id=t, customer_id=c, campaign_id=camp, now=now)
    ]
    edits = [
        ManualEdit(
            resource_name=r["change_resource_name"],
            resource_type=r["resource_type"],
            campaign_id=r["campaign_id"],
            changed_at=r["changed_at"],
            client_type=r["client_type"],
            user_email=r["user_email"],
        )
        for r in store.change_events_since(
            conn, tenant_id=t, customer_id=c, campaign_id=camp, since=as_of - cfg.cooloff
        )
    ]
    limits_row = store.campaign_limits(conn, tenant_id=t, customer_id=c, campaign_id=camp) or {}
    # the flight: the caller's (a launch plans one), else the campaign's stored dates
    flight_end = flight_end or limits_row.get("flight_end")
    flight_start = flight_start or limits_row.get("flight_start")
    day = as_of.date()
    days_remaining = (flight_end - day).days + 1 if flight_end is not None else None
    spent = store.campaign_spend(
        conn, tenant_id=t, customer_id=c, campaign_id=camp, since=flight_start, until=day
    )
    limits = SpendLimits(
        max_daily_spend_micros=limits_row.get("max_daily_spend_micros"),
        total_spend_limit_micros=limits_row.get("total_spend_limit_micros"),
        spent_micros=spent,
        days_remaining=days_remaining,
    )
    counts = StructureCounts(
        **store.structure_counts(
            conn,
            tenant_id=t,
            customer_id=c,
            campaign_id=camp,
            ad_group_id=candidate.entity.ad_group_id,
        ),
    )
    evidence = _evidence(
        store.evidence_rows(conn, tenant_id=t, evidence_ids=candidate.evidence_ids)
    ) + _search_term_evidence(conn, tenant_id=t, evidence_ids=candidate.evidence_ids)
    converting = False
    if candidate.proposed == "PAUSED":
        level, eid, ag = _perf_key(candidate)
        converting = (
            store.entity_conversions(
                conn,
                tenant_id=t,
                customer_id=c,
                level=level,
                entity_id=eid,
                ad_group_id=ag,
                since=day - dt.timedelta(days=CONVERTING_LOOKBACK_DAYS),
                until=day,
            )
            > 0
        )
    outage_days = store.tracking_outage_days(
        conn,
        tenant_id=t,
        customer_id=c,
        since=day - dt.timedelta(days=cfg.outage_hold_days),
        until=day,
    )
    return Facts(
        as_of=as_of,
        now=now,
        recent=recent_changes(conn, tenant_id=t, customer_id=c, campaign_id=camp),
        locks=locks,
        edits=edits,
        limits=limits,
        counts=counts,
        evidence=evidence,
        autopilot=store.autopilot_of(conn, tenant_id=t),
        converting=converting,
        outage_days=outage_days,
    )


def _perf_key(candidate: CandidateChange) -> tuple[str, int, int]:
    """(level, entity_id, ad_group_id) of the entity's performance rows."""
    e = candidate.entity
    if e.kind == EntityKind.KEYWORD:
        return "keyword", int(e.criterion_id or 0), int(e.ad_group_id or 0)
    if e.kind == EntityKind.AD_GROUP:
        return "ad_group", int(e.ad_group_id or 0), int(e.ad_group_id or 0)
    return "campaign", e.campaign_id, 0


def _search_term_evidence(
    conn: Connection, *, tenant_id: str, evidence_ids: Sequence[str]
) -> list[Evidence]:
    """Search-term evidence re-derived from the warehouse: the window's sums read again and
    the agent's test (analytics.search_terms) run again, so an id cannot claim more than the
    data shows. A term the window does not have is absent (the gate says "not found")."""
    out = []
    for evidence_id in evidence_ids:
        parsed = parse_evidence_id(evidence_id)
        if parsed is None:
            continue
        campaign_id, key, since, until = parsed
        rows = search_term_totals(
            conn, tenant_id=tenant_id, campaign_id=campaign_id, since=since, until=until
        )
        test = campaign_term_tests(rows).get((campaign_id, key))
        if test is None:
            continue
        out.append(
            Evidence(
                evidence_id=evidence_id,
                kind="search_term",
                campaign_id=campaign_id,
                entity_id=None,
                significant=test.conversions == 0 and test.significant(),
                # the term and its campaign share the window: lag and seasonality cancel
                lag_complete=True,
                seasonally_adjusted=True,
                term_key=key,
                notes=(test.describe(),),
            )
        )
    return out


# --------------------------------------------------------------------------- check


def check(
    engine: Engine,
    candidate: CandidateChange,
    *,
    as_of: dt.date | dt.datetime,
    config: GuardrailConfig | None = None,
    now: dt.datetime | None = None,
    flight_end: dt.date | None = None,
    flight_start: dt.date | None = None,
    pending: Sequence[RecentChange] = (),
) -> Decision:
    """Judge one candidate, store the decision (a re-run replaces it) and audit it.

    ``pending`` are changes accepted earlier in the same batch, not in the ledger yet: they
    occupy the learning window like applied ones: the batch's changes of one campaign in
    force together are one change set, and one entity cannot change twice in it."""
    cfg = config or GuardrailConfig()
    at = as_instant(as_of)
    wall = now or _now()
    with engine.begin() as conn:
        facts = gather_facts(
            conn,
            candidate,
            as_of=at,
            now=wall,
            config=cfg,
            flight_end=flight_end,
            flight_start=flight_start,
        )
        if pending:
            facts = replace(facts, recent=[*facts.recent, *pending])
        decision = evaluate(candidate, facts, config=cfg)
        record_decision(conn, candidate, decision, as_of=at, now=wall)
    return decision


def as_pending(candidate: CandidateChange, *, as_of: dt.date | dt.datetime) -> RecentChange:
    """An accepted candidate as a change of the batch (for ``check(..., pending=...)``)."""
    return RecentChange(
        campaign_id=candidate.campaign_id,
        entity_key=candidate.entity.key,
        field=candidate.field,
        effective_at=candidate.effective_at or as_instant(as_of),
        before=candidate.current,
        after=candidate.proposed,
        origin_kind=candidate.origin.kind.value,
        idempotency_key=candidate.ref,
    )


def record_decision(
    conn: Connection,
    candidate: CandidateChange,
    decision: Decision,
    *,
    as_of: dt.datetime,
    now: dt.datetime,
) -> None:
    store.upsert_decision(
        conn,
        values={
            "tenant_id": candidate.tenant_id,
            "customer_id": candidate.customer_id,
            "campaign_id": candidate.campaign_id,
            "candidate_ref": candidate.ref,
            "entity_key": candidate.entity.key,
            "field": candidate.field,
            "kind": candidate.change_kind.value,
            "origin_kind": candidate.origin.kind.value,
            "candidate": candidate.model_dump(mode="json"),
            "accepted": decision.accepted,
            "requires_approval": decision.requires_approval,
            "reason": decision.reason,
            "results": [r.as_dict() for r in decision.results],
            "approval_reasons": list(decision.approval),
            "as_of": as_of,
            "decided_at": now,
        },
    )
    audit.record(
        conn,
        tenant_id=candidate.tenant_id,
        action="guardrails_accepted" if decision.accepted else "guardrails_rejected",
        actor="guardrails",
        entity=candidate.entity.key,
        before=candidate.current,
        after=candidate.proposed,
        reasoning=decision.reason,
        evidence_ids=candidate.evidence_ids,
        detail={
            "candidate_ref": candidate.ref,
            "field": candidate.field,
            "requires_approval": decision.requires_approval,
            "rejected_by": [r.rule for r in decision.rejections],
        },
    )


# --------------------------------------------------------------------------- rate limit


def rate_limit_status(
    engine: Engine,
    candidate: CandidateChange,
    *,
    now: dt.datetime | None = None,
    config: GuardrailConfig | None = None,
    operations_needed: int = 1,
    daily_operations: int | None = None,
) -> RateWait:
    """Whether the candidate may go out now: its campaign's learning window (from the apply
    ledger) and the account's API operations in the trailing 24 hours (the configured daily
    budget unless ``daily_operations`` is given)."""
    cfg = (config or GuardrailConfig()).for_tenant(candidate.tenant_id)
    at = now or _now()
    t, c = candidate.tenant_id, candidate.customer_id
    with engine.connect() as conn:
        recent = recent_changes(conn, tenant_id=t, customer_id=c, campaign_id=candidate.campaign_id)
        sent = store.operations_sent(conn, tenant_id=t, customer_id=c, since=at - OPERATIONS_WINDOW)
    free_at = None
    if is_significant(candidate.change_kind, candidate.relative_change, config=cfg):
        free_at = learning_window_free_at(
            candidate.campaign_id, recent=recent, config=cfg, candidate=candidate
        )
    return rate_limit(
        now=at,
        learning_free_at=free_at,
        sent=sent,
        operations_needed=operations_needed,
        daily_operations=daily_operations or cfg.daily_operations,
        safety=candidate.safety,
    )


# --------------------------------------------------------------------------- permissions


def authorize(
    engine: Engine,
    *,
    tenant_id: str,
    principal: str,
    action: Action | str,
    entity: str = "",
    detail: dict[str, Any] | None = None,
) -> Role:
    """The principal's role if it allows ``action`` in the tenant; otherwise the refusal is
    audited (and committed) and :class:`PermissionDenied` raised."""
    act = Action(action)
    with engine.begin() as conn:
        role = store.role_of(conn, tenant_id=tenant_id, principal=principal)
        if allows(role, act):
            assert role is not None
            return Role(role)
        audit.record(
            conn,
            tenant_id=tenant_id,
            action="permission_denied",
            actor=principal,
            entity=entity,
            reasoning=f"{principal} ({role or 'no role'}) may not {act.value} in {tenant_id}",
            detail={"action": act.value, "role": role, **(detail or {})},
        )
    raise PermissionDenied(
        f"{principal} has {'role ' + repr(role) if role else 'no role'} in tenant "
        f"{tenant_id!r} and may not {act.value}"
    )


def grant(engine: Engine, *, tenant_id: str, principal: str, role: Role | str, by: str) -> None:
    """Give ``principal`` a role. Needs an admin, except the tenant's very first grant,
    which must make an admin (bootstrap)."""
    r = Role(role)
    with engine.begin() as conn:
        first = not store.list_roles(conn, tenant_id=tenant_id)
    if first:
        if r != Role.ADMIN:
            raise PermissionDenied(
                f"tenant {tenant_id!r} has no roles yet: the first grant must make an admin"
            )
    else:
        authorize(engine, tenant_id=tenant_id, principal=by, action=Action.GRANT, entity=principal)
    now = _now()
    with engine.begin() as conn:
        store.grant_role(
            conn, tenant_id=tenant_id, principal=principal, role=r.value, granted_by=by, now=now
        )
        audit.record(
            conn,
            tenant_id=tenant_id,
            action="role_granted",
            actor=by,
            entity=principal,
            after=r.value,
            detail={"bootstrap": first},
        )


def revoke(engine: Engine, *, tenant_id: str, principal: str, by: str) -> bool:
    authorize(engine, tenant_id=tenant_id, principal=by, action=Action.GRANT, entity=principal)
    with engine.begin() as conn:
        removed = store.revoke_role(conn, tenant_id=tenant_id, principal=principal)
        if removed:
            audit.record(
                conn, tenant_id=tenant_id, action="role_revoked", actor=by, entity=principal
            )
    return removed


def set_autopilot(engine: Engine, *, tenant_id: str, on: bool, by: str) -> None:
    authorize(engine, tenant_id=tenant_id, principal=by, action=Action.AUTOPILOT)
    with engine.begin() as conn:
        before = store.autopilot_of(conn, tenant_id=tenant_id)
        store.set_autopilot(conn, tenant_id=tenant_id, autopilot=on, updated_by=by, now=_now())
        audit.record(
            conn,
            tenant_id=tenant_id,
            action="autopilot_on" if on else "autopilot_off",
            actor=by,
            before=before,
            after=on,
        )


# --------------------------------------------------------------------------- locks


def lock(
    engine: Engine,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    by: str,
    duration: dt.timedelta,
    field: str | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> int:
    """A person locks a campaign (or one field of it) against agent changes until it expires."""
    if duration <= dt.timedelta(0):
        raise ValueError(f"a lock needs a positive duration, got {duration}")
    entity = f"campaign:{campaign_id}" + (f"/{field}" if field else "")
    authorize(engine, tenant_id=tenant_id, principal=by, action=Action.EDIT, entity=entity)
    at = now or _now()
    with engine.begin() as conn:
        lock_id = store.add_lock(
            conn,
            tenant_id=tenant_id,
            customer_id=customer_id,
            campaign_id=campaign_id,
            field=field,
            created_by=by,
            expires_at=at + duration,
            reason=reason,
            now=at,
        )
        audit.record(
            conn,
            tenant_id=tenant_id,
            action="lock",
            actor=by,
            entity=entity,
            reasoning=reason,
            detail={"lock_id": lock_id, "expires_at": (at + duration).isoformat()},
        )
    return lock_id


def unlock(
    engine: Engine, *, tenant_id: str, lock_id: int, by: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    at = now or _now()
    with engine.begin() as conn:
        row = store.get_lock(conn, tenant_id=tenant_id, lock_id=lock_id)
    entity = f"campaign:{row['campaign_id']}" + (f"/{row['field']}" if row["field"] else "")
    authorize(engine, tenant_id=tenant_id, principal=by, action=Action.EDIT, entity=entity)
    with engine.begin() as conn:
        row = store.lift_lock(conn, tenant_id=tenant_id, lock_id=lock_id, lifted_by=by, now=at)
        audit.record(
            conn,
            tenant_id=tenant_id,
            action="unlock",
            actor=by,
            entity=entity,
            detail={"lock_id": lock_id},
        )
    return row


__all__ = [
    "as_instant",
    "as_pending",
    "authorize",
    "check",
    "gather_facts",
    "grant",
    "lock",
    "rate_limit_status",
    "recent_changes",
    "record_decision",
    "revoke",
    "set_autopilot",
    "unlock",
]
