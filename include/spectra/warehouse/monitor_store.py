"""SQL of the hourly monitors: their pauses, the alerts and the alert outbox.

Every function takes a Core ``Connection`` inside the caller's transaction and never commits;
every query is scoped by ``tenant_id``.

Alerts are episodes: :func:`raise_alert` opens one for a ``dedup_key`` without an open episode,
or updates the open one (``last_seen_at``; a changed severity is an event), and
:func:`resolve_absent` closes the open episodes of a monitor whose condition was not seen in
this run. Each opening, change of severity and resolution writes one ``alert_events`` row, the
notifiers' outbox: a persisting condition therefore notifies once per change of severity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from spectra.warehouse.models import (
    Alert,
    AlertEvent,
    AnalyticsRun,
    AnomalyRow,
    Campaign,
    MonitorPause,
)

PAUSES = MonitorPause.__table__
ALERTS = Alert.__table__
EVENTS = AlertEvent.__table__

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes; ours are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


# --------------------------------------------------------------------------- pauses


def record_pause(conn: Connection, *, values: dict[str, Any]) -> bool:
    """Remember a monitor's pause (once per change key); True when it was new."""
    found = conn.execute(
        select(PAUSES.c.id).where(
            PAUSES.c.tenant_id == values["tenant_id"],
            PAUSES.c.change_key == values["change_key"],
        )
    ).first()
    if found is not None:
        return False
    conn.execute(PAUSES.insert().values(**values))
    return True


def open_pauses(
    conn: Connection, *, tenant_id: str, customer_id: int, reasons: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The account's monitor pauses not re-enabled yet (oldest first)."""
    q = select(PAUSES).where(
        PAUSES.c.tenant_id == tenant_id,
        PAUSES.c.customer_id == customer_id,
        PAUSES.c.resumed_at.is_(None),
    )
    if reasons is not None:
        q = q.where(PAUSES.c.reason.in_(list(reasons)))
    rows = [dict(r._mapping) for r in conn.execute(q.order_by(PAUSES.c.id))]
    for r in rows:
        r["paused_at"] = _aware(r["paused_at"])
    return rows


def mark_resumed(
    conn: Connection, *, tenant_id: str, pause_id: int, at: dt.datetime, change_key: str
) -> None:
    conn.execute(
        update(PAUSES)
        .where(PAUSES.c.tenant_id == tenant_id, PAUSES.c.id == pause_id)
        .values(resumed_at=at, resume_change_key=change_key)
    )


# --------------------------------------------------------------------------- alerts


@dataclass(frozen=True)
class AlertChange:
    """What :func:`raise_alert` / :func:`resolve_absent` did (``event`` "" = nothing new)."""

    alert_id: int
    dedup_key: str
    event: str  # opened | escalated | deescalated | resolved | ""
    severity: str


def _event(
    conn: Connection, tenant_id: str, alert_id: int, event: str, severity: str, now: dt.datetime
) -> None:
    conn.execute(
        EVENTS.insert().values(
            tenant_id=tenant_id,
            alert_id=alert_id,
            event=event,
            severity=severity,
            created_at=now,
            delivered_at=None,
            channels=[],
        )
    )


def raise_alert(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int | None,
    monitor: str,
    kind: str,
    dedup_key: str,
    severity: str,
    title: str,
    evidence: dict[str, Any],
    now: dt.datetime,
) -> AlertChange:
    """Open the condition's episode, or refresh the open one (an event only if its severity
    changed)."""
    if severity not in SEVERITY_RANK:
        raise ValueError(f"alert severity {severity!r} is not one of {sorted(SEVERITY_RANK)}")
    row = conn.execute(
        select(ALERTS.c.id, ALERTS.c.severity).where(
            ALERTS.c.tenant_id == tenant_id,
            ALERTS.c.dedup_key == dedup_key,
            ALERTS.c.status == "open",
        )
    ).first()
    if row is None:
        alert_id = conn.execute(
            ALERTS.insert()
            .values(
                tenant_id=tenant_id,
                customer_id=customer_id,
                campaign_id=campaign_id,
                monitor=monitor,
                kind=kind,
                dedup_key=dedup_key,
                severity=severity,
                status="open",
                title=title,
                evidence=evidence,
                opened_at=now,
                last_seen_at=now,
                resolved_at=None,
            )
            .returning(ALERTS.c.id)
        ).scalar_one()
        _event(conn, tenant_id, alert_id, "opened", severity, now)
        return AlertChange(alert_id, dedup_key, "opened", severity)
    alert_id, before = int(row.id), str(row.severity)
    conn.execute(
        update(ALERTS)
        .where(ALERTS.c.tenant_id == tenant_id, ALERTS.c.id == alert_id)
        .values(severity=severity, title=title, evidence=evidence, last_seen_at=now)
    )
    if severity == before:
        return AlertChange(alert_id, dedup_key, "", severity)
    event = "escalated" if SEVERITY_RANK[severity] > SEVERITY_RANK[before] else "deescalated"
    _event(conn, tenant_id, alert_id, event, severity, now)
    return AlertChange(alert_id, dedup_key, event, severity)


def resolve_absent(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    monitor: str,
    seen: Iterable[str],
    now: dt.datetime,
    kinds: Iterable[str] | None = None,
) -> list[AlertChange]:
    """Resolve the monitor's open alerts of the account whose condition was not ``seen``."""
    keep = set(seen)
    q = select(ALERTS.c.id, ALERTS.c.dedup_key, ALERTS.c.severity).where(
        ALERTS.c.tenant_id == tenant_id,
        ALERTS.c.customer_id == customer_id,
        ALERTS.c.monitor == monitor,
        ALERTS.c.status == "open",
    )
    if kinds is not None:
        q = q.where(ALERTS.c.kind.in_(list(kinds)))
    out = []
    for row in conn.execute(q).all():
        if row.dedup_key in keep:
            continue
        conn.execute(
            update(ALERTS)
            .where(and_(ALERTS.c.tenant_id == tenant_id, ALERTS.c.id == row.id))
            .values(status="resolved", resolved_at=now)
        )
        _event(conn, tenant_id, int(row.id), "resolved", str(row.severity), now)
        out.append(AlertChange(int(row.id), str(row.dedup_key), "resolved", str(row.severity)))
    return out


def list_alerts(
    conn: Connection, *, tenant_id: str, status: str | None = None, monitor: str | None = None
) -> list[dict[str, Any]]:
    q = select(ALERTS).where(ALERTS.c.tenant_id == tenant_id)
    if status is not None:
        q = q.where(ALERTS.c.status == status)
    if monitor is not None:
        q = q.where(ALERTS.c.monitor == monitor)
    return [dict(r._mapping) for r in conn.execute(q.order_by(ALERTS.c.id))]


def alert_events(
    conn: Connection, *, tenant_id: str | None, pending: bool = False
) -> list[dict[str, Any]]:
    """Outbox rows with their alert (``pending``: not delivered yet), oldest first."""
    q = select(
        EVENTS.c.id,
        EVENTS.c.tenant_id,
        EVENTS.c.alert_id,
        EVENTS.c.event,
        EVENTS.c.severity,
        EVENTS.c.created_at,
        EVENTS.c.delivered_at,
        EVENTS.c.channels,
        ALERTS.c.customer_id,
        ALERTS.c.campaign_id,
        ALERTS.c.monitor,
        ALERTS.c.kind,
        ALERTS.c.dedup_key,
        ALERTS.c.title,
        ALERTS.c.evidence,
    ).join(ALERTS, and_(ALERTS.c.id == EVENTS.c.alert_id, ALERTS.c.tenant_id == EVENTS.c.tenant_id))
    if tenant_id is not None:
        q = q.where(EVENTS.c.tenant_id == tenant_id)
    if pending:
        q = q.where(EVENTS.c.delivered_at.is_(None))
    return [dict(r._mapping) for r in conn.execute(q.order_by(EVENTS.c.id))]


def record_delivery(
    conn: Connection,
    *,
    tenant_id: str,
    event_id: int,
    channels: list[str],
    delivered_at: dt.datetime | None,
) -> None:
    """The channels an event reached; ``delivered_at`` once it reached all of them."""
    conn.execute(
        update(EVENTS)
        .where(EVENTS.c.tenant_id == tenant_id, EVENTS.c.id == event_id)
        .values(channels=channels, delivered_at=delivered_at)
    )


# --------------------------------------------------------------------------- anomalies


def latest_analysis_day(
    conn: Connection, *, tenant_id: str, customer_id: int, until: dt.date
) -> dt.date | None:
    """The newest logical day the account was analysed on, at or before ``until``."""
    r = AnalyticsRun.__table__.c
    return conn.execute(
        select(func.max(r.logical_date)).where(
            r.tenant_id == tenant_id, r.customer_id == customer_id, r.logical_date <= until
        )
    ).scalar_one_or_none()


def flagged_anomalies(
    conn: Connection, *, tenant_id: str, customer_id: int, logical_date: dt.date
) -> list[Any]:
    """The anomalies that analysis flagged (alerts, not the suppressed ones)."""
    a = AnomalyRow.__table__.c
    return list(
        conn.execute(
            select(AnomalyRow.__table__).where(
                a.tenant_id == tenant_id,
                a.customer_id == customer_id,
                a.logical_date == logical_date,
                a.flagged.is_(True),
            )
        ).all()
    )


__all__ = [
    "SEVERITY_RANK",
    "AlertChange",
    "alert_events",
    "flagged_anomalies",
    "latest_analysis_day",
    "list_alerts",
    "mark_resumed",
    "open_pauses",
    "raise_alert",
    "record_delivery",
    "record_pause",
    "resolve_absent",
]


# --------------------------------------------------------------------------- campaigns


def campaign_limits(conn: Connection, *, tenant_id: str, customer_id: int) -> list[dict[str, Any]]:
    """Every campaign of the account with its status and spend limits (campaign id, status,
    max daily spend micros, total spend limit micros)."""
    c = Campaign.__table__.c
    rows = conn.execute(
        select(c.campaign_id, c.status, c.max_daily_spend_micros, c.total_spend_limit_micros).where(
            c.tenant_id == tenant_id, c.customer_id == customer_id
        )
    ).all()
    return [dict(r._mapping) for r in rows]


def campaigns_in_states(
    conn: Connection, *, tenant_id: str, customer_id: int, states: Iterable[str]
) -> set[int]:
    """Ids of the account's campaigns whose lifecycle status is one of ``states``."""
    c = Campaign.__table__.c
    rows = conn.execute(
        select(c.campaign_id).where(
            c.tenant_id == tenant_id, c.customer_id == customer_id, c.status.in_(list(states))
        )
    )
    return {int(r.campaign_id) for r in rows}
