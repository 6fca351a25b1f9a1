"""Spectra's metrics in Prometheus format (``prometheus-client``), for dashboards and alerts.

A custom collector reads small aggregates from the warehouse (and, when given its URL, from
Airflow's metadata database) on every scrape, so the numbers are the stored truth at that
moment and nothing has to be pushed from the short-lived task processes. Served by
``spectra metrics serve``; Prometheus scrapes it beside Airflow's own StatsD metrics
(docker-compose.yaml), and ``deploy/grafana/spectra.json`` is the dashboard over both.

Series (all gauges):

- ``spectra_airflow_task_instances{dag_id,state}``: queued / running / … task instances
  (``spectra_airflow_metadata_up`` says whether Airflow's database answered);
- ``spectra_proposals_awaiting_approval{tenant}``, ``spectra_dead_letters{tenant}``;
- ``spectra_google_ads_operations_today{tenant}`` and ``spectra_google_ads_daily_quota``;
- ``spectra_ai_cost_today_micros{tenant}``;
- ``spectra_circuit_breaker_state{name,state}`` (1 for the breaker's current state);
- ``spectra_alerts_open{tenant,monitor,severity}``, ``spectra_monitor_pauses{tenant,reason}``;
- ``spectra_campaign_{impressions,clicks,cost_micros,conversions}{tenant,customer_id,campaign_id}``
  for each campaign's newest ingested day.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from spectra.ads.mutate import BASIC_ACCESS_OPERATIONS_PER_DAY
from spectra.warehouse import metrics_store as q

log = logging.getLogger(__name__)

DAILY_OPERATIONS_QUOTA = BASIC_ACCESS_OPERATIONS_PER_DAY
BREAKER_STATES = ("closed", "open", "half-open")

SERIES = (
    "spectra_airflow_task_instances",
    "spectra_airflow_metadata_up",
    "spectra_proposals_awaiting_approval",
    "spectra_dead_letters",
    "spectra_google_ads_operations_today",
    "spectra_google_ads_daily_quota",
    "spectra_ai_cost_today_micros",
    "spectra_circuit_breaker_state",
    "spectra_alerts_open",
    "spectra_monitor_pauses",
    "spectra_campaign_impressions",
    "spectra_campaign_clicks",
    "spectra_campaign_cost_micros",
    "spectra_campaign_conversions",
)


class SpectraCollector(Collector):
    """Reads the warehouse (and optionally Airflow's metadata DB) at scrape time."""

    def __init__(
        self,
        engine: Engine,
        *,
        airflow_engine: Engine | None = None,
        daily_quota: int = DAILY_OPERATIONS_QUOTA,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.engine = engine
        self.airflow_engine = airflow_engine
        self.daily_quota = daily_quota
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.now()
        tasks = GaugeMetricFamily(
            "spectra_airflow_task_instances",
            "Airflow task instances waiting or running, by DAG and state",
            labels=["dag_id", "state"],
        )
        up = GaugeMetricFamily(
            "spectra_airflow_metadata_up", "1 when Airflow's metadata database answered"
        )
        if self.airflow_engine is not None:
            try:
                with self.airflow_engine.connect() as conn:
                    for dag_id, state, n in q.airflow_task_states(conn):
                        tasks.add_metric([dag_id, state], n)
                up.add_metric([], 1.0)
            except OperationalError as exc:  # not migrated or unreachable: say so, go on
                log.warning("Airflow metadata database unavailable for metrics: %s", exc)
                up.add_metric([], 0.0)
        else:
            up.add_metric([], 0.0)
        yield tasks
        yield up
        with self.engine.connect() as conn:
            yield _by_tenant(
                "spectra_proposals_awaiting_approval",
                "Proposals waiting for a person's approval",
                q.proposals_awaiting_approval(conn),
            )
            yield _by_tenant(
                "spectra_dead_letters",
                "Changes that used up their retries (open dead letters)",
                q.open_dead_letters(conn),
            )
            yield _by_tenant(
                "spectra_google_ads_operations_today",
                "Google Ads mutate operations sent today (UTC)",
                q.ads_operations_today(conn, now=now),
            )
            quota = GaugeMetricFamily(
                "spectra_google_ads_daily_quota", "Google Ads operations allowed per day"
            )
            quota.add_metric([], self.daily_quota)
            yield quota
            yield _by_tenant(
                "spectra_ai_cost_today_micros",
                "LLM cost today (UTC), micros of USD",
                q.ai_cost_today(conn, now=now),
            )
            breakers = GaugeMetricFamily(
                "spectra_circuit_breaker_state",
                "1 for each circuit breaker's current state",
                labels=["name", "state"],
            )
            for name, state in q.breaker_states(conn):
                for s in BREAKER_STATES:
                    breakers.add_metric([name, s], 1.0 if s == state else 0.0)
            yield breakers
            alerts = GaugeMetricFamily(
                "spectra_alerts_open",
                "Open alerts by monitor and severity",
                labels=["tenant", "monitor", "severity"],
            )
            for tenant, monitor, severity, n in q.open_alerts(conn):
                alerts.add_metric([tenant, monitor, severity], n)
            yield alerts
            pauses = GaugeMetricFamily(
                "spectra_monitor_pauses",
                "Entities a monitor paused and has not re-enabled, by reason",
                labels=["tenant", "reason"],
            )
            for tenant, reason, n in q.open_monitor_pauses(conn):
                pauses.add_metric([tenant, reason], n)
            yield pauses
            perf = q.campaign_performance(conn)
        labels = ["tenant", "customer_id", "campaign_id"]
        for field, doc in (
            ("impressions", "Impressions on the campaign's newest ingested day"),
            ("clicks", "Clicks on the campaign's newest ingested day"),
            ("cost_micros", "Cost (micros, account currency) on the newest ingested day"),
            ("conversions", "Conversions on the campaign's newest ingested day"),
        ):
            family = GaugeMetricFamily(f"spectra_campaign_{field}", doc, labels=labels)
            for row in perf:
                family.add_metric(
                    [row["tenant_id"], str(row["customer_id"]), str(row["campaign_id"])],
                    float(row[field]),
                )
            yield family


def _by_tenant(name: str, doc: str, rows: list[tuple[str, int]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["tenant"])
    for tenant, value in rows:
        family.add_metric([tenant], value)
    return family


def registry(engine: Engine, *, airflow_engine: Engine | None = None) -> CollectorRegistry:
    """A registry with Spectra's collector only (no process metrics of the exporter)."""
    reg = CollectorRegistry()
    reg.register(SpectraCollector(engine, airflow_engine=airflow_engine))
    return reg


__all__ = ["DAILY_OPERATIONS_QUOTA", "SERIES", "SpectraCollector", "registry"]
