"""Support for the multi-step operation tests: campaign builds, and what the sandbox's own
mutation log says was created (not what our ledger says)."""

from __future__ import annotations

from collections import Counter

from support.sandbox_log import created_for, created_since, images_in_sandbox, last_seq

from spectra.apply.operations import AdGroupSpec, AdSpec, CampaignBuild, ImageSpec, KeywordSpec
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


__all__ = [  # the sandbox-log helpers are re-exported for the apply tests
    "TENANT",
    "campaign_build",
    "created_for",
    "created_since",
    "expected_counts",
    "images_in_sandbox",
    "last_seq",
]
