"""``propose`` inside the real DAG: ``spectra_daily`` through Airflow (``dag.test`` in a fresh
process with its own AIRFLOW_HOME) against the sandbox and the LLM stand-in, the Gemini client
built from the ``gemini_default`` connection. One propose instance per analysed account, its
proposals in the warehouse, the ``proposals`` asset updated."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from agent_support import TENANT, analysed_account
from sqlalchemy import func, select
from support.airflow_dag import ads_connection, gemini_connection, run_dag

from spectra.sandbox.llm import LlmStandIn
from spectra.sandbox.server import SandboxServer
from spectra.warehouse import models as m
from spectra.warehouse.db import make_engine, migrate


@pytest.mark.slow
def test_propose_runs_per_account_through_airflow(tmp_path: Path, market: Any) -> None:
    accounts = [int(c) for c in market.customer_ids()]
    day = market.reference_date - dt.timedelta(days=1)
    url = f"sqlite:///{tmp_path / 'spectra.db'}"
    engine = make_engine(url)
    migrate(engine)
    for cid in accounts:  # the history earlier runs left behind
        analysed_account(engine, market, cid, tenant_id=TENANT, day=day - dt.timedelta(days=1))

    with SandboxServer(market, clock=market.reference_date) as sandbox, LlmStandIn() as llm:
        gemini = gemini_connection(
            llm, project="spectra-test", model="gemini-2.5-flash", access_token="standin"
        )
        result = run_dag(
            tmp_path,
            "spectra_daily",
            database_url=url,
            connections={
                "google_ads_default": ads_connection(sandbox),
                "gemini_default": gemini,
            },
            logical_date=day.isoformat(),
        )
        requests = llm.generate_requests()
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
