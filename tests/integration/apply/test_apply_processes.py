"""Real processes: the executor SIGKILLed after each phase resumes correctly; two executors on
one campaign never interleave; a paused writer's stale fencing token is refused."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from apply_support import (
    TENANT,
    expected_mutation,
    fast_config,
    last_seq,
    mutation_counts,
    quick_breaker,
    random_changes,
    register_campaigns,
)
from sqlalchemy import Engine, select

from spectra.ads.client import AdsCredentials
from spectra.ads.entities import read_campaign
from spectra.apply.executor import resume_pending
from spectra.warehouse.models import AppliedChange, AuditRow, Campaign

WORKER = Path(__file__).with_name("apply_worker.py")
KILL_POINTS = ["locked", "preflighted", "sent", "mutated", "confirmed", "recorded"]


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _worker(
    engine: Engine, sandbox: Any, changes: list[Any], tmp: Path, *extra: str
) -> subprocess.Popen[str]:
    path = tmp / f"changes-{time.monotonic_ns()}.json"
    path.write_text(json.dumps([c.payload() for c in changes]))
    cmd = [
        sys.executable,
        str(WORKER),
        _url(engine),
        sandbox.endpoint,
        str(sandbox.ca_cert),
        str(path),
        *extra,
    ]
    err = (tmp / f"worker-{time.monotonic_ns()}.err").open("w")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    proc.err_path = Path(err.name)  # type: ignore[attr-defined]
    return proc


def _ended(proc: subprocess.Popen[str], timeout: float = 180) -> int:
    """The worker's exit code; a failure is reported with what the worker printed to stderr."""
    code = proc.wait(timeout=timeout)
    if code not in (0, 3):
        tail = proc.err_path.read_text()[-3000:]  # type: ignore[attr-defined]
        pytest.fail(f"worker exited with {code}:\n{tail}")
    return code


def _phases(engine: Engine, changes: list[Any]) -> dict[str, str]:
    keys = [c.idempotency_key for c in changes]
    with engine.connect() as conn:
        rows = conn.execute(
            select(AppliedChange.idempotency_key, AppliedChange.phase).where(
                AppliedChange.idempotency_key.in_(keys)
            )
        ).all()
    return dict(rows)


def test_killed_after_each_phase_resumes_exactly_once(
    engine: Engine,
    apply_market: Any,
    apply_sandbox: Any,
    apply_client: Any,
    apply_creds: AdsCredentials,
    tmp_path: Path,
) -> None:
    cid = apply_market.customer_ids()[0]
    campaigns = register_campaigns(engine, apply_client, apply_creds, cid)
    budget_rns = {
        c: read_campaign(
            apply_client, apply_creds, customer_id=cid, campaign_id=c
        ).budget_resource_name
        for c in campaigns
    }
    all_changes = random_changes(
        apply_client,
        apply_creds,
        cid,
        campaigns[:1],
        3 * len(KILL_POINTS),
        # Both backends share one sandbox market: the same seed would plan the same negative
        # keywords twice, and the second backend's CREATE then finds them already there. A seed
        # per backend (not the URL's length, which follows the worker's pid) keeps them apart.
        seed=11 if engine.dialect.name == "sqlite" else 12,
        ref=f"crash-{engine.dialect.name}",
    )
    seq = last_seq(apply_market)
    for i, phase in enumerate(KILL_POINTS):
        changes = all_changes[3 * i : 3 * i + 3]
        proc = _worker(engine, apply_sandbox, changes, tmp_path, "--kill-at", phase, "--ttl", "0.5")
        assert proc.wait(timeout=120) == -signal.SIGKILL, f"worker was not killed at {phase}"
        left = _phases(engine, changes)
        assert set(left.values()) <= {
            "approved",
            "locked",
            "preflighted",
            "sent",
            "confirmed",
            "recorded",
        }, left
        with engine.connect() as conn:
            state = conn.execute(
                select(Campaign.status).where(Campaign.campaign_id == campaigns[0])
            ).scalar_one()
        assert state == ("ACTIVE" if phase == "recorded" else "OPTIMIZING"), (phase, state)
        time.sleep(0.6)  # the dead holder's lease runs out
        report = resume_pending(
            engine,
            apply_client,
            tenant_id=TENANT,
            creds=apply_creds,
            config=fast_config(),
            breaker=quick_breaker(engine),
        )
        assert set(_phases(engine, changes).values()) == {"recorded"}, (phase, report)
        log = mutation_counts(apply_market, cid, seq)
        for change in changes:
            assert log[expected_mutation(change, budget_rns[change.campaign_id])] == 1, (
                phase,
                change,
            )
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(Campaign.status).where(Campaign.campaign_id == campaigns[0])
            ).scalar_one()
            == "ACTIVE"
        )


def test_two_processes_never_interleave_and_a_stale_token_is_refused(
    engine: Engine,
    apply_market: Any,
    apply_sandbox: Any,
    apply_client: Any,
    apply_creds: AdsCredentials,
    tmp_path: Path,
) -> None:
    cid = apply_market.customer_ids()[0]
    campaign = register_campaigns(engine, apply_client, apply_creds, cid)[1]
    changes = random_changes(
        apply_client,
        apply_creds,
        cid,
        [campaign],
        24,
        seed=99 + len(engine.dialect.name),
        ref=f"conc-{engine.dialect.name}",
    )
    seq = last_seq(apply_market)
    a = _worker(engine, apply_sandbox, changes[:12], tmp_path)
    b = _worker(engine, apply_sandbox, changes[12:], tmp_path)
    assert _ended(a) == 0 and _ended(b) == 0
    assert set(_phases(engine, changes).values()) == {"recorded"}
    keys = {c.idempotency_key for c in changes}
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditRow.change_key, AuditRow.action, AuditRow.detail)
            .where(AuditRow.tenant_id == TENANT)
            .order_by(AuditRow.seq)
        ).all()
    tokens = [d["token"] for k, action, d in rows if k in keys and action != "approved"]
    # in the chain's order, the writers' tokens come in blocks: one writer at a time
    assert tokens == sorted(tokens) and len(set(tokens)) >= 2, tokens
    assert sum(mutation_counts(apply_market, cid, seq).values()) == len(changes)

    # a writer paused past its lease wakes up to a refused token and sends nothing
    stale = random_changes(
        apply_client,
        apply_creds,
        cid,
        [campaign],
        4,
        seed=300 + len(engine.dialect.name),
        ref=f"stale-{engine.dialect.name}",
    )
    seq = last_seq(apply_market)
    a = _worker(engine, apply_sandbox, stale, tmp_path, "--stop-at", "preflighted", "--ttl", "0.5")
    deadline = time.monotonic() + 120
    while Path(f"/proc/{a.pid}/stat").read_text().split()[2] != "T":
        assert time.monotonic() < deadline and a.poll() is None, "worker never paused"
        time.sleep(0.05)
    time.sleep(0.7)
    resume_pending(
        engine,
        apply_client,
        tenant_id=TENANT,
        creds=apply_creds,
        config=fast_config(),
        breaker=quick_breaker(engine),
    )
    assert set(_phases(engine, stale).values()) == {"recorded"}
    a.send_signal(signal.SIGCONT)
    assert _ended(a, timeout=60) == 3, "the stale writer was not refused"
    assert "refused" in (a.stdout.read() if a.stdout else "")
    log = mutation_counts(apply_market, cid, seq)
    assert sum(log.values()) == len(stale)


pytestmark = pytest.mark.slow
