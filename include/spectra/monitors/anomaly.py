"""The anomaly monitor: the analytics engine's flagged anomalies (CPA, CTR, CPC, spend,
conversions; ``analytics_anomalies``) become alerts with severity and evidence.

The engine scores each account's newest complete day once a day, so an anomaly that persists
is flagged again on every logical date; the alert's key is the condition (account, entity,
metric), not the day, so it is one episode: opened once, updated while flagged (a change of
severity is a new event), resolved on the first analysed day that no longer flags it. The
monitor reads the newest analysis at or before the run's day; an hourly run between two daily
analyses sees the same one and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine

from spectra.monitors.actions import JsonReport, publish_alerts
from spectra.warehouse import monitor_store as store

MONITOR = "anomaly"
# the engine's severities (modified z at 3.5 / 5 / 8) -> alert severities
SEVERITY = {"low": "info", "medium": "warning", "high": "critical"}


@dataclass
class AnomalyReport(JsonReport):
    tenant_id: str
    customer_id: int
    analysed_day: dt.date | None
    flagged: int = 0
    alert_events: int = 0


def check_anomalies(
    engine: Engine, *, tenant_id: str, customer_id: int, clock: dt.datetime
) -> AnomalyReport:
    """Alerts for the anomalies flagged by the newest analysis on or before ``clock``'s day."""
    with engine.connect() as conn:
        day = store.latest_analysis_day(
            conn, tenant_id=tenant_id, customer_id=customer_id, until=clock.date()
        )
        rows = (
            store.flagged_anomalies(
                conn, tenant_id=tenant_id, customer_id=customer_id, logical_date=day
            )
            if day is not None
            else []
        )
    report = AnomalyReport(tenant_id, customer_id, day, flagged=len(rows))
    if day is None:
        return report
    alerts = []
    for r in rows:
        direction = "up" if r.direction == "up" else "down"
        alerts.append(
            {
                "campaign_id": int(r.entity_id) if r.entity_level == "campaign" else None,
                "kind": f"anomaly_{r.metric}",
                "dedup_key": f"anomaly:{customer_id}:{r.entity_level}:{r.entity_id}:{r.metric}",
                "severity": SEVERITY.get(str(r.severity), "warning"),
                "title": (
                    f"{r.metric.upper()} {direction} on {r.date.isoformat()} for "
                    f"{r.entity_level} {r.entity_id}: observed {r.observed:,.4g}, "
                    f"expected {r.expected:,.4g} (score {r.score:+.1f})"
                ),
                "evidence": {
                    "date": r.date.isoformat(),
                    "logical_date": day.isoformat(),
                    "observed": r.observed,
                    "expected": r.expected,
                    "score": r.score,
                    "method": r.method,
                    "adverse": bool(r.adverse),
                    "holiday_window": r.holiday_window,
                    **(r.evidence or {}),
                },
            }
        )
    report.alert_events = publish_alerts(
        engine,
        tenant_id=tenant_id,
        customer_id=customer_id,
        monitor=MONITOR,
        alerts=alerts,
        seen=set(),
        now=clock,
    )
    return report


__all__ = ["AnomalyReport", "check_anomalies"]
