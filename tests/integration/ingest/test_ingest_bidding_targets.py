"""Smart Bidding targets through the real client, the sandbox and ingest (both backends).

Google sets one member of Campaign's ``campaign_bidding_strategy`` oneof per campaign; the
target CPA or target ROAS ingest stores is the one of that member, and a manual-CPC campaign
stores none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select
from support.sandbox_campaigns import sandbox_creds
from support.smart_bidding import campaign_targets, smart_bidding_market

from spectra.ads.client import AdsCredentials, build_client
from spectra.ingest.daily import ingest_account
from spectra.sandbox.market import Market
from spectra.sandbox.server import SandboxServer
from spectra.warehouse import models as m
from spectra.warehouse.repositories import register_account, register_tenant

TENANT = "acme"


@pytest.fixture(scope="module")
def smart_market() -> Market:
    return smart_bidding_market()


@pytest.fixture(scope="module")
def smart_creds(smart_market: Market) -> Iterator[AdsCredentials]:
    with SandboxServer(smart_market, clock=smart_market.reference_date) as server:
        yield sandbox_creds(server)


def test_each_campaign_sets_only_its_own_bidding_member(
    smart_market: Market, smart_creds: AdsCredentials
) -> None:
    """Raw rows as Google sends them: the oneof names the campaign's strategy, and a manual
    campaign carries no target field at all (a 0 would set a member)."""
    client = build_client(smart_creds)
    service = client.get_service("GoogleAdsService")
    members = {}
    for cid in smart_market.customer_ids():
        for batch in service.search_stream(
            customer_id=str(cid),
            query="SELECT campaign.id, campaign.bidding_strategy_type, "
            "campaign.target_cpa.target_cpa_micros, campaign.target_roas.target_roas, "
            "campaign.maximize_conversions.target_cpa_micros, "
            "campaign.maximize_conversion_value.target_roas FROM campaign",
        ):
            for row in batch.results:
                members[row.campaign.id] = row.campaign.WhichOneof("campaign_bidding_strategy")
    expected = {"TARGET_CPA": "target_cpa", "TARGET_ROAS": "target_roas", "MANUAL_CPC": None}
    truth = campaign_targets(smart_market)
    assert members == {cid: expected[strategy] for cid, (strategy, _, _) in truth.items()}
    assert set(members.values()) == {"target_cpa", "target_roas", None}


def test_ingest_stores_the_target_of_the_campaigns_strategy(
    engine: Engine, smart_market: Market, smart_creds: AdsCredentials
) -> None:
    client = build_client(smart_creds)
    day = smart_market.reference_date - dt.timedelta(days=1)
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        for cid in smart_market.customer_ids():
            register_account(conn, tenant_id=TENANT, customer_id=cid)
    for cid in smart_market.customer_ids():
        ingest_account(
            engine, client, smart_creds, tenant_id=TENANT, customer_id=cid, logical_date=day,
            repull_days=2,
        )  # fmt: skip
    with engine.connect() as conn:
        stored = {
            int(r.campaign_id): (r.bidding_strategy_type, r.target_cpa_micros, r.target_roas)
            for r in conn.execute(
                select(
                    m.Campaign.campaign_id,
                    m.Campaign.bidding_strategy_type,
                    m.Campaign.target_cpa_micros,
                    m.Campaign.target_roas,
                ).where(m.Campaign.tenant_id == TENANT)
            )
        }
    truth = campaign_targets(smart_market)
    assert stored.keys() == truth.keys()
    for cid, (strategy, tcpa, troas) in truth.items():
        got_strategy, got_tcpa, got_troas = stored[cid]
        assert got_strategy == strategy and got_tcpa == tcpa, cid
        assert got_troas == pytest.approx(troas) if troas is not None else got_troas is None
    kinds: Any = {s for s, _, _ in stored.values()}
    assert kinds == {"TARGET_CPA", "TARGET_ROAS", "MANUAL_CPC"}
