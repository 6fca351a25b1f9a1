"""Anomaly alerts: a CPA spike planted in one campaign's days is flagged by the analytics engine
on each of the three days it lasts, and alerts exactly once while it persists; the first
analysed day without it resolves the alert. The alert outbox then delivers each event once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from spectra.analytics.anomalies import detect_anomalies
from spectra.monitors.anomaly import check_anomalies
from spectra.monitors.notify import Channel, Notification, deliver_pending
from spectra.warehouse import monitor_store
from spectra.warehouse.analytics_store import replace_day
from spectra.warehouse.models import AnalyticsRun, AnomalyRow
from spectra.warehouse.repositories import register_account, register_tenant

TENANT = "acme"
CUSTOMER = 1234567890
CAMPAIGN = 777
SPIKE = [dt.date(2026, 6, 10) + dt.timedelta(days=i) for i in range(3)]


def _daily(end: dt.date) -> pd.DataFrame:
    """150 days of one campaign; on the spike days a quarter of the conversions (CPA × 4)."""
    rng = np.random.default_rng(3)
    days = pd.date_range(end - dt.timedelta(days=149), end, freq="D")
    weekly = 1 + 0.15 * np.sin(2 * np.pi * days.dayofweek / 7)
    impressions = rng.poisson(20_000 * weekly)
    clicks = rng.binomial(impressions, 0.05)
    cost = (clicks * 1_200_000 * rng.lognormal(0, 0.05, len(days))).astype(np.int64)
    cvr = np.where(days.isin(pd.to_datetime(SPIKE)), 0.04 / 4, 0.04)
    conversions = rng.binomial(clicks, cvr).astype(float)
    return pd.DataFrame(
        {
            "date": days.date,
            "impressions": impressions,
            "clicks": clicks,
            "cost_micros": cost,
            "conversions": conversions,
        }
    )


def _store_analysis(engine: Engine, day: dt.date, frame: pd.DataFrame) -> int:
    """What the daily analysis stores for ``day``: its scored anomalies of the campaign."""
    found = detect_anomalies(
        frame, as_of=day, entity_level="campaign", entity_id=CAMPAIGN, metrics=("cpa", "spend")
    )
    rows = [
        {
            "tenant_id": TENANT, "customer_id": CUSTOMER, "logical_date": day,
            "entity_level": a.entity_level, "entity_id": a.entity_id, "metric": a.metric,
            "date": a.date, "observed": a.observed, "expected": a.expected, "score": a.score,
            "severity": a.severity, "direction": a.direction, "adverse": a.adverse,
            "flagged": a.flagged, "method": a.method, "holiday_window": a.holiday_window,
            "reason": a.reason, "evidence": {"log_residual": a.log_residual},
        }
        for a in found
    ]  # fmt: skip
    with engine.begin() as conn:
        replace_day(
            conn, {AnomalyRow.__table__: rows}, tenant_id=TENANT, customer_id=CUSTOMER,
            logical_date=day, tables=[AnomalyRow.__table__],
        )  # fmt: skip
        conn.execute(
            AnalyticsRun.__table__.insert().values(
                tenant_id=TENANT, customer_id=CUSTOMER, logical_date=day
            )
        )
    return sum(a.flagged for a in found)


def test_a_persisting_cpa_spike_alerts_once_and_resolves_when_it_ends(
    sqlite_engine: Engine,
) -> None:
    with sqlite_engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_account(conn, tenant_id=TENANT, customer_id=CUSTOMER)
    frame = _daily(SPIKE[-1] + dt.timedelta(days=5))
    flagged: dict[dt.date, int] = {}
    for offset in range(-2, 5):
        day = SPIKE[0] + dt.timedelta(days=offset)
        flagged[day] = _store_analysis(sqlite_engine, day, frame)
        for hour in (7, 13):  # hourly runs between two daily analyses see the same one
            clock = dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)
            check_anomalies(sqlite_engine, tenant_id=TENANT, customer_id=CUSTOMER, clock=clock)
    assert all(flagged[d] > 0 for d in SPIKE), flagged
    with sqlite_engine.connect() as conn:
        alerts = monitor_store.list_alerts(conn, tenant_id=TENANT, monitor="anomaly")
        events = monitor_store.alert_events(conn, tenant_id=TENANT)
    cpa = [a for a in alerts if a["kind"] == "anomaly_cpa"]
    assert len(cpa) == 1, alerts  # one episode for the three days
    (alert,) = cpa
    assert alert["status"] == "resolved"
    assert alert["evidence"]["observed"] > 2 * alert["evidence"]["expected"]
    assert alert["resolved_at"].date() > SPIKE[-1]
    cpa_events = [e["event"] for e in events if e["alert_id"] == alert["id"]]
    assert cpa_events[0] == "opened" and cpa_events[-1] == "resolved"
    assert cpa_events.count("opened") == 1
    # only severity changes in between, never a repeat of the same severity
    assert all(e in ("escalated", "deescalated") for e in cpa_events[1:-1])


def test_the_outbox_delivers_each_event_once_and_retries_a_failed_channel(
    sqlite_engine: Engine,
) -> None:
    with sqlite_engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_account(conn, tenant_id=TENANT, customer_id=CUSTOMER)
        now = dt.datetime(2026, 6, 10, 8, tzinfo=dt.UTC)
        for i in range(3):
            monitor_store.raise_alert(
                conn, tenant_id=TENANT, customer_id=CUSTOMER, campaign_id=None, monitor="spend",
                kind="daily_limit", dedup_key=f"k{i}", severity="critical", title=f"alert {i}",
                evidence={"i": i}, now=now,
            )  # fmt: skip
    sent: list[Notification] = []
    hook_calls: list[Any] = []
    down = {"on": True}

    def flaky(n: Notification) -> None:
        hook_calls.append(n.event_id)
        if down["on"]:
            raise ConnectionError("webhook unreachable")

    channels = [Channel("log", sent.append), Channel("webhook", flaky)]
    first = deliver_pending(sqlite_engine, channels, tenant_id=TENANT)
    assert first.as_dict() == {"delivered": 0, "pending": 3, "failures": 3}
    down["on"] = False
    second = deliver_pending(sqlite_engine, channels, tenant_id=TENANT)
    assert second.as_dict() == {"delivered": 3, "pending": 0, "failures": 0}
    assert len(sent) == 3  # the log got each event once, not again on the retry
    assert len(hook_calls) == 6
    assert deliver_pending(sqlite_engine, channels, tenant_id=TENANT).delivered == 0
    assert sent[0].subject.startswith("[spectra critical]")
