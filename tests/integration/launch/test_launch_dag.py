"""``spectra_launch`` through Airflow itself (``dag.test`` in a fresh process with its own
AIRFLOW_HOME) against the sandbox and the LLM / Imagen stand-in: a DRAFT launch of a tenant
with launch autopilot on ends ACTIVE with its images, and the run succeeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from launch_support import TENANT, make_brief, register

from spectra.domain.campaign_state import CampaignState as S
from spectra.guardrails.service import grant
from spectra.launch import pipeline
from spectra.launch.lifecycle import create_draft, load_launch
from spectra.warehouse.db import make_engine, migrate

REPO = Path(__file__).resolve().parents[3]
RUN = textwrap.dedent(
    """
    import json, sys
    from spectra.airflow.local import load_dag

    dag = load_dag("spectra_launch")
    run = dag.test(run_conf={"tenant_id": sys.argv[1]})
    states = [[ti.task_id, ti.map_index, str(ti.state)] for ti in run.get_task_instances()]
    print("RESULT " + json.dumps({"run": str(run.state), "tis": states}))
    """
)


@pytest.mark.slow
def test_a_draft_launch_goes_live_through_airflow(
    tmp_path: Path, launch_market: Any, launch_sandbox: Any, standin: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'spectra.db'}"
    engine = make_engine(url)
    migrate(engine)
    cid = launch_market.customer_ids()[1]
    register(engine, cid)
    grant(engine, tenant_id=TENANT, principal="root", role="admin", by="root")
    pipeline.set_launch_autopilot(engine, tenant_id=TENANT, on=True, by="root")
    launch, _ = create_draft(engine, make_brief(cid, "Launch | through Airflow"), actor="ann")

    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    host, port = launch_sandbox.endpoint.rsplit(":", 1)
    ads = {
        "conn_type": "googleads", "host": host, "port": int(port), "login": "client-id",
        "password": "client-secret",
        "extra": {"developer_token": "dev-token", "access_token": "token",
                  "ca_cert_path": str(launch_sandbox.ca_cert)},
    }  # fmt: skip
    gemini = {
        "conn_type": "gemini", "host": "http://127.0.0.1", "port": standin.port,
        "extra": {"project": "p", "location": "us-central1", "access_token": "t",
                  "timeout_seconds": 10},
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
        [sys.executable, "-c", RUN, TENANT], env=env, capture_output=True, text=True, timeout=600
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    states = {(t, i): s for t, i, s in result["tis"]}
    assert result["run"] == "success", result
    assert states[("deploy", 0)] == "success"
    final = load_launch(engine, tenant_id=TENANT, launch_id=launch.id)
    assert final.state is S.ACTIVE, final.state_reason
    assert sum("/campaignAssets/" in rn for rn in final.resources) == 2
