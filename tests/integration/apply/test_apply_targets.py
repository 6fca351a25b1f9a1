"""Smart Bidding targets through the executor and the sandbox: an approved target CPA or target
ROAS proposal becomes one CampaignService update of the campaign's own bidding member, lands
exactly once (a re-run sends nothing), and a rollback restores the old target."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from apply_support import TENANT, fast_config, last_seq, register_campaigns, snapshot
from sqlalchemy import Engine
from support.sandbox_campaigns import sandbox_creds
from support.smart_bidding import campaign_targets, smart_bidding_market

from spectra.ads.client import AdsCredentials, build_client
from spectra.apply.executor import apply_changes
from spectra.apply.rollback import rollback
from spectra.guardrails.mapping import change_from_proposal
from spectra.sandbox.market import Market
from spectra.sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def smart_market() -> Market:
    return smart_bidding_market()


@pytest.fixture(scope="module")
def smart_creds(smart_market: Market) -> Iterator[AdsCredentials]:
    with SandboxServer(smart_market, clock=smart_market.reference_date) as server:
        yield sandbox_creds(server, clock=False)


def _proposal(kind: str, customer_id: int, campaign_id: int, current: Any, new: Any) -> dict:
    """A proposal row as the agent stores it (a tROAS is the ratio, a tCPA micros)."""
    return {
        "id": 4242 if kind == "target_roas" else 4343,
        "tenant_id": TENANT,
        "customer_id": customer_id,
        "campaign_id": campaign_id,
        "ad_group_id": None,
        "criterion_id": None,
        "kind": kind,
        "current_value": current,
        "new_value": new,
        "reasoning": "conversions well above break-even",
        "evidence_ids": ["envelope:1"],
        "prompt_version": "v1",
    }


@pytest.mark.parametrize("strategy", ["TARGET_CPA", "TARGET_ROAS"])
def test_an_approved_target_lands_once_and_rolls_back(
    engine: Engine, smart_market: Market, smart_creds: AdsCredentials, strategy: str
) -> None:
    client = build_client(smart_creds)
    truth = campaign_targets(smart_market)
    campaign_id = next(c for c, (s, _, _) in truth.items() if s == strategy)
    cid = next(
        c
        for c in smart_market.customer_ids()
        if campaign_id in register_campaigns(engine, client, smart_creds, c)
    )
    before = snapshot(client, smart_creds, cid, campaign_id)
    _, tcpa, troas = truth[campaign_id]
    if strategy == "TARGET_CPA":
        assert before["campaign"]["target_cpa_micros"] == tcpa
        assert before["campaign"]["target_roas_micros"] is None
        row = _proposal("target_cpa", cid, campaign_id, tcpa, int(tcpa) + 1_230_000)
        field, want = "target_cpa_micros", int(tcpa) + 1_230_000
    else:
        assert troas is not None
        assert before["campaign"]["target_roas_micros"] == round(troas * 1_000_000)
        assert before["campaign"]["target_cpa_micros"] is None
        new_ratio = round(troas * 0.87, 2)  # a 13 % looser target, Google's two decimals
        row = _proposal("target_roas", cid, campaign_id, troas, new_ratio)
        field, want = "target_roas_micros", round(new_ratio * 1_000_000)
    change = change_from_proposal(row)
    assert (change.field, change.target) == (field, want)

    config = fast_config()
    seq = last_seq(smart_market)
    report = apply_changes(engine, client, [change], creds=smart_creds, config=config)
    assert report.counts() == {"applied": 1}
    after = snapshot(client, smart_creds, cid, campaign_id)
    assert after["campaign"][field] == want
    assert after["campaign"]["bidding_strategy_type"] == strategy  # the same strategy
    logged = [c for c in smart_market.changes() if c.seq > seq]
    assert len(logged) == 1 and logged[0].resource == "campaign"
    member = (
        "target_cpa.target_cpa_micros" if strategy == "TARGET_CPA" else "target_roas.target_roas"
    )
    assert list(logged[0].changed_fields) == [member]

    seq = last_seq(smart_market)
    again = apply_changes(engine, client, [change], creds=smart_creds, config=config)
    assert last_seq(smart_market) == seq  # the same change again sends nothing
    assert "applied" not in again.counts()

    result = rollback(
        engine, client, tenant_id=TENANT, customer_id=cid, campaign_id=campaign_id,
        to_version=1, actor="alice", reason="undo the target", creds=smart_creds, config=config,
    )  # fmt: skip
    assert len(result.planned) == 1  # the target alone
    assert set(result.outcomes.values()) == {"applied"}
    assert snapshot(client, smart_creds, cid, campaign_id) == before


def test_a_target_the_strategy_does_not_have_is_refused_before_sending(
    engine: Engine, smart_market: Market, smart_creds: AdsCredentials
) -> None:
    """A target ROAS for a target CPA campaign would switch its strategy: not a target change."""
    client = build_client(smart_creds)
    truth = campaign_targets(smart_market)
    campaign_id = next(c for c, (s, _, _) in truth.items() if s == "TARGET_CPA")
    cid = next(
        c
        for c in smart_market.customer_ids()
        if campaign_id in register_campaigns(engine, client, smart_creds, c)
    )
    change = change_from_proposal(_proposal("target_roas", cid, campaign_id, None, 3.0))
    seq = last_seq(smart_market)
    report = apply_changes(engine, client, [change], creds=smart_creds, config=fast_config())
    (outcome,) = report.outcomes.values()
    assert outcome.outcome == "rejected" and outcome.sends == 0
    assert "bids with TARGET_CPA" in outcome.error and "target_roas_micros" in outcome.error
    assert last_seq(smart_market) == seq
    assert snapshot(client, smart_creds, cid, campaign_id)["campaign"]["bidding_strategy_type"] == (
        "TARGET_CPA"
    )
