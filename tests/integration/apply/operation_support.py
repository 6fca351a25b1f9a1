"""Support for the multi-step operation tests: campaign builds, and what the sandbox's own
mutation log says was created (not what our ledger says)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from spectra.apply.operations import AdGroupSpec, AdSpec, CampaignBuild, ImageSpec, KeywordSpec
from spectra.sandbox.catalog import catalog_of
from spectra.sandbox.imagen import png

TENANT = "acme"


def campaign_build(
    customer_id: int, name: str, *, groups: int = 2, images: int = 2
) -> CampaignBuild:
    """A Search campaign with ``groups`` ad groups, three keywords and two ads each, and
    ``images`` square image assets."""
    return CampaignBuild(
        tenant_id=TENANT,
        customer_id=customer_id,
        campaign_name=name,
        budget_micros=25_000_000,
        ad_groups=tuple(
            AdGroupSpec(
                name=f"{name} group {g}",
                cpc_bid_micros=1_200_000 + 10_000 * g,
                keywords=(
                    KeywordSpec(text=f"trail shoes {g}", match_type="PHRASE"),
                    KeywordSpec(text=f"trail shoes {g}", match_type="EXACT"),
                    KeywordSpec(
                        text=f"running shoes model {g}", match_type="BROAD", cpc_bid_micros=900_000
                    ),
                ),
                ads=tuple(
                    AdSpec(
                        headlines=(f"Trail Shoes {g}", "Free Shipping", f"Variant {v}"),
                        descriptions=("Grip on every trail.", "Order online today."),
                        final_urls=(f"https://shop.example/{g}",),
                    )
                    for v in range(2)
                ),
            )
            for g in range(groups)
        ),
        images=tuple(
            ImageSpec(name=f"{name} image {i}", data=png(300 + 10 * i, 300 + 10 * i, bytes(32)))
            for i in range(images)
        ),
    )


def expected_counts(build: CampaignBuild) -> Counter[str]:
    return Counter(
        {
            "campaign_budget": 1,
            "campaign": 1,
            "ad_group": len(build.ad_groups),
            "ad_group_criterion": sum(len(g.keywords) for g in build.ad_groups),
            "ad_group_ad": sum(len(g.ads) for g in build.ad_groups),
        }
    )


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
