"""End to end: `spectra demo` runs the spectra_daily DAG through Airflow (dag.test) against the
sandbox, in an isolated home (own Airflow metadata DB, warehouse, TLS files and port)."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from spectra.warehouse.models import Base

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_demo_runs_the_dag_and_loads_the_warehouse(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "airflow_settings.yaml", home / "airflow_settings.yaml")
    airflow_home = tmp_path / "airflow"
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "SPECTRA_HOME": str(home),
        "SPECTRA_SANDBOX_PORT": str(_free_port()),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
    }
    for key in ("SPECTRA_DATABASE_URL", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"):
        env.pop(key, None)
    migrate = subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    demo = subprocess.run(
        [str(BIN / "spectra"), "demo", "--days", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, (demo.stdout[-3000:], demo.stderr[-3000:])
    assert "2/2 runs succeeded" in demo.stdout
    # The listing names every warehouse table with its rows (the lag histogram included).
    listing = demo.stdout.split("Warehouse after the demo:", 1)[1].split("\n\n", 1)[0]
    listed = {line.split()[0]: int(line.split()[1]) for line in listing.strip().splitlines()}
    assert set(listed) == set(Base.metadata.tables)
    assert listed["conversion_lag_buckets"] > 0

    warehouse = sqlite3.connect(home / "var" / "spectra.db")
    runs = warehouse.execute(
        "SELECT COUNT(*), COUNT(DISTINCT logical_date), MIN(status), MAX(status) FROM ingest_runs"
    ).fetchone()
    assert runs == (4, 2, "success", "success")  # 2 accounts x 2 days
    levels = dict(
        warehouse.execute("SELECT level, COUNT(*) FROM performance_daily GROUP BY level").fetchall()
    )
    assert set(levels) == {"campaign", "ad_group", "keyword"} and all(
        n > 0 for n in levels.values()
    )
    assert warehouse.execute(
        "SELECT COUNT(DISTINCT tenant_id) FROM performance_daily"
    ).fetchone() == (1,)

    meta = sqlite3.connect(airflow_home / "airflow.db")
    states = meta.execute(
        "SELECT state, COUNT(*) FROM dag_run WHERE dag_id = 'spectra_daily' GROUP BY state"
    ).fetchall()
    assert states == [("success", 2)]
    mapped = meta.execute(
        "SELECT COUNT(*) FROM task_instance WHERE dag_id = 'spectra_daily' AND task_id = 'ingest' AND state = 'success'"
    ).fetchone()
    assert mapped == (4,)
