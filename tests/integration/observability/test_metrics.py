"""The Prometheus endpoint serves every named series, with the warehouse's numbers at scrape
time; ``spectra metrics serve --once`` prints the same exposition."""

from __future__ import annotations

import datetime as dt
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, text

from spectra.observability.metrics import SERIES, registry
from spectra.warehouse import monitor_store
from spectra.warehouse.models import CircuitBreakerRow, PerformanceDaily
from spectra.warehouse.repositories import register_account, register_tenant

TENANT, CUSTOMER = "acme", 1234567890
NOW = dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC)


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_account(conn, tenant_id=TENANT, customer_id=CUSTOMER)
        for i, severity in enumerate(("critical", "critical", "warning")):
            monitor_store.raise_alert(
                conn, tenant_id=TENANT, customer_id=CUSTOMER, campaign_id=i, monitor="spend",
                kind="daily_limit", dedup_key=f"k{i}", severity=severity, title="t",
                evidence={}, now=NOW,
            )  # fmt: skip
        monitor_store.record_pause(
            conn,
            values={
                "tenant_id": TENANT, "customer_id": CUSTOMER, "campaign_id": 7,
                "entity_key": "campaign:7", "reason": "daily_limit", "local_date": NOW.date(),
                "paused_at": NOW, "change_key": "k", "detail": {}, "resumed_at": None,
                "resume_change_key": None,
            },
        )  # fmt: skip
        conn.execute(CircuitBreakerRow.__table__.insert().values(name="google_ads", state="open"))
        conn.execute(
            PerformanceDaily.__table__.insert(),
            [
                {
                    "tenant_id": TENANT, "customer_id": CUSTOMER, "level": "campaign",
                    "entity_id": 7, "ad_group_id": 0, "campaign_id": 7, "date": day,
                    "impressions": 1000 * n, "clicks": 10 * n, "cost_micros": 5_000_000 * n,
                    "conversions": 1.5 * n, "conversions_value_micros": 0,
                    "reported_as_of": day,
                }
                for n, day in ((1, dt.date(2026, 11, 29)), (2, dt.date(2026, 11, 30)))
            ],
        )  # fmt: skip


def _airflow_metadata(tmp_path: Path) -> Engine:
    """Airflow's ``task_instance`` table (the columns the queue-depth query reads)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'airflow.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE task_instance (dag_id TEXT, task_id TEXT, state TEXT)"))
        conn.execute(
            text("INSERT INTO task_instance VALUES (:d, :t, :s)"),
            [
                {"d": "spectra_daily", "t": "ingest", "s": "queued"},
                {"d": "spectra_daily", "t": "ingest", "s": "queued"},
                {"d": "spectra_monitors", "t": "spend", "s": "running"},
                {"d": "spectra_daily", "t": "validate", "s": "success"},
            ],
        )
    return engine


def test_the_endpoint_serves_every_named_series(sqlite_engine: Engine, tmp_path: Path) -> None:
    _seed(sqlite_engine)
    reg = registry(sqlite_engine, airflow_engine=_airflow_metadata(tmp_path))
    server, thread = start_http_server(0, addr="127.0.0.1", registry=reg)
    try:
        port = server.server_port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            assert resp.status == 200
            body = resp.read().decode()
    finally:
        server.shutdown()
        thread.join(timeout=5)
    families = {f.name: f for f in text_string_to_metric_families(body)}
    missing = [s for s in SERIES if s not in families]
    assert not missing, missing

    def value(family: str, **labels: str) -> float:
        (sample,) = [s for s in families[family].samples if s.labels == labels]
        return sample.value

    assert value("spectra_airflow_task_instances", dag_id="spectra_daily", state="queued") == 2
    assert value("spectra_airflow_task_instances", dag_id="spectra_monitors", state="running") == 1
    assert value("spectra_alerts_open", tenant=TENANT, monitor="spend", severity="critical") == 2
    assert value("spectra_monitor_pauses", tenant=TENANT, reason="daily_limit") == 1
    assert value("spectra_circuit_breaker_state", name="google_ads", state="open") == 1
    assert value("spectra_circuit_breaker_state", name="google_ads", state="closed") == 0
    assert value("spectra_google_ads_daily_quota") == 15_000
    # the campaign's newest ingested day, not a sum over days
    labels = {"tenant": TENANT, "customer_id": str(CUSTOMER), "campaign_id": "7"}
    assert value("spectra_campaign_cost_micros", **labels) == 10_000_000
    assert value("spectra_campaign_conversions", **labels) == pytest.approx(3.0)


def test_metrics_serve_once_prints_the_exposition(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from spectra.cli import main

    _seed(sqlite_engine)
    monkeypatch.setenv("SPECTRA_DATABASE_URL", sqlite_engine.url.render_as_string(False))
    monkeypatch.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", raising=False)
    assert main(["metrics", "serve", "--once"]) == 0
    out = capsys.readouterr().out
    assert 'spectra_alerts_open{monitor="spend",severity="critical",tenant="acme"} 2.0' in out
