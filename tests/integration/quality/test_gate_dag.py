"""The gate inside the real DAG: a blocked account stops only its own downstream steps.

``spectra_daily`` runs through Airflow itself (``dag.test`` in a fresh process with its own
AIRFLOW_HOME) against a defect-injecting sandbox: one account is clean, the other misses the
logical date (block). A probe task mapped over ``validate``'s output stands in for the
downstream steps (analyze, propose) that later issues add: it must run for the clean account
only, while both ingests, both validates and the report succeed.
"""

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
from quality_defects import DefectMarket, DropDay
from sqlalchemy import select

from spectra.sandbox.server import SandboxServer
from spectra.warehouse import models as m
from spectra.warehouse.db import make_engine, migrate
from spectra.warehouse.repositories import register_account, register_tenant

REPO = Path(__file__).resolve().parents[3]
TENANT = "acme"

PROBE = textwrap.dedent(
    """
    import json, sys
    import pendulum
    from airflow.sdk import task
    from spectra.airflow.local import load_dag

    day = pendulum.parse(sys.argv[1])
    dag = load_dag("spectra_daily")
    with dag:
        @task
        def downstream_probe(account):
            return account["customer_id"]

        downstream_probe.expand(account=dag.get_task("validate").output)
    run = dag.test(logical_date=day)
    states = [
        [ti.task_id, ti.map_index, str(ti.state), ti.rendered_map_index]
        for ti in run.get_task_instances()
    ]
    print("RESULT " + json.dumps({"run": str(run.state), "tis": states}))
    """
)


@pytest.mark.slow
def test_block_skips_only_that_accounts_downstream(tmp_path: Path, market: Any) -> None:
    clean, blocked = (int(c) for c in market.customer_ids())
    day = market.reference_date - dt.timedelta(days=1)
    defects = DefectMarket(market)
    defects.defects.append(DropDay(blocked, (day,)))

    url = f"sqlite:///{tmp_path / 'spectra.db'}"
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        for cid in (clean, blocked):
            register_account(conn, tenant_id=TENANT, customer_id=cid)

    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    with SandboxServer(defects, clock=market.reference_date) as sandbox:
        host, port = sandbox.endpoint.rsplit(":", 1)
        connection = {
            "conn_type": "googleads",
            "host": host,
            "port": int(port),
            "login": "client-id",
            "password": "client-secret",
            "extra": {
                "developer_token": "dev-token",
                "access_token": "token",
                "ca_cert_path": str(sandbox.ca_cert),
                "sandbox_clock": True,
            },
        }
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
            [sys.executable, "-c", PROBE, day.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    tis = {(t, i): (state, label) for t, i, state, label in result["tis"]}

    assert result["run"] == "success"
    assert {tis[("ingest", i)][0] for i in (0, 1)} == {"success"}
    validate = {label: state for (t, _), (state, label) in tis.items() if t == "validate"}
    assert validate == {
        f"pass {TENANT}/{clean}": "success",
        f"BLOCK {TENANT}/{blocked}": "success",
    }
    probes = [k for k in tis if k[0] == "downstream_probe"]
    assert len(probes) == 1 and tis[probes[0]][0] == "success"  # only the clean account
    assert tis[("quality_report", -1)][0] == "success"

    with engine.connect() as conn:
        verdicts = dict(conn.execute(select(m.QualityRun.customer_id, m.QualityRun.status)).all())
    engine.dispose()
    assert verdicts == {clean: "pass", blocked: "block"}
    assert (tmp_path / "var" / "quality" / "data_docs" / "index.html").exists()
