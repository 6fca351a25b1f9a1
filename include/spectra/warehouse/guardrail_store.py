"""SQL of the guardrails: locks, roles, tenant settings, decisions, and the facts the rules
read (the apply ledger, change events, spend, structure counts, analytics evidence).

Every function takes a Core ``Connection`` inside the caller's transaction and never commits;
every query is scoped by ``tenant_id``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from spectra.warehouse.db import dialect_insert
from spectra.warehouse.models import (
    Ad,
    AdGroup,
    AnalyticsRun,
    AppliedChange,
    Campaign,
    ChangeEvent,
    DataExclusion,
    Envelope,
    GuardrailDecision,
    GuardrailLock,
    Keyword,
    PerformanceDaily,
    Proposal,
    TenantRole,
    TenantSetting,
    Verdict,
    natural_key,
)

LOCKS = GuardrailLock.__table__
ROLES = TenantRole.__table__
SETTINGS = TenantSetting.__table__
DECISIONS = GuardrailDecision.__table__
CHANGES = AppliedChange.__table__
EVENTS = ChangeEvent.__table__
PROPOSALS = Proposal.__table__


class LockNotFound(LookupError):
    """No lock with that id in the tenant."""


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes; ours are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


# --------------------------------------------------------------------------- locks


def add_lock(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    field: str | None,
    created_by: str,
    expires_at: dt.datetime,
    reason: str,
    now: dt.datetime,
) -> int:
    result = conn.execute(
        LOCKS.insert()
        .values(
            tenant_id=tenant_id,
            customer_id=customer_id,
            campaign_id=campaign_id,
            field=field,
            reason=reason,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
        )
        .returning(LOCKS.c.id)
    )
    return int(result.scalar_one())


def lift_lock(
    conn: Connection, *, tenant_id: str, lock_id: int, lifted_by: str, now: dt.datetime
) -> dict[str, Any]:
    """Lift a lock (kept for the record, with who lifted it and when)."""
    row = get_lock(conn, tenant_id=tenant_id, lock_id=lock_id)
    if row["lifted_at"] is None:
        conn.execute(
            update(LOCKS)
            .where(LOCKS.c.tenant_id == tenant_id, LOCKS.c.id == lock_id)
            .values(lifted_by=lifted_by, lifted_at=now)
        )
    return get_lock(conn, tenant_id=tenant_id, lock_id=lock_id)


def get_lock(conn: Connection, *, tenant_id: str, lock_id: int) -> dict[str, Any]:
    row = (
        conn.execute(select(LOCKS).where(LOCKS.c.tenant_id == tenant_id, LOCKS.c.id == lock_id))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise LockNotFound(f"no lock {lock_id} in tenant {tenant_id!r}")
    return _lock_row(row)


def _lock_row(row: Any) -> dict[str, Any]:
    out = dict(row)
    for k in ("created_at", "expires_at", "lifted_at"):
        out[k] = aware(out[k])
    return out


def campaign_locks(
    conn: Connection, *, tenant_id: str, customer_id: int, campaign_id: int, now: dt.datetime
) -> list[dict[str, Any]]:
    """The campaign's locks still in force at ``now``."""
    rows = conn.execute(
        select(LOCKS)
        .where(
            LOCKS.c.tenant_id == tenant_id,
            LOCKS.c.customer_id == customer_id,
            LOCKS.c.campaign_id == campaign_id,
            LOCKS.c.lifted_at.is_(None),
            LOCKS.c.expires_at > now,
        )
        .order_by(LOCKS.c.id)
    ).mappings()
    return [_lock_row(r) for r in rows]


def list_locks(
    conn: Connection, *, tenant_id: str, now: dt.datetime, include_inactive: bool = False
) -> list[dict[str, Any]]:
    query = select(LOCKS).where(LOCKS.c.tenant_id == tenant_id)
    if not include_inactive:
        query = query.where(LOCKS.c.lifted_at.is_(None), LOCKS.c.expires_at > now)
    return [_lock_row(r) for r in conn.execute(query.order_by(LOCKS.c.id)).mappings()]


# --------------------------------------------------------------------------- roles and settings


def grant_role(
    conn: Connection,
    *,
    tenant_id: str,
    principal: str,
    role: str,
    granted_by: str,
    now: dt.datetime,
) -> None:
    values = {"role": role, "granted_by": granted_by, "granted_at": now}
    conn.execute(
        dialect_insert(conn)(ROLES)
        .values(tenant_id=tenant_id, principal=principal, **values)
        .on_conflict_do_update(index_elements=natural_key(ROLES), set_=values)
    )


def revoke_role(conn: Connection, *, tenant_id: str, principal: str) -> bool:
    result = conn.execute(
        ROLES.delete().where(ROLES.c.tenant_id == tenant_id, ROLES.c.principal == principal)
    )
    return result.rowcount == 1


def role_of(conn: Connection, *, tenant_id: str, principal: str) -> str | None:
    return conn.execute(
        select(ROLES.c.role).where(ROLES.c.tenant_id == tenant_id, ROLES.c.principal == principal)
    ).scalar_one_or_none()


def list_roles(conn: Connection, *, tenant_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(ROLES).where(ROLES.c.tenant_id == tenant_id).order_by(ROLES.c.principal)
    ).mappings()
    return [dict(r) for r in rows]


def set_autopilot(
    conn: Connection, *, tenant_id: str, autopilot: bool, updated_by: str, now: dt.datetime
) -> None:
    values = {"autopilot": autopilot, "updated_by": updated_by, "updated_at": now}
    conn.execute(
        dialect_insert(conn)(SETTINGS)
        .values(tenant_id=tenant_id, **values)
        .on_conflict_do_update(index_elements=natural_key(SETTINGS), set_=values)
    )


def autopilot_of(conn: Connection, *, tenant_id: str) -> bool:
    """The tenant's autopilot switch; off until someone turns it on."""
    value = conn.execute(
        select(SETTINGS.c.autopilot).where(SETTINGS.c.tenant_id == tenant_id)
    ).scalar_one_or_none()
    return bool(value)


# --------------------------------------------------------------------------- decisions


def upsert_decision(conn: Connection, *, values: dict[str, Any]) -> None:
    """Store (or replace, on a re-run) the decision on one candidate."""
    update_cols = {k: v for k, v in values.items() if k not in ("tenant_id", "candidate_ref")}
    conn.execute(
        dialect_insert(conn)(DECISIONS)
        .values(**values)
        .on_conflict_do_update(index_elements=natural_key(DECISIONS), set_=update_cols)
    )


def get_decision(conn: Connection, *, tenant_id: str, candidate_ref: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(DECISIONS).where(
                DECISIONS.c.tenant_id == tenant_id, DECISIONS.c.candidate_ref == candidate_ref
            )
        )
        .mappings()
        .one_or_none()
    )
    return dict(row) if row else None


# --------------------------------------------------------------------------- facts

# Ledger phases that occupy the learning window: applied, or approved and on their way.
OCCUPYING_PHASES = ("approved", "locked", "preflighted", "sent", "confirmed", "recorded")


def campaign_ledger(
    conn: Connection, *, tenant_id: str, customer_id: int, campaign_id: int
) -> list[dict[str, Any]]:
    """The campaign's applied (and in-flight) changes from the apply ledger, oldest first."""
    rows = conn.execute(
        select(
            CHANGES.c.campaign_id,
            CHANGES.c.entity_key,
            CHANGES.c.field,
            CHANGES.c.target,
            CHANGES.c.before_value,
            CHANGES.c.after_value,
            CHANGES.c.payload,
            CHANGES.c.origin_kind,
            CHANGES.c.idempotency_key,
            CHANGES.c.phase,
            CHANGES.c.effective_date,
            CHANGES.c.created_at,
        )
        .where(
            CHANGES.c.tenant_id == tenant_id,
            CHANGES.c.customer_id == customer_id,
            CHANGES.c.campaign_id == campaign_id,
            CHANGES.c.phase.in_(OCCUPYING_PHASES),
        )
        .order_by(CHANGES.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def change_events_since(
    conn: Connection, *, tenant_id: str, customer_id: int, campaign_id: int, since: dt.datetime
) -> list[dict[str, Any]]:
    """Change events of the campaign (its own and its children's) after ``since``."""
    rows = conn.execute(
        select(EVENTS)
        .where(
            EVENTS.c.tenant_id == tenant_id,
            EVENTS.c.customer_id == customer_id,
            EVENTS.c.campaign_id == campaign_id,
            EVENTS.c.changed_at > since,
        )
        .order_by(EVENTS.c.changed_at)
    ).mappings()
    out = []
    for r in rows:
        d = dict(r)
        d["changed_at"] = aware(d["changed_at"])
        out.append(d)
    return out


def campaign_limits(
    conn: Connection, *, tenant_id: str, customer_id: int, campaign_id: int
) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(
                Campaign.budget_micros,
                Campaign.max_daily_spend_micros,
                Campaign.total_spend_limit_micros,
                Campaign.flight_start,
                Campaign.flight_end,
            ).where(
                Campaign.tenant_id == tenant_id,
                Campaign.customer_id == customer_id,
                Campaign.campaign_id == campaign_id,
            )
        )
        .mappings()
        .one_or_none()
    )
    return dict(row) if row else None


def campaign_spend(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    since: dt.date | None,
    until: dt.date,
) -> int:
    """Micros the campaign spent on [since, until] (campaign-level rows)."""
    query = select(func.coalesce(func.sum(PerformanceDaily.cost_micros), 0)).where(
        PerformanceDaily.tenant_id == tenant_id,
        PerformanceDaily.customer_id == customer_id,
        PerformanceDaily.level == "campaign",
        PerformanceDaily.entity_id == campaign_id,
        PerformanceDaily.date <= until,
    )
    if since is not None:
        query = query.where(PerformanceDaily.date >= since)
    return int(conn.execute(query).scalar_one())


def tracking_outage_days(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    since: dt.date,
    until: dt.date,
) -> list[dt.date]:
    """Days in [since, until] the quality gate excluded as a tracking outage, as found by
    validations of ``until`` or earlier (a later run's finding must not change how an older
    day is judged on a re-run or a backfill); active exclusions only."""
    e = DataExclusion
    rows = conn.execute(
        select(e.date)
        .where(
            e.tenant_id == tenant_id,
            e.customer_id == customer_id,
            e.kind == "tracking_outage",
            e.active.is_(True),
            e.date >= since,
            e.date <= until,
            e.logical_date <= until,
        )
        .distinct()
        .order_by(e.date)
    )
    return [r[0] for r in rows]


def entity_conversions(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    level: str,
    entity_id: int,
    ad_group_id: int,
    since: dt.date,
    until: dt.date,
) -> float:
    query = select(func.coalesce(func.sum(PerformanceDaily.conversions), 0.0)).where(
        PerformanceDaily.tenant_id == tenant_id,
        PerformanceDaily.customer_id == customer_id,
        PerformanceDaily.level == level,
        PerformanceDaily.entity_id == entity_id,
        PerformanceDaily.ad_group_id == ad_group_id,
        PerformanceDaily.date.between(since, until),
    )
    return float(conn.execute(query).scalar_one())


def structure_counts(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    ad_group_id: int | None,
) -> dict[str, int]:
    """Live (not removed) entities under the account, campaign and ad group, as ingested."""

    def count(model: Any, *where: Any) -> int:
        return int(
            conn.execute(
                select(func.count())
                .select_from(model)
                .where(model.tenant_id == tenant_id, model.customer_id == customer_id, *where)
            ).scalar_one()
        )

    live_campaigns = count(Campaign, Campaign.serving_status != "REMOVED")
    groups = count(AdGroup, AdGroup.campaign_id == campaign_id, AdGroup.serving_status != "REMOVED")
    keywords = enabled_ads = 0
    if ad_group_id is not None:
        keywords = count(
            Keyword, Keyword.ad_group_id == ad_group_id, Keyword.serving_status != "REMOVED"
        )
        enabled_ads = count(Ad, Ad.ad_group_id == ad_group_id, Ad.serving_status == "ENABLED")
    criteria = count(Keyword, Keyword.serving_status != "REMOVED")
    negatives = count(
        Keyword,
        Keyword.campaign_id == campaign_id,
        Keyword.negative.is_(True),
        Keyword.serving_status != "REMOVED",
    )
    return {
        "negatives_in_campaign": negatives,
        "campaigns_in_account": live_campaigns,
        "ad_groups_in_campaign": groups,
        "keywords_in_ad_group": keywords,
        "criteria_in_account": criteria,
        "enabled_ads_in_ad_group": enabled_ads,
    }


def evidence_rows(
    conn: Connection, *, tenant_id: str, evidence_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Verdicts and envelopes named ``verdict:<id>`` / ``envelope:<id>``, each with the
    analytics run of its day (lag and seasonality status). Unknown ids are simply absent."""
    wanted: dict[str, list[int]] = {"verdict": [], "envelope": []}
    for ev in evidence_ids:
        kind, _, raw = ev.partition(":")
        if kind in wanted and raw.isdigit():
            wanted[kind].append(int(raw))
    out: list[dict[str, Any]] = []
    run_cols = (
        AnalyticsRun.lag_usable,
        AnalyticsRun.conversions_until,
        AnalyticsRun.seasonality,
    )
    for kind, model in (("verdict", Verdict), ("envelope", Envelope)):
        if not wanted[kind]:
            continue
        table = model.__table__
        query = (
            select(table, *run_cols)
            .outerjoin(
                AnalyticsRun,
                and_(
                    AnalyticsRun.tenant_id == table.c.tenant_id,
                    AnalyticsRun.customer_id == table.c.customer_id,
                    AnalyticsRun.logical_date == table.c.logical_date,
                ),
            )
            .where(table.c.tenant_id == tenant_id, table.c.id.in_(wanted[kind]))
        )
        for row in conn.execute(query).mappings():
            d = dict(row)
            d.update(
                kind=kind,
                lag_usable=bool(row["lag_usable"]),
                seasonality=row["seasonality"] or [],
            )
            out.append(d)
    return out


# --------------------------------------------------------------------------- proposals


class ProposalNotFound(LookupError):
    """No proposal with that id in the tenant."""


def _proposal_row(row: Any) -> dict[str, Any]:
    out = dict(row)
    for k in ("created_at", "guarded_at", "decided_at"):
        out[k] = aware(out[k])
    return out


def get_proposal(conn: Connection, *, tenant_id: str, proposal_id: int) -> dict[str, Any]:
    row = (
        conn.execute(
            select(PROPOSALS).where(
                PROPOSALS.c.tenant_id == tenant_id, PROPOSALS.c.id == int(proposal_id)
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise ProposalNotFound(f"no proposal {proposal_id} in tenant {tenant_id!r}")
    return _proposal_row(row)


def proposals_to_guard(
    conn: Connection, *, tenant_id: str, customer_id: int, logical_date: dt.date, run_id: str
) -> list[dict[str, Any]]:
    """The day's proposals of the account no apply run has taken yet (pending, unjudged), and
    those this run took already (a cleared run finds its own), best first."""
    p = PROPOSALS.c
    rows = conn.execute(
        select(PROPOSALS)
        .where(
            p.tenant_id == tenant_id,
            p.customer_id == customer_id,
            p.logical_date == logical_date,
            ((p.status == "pending") & p.guardrail_status.is_(None)) | (p.apply_run_id == run_id),
        )
        .order_by(p.rank, p.id)
    ).mappings()
    return [_proposal_row(r) for r in rows]


def supersede_older(
    conn: Connection, *, tenant_id: str, customer_id: int, logical_date: dt.date, now: dt.datetime
) -> int:
    """Older days' proposals of the account no apply run took: the newer day's replace them
    (they were judged on older data)."""
    p = PROPOSALS.c
    result = conn.execute(
        update(PROPOSALS)
        .where(
            p.tenant_id == tenant_id,
            p.customer_id == customer_id,
            p.logical_date < logical_date,
            p.status == "pending",
            p.guardrail_status.is_(None),
        )
        .values(
            status="superseded",
            decided_by="spectra_apply",
            decided_at=now,
            decision_reason=f"superseded by the proposals of {logical_date.isoformat()}",
        )
    )
    return int(result.rowcount or 0)


def update_proposal(
    conn: Connection, *, tenant_id: str, proposal_id: int, values: dict[str, Any]
) -> None:
    conn.execute(
        update(PROPOSALS)
        .where(PROPOSALS.c.tenant_id == tenant_id, PROPOSALS.c.id == int(proposal_id))
        .values(**values)
    )


def waiting_for_approval(
    conn: Connection, *, tenant_id: str | None = None, run_id: str | None = None
) -> list[dict[str, Any]]:
    """Proposals waiting for a person (one tenant, or every tenant for the demo's summary)."""
    p = PROPOSALS.c
    query = select(PROPOSALS).where(
        p.status == "pending", p.guardrail_status == "requires_approval"
    )
    if tenant_id is not None:
        query = query.where(p.tenant_id == tenant_id)
    if run_id is not None:
        query = query.where(p.apply_run_id == run_id)
    rows = conn.execute(query.order_by(p.tenant_id, p.approval_map_index, p.id)).mappings()
    return [_proposal_row(r) for r in rows]


def operations_sent(
    conn: Connection, *, tenant_id: str, customer_id: int, since: dt.datetime
) -> list[tuple[dt.datetime, int]]:
    """(last update, mutate requests) of the account's changes that sent something since."""
    rows = conn.execute(
        select(CHANGES.c.updated_at, CHANGES.c.sends).where(
            CHANGES.c.tenant_id == tenant_id,
            CHANGES.c.customer_id == customer_id,
            CHANGES.c.sends > 0,
            CHANGES.c.updated_at > since,
        )
    ).all()
    out = []
    for updated, sends in rows:
        at = aware(updated)
        assert at is not None
        out.append((at, int(sends)))
    return out


__all__ = [
    "OCCUPYING_PHASES",
    "LockNotFound",
    "ProposalNotFound",
    "add_lock",
    "autopilot_of",
    "campaign_ledger",
    "campaign_limits",
    "campaign_locks",
    "campaign_spend",
    "change_events_since",
    "entity_conversions",
    "evidence_rows",
    "get_decision",
    "get_lock",
    "get_proposal",
    "proposals_to_guard",
    "supersede_older",
    "update_proposal",
    "waiting_for_approval",
    "grant_role",
    "lift_lock",
    "list_locks",
    "operations_sent",
    "list_roles",
    "revoke_role",
    "role_of",
    "set_autopilot",
    "structure_counts",
    "upsert_decision",
]
