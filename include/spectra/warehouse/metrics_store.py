"""SQL behind the Prometheus metrics: small aggregates read on every scrape.

Every function takes a Core ``Connection`` and returns plain tuples; the collector in
``spectra.observability.metrics`` turns them into series. Grouped by ``tenant_id``: one
Spectra serves many tenants, and a dashboard filters by tenant.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, and_, func, select, text

from spectra.warehouse.models import (
    AiCall,
    Alert,
    AppliedChange,
    CircuitBreakerRow,
    FailedJob,
    MonitorPause,
    PerformanceDaily,
    Proposal,
)


def _day_start(now: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(0), tzinfo=dt.UTC)


def proposals_awaiting_approval(conn: Connection) -> list[tuple[str, int]]:
    p = Proposal.__table__.c
    q = select(p.tenant_id, func.count()).where(p.status == "pending").group_by(p.tenant_id)
    return [(str(t), int(n)) for t, n in conn.execute(q)]


def open_dead_letters(conn: Connection) -> list[tuple[str, int]]:
    f = FailedJob.__table__.c
    q = select(f.tenant_id, func.count()).where(f.status == "open").group_by(f.tenant_id)
    return [(str(t), int(n)) for t, n in conn.execute(q)]


def ads_operations_today(conn: Connection, *, now: dt.datetime) -> list[tuple[str, int]]:
    """Mutate operations sent today (UTC) per tenant: the apply ledger's sends."""
    c = AppliedChange.__table__.c
    q = (
        select(c.tenant_id, func.coalesce(func.sum(c.sends), 0))
        .where(c.updated_at >= _day_start(now))
        .group_by(c.tenant_id)
    )
    return [(str(t), int(n)) for t, n in conn.execute(q)]


def ai_cost_today(conn: Connection, *, now: dt.datetime) -> list[tuple[str, int]]:
    a = AiCall.__table__.c
    q = (
        select(a.tenant_id, func.coalesce(func.sum(a.cost_micros), 0))
        .where(a.created_at >= _day_start(now))
        .group_by(a.tenant_id)
    )
    return [(str(t), int(n)) for t, n in conn.execute(q)]


def breaker_states(conn: Connection) -> list[tuple[str, str]]:
    b = CircuitBreakerRow.__table__.c
    return [(str(n), str(s)) for n, s in conn.execute(select(b.name, b.state))]


def open_alerts(conn: Connection) -> list[tuple[str, str, str, int]]:
    a = Alert.__table__.c
    q = (
        select(a.tenant_id, a.monitor, a.severity, func.count())
        .where(a.status == "open")
        .group_by(a.tenant_id, a.monitor, a.severity)
    )
    return [(str(t), str(m), str(s), int(n)) for t, m, s, n in conn.execute(q)]


def open_monitor_pauses(conn: Connection) -> list[tuple[str, str, int]]:
    p = MonitorPause.__table__.c
    q = (
        select(p.tenant_id, p.reason, func.count())
        .where(p.resumed_at.is_(None))
        .group_by(p.tenant_id, p.reason)
    )
    return [(str(t), str(r), int(n)) for t, r, n in conn.execute(q)]


def campaign_performance(conn: Connection) -> list[dict[str, Any]]:
    """Each campaign's newest ingested day (per account): impressions, clicks, cost, conversions."""
    p = PerformanceDaily.__table__.c
    newest = (
        select(p.tenant_id, p.customer_id, func.max(p.date).label("date"))
        .where(p.level == "campaign")
        .group_by(p.tenant_id, p.customer_id)
        .subquery()
    )
    q = select(
        p.tenant_id, p.customer_id, p.campaign_id, p.date, p.impressions, p.clicks,
        p.cost_micros, p.conversions,
    ).join(
        newest,
        and_(
            p.tenant_id == newest.c.tenant_id,
            p.customer_id == newest.c.customer_id,
            p.date == newest.c.date,
        ),
    ).where(p.level == "campaign")  # fmt: skip
    return [dict(r._mapping) for r in conn.execute(q)]


def airflow_task_states(conn: Connection) -> list[tuple[str, str, int]]:
    """Queued and running task instances per DAG, from Airflow's own metadata database."""
    rows = conn.execute(
        text(
            "SELECT dag_id, state, COUNT(*) FROM task_instance "
            "WHERE state IN ('scheduled', 'queued', 'running', 'deferred', 'up_for_retry', "
            "'awaiting_input') GROUP BY dag_id, state"
        )
    )
    return [(str(d), str(s), int(n)) for d, s, n in rows]


__all__ = [
    "ads_operations_today",
    "ai_cost_today",
    "airflow_task_states",
    "breaker_states",
    "campaign_performance",
    "open_alerts",
    "open_dead_letters",
    "open_monitor_pauses",
    "proposals_awaiting_approval",
]
