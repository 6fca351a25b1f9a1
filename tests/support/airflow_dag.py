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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).with_name("airflow")

# Runs in the child: argv[1] is the JSON of {"runs": [{"dag", "logical_date", "conf"}...],
# "probe"}; the runs go one after the other in this one process (as a backfill loop does);
# "probe" is source run inside ``with dag:`` of each DAG before its first run (extra tasks a
# test wires onto the DAG). Prints one RESULT line: a result per run, in order.
_RUN = textwrap.dedent(
    """
    import json, sys
    import pendulum
    from spectra.airflow.local import load_dag

    spec = json.loads(sys.argv[1])
    dags = {}
    results = []
    for one in spec["runs"]:
        if one["dag"] not in dags:
            dags[one["dag"]] = dag = load_dag(one["dag"])
            if spec["probe"]:
                with dag:
                    exec(spec["probe"])
        dag = dags[one["dag"]]
        kwargs = {}
        if one["logical_date"]:
            kwargs["logical_date"] = pendulum.parse(one["logical_date"])
        if one["conf"] is not None:
            kwargs["run_conf"] = one["conf"]
        run = dag.test(**kwargs)
        tis = [
            [ti.task_id, ti.map_index, str(ti.state), ti.rendered_map_index]
            for ti in run.get_task_instances()
        ]
        from airflow.models.asset import AssetEvent
        from airflow.utils.session import create_session
        with create_session() as session:
            events = [e.asset.uri for e in session.query(AssetEvent).all()]
        results.append({"run": str(run.state), "tis": tis, "events": events})
    print("RESULT " + json.dumps(results))
    """
)


@dataclass(frozen=True)
class DagRun:
    """One ``dag.test`` of :func:`run_dags`: the DAG, its logical date and run conf."""

    dag_id: str
    logical_date: str | None = None
    conf: Mapping[str, Any] | None = None


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


def airflow_env(
    tmp_path: Path,
    *,
    database_url: str,
    connections: Mapping[str, Mapping[str, Any]],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of an Airflow child: this process's, without its ``AIRFLOW*``
    settings (the test's Airflow is its own, whatever ran pytest), with AIRFLOW_HOME under
    ``tmp_path`` (a SQLite metadata DB there), SPECTRA_HOME ``tmp_path``, the warehouse at
    ``database_url``, ``connections`` by conn id (``google_ads_default``...) and ``extra``."""
    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "SPECTRA_HOME": str(tmp_path),
            "SPECTRA_DATABASE_URL": database_url,
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # generous: the DAG files parse in well under a second, but the machine is shared
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            **{f"AIRFLOW_CONN_{name.upper()}": json.dumps(c) for name, c in connections.items()},
            **(extra or {}),
        }
    )
    return env


def migrate_metadata(env: Mapping[str, str]) -> None:
    """``airflow db migrate`` for the child environment ``env``."""
    subprocess.run(
        [str(AIRFLOW), "db", "migrate"], env=dict(env), check=True, capture_output=True, timeout=300
    )


def dag_runs_command(runs: Sequence[DagRun], probe: str = "") -> list[str]:
    """The child's command line: ``runs`` one after the other, then one RESULT line."""
    spec = {
        "runs": [
            {
                "dag": r.dag_id,
                "logical_date": r.logical_date,
                "conf": dict(r.conf) if r.conf is not None else None,
            }
            for r in runs
        ],
        "probe": textwrap.dedent(probe),
    }
    return [sys.executable, "-c", _RUN, json.dumps(spec)]


def run_dags(
    tmp_path: Path,
    runs: Sequence[DagRun],
    *,
    database_url: str,
    connections: Mapping[str, Mapping[str, Any]],
    extra_env: Mapping[str, str] | None = None,
    probe: str = "",
    timeout: int = 600,
) -> list[dict[str, Any]]:
    """Run ``runs`` in order in one child process; each run's ``{"run", "tis", "events"}``
    (``events``: every asset event so far)."""
    env = airflow_env(tmp_path, database_url=database_url, connections=connections, extra=extra_env)
    migrate_metadata(env)
    done = subprocess.run(
        dag_runs_command(runs, probe), env=env, capture_output=True, text=True, timeout=timeout
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-5000:]
    results: list[dict[str, Any]] = json.loads(lines[-1].removeprefix("RESULT "))
    return results


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
    (result,) = run_dags(
        tmp_path,
        [DagRun(dag_id, logical_date, conf)],
        database_url=database_url,
        connections=connections,
        probe=probe,
        timeout=timeout,
    )
    return result
