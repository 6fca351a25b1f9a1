"""``spectra_monitors`` through Airflow itself (``dag.test`` in a fresh process with its own
AIRFLOW_HOME) against the sandbox: one hourly run of a logical instant pauses the campaign
whose spend is projected past its daily limit, through the apply executor, and the notify task
delivers the alert through the default log notifier."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from monitor_support import TENANT, local_instant, register
from sqlalchemy import select

from spectra.ads.client import AdsCredentials
from spectra.ads.entities import read_campaign
from spectra.sandbox.market import Market
from spectra.sandbox.server import SandboxServer
from spectra.warehouse import models as m
from spectra.warehouse.db import make_engine, migrate

REPO = Path(__file__).resolve().parents[3]
DAY = dt.date(2026, 12, 1)

RUN = textwrap.dedent(
    """
    import json, sys
    import pendulum
    from spectra.airflow.local import load_dag

    dag = load_dag("spectra_monitors")
    run = dag.test(logical_date=pendulum.parse(sys.argv[1]))
    states = [[ti.task_id, ti.map_index, str(ti.state)] for ti in run.get_task_instances()]
    print("RESULT " + json.dumps({"run": str(run.state), "tis": states}))
    """
)


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

    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    host, port = mon_sandbox.endpoint.rsplit(":", 1)
    connection = {
        "conn_type": "googleads", "host": host, "port": int(port), "login": "client-id",
        "password": "client-secret",
        "extra": {
            "developer_token": "dev-token", "access_token": "token",
            "ca_cert_path": str(mon_sandbox.ca_cert), "sandbox_clock": True,
        },
    }  # fmt: skip
    env = {
        **os.environ,
        "SPECTRA_HOME": str(tmp_path),
        "SPECTRA_DATABASE_URL": url,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW_CONN_GOOGLE_ADS_DEFAULT": json.dumps(connection),
    }
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run(
        [str(airflow), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
    )
    done = subprocess.run(
        [sys.executable, "-c", RUN, clock.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    states = {(t, i): s for t, i, s in result["tis"]}
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
