"""Smart Bidding end to end: the sandbox market's target CPA and target ROAS campaigns,
analysed by the real analyze step (``target`` envelopes), proposed through the real
google-genai client and the LLM stand-in: target proposals inside the envelope, never a
keyword-bid proposal on those campaigns, and nothing outside the envelope when the model is
fooled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_support import DAY, TENANT, analysed_template, envelopes, warehouse_copy
from agent_support import proposals as _proposals
from sqlalchemy import Engine, select
from support.smart_bidding import smart_bidding_market

from spectra.agent.client import GeminiClient
from spectra.agent.service import propose_account
from spectra.sandbox.llm import LlmStandIn
from spectra.sandbox.market import Market
from spectra.warehouse import models as m


@pytest.fixture(scope="module")
def smart_market() -> Market:
    return smart_bidding_market()


@pytest.fixture(scope="module")
def _smart_template(tmp_path_factory: pytest.TempPathFactory, smart_market: Market) -> Path:
    path = tmp_path_factory.mktemp("smart-template") / "spectra.db"
    return analysed_template(path, smart_market, dict.fromkeys(smart_market.customer_ids(), TENANT))


@pytest.fixture
def smart_warehouse(_smart_template: Path, tmp_path: Path) -> Iterator[Engine]:
    with warehouse_copy(_smart_template, tmp_path) as engine:
        yield engine


def _strategies(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return {
            int(cid): str(strategy)
            for cid, strategy in conn.execute(
                select(m.Campaign.campaign_id, m.Campaign.bidding_strategy_type).where(
                    m.Campaign.tenant_id == TENANT
                )
            )
        }


def _propose_all(engine: Engine, gemini: GeminiClient, market: Market) -> None:
    for cid in market.customer_ids():
        propose_account(
            engine, gemini, tenant_id=TENANT, customer_id=int(cid), logical_date=DAY,
            use_breaker=False,
        )  # fmt: skip


def test_analysis_writes_a_target_envelope_per_smart_bidding_campaign(
    smart_warehouse: Engine,
) -> None:
    strategies = _strategies(smart_warehouse)
    smart = {cid for cid, s in strategies.items() if s != "MANUAL_CPC"}
    env = envelopes(smart_warehouse)
    targets = {cid: e for (kind, cid), e in env.items() if kind == "target"}
    assert set(targets) == smart and {strategies[c] for c in smart} == {"TARGET_CPA", "TARGET_ROAS"}
    for cid, e in targets.items():
        assert e["evidence"]["strategy"] == strategies[cid]
        assert e["direction"] != "hold" and e["reason"]
        assert abs(e["next_micros"] / e["current_micros"] - 1) <= 0.15
        if strategies[cid] == "TARGET_ROAS":
            assert min(e["next_micros"], e["current_micros"]) >= 1_000_000  # break-even
        else:
            assert e["next_micros"] <= e["evidence"]["value_per_conversion_micros"]
    # no keyword of a Smart Bidding campaign has a bid envelope
    assert not [e for (kind, _), e in env.items() if kind == "bid" and e["campaign_id"] in smart]


@pytest.mark.parametrize("mode", ["sound", "gullible"])
def test_target_proposals_inside_the_envelope_and_no_keyword_bids(
    smart_warehouse: Engine,
    gemini: GeminiClient,
    standin: LlmStandIn,
    smart_market: Market,
    mode: str,
) -> None:
    standin.mode = mode
    _propose_all(smart_warehouse, gemini, smart_market)
    strategies = _strategies(smart_warehouse)
    rows = _proposals(smart_warehouse)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], []).append(r)
    assert not [
        r for r in by_kind.get("keyword_bid", []) if strategies[r["campaign_id"]] != "MANUAL_CPC"
    ]
    assert {strategies[r["campaign_id"]] for r in by_kind.get("target_cpa", [])} == {"TARGET_CPA"}
    assert {strategies[r["campaign_id"]] for r in by_kind.get("target_roas", [])} == {"TARGET_ROAS"}
    env = envelopes(smart_warehouse)
    for r in by_kind["target_cpa"] + by_kind["target_roas"]:
        e = env[("target", r["campaign_id"])]
        scale = 1_000_000 if r["kind"] == "target_roas" else 1
        lo, hi = sorted((e["current_micros"], e["next_micros"]))
        assert lo <= round(r["new_value"] * scale) <= hi and r["new_value"] != r["current_value"]
        assert f"envelope:{e['id']}" in r["evidence_ids"] and r["prompt_version"]
