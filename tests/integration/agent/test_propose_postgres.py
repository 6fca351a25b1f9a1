"""The propose step on PostgreSQL: the same warehouse code, proposals replaced on re-run, the
cost log summing per campaign."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from agent_support import DAY, TENANT, analysed_account, assert_inside_envelopes, calls, proposals
from sqlalchemy import Engine, insert

from spectra.agent.client import GeminiClient
from spectra.agent.service import propose_account
from spectra.sandbox.llm import LlmStandIn
from spectra.warehouse import agent_store as store
from spectra.warehouse import models as m


@pytest.mark.postgres
def test_propose_on_postgres(
    pg_engine: Engine, gemini: GeminiClient, standin: LlmStandIn, market: Any, account: int
) -> None:
    analysed_account(pg_engine, market, account, tenant_id=TENANT)
    with pg_engine.begin() as conn:  # the pg fixture truncates every table after a test,
        if store.price_for(conn, "gemini-2.5-flash", DAY) is None:  # seeded rows included
            conn.execute(
                insert(m.ModelPrice).values(
                    model="gemini-2.5-flash", effective_from=dt.date(2025, 6, 17),
                    input_micros_per_mtok=300_000, output_micros_per_mtok=2_500_000,
                    source="test", source_date=DAY,
                )
            )  # fmt: skip
    standin.mode = "out_of_envelope@first"
    for _ in range(2):
        propose_account(pg_engine, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY)
    rows = proposals(pg_engine)
    assert rows and {r["source"] for r in rows} == {"repair"}
    assert len({r["option_key"] for r in rows}) == len(rows)
    assert_inside_envelopes(pg_engine, TENANT, account)
    log = calls(pg_engine)
    with pg_engine.connect() as conn:
        by_campaign = store.cost_by_campaign(conn, tenant_id=TENANT, logical_date=DAY)
    assert sum(by_campaign.values()) == sum(c["cost_micros"] for c in log) > 0
