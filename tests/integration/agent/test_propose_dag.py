"""``propose`` inside the real DAG: ``spectra_daily`` through Airflow (``dag.test`` in a fresh
process with its own AIRFLOW_HOME) against the sandbox and the LLM stand-in, the Gemini client
built from the ``gemini_default`` connection. One propose instance per analysed account, its
proposals in the warehouse, the ``proposals`` asset updated."""

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
from agent_support import TENANT, analysed_account
from sqlalchemy import func, select

from spectra.sandbox.llm import LlmStandIn
from spectra.sandbox.server import SandboxServer
from spectra.warehouse import models as m
from spectra.warehouse.db import make_engine, migrate

REPO = Path(__file__).resolve().parents[3]

RUN = textwrap.dedent(
    """
    import json, sys
    import pendulum
    from spectra.airflow.local import load_dag

    dag = load_dag("spectra_daily")
    run = dag.test(logical_date=pendulum.parse(sys.argv[1]))
    states = [
        [ti.task_id, ti.map_index, str(ti.state), ti.rendered_map_index]
        for ti in run.get_task_instances()
    ]
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    with create_session() as session:
        events = [e.asset.uri for e in session.query(AssetEvent).all()]
    print("RESULT " + json.dumps({"run": str(run.state), "tis": states, "events": events}))
    """
)


@pytest.mark.slow
def test_propose_runs_per_account_through_airflow(tmp_path: Path, market: Any) -> None:
    accounts = [int(c) for c in market.customer_ids()]
    day = market.reference_date - dt.timedelta(days=1)
    url = f"sqlite:///{tmp_path / 'spectra.db'}"
    engine = make_engine(url)
    migrate(engine)
    for cid in accounts:  # the history earlier runs left behind
        analysed_account(engine, market, cid, tenant_id=TENANT, day=day - dt.timedelta(days=1))

    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    with SandboxServer(market, clock=market.reference_date) as sandbox, LlmStandIn() as llm:
        host, port = sandbox.endpoint.rsplit(":", 1)
        ads = {
            "conn_type": "googleads", "host": host, "port": int(port),
            "login": "client-id", "password": "client-secret",
            "extra": {"developer_token": "dev-token", "access_token": "token",
                      "ca_cert_path": str(sandbox.ca_cert), "sandbox_clock": True},
        }  # fmt: skip
        gemini = {
            "conn_type": "gemini", "host": "http://127.0.0.1", "port": llm.port,
            "extra": {"project": "spectra-test", "location": "us-central1",
                      "model": "gemini-2.5-flash", "access_token": "standin"},
        }  # fmt: skip
        env = {
            **os.environ,
            "SPECTRA_HOME": str(tmp_path),
            "SPECTRA_DATABASE_URL": url,
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW_CONN_GOOGLE_ADS_DEFAULT": json.dumps(ads),
            "AIRFLOW_CONN_GEMINI_DEFAULT": json.dumps(gemini),
        }
        airflow = Path(sys.executable).with_name("airflow")
        subprocess.run(
            [str(airflow), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
        )
        done = subprocess.run(
            [sys.executable, "-c", RUN, day.isoformat()],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        requests = llm.generate_requests()
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["run"] == "success"
    propose = {label: state for t, _, state, label in result["tis"] if t == "propose"}
    assert propose == {f"{TENANT}/{cid}": "success" for cid in accounts}
    assert "proposals" in result["events"]

    with engine.connect() as conn:
        by_account = dict(
            conn.execute(
                select(m.Proposal.customer_id, func.count())
                .where(m.Proposal.logical_date == day)
                .group_by(m.Proposal.customer_id)
            ).all()
        )
        calls = conn.execute(
            select(m.AiCall.customer_id, m.AiCall.outcome).where(m.AiCall.logical_date == day)
        ).all()
        sources = set(conn.execute(select(m.Proposal.source)).scalars())
    engine.dispose()
    assert set(by_account) == set(accounts)
    assert requests and len(calls) == len(requests)  # every request the stand-in saw is logged
    assert {o for _, o in calls} == {"ok"} and sources == {"llm"}
