"""``spectra_launch`` through Airflow itself (``dag.test`` in a fresh process with its own
AIRFLOW_HOME) against the sandbox and the LLM / Imagen stand-in: a DRAFT launch of a tenant
with launch autopilot on ends ACTIVE with its images, and the run succeeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from launch_support import TENANT, make_brief, register
from support.airflow_dag import ads_connection, gemini_connection, run_dag

from spectra.domain.campaign_state import CampaignState as S
from spectra.guardrails.service import grant
from spectra.launch import pipeline
from spectra.launch.lifecycle import create_draft, load_launch
from spectra.warehouse.db import make_engine, migrate


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

    result = run_dag(
        tmp_path,
        "spectra_launch",
        database_url=url,
        connections={
            "google_ads_default": ads_connection(launch_sandbox, sandbox_clock=False),
            "gemini_default": gemini_connection(standin, timeout_seconds=10),
        },
        conf={"tenant_id": TENANT},
    )
    states = {(t, i): s for t, i, s, _ in result["tis"]}
    assert result["run"] == "success", result
    assert states[("deploy", 0)] == "success"
    final = load_launch(engine, tenant_id=TENANT, launch_id=launch.id)
    assert final.state is S.ACTIVE, final.state_reason
    assert sum("/campaignAssets/" in rn for rn in final.resources) == 2
