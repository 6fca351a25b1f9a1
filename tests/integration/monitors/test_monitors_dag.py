"""``spectra_monitors`` through Airflow itself (``dag.test`` in a fresh process with its own
AIRFLOW_HOME) against the sandbox: one hourly run of a logical instant pauses the campaign
whose spend is projected past its daily limit, through the apply executor, and the notify task
delivers the alert through the default log notifier."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from monitor_support import TENANT, local_instant, register
from sqlalchemy import select
from support.airflow_dag import ads_connection, run_dag

from spectra.ads.client import AdsCredentials
from spectra.ads.entities import read_campaign
from spectra.sandbox.market import Market
from spectra.sandbox.server import SandboxServer
from spectra.warehouse import models as m
from spectra.warehouse.db import make_engine, migrate

DAY = dt.date(2026, 12, 1)


@pytest.mark.slow
def test_an_hourly_run_pauses_past_the_limit_and_notifies(
    tmp_path: Path,
    mon_market: Market,
    mon_sandbox: SandboxServer,
    mon_client: Any,
    mon_creds: AdsCredentials,
) -> None:
    url = f"sqlite:///{tmp_path / 'spectra.db'}"
    engine = make_engine(url)
    migrate(engine)
    cid = mon_market.customer_ids()[0]
    camps = register(engine, mon_market, cid, {})
    camp = camps[0]
    with engine.begin() as conn:  # a limit any spend this afternoon passes
        conn.execute(
            m.Campaign.__table__.update()
            .where(m.Campaign.campaign_id == camp)
            .values(max_daily_spend_micros=1_000_000)
        )
    clock = local_instant(mon_market, cid, DAY, 15)

    result = run_dag(
        tmp_path,
        "spectra_monitors",
        database_url=url,
        connections={"google_ads_default": ads_connection(mon_sandbox)},
        logical_date=clock.isoformat(),
    )
    states = {(t, i): s for t, i, s, _ in result["tis"]}
    assert result["run"] == "success", result
    assert states[("spend", 0)] == "success" and states[("notify", -1)] == "success"

    snap = read_campaign(mon_client, mon_creds, customer_id=cid, campaign_id=camp, as_of=clock)
    assert snap.snapshot["campaign"]["status"] == "PAUSED"
    with engine.connect() as conn:
        origin = conn.execute(
            select(m.AppliedChange.origin_kind, m.AppliedChange.phase).where(
                m.AppliedChange.tenant_id == TENANT
            )
        ).all()
        events = conn.execute(
            select(m.AlertEvent.event, m.AlertEvent.delivered_at, m.AlertEvent.channels)
        ).all()
    assert [(r.origin_kind, r.phase) for r in origin] == [("monitor", "recorded")]
    assert events and all(e.delivered_at is not None and e.channels == ["log"] for e in events)
