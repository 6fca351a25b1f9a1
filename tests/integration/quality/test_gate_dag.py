"""The gate inside the real DAG: a blocked account stops only its own downstream steps.

``spectra_daily`` runs through Airflow itself (``dag.test`` in a fresh process with its own
AIRFLOW_HOME) against a defect-injecting sandbox: one account is clean, the other misses the
logical date (block). A probe task mapped over ``validate``'s output stands in for the
downstream steps (analyze, propose) that later issues add: it must run for the clean account
only, while both ingests, both validates and the report succeed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from quality_defects import DefectMarket, DropDay
from sqlalchemy import select
from support.airflow_dag import ads_connection, run_dag

from spectra.sandbox.server import SandboxServer
from spectra.warehouse import models as m
from spectra.warehouse.db import make_engine, migrate
from spectra.warehouse.repositories import register_account, register_tenant

TENANT = "acme"

# Wired onto the DAG before the run: a task mapped over validate's output, which exists only
# for the accounts the gate let through.
PROBE = """
from airflow.sdk import task


@task
def downstream_probe(account):
    return account["customer_id"]


downstream_probe.expand(account=dag.get_task("validate").output)
"""


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

    with SandboxServer(defects, clock=market.reference_date) as sandbox:
        result = run_dag(
            tmp_path,
            "spectra_daily",
            database_url=url,
            connections={"google_ads_default": ads_connection(sandbox)},
            logical_date=day.isoformat(),
            probe=PROBE,
        )
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
