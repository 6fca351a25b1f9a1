"""One DAG run through Airflow itself, for the DAG tests: ``dag.test`` in a fresh process with
its own AIRFLOW_HOME (a migrated SQLite metadata database), the warehouse at ``database_url``
and the connections to the sandbox and the LLM stand-in given as ``AIRFLOW_CONN_*``.

A test builds its warehouse, calls :func:`run_dag` and asserts on the run's state, its task
instances (``tis``: task id, map index, state, rendered map index) and the asset events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

# Runs in the child: argv[1] is the JSON of {"dag", "logical_date", "conf", "probe"}; "probe"
# is source run inside ``with dag:`` before the test (extra tasks a test wires onto the DAG).
_RUN = textwrap.dedent(
    """
    import json, sys
    import pendulum
    from spectra.airflow.local import load_dag

    spec = json.loads(sys.argv[1])
    dag = load_dag(spec["dag"])
    if spec["probe"]:
        with dag:
            exec(spec["probe"])
    kwargs = {}
    if spec["logical_date"]:
        kwargs["logical_date"] = pendulum.parse(spec["logical_date"])
    if spec["conf"] is not None:
        kwargs["run_conf"] = spec["conf"]
    run = dag.test(**kwargs)
    tis = [
        [ti.task_id, ti.map_index, str(ti.state), ti.rendered_map_index]
        for ti in run.get_task_instances()
    ]
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    with create_session() as session:
        events = [e.asset.uri for e in session.query(AssetEvent).all()]
    print("RESULT " + json.dumps({"run": str(run.state), "tis": tis, "events": events}))
    """
)


def ads_connection(sandbox: Any, *, sandbox_clock: bool = True) -> dict[str, Any]:
    """The ``google_ads_default`` connection to a running ``SandboxServer``."""
    host, port = sandbox.endpoint.rsplit(":", 1)
    extra: dict[str, Any] = {
        "developer_token": "dev-token",
        "access_token": "token",
        "ca_cert_path": str(sandbox.ca_cert),
    }
    if sandbox_clock:
        extra["sandbox_clock"] = True
    return {
        "conn_type": "googleads",
        "host": host,
        "port": int(port),
        "login": "client-id",
        "password": "client-secret",
        "extra": extra,
    }


def gemini_connection(standin: Any, **extra: Any) -> dict[str, Any]:
    """The ``gemini_default`` connection to a running ``LlmStandIn``."""
    return {
        "conn_type": "gemini",
        "host": "http://127.0.0.1",
        "port": standin.port,
        "extra": {"project": "p", "location": "us-central1", "access_token": "t", **extra},
    }


def run_dag(
    tmp_path: Path,
    dag_id: str,
    *,
    database_url: str,
    connections: Mapping[str, Mapping[str, Any]],
    logical_date: str | None = None,
    conf: Mapping[str, Any] | None = None,
    probe: str = "",
    timeout: int = 600,
) -> dict[str, Any]:
    """Run ``dag_id`` once; the run's ``{"run", "tis", "events"}``. ``connections`` by conn id
    (``google_ads_default``...); the child's SPECTRA_HOME is ``tmp_path``."""
    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "SPECTRA_HOME": str(tmp_path),
        "SPECTRA_DATABASE_URL": database_url,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        **{f"AIRFLOW_CONN_{name.upper()}": json.dumps(c) for name, c in connections.items()},
    }
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run(
        [str(airflow), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
    )
    spec = {
        "dag": dag_id,
        "logical_date": logical_date,
        "conf": dict(conf) if conf is not None else None,
        "probe": textwrap.dedent(probe),
    }
    done = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result
