"""The Gemini circuit breaker is shared across processes (warehouse storage): failures in one
task process open it, and another process then falls back without calling the provider."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from agent_support import DAY, TENANT, proposals
from sqlalchemy import Engine, select

from spectra.agent.client import GeminiClient
from spectra.agent.service import BREAKER_NAME, propose_account
from spectra.agent.settings import AgentSettings
from spectra.sandbox.llm import LlmStandIn
from spectra.warehouse import models as m

WORKER = textwrap.dedent(
    """
    import datetime as dt, json, sys
    from spectra.agent.client import GeminiClient
    from spectra.agent.service import propose_account
    from spectra.agent.settings import AgentSettings, GeminiSettings
    from spectra.warehouse.db import make_engine

    url, base_url, customer = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = GeminiClient(
        GeminiSettings(project="p", base_url=base_url, access_token="t"),
        retry_attempts=2, retry_total_seconds=2, retry_max_wait_seconds=0.05,
    )
    outcome = propose_account(
        make_engine(url), client, tenant_id="acme", customer_id=customer,
        logical_date=dt.date.fromisoformat(sys.argv[4]),
        settings=AgentSettings(breaker_fail_max=2, breaker_reset_seconds=600),
    )
    print("RESULT " + json.dumps(outcome.as_dict()))
    """
)


def test_an_open_breaker_in_one_process_makes_another_fall_back(
    warehouse: Engine, gemini: GeminiClient, standin: LlmStandIn, account: int,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    standin.mode = "server_error"
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(warehouse.url), standin.base_url, str(account), DAY.isoformat()],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    first = json.loads(lines[-1].removeprefix("RESULT "))
    assert first["campaigns"] == 2 and len(first["fallbacks"]) == 2
    with warehouse.connect() as conn:
        state = conn.execute(
            select(m.CircuitBreakerRow.state).where(m.CircuitBreakerRow.name == BREAKER_NAME)
        ).scalar_one()
    assert state == "open"

    standin.mode = "sound"  # the provider recovered, but the breaker has not reset yet
    before = len(standin.generate_requests())
    settings = AgentSettings(breaker_fail_max=2, breaker_reset_seconds=600)
    outcome = propose_account(
        warehouse, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY,
        settings=settings,
    )  # fmt: skip
    assert len(standin.generate_requests()) == before  # not called
    rows = proposals(warehouse)
    assert rows and all(r["source"] == "fallback" for r in rows)
    assert all("circuit breaker open" in r["fallback_reason"] for r in rows)
    assert len(outcome.fallbacks) == outcome.campaigns
    assert "BREAKER OPEN" in caplog.text
