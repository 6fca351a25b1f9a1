"""What the sandbox itself says was created (its mutation log and its catalog), not what our
ledger says: the no-duplicates checks of the apply and launch tests."""

from __future__ import annotations

from collections import Counter
from typing import Any

from spectra.apply.operations import CampaignBuild
from spectra.sandbox.catalog import catalog_of


def created_since(market: Any, customer_id: int, since_seq: int) -> list[Any]:
    """The sandbox's CREATE log entries after ``since_seq``."""
    return [
        ch for ch in market.changes(customer_id) if ch.seq > since_seq and ch.operation == "CREATE"
    ]


def created_for(
    market: Any, customer_id: int, since_seq: int, campaign_rn: str, budget_rn: str
) -> Counter[str]:
    """How many resources of each kind the sandbox created for one built campaign."""
    out: Counter[str] = Counter()
    for ch in created_since(market, customer_id, since_seq):
        if ch.resource == "campaign_budget":
            if ch.resource_name == budget_rn:
                out[ch.resource] += 1
        elif ch.campaign_rn == campaign_rn:
            out[ch.resource] += 1
    return out


def last_seq(market: Any) -> int:
    changes = market.changes()
    return changes[-1].seq if changes else 0


def images_in_sandbox(market: Any, customer_id: int, build: CampaignBuild) -> Counter[str]:
    """The build's image assets and their campaign links as the sandbox holds them."""
    catalog = catalog_of(market)
    names = {i.name for i in build.images}
    assets = {
        r["asset.resource_name"]
        for r in catalog.rows("asset", customer_id)
        if r["asset.name"] in names
    }
    links = [
        r
        for r in catalog.rows("campaign_asset", customer_id)
        if r["campaign_asset.asset"] in assets
    ]
    return Counter({"asset": len(assets), "campaign_asset": len(links)})
