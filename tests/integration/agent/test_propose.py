"""The propose step on an analysed warehouse, through the real google-genai client and the LLM
stand-in: valid answers, every invalid-answer class → repair → fallback, idempotent re-runs,
the cost log, Smart Bidding, the daily AI budget."""

from __future__ import annotations

from typing import Any

import pytest
from agent_support import (
    DAY,
    OTHER,
    TENANT,
    assert_inside_envelopes,
    campaign_ids,
)
from agent_support import calls as _calls
from agent_support import envelopes as _envelopes
from agent_support import proposals as _proposals
from sqlalchemy import Engine, select, text, update

from spectra.agent.client import GeminiClient
from spectra.agent.prompts import assign_version, load_prompt
from spectra.agent.service import propose_account
from spectra.agent.settings import AgentSettings
from spectra.sandbox.llm import LlmStandIn
from spectra.warehouse import agent_store as store
from spectra.warehouse import models as m

NO_BREAKER = {"use_breaker": False}


def test_sound_answer_becomes_proposals_with_prompt_model_and_cost(
    warehouse: Engine, gemini: GeminiClient, account: int
) -> None:
    outcome = propose_account(
        warehouse, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY, **NO_BREAKER
    )
    rows = _proposals(warehouse)
    assert outcome.proposals == len(rows) > 0 and outcome.by_source == {"llm": len(rows)}
    assert_inside_envelopes(warehouse, TENANT, account)
    calls = _calls(warehouse)
    assert {c["outcome"] for c in calls} == {"ok"} and len(calls) == outcome.campaigns
    for row in rows:
        call = next(c for c in calls if c["id"] == row["ai_call_id"])
        assert call["campaign_id"] == row["campaign_id"]
        arm = assign_version(
            ("v1", "v2"), tenant_id=TENANT, customer_id=account, campaign_id=row["campaign_id"]
        )
        assert (row["prompt_id"], row["prompt_version"], row["model"]) == (
            "propose",
            arm,
            "gemini-2.5-flash",
        )
        assert row["prompt_hash"] == call["prompt_hash"] == load_prompt("propose", arm).content_hash
        assert row["reasoning"] and row["evidence_ids"]
    for call in calls:
        assert (
            call["prompt_tokens"] > 0 and call["output_tokens"] > 0 and call["thinking_tokens"] > 0
        )
        assert call["cost_micros"] > 0 and call["price_id"] is not None
    with warehouse.connect() as conn:
        registry = conn.execute(
            select(m.PromptVersion.prompt_id, m.PromptVersion.version, m.PromptVersion.content_hash)
        ).all()
    used = {(r["prompt_id"], r["prompt_version"], r["prompt_hash"]) for r in rows}
    assert set(registry) == used


def test_no_keyword_bid_proposal_on_a_smart_bidding_campaign(
    warehouse: Engine, gemini: GeminiClient, standin: LlmStandIn, account: int
) -> None:
    with warehouse.begin() as conn:
        smart = (
            conn.execute(
                select(m.Campaign.campaign_id).where(
                    m.Campaign.tenant_id == TENANT, m.Campaign.bidding_strategy_type == "TARGET_CPA"
                )
            )
            .scalars()
            .first()
        )
        assert smart is not None, "the tiny market has a Target CPA campaign"
        kw = conn.execute(
            select(m.Keyword.criterion_id, m.Keyword.ad_group_id).where(
                m.Keyword.tenant_id == TENANT, m.Keyword.campaign_id == smart
            )
        ).first()
        # even a bid envelope for one of its keywords (analytics never writes one) gives no option
        conn.execute(
            m.Envelope.__table__.insert().values(
                tenant_id=TENANT, customer_id=account, logical_date=DAY, kind="bid",
                entity_id=kw.criterion_id, campaign_id=smart, ad_group_id=kw.ad_group_id,
                current_micros=1_000_000, next_micros=1_200_000, direction="increase",
                max_change_pct=20.0, reason="test", evidence={},
            )
        )  # fmt: skip
    standin.mode = "gullible"  # proposes whatever bids the data suggests, too
    propose_account(
        warehouse, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY, **NO_BREAKER
    )
    rows = _proposals(warehouse)
    assert not [r for r in rows if r["kind"] == "keyword_bid" and r["campaign_id"] == smart]
    assert [r for r in rows if r["campaign_id"] == smart]  # its budget still gets a proposal


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("invalid_json", "Invalid JSON"),
        ("truncated_json", "EOF while parsing"),
        ("missing_fields", "Field required"),
        ("out_of_envelope", "outside today's envelope"),
        ("unknown_ids", "is not a campaign of this tenant's account"),
    ],
)
def test_invalid_answer_gets_one_repair_then_the_fallback(
    warehouse: Engine,
    gemini: GeminiClient,
    standin: LlmStandIn,
    account: int,
    mode: str,
    error: str,
) -> None:
    standin.mode = mode
    outcome = propose_account(
        warehouse, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY, **NO_BREAKER
    )
    calls = _calls(warehouse)
    assert [c["purpose"] for c in calls] == ["propose", "repair"] * outcome.campaigns
    assert {c["outcome"] for c in calls} == {"invalid"}
    assert all(error in c["error"] for c in calls)
    repairs = [r for r in standin.generate_requests() if r["repair"]]
    assert len(repairs) == outcome.campaigns  # one repair per campaign, carrying the errors
    assert error in repairs[0]["body"]["contents"][0]["parts"][0]["text"]
    rows = _proposals(warehouse)
    assert rows and {r["source"] for r in rows} == {"fallback"}
    assert all(
        "repair failed validation" in r["fallback_reason"] and error in r["fallback_reason"]
        for r in rows
    )
    assert_inside_envelopes(warehouse, TENANT, account)
    envelopes = _envelopes(warehouse)
    kinds = {"campaign_budget": "budget", "target_cpa": "target", "keyword_bid": "bid"}
    for r in rows:  # the fallback takes the envelope's own next value
        entity = r["criterion_id"] if r["kind"] == "keyword_bid" else r["campaign_id"]
        assert r["new_value"] == envelopes[(kinds[r["kind"]], entity)]["next_micros"]
    # the tiny market's Target CPA campaign falls back to its target envelope
    assert "target_cpa" in {r["kind"] for r in rows}


def test_a_repaired_answer_is_used(
    warehouse: Engine, gemini: GeminiClient, standin: LlmStandIn, account: int
) -> None:
    standin.mode = "out_of_envelope@first"
    propose_account(
        warehouse, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY, **NO_BREAKER
    )
    rows = _proposals(warehouse)
    assert rows and {r["source"] for r in rows} == {"repair"}
    assert_inside_envelopes(warehouse, TENANT, account)
    assert [c["outcome"] for c in _calls(warehouse)][:2] == ["invalid", "ok"]


def test_another_tenants_ids_are_rejected(
    warehouse: Engine, gemini: GeminiClient, standin: LlmStandIn, account: int
) -> None:
    foreign = campaign_ids(warehouse, OTHER)
    standin.state.foreign_ids = foreign
    standin.mode = "other_tenant"
    propose_account(
        warehouse, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY, **NO_BREAKER
    )
    calls = _calls(warehouse)
    assert all(
        f"campaign {foreign[0]} is not a campaign of this tenant's account" in c["error"]
        or f"campaign {foreign[-1]} is not a campaign of this tenant's account" in c["error"]
        for c in calls
    )
    assert not {r["campaign_id"] for r in _proposals(warehouse)} & set(foreign)
    assert _proposals(warehouse, OTHER) == []


def test_provider_errors_fall_back_after_bounded_retries(
    warehouse: Engine, gemini: GeminiClient, standin: LlmStandIn, account: int
) -> None:
    standin.mode = "server_error"
    outcome = propose_account(
        warehouse, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY, **NO_BREAKER
    )
    rows = _proposals(warehouse)
    assert rows and all(r["fallback_reason"].startswith("LlmUnavailable: 500") for r in rows)
    assert {c["outcome"] for c in _calls(warehouse)} == {"error"}
    assert len(standin.generate_requests()) == 3 * outcome.campaigns  # attempts per campaign


def test_rerun_replaces_pending_and_keeps_decided(
    warehouse: Engine, gemini: GeminiClient, account: int
) -> None:
    def run() -> Any:
        return propose_account(
            warehouse, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY, **NO_BREAKER
        )

    run()
    first = _proposals(warehouse)
    with warehouse.begin() as conn:
        conn.execute(
            update(m.Proposal).where(m.Proposal.id == first[0]["id"]).values(status="approved")
        )
    again = run()
    second = _proposals(warehouse)
    assert len(second) == len(first)
    assert sorted(r["option_key"] for r in second) == sorted(r["option_key"] for r in first)
    approved = [r for r in second if r["status"] == "approved"]
    assert [r["id"] for r in approved] == [first[0]["id"]] and again.kept_decided == 1
    with warehouse.connect() as conn:
        dupes = conn.execute(
            text(
                "SELECT option_key, count(*) FROM proposals GROUP BY tenant_id, customer_id, logical_date, option_key HAVING count(*) > 1"
            )
        ).all()
    assert dupes == []


def test_cost_per_campaign_and_tenant_sums_to_the_call_log(
    warehouse: Engine, gemini: GeminiClient, standin: LlmStandIn, account: int, other_account: int
) -> None:
    standin.mode = "out_of_envelope@first"  # propose + repair calls
    propose_account(
        warehouse, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY, **NO_BREAKER
    )
    propose_account(
        warehouse,
        gemini,
        tenant_id=OTHER,
        customer_id=other_account,
        logical_date=DAY,
        **NO_BREAKER,
    )
    calls = _calls(warehouse)
    with warehouse.connect() as conn:
        price = store.price_for(conn, "gemini-2.5-flash", DAY)
        by_campaign = store.cost_by_campaign(conn, tenant_id=TENANT, logical_date=DAY)
        by_tenant = store.cost_by_tenant(conn, logical_date=DAY)
    assert price is not None
    for c in calls:  # each call's cost is its tokens at the day's price, rounded up once
        nano = (
            c["prompt_tokens"] * price.input_micros_per_mtok
            + (c["output_tokens"] + c["thinking_tokens"]) * price.output_micros_per_mtok
        )
        assert c["cost_micros"] == -(-nano // 1_000_000)
    own = [c for c in calls if c["tenant_id"] == TENANT]
    assert sum(by_campaign.values()) == sum(c["cost_micros"] for c in own) == by_tenant[TENANT]
    for (_customer, campaign), cost in by_campaign.items():
        assert cost == sum(c["cost_micros"] for c in own if c["campaign_id"] == campaign)
    assert by_tenant[OTHER] == sum(c["cost_micros"] for c in calls if c["tenant_id"] == OTHER) > 0


def test_spent_daily_ai_budget_stops_calls_and_falls_back(
    warehouse: Engine,
    gemini: GeminiClient,
    standin: LlmStandIn,
    account: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = AgentSettings(daily_ai_budget_micros=1)  # the first call spends it
    outcome = propose_account(
        warehouse,
        gemini,
        tenant_id=TENANT,
        customer_id=account,
        logical_date=DAY,
        settings=settings,
        **NO_BREAKER,
    )
    calls = _calls(warehouse)
    assert [c["outcome"] for c in calls] == ["ok"] + ["skipped"] * (outcome.campaigns - 1)
    assert len(standin.generate_requests()) == 1
    later = [r for r in _proposals(warehouse) if r["campaign_id"] != calls[0]["campaign_id"]]
    assert later and all(
        r["source"] == "fallback" and "daily AI budget spent" in r["fallback_reason"] for r in later
    )
    assert "AI BUDGET" in caplog.text
