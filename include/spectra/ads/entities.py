"""A campaign's changeable state read through GAQL: what versions store and what read-before-send
and read-back compare with an approved change's target.

The snapshot is plain JSON (ids as string keys) so a version row stores it as is and two
snapshots compare field by field with ``==``:

    {"campaign":  {"status", "budget_micros", "target_cpa_micros", "target_roas_micros",
                   "bidding_strategy_type", "name"},
     "ad_groups": {"<ad_group_id>": {"status", "cpc_bid_micros", "name"}},
     "keywords":  {"<ad_group_id>~<criterion_id>": {"status", "cpc_bid_micros", "text",
                                                     "match_type", "negative"}},
     "ads":       {"<ad_group_id>~<ad_id>": {"status"}},
     "negatives": {"<MATCH>:<text>": "ENABLED"}}   # campaign-level negatives in force

Each query is read whole or not at all: a stream cut half-way raises (``AdsUnavailable``), it
never yields a partial state that could pass for the truth.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from spectra.ads.client import AdsCredentials
from spectra.ads.fields import TARGET_CPA_FIELDS, TARGET_ROAS_FIELDS, bidding_target
from spectra.ads.stream import load_query, stream_columns
from spectra.domain.changes import EntityKind, EntityRef

T = TypeVar("T")
Guard = Callable[[Callable[[], Any]], Any]

# entity kind -> the GAQL files its current values come from
QUERIES: dict[str, str] = {
    "campaign": "apply_campaign",
    "ad_groups": "apply_ad_groups",
    "keywords": "apply_keywords",
    "ads": "apply_ads",
    "negatives": "apply_negatives",
}
SECTIONS = tuple(QUERIES)
KIND_SECTIONS: dict[EntityKind, str] = {
    EntityKind.CAMPAIGN: "campaign",
    EntityKind.AD_GROUP: "ad_groups",
    EntityKind.KEYWORD: "keywords",
    EntityKind.AD: "ads",
    EntityKind.NEGATIVE_KEYWORD: "negatives",
}


class CampaignNotInAccount(LookupError):
    """GAQL found no such campaign in the account."""


def negative_key(match_type: str, text: str) -> str:
    return f"{match_type}:{' '.join(text.lower().split())}"


def entity_section_key(ref: EntityRef) -> str:
    """Where an entity lives in a snapshot section."""
    if ref.kind == EntityKind.AD_GROUP:
        return str(ref.ad_group_id)
    if ref.kind == EntityKind.KEYWORD:
        return f"{ref.ad_group_id}~{ref.criterion_id}"
    if ref.kind == EntityKind.AD:
        return f"{ref.ad_group_id}~{ref.ad_id}"
    if ref.kind == EntityKind.NEGATIVE_KEYWORD:
        return negative_key(str(ref.match_type), str(ref.text))
    return ""


@dataclass
class CampaignRead:
    """One read of a campaign: the snapshot plus the resource names mutations need."""

    customer_id: int
    campaign_id: int
    snapshot: dict[str, Any] = field(default_factory=dict)
    budget_resource_name: str = ""
    negative_ids: dict[str, int] = field(default_factory=dict)

    def value(self, ref: EntityRef, field_name: str) -> Any:
        """The entity's current value of ``field_name``; None if the entity does not exist."""
        section = KIND_SECTIONS[ref.kind]
        if ref.kind == EntityKind.CAMPAIGN:
            return self.snapshot["campaign"].get(field_name)
        if ref.kind == EntityKind.NEGATIVE_KEYWORD:
            return self.snapshot["negatives"].get(entity_section_key(ref), "REMOVED")
        entity = self.snapshot[section].get(entity_section_key(ref))
        return None if entity is None else entity.get(field_name)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _ratio_micros(ratio: Any) -> int | None:
    """A target ROAS ratio as integer micros (4.5 -> 4 500 000), as changes carry it."""
    return None if ratio is None else int(round(float(ratio) * 1_000_000))


def _rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def read_campaign(
    client: Any,
    creds: AdsCredentials,
    *,
    customer_id: int,
    campaign_id: int,
    as_of: dt.date | None = None,
    sections: Iterable[str] = SECTIONS,
    guard: Guard | None = None,
) -> CampaignRead:
    """Read the campaign's ``sections`` (each query through ``guard``: retries, breaker)."""
    run: Guard = guard or (lambda fn: fn())
    wanted = set(sections) | {"campaign"}
    out = CampaignRead(customer_id, campaign_id, {s: {} for s in SECTIONS})

    def pull(section: str) -> list[dict[str, Any]]:
        query = load_query(QUERIES[section])
        return _rows(
            run(
                lambda: stream_columns(
                    client,
                    creds,
                    customer_id=customer_id,
                    query=query,
                    as_of=as_of,
                    campaign_id=int(campaign_id),
                )
            )
        )

    rows = pull("campaign")
    if not rows:
        raise CampaignNotInAccount(f"campaign {campaign_id} not found in customer {customer_id}")
    c = rows[0]
    bidding = c["campaign.bidding_strategy_type"]
    out.snapshot["campaign"] = {
        "name": c["campaign.name"],
        "status": c["campaign.status"],
        "bidding_strategy_type": bidding,
        # the target of the bidding-strategy member Google set (None without one)
        "target_cpa_micros": _int_or_none(bidding_target(c, TARGET_CPA_FIELDS)),
        "target_roas_micros": _ratio_micros(bidding_target(c, TARGET_ROAS_FIELDS)),
        "budget_micros": int(c["campaign_budget.amount_micros"]),
    }
    out.budget_resource_name = c["campaign.campaign_budget"]
    if "ad_groups" in wanted:
        out.snapshot["ad_groups"] = {
            str(r["ad_group.id"]): {
                "name": r["ad_group.name"],
                "status": r["ad_group.status"],
                "cpc_bid_micros": int(r["ad_group.cpc_bid_micros"]),
            }
            for r in pull("ad_groups")
        }
    if "keywords" in wanted:
        out.snapshot["keywords"] = {
            f"{r['ad_group.id']}~{r['ad_group_criterion.criterion_id']}": {
                "text": r["ad_group_criterion.keyword.text"],
                "match_type": r["ad_group_criterion.keyword.match_type"],
                "negative": bool(r["ad_group_criterion.negative"]),
                "status": r["ad_group_criterion.status"],
                "cpc_bid_micros": int(r["ad_group_criterion.cpc_bid_micros"] or 0),
            }
            for r in pull("keywords")
        }
    if "ads" in wanted:
        out.snapshot["ads"] = {
            f"{r['ad_group.id']}~{r['ad_group_ad.ad.id']}": {"status": r["ad_group_ad.status"]}
            for r in pull("ads")
        }
    if "negatives" in wanted:
        for r in pull("negatives"):
            if not r["campaign_criterion.negative"]:
                continue
            key = negative_key(
                r["campaign_criterion.keyword.match_type"], r["campaign_criterion.keyword.text"]
            )
            if r["campaign_criterion.status"] == "ENABLED":
                out.snapshot["negatives"][key] = "ENABLED"
                out.negative_ids[key] = int(r["campaign_criterion.criterion_id"])
    return out


__all__ = [
    "SECTIONS",
    "CampaignNotInAccount",
    "CampaignRead",
    "entity_section_key",
    "negative_key",
    "read_campaign",
]
