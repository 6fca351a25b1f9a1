"""A real process SIGKILLed at every recovery point of a campaign build (after each step's send
is recorded, after its create returned, after it is recorded) resumes from the last completed
step, and the sandbox ends with exactly one of each resource."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from apply_support import fast_config, quick_breaker
from operation_support import (
    TENANT,
    campaign_build,
    created_for,
    created_since,
    expected_counts,
    images_in_sandbox,
    last_seq,
)
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.apply.operations import STEPS, operation_report, resume_operations
from spectra.observability.audit import verify
from spectra.warehouse.repositories import register_account, register_tenant

WORKER = Path(__file__).with_name("operation_worker.py")
EVENTS = ("sent", "mutated", "done")


def kill_points(engine: Engine) -> list[str]:
    """Every recovery point on SQLite; on PostgreSQL (the same code path, and each worker costs
    seconds of imports on a small machine) the one that matters most: created, not recorded."""
    events = EVENTS if engine.dialect.name == "sqlite" else ("mutated",)
    return [f"{event}:{step}" for step in STEPS for event in events]


def _worker(engine: Engine, sandbox: Any, build_path: Path, kill_at: str, tmp: Path) -> int:
    err = tmp / f"worker-{time.monotonic_ns()}.err"
    cmd = [
        sys.executable,
        str(WORKER),
        engine.url.render_as_string(hide_password=False),
        sandbox.endpoint,
        str(sandbox.ca_cert),
        str(build_path),
        "--kill-at",
        kill_at,
        "--ttl",
        "0.5",
    ]
    with err.open("w") as stderr:
        code = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=stderr, timeout=180).returncode
    if code != -signal.SIGKILL:
        pytest.fail(f"worker not killed at {kill_at} (exit {code}):\n{err.read_text()[-3000:]}")
    return code


def test_killed_at_every_recovery_point_resumes_without_duplicates(
    engine: Engine,
    apply_market: Any,
    apply_sandbox: Any,
    apply_client: Any,
    apply_creds: AdsCredentials,
    tmp_path: Path,
) -> None:
    cid = apply_market.customer_ids()[0]
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_account(conn, tenant_id=TENANT, customer_id=cid)
    build = campaign_build(cid, f"Crash launch {engine.dialect.name}")
    path = tmp_path / "build.json"
    path.write_text(build.model_dump_json())
    seq = last_seq(apply_market)
    points = kill_points(engine)
    for point in points:
        # each worker resumes where the previous one died, and dies at the next point
        _worker(engine, apply_sandbox, path, point, tmp_path)
        report = operation_report(engine, tenant_id=TENANT, operation_key=build.operation_key)
        assert report.status == "running", (point, report)
        event, step = point.split(":")
        done_through = STEPS.index(step) + (1 if event == "done" else 0)
        assert list(report.steps) == list(STEPS[:done_through]), (point, report.steps)
        created = Counter(ch.resource for ch in created_since(apply_market, cid, seq))
        for resource, n in created.items():
            assert n == expected_counts(build)[resource], (point, created)
        time.sleep(0.6)  # the dead holder's lease runs out
    (final,) = resume_operations(
        engine,
        apply_client,
        tenant_id=TENANT,
        creds=apply_creds,
        config=fast_config(),
        breaker=quick_breaker(engine),
    )
    assert final.status == "done", final
    # a worker killed at "sent" recorded a send that never went out, so the next one sent
    # again; the one killed at "mutated" left resources the next worker adopted by name
    assert final.found_existing == list(STEPS)
    assert final.sends == dict.fromkeys(STEPS, 2 if "sent:budget" in points else 1)
    assert Counter(ch.resource for ch in created_since(apply_market, cid, seq)) == expected_counts(
        build
    )
    assert images_in_sandbox(apply_market, cid, build) == {
        "asset": len(build.images),
        "campaign_asset": len(build.images),
    }
    assert final.campaign_resource_name is not None
    assert created_for(
        apply_market, cid, seq, final.campaign_resource_name, final.steps["budget"]["resource_name"]
    ) == expected_counts(build)
    (chain,) = verify(engine, tenant_id=TENANT)
    assert chain.ok, chain.problems
    assert json.loads(json.dumps(final.created()))  # resource names are plain data


pytestmark = pytest.mark.slow
