"""A deployment SIGKILLed right after each step's create request (the resources exist in the
sandbox, nothing about them is recorded) resumes from the last completed step in the next
process and never creates a second copy of anything: the sandbox's own log and catalog say
so, not our ledger."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from launch_support import TENANT, make_brief, register
from sqlalchemy import Engine
from support.executor_config import fast_config
from support.sandbox_log import created_for, images_in_sandbox, last_seq

from spectra.ads.client import AdsCredentials
from spectra.apply.operations import STEPS
from spectra.domain.campaign_state import CampaignState as S
from spectra.guardrails.service import grant
from spectra.launch import pipeline
from spectra.launch.lifecycle import create_draft, load_launch

WORKER = Path(__file__).with_name("launch_worker.py")


def _worker(engine: Engine, sandbox: Any, launch_id: int, kill_at: str | None, tmp: Path) -> int:
    err = tmp / f"worker-{time.monotonic_ns()}.err"
    cmd = [
        sys.executable, str(WORKER), engine.url.render_as_string(hide_password=False),
        sandbox.endpoint, str(sandbox.ca_cert), TENANT, str(launch_id), "--ttl", "0.5",
    ]  # fmt: skip
    if kill_at:
        cmd += ["--kill-at", kill_at]
    with err.open("w") as stderr:
        code = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=stderr, timeout=180).returncode
    if kill_at and code != -signal.SIGKILL:
        pytest.fail(f"worker not killed at {kill_at} (exit {code}):\n{err.read_text()[-3000:]}")
    return code


def test_killed_after_each_deployment_step_resumes_without_duplicates(
    sqlite_engine: Engine,
    launch_market: Any,
    launch_sandbox: Any,
    launch_client: Any,
    launch_creds: AdsCredentials,
    models: Any,
    tmp_path: Path,
) -> None:
    engine = sqlite_engine
    cid = launch_market.customer_ids()[0]
    register(engine, cid)
    llm, imagen = models
    brief = make_brief(cid, "Launch | crash after every step")
    launch, _ = create_draft(engine, brief, actor="ann")
    pipeline.generate_assets(
        engine, tenant_id=TENANT, launch_id=launch.id, model=llm, imagen=imagen
    )
    ready = pipeline.prepare_deployment(
        engine, launch_client, launch_creds, tenant_id=TENANT, launch_id=launch.id,
        config=fast_config(),
    )  # fmt: skip
    assert ready.ready, ready.reason
    grant(engine, tenant_id=TENANT, principal="root", role="admin", by="root")
    pipeline.set_launch_autopilot(engine, tenant_id=TENANT, on=True, by="root")
    build = pipeline.campaign_build(
        engine, load_launch(engine, tenant_id=TENANT, launch_id=launch.id)
    )
    seq = last_seq(launch_market)
    for step in STEPS:
        _worker(engine, launch_sandbox, launch.id, f"mutated:{step}", tmp_path)
        state = load_launch(engine, tenant_id=TENANT, launch_id=launch.id)
        assert state.state is S.DEPLOYING, (step, state.state_reason)
        time.sleep(0.6)  # the dead holder's lease runs out
    assert _worker(engine, launch_sandbox, launch.id, None, tmp_path) == 0
    final = load_launch(engine, tenant_id=TENANT, launch_id=launch.id)
    assert final.state is S.ACTIVE, final.state_reason
    campaign_rn = f"customers/{cid}/campaigns/{final.campaign_id}"
    budget_rn = next(rn for rn in final.resources if "/campaignBudgets/" in rn)
    keywords = sum(len(g.keywords) for g in build.ad_groups)
    assert created_for(launch_market, cid, seq, campaign_rn, budget_rn) == Counter(
        {"campaign_budget": 1, "campaign": 1, "ad_group": 1, "ad_group_criterion": keywords,
         "ad_group_ad": 1}
    )  # fmt: skip
    assert images_in_sandbox(launch_market, cid, build) == {"asset": 2, "campaign_asset": 2}
    assert len(final.resources) == len(set(final.resources)) == 8 + keywords


pytestmark = pytest.mark.slow
