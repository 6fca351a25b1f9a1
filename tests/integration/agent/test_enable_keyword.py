"""A paused keyword that paid while it ran: analytics keeps its bid envelope (from the days it
served), the agent turns an ``increase`` into an enable option, and the proposal re-enables it
— never a bid change for a keyword that does not serve."""

from __future__ import annotations

from agent_support import DAY, TENANT, envelopes
from agent_support import proposals as _proposals
from sqlalchemy import Engine, update

from spectra.agent.client import GeminiClient
from spectra.agent.service import propose_account
from spectra.analytics.service import analyze_and_store
from spectra.sandbox.llm import LlmStandIn
from spectra.warehouse import models as m


def test_a_paused_paying_keyword_is_proposed_for_enabling(
    warehouse: Engine, gemini: GeminiClient, standin: LlmStandIn, account: int
) -> None:
    raised = [
        e
        for (kind, _), e in envelopes(warehouse).items()
        if kind == "bid" and e["tenant_id"] == TENANT and e["direction"] == "increase"
    ]
    assert raised, "the tiny market's first account has keywords worth a higher bid"
    env = raised[0]
    k = m.Keyword
    with warehouse.begin() as conn:  # the advertiser paused it after the evidence window began
        conn.execute(
            update(k)
            .where(
                k.tenant_id == TENANT,
                k.ad_group_id == env["ad_group_id"],
                k.criterion_id == env["entity_id"],
            )
            .values(serving_status="PAUSED")
        )
    analyze_and_store(warehouse, tenant_id=TENANT, customer_id=account, logical_date=DAY)
    again = envelopes(warehouse)[("bid", env["entity_id"])]
    assert again["direction"] == "increase" and again["ad_group_id"] == env["ad_group_id"]

    standin.mode = "sound"
    propose_account(
        warehouse, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY,
        use_breaker=False,
    )  # fmt: skip
    mine = [
        r
        for r in _proposals(warehouse)
        if (r["ad_group_id"], r["criterion_id"]) == (env["ad_group_id"], env["entity_id"])
    ]
    assert [(r["kind"], r["current_value"], r["new_value"]) for r in mine] == [
        ("enable_keyword", "PAUSED", "ENABLED")
    ]
    assert f"envelope:{again['id']}" in mine[0]["evidence_ids"]
