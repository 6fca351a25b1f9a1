"""GAQL resources as the market sees them: which entity level a resource is, and every field's values.

Attribute fields are computed once per (state, day conditions) as full-length arrays per entity kind
and then indexed by the rows' entity indexes; only the requested fields are materialised, and dicts
are built at the very end, because turning arrays into dicts is the expensive part of serving.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from spectra.sandbox.market.editing import budget_name
from spectra.sandbox.market.state import STATUSES
from spectra.sandbox.market.structure import (
    BIDDING,
    MATCH_TYPES,
    QS_LEVELS,
    TARGET_CPA,
    TARGET_ROAS,
    round_bid,
)

if TYPE_CHECKING:
    from spectra.sandbox.market.market import Snapshot

# resource → (entity level, the field prefixes it may carry)
RESOURCE_LEVEL: dict[str, str] = {
    "customer": "account",
    "campaign": "campaign",
    "campaign_budget": "campaign",
    "ad_group": "ad_group",
    "ad_group_criterion": "keyword",
    "keyword_view": "keyword",
    "ad_group_ad": "ad",
    "search_term_view": "term",
}

# entity kind of each attribute prefix
PREFIX_KIND: dict[str, str] = {
    "customer": "account",
    "campaign": "campaign",
    "campaign_budget": "campaign",
    "ad_group": "ad_group",
    "ad_group_criterion": "keyword",
    "keyword_view": "keyword",
    "ad_group_ad": "ad",
    "search_term_view": "term",
}

# which kinds a row of a level can reach (its ancestors)
REACHABLE: dict[str, tuple[str, ...]] = {
    "account": ("account",),
    "campaign": ("account", "campaign"),
    "ad_group": ("account", "campaign", "ad_group"),
    "keyword": ("account", "campaign", "ad_group", "keyword"),
    "ad": ("account", "campaign", "ad_group", "ad"),
    "term": ("account", "campaign", "ad_group", "keyword", "term"),
}

Column = NDArray[Any]
AttrFn = Callable[["Snapshot"], Column]


def _obj(values: list[Any]) -> Column:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _names(table: tuple[str, ...], codes: NDArray[np.integer]) -> Column:
    return np.asarray(table, dtype=object)[codes]


def _rn(prefix: Column, path: str, *ids: Column) -> Column:
    parts = [
        "~".join(str(x) for x in combo) for combo in zip(*(i.tolist() for i in ids), strict=True)
    ]
    return _obj([f"customers/{c}/{path}/{p}" for c, p in zip(prefix.tolist(), parts, strict=True)])


def _none(n: int) -> Column:
    return np.full(n, None, dtype=object)


def _member(s: Snapshot, bidding: int, values: NDArray[Any]) -> Column:
    """A bidding-strategy field: the campaign's own value where it bids with ``bidding``."""
    out = _none(values.size)
    mine = s.state.campaign_bidding == bidding
    out[mine] = values[mine].tolist()
    return out


def b64_text(text: str) -> str:
    """A search term as it appears in a searchTermViews resource name."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _account_cid(s: Snapshot, kind: str) -> Column:
    st = s.struct
    acct = {
        "account": np.arange(st.n_accounts),
        "campaign": st.campaign_account,
        "ad_group": st.ad_group_account,
        "keyword": st.keyword_account,
        "ad": st.ad_account,
        "term": st.term_account,
    }[kind]
    return st.customer_id[acct]


ATTRIBUTES: dict[str, AttrFn] = {
    # customer
    "customer.id": lambda s: s.struct.customer_id,
    "customer.descriptive_name": lambda s: _obj(s.struct.account_name),
    "customer.currency_code": lambda s: _obj(s.struct.currency_code),
    "customer.time_zone": lambda s: _obj(s.struct.time_zone),
    "customer.resource_name": lambda s: _obj(
        [f"customers/{c}" for c in s.struct.customer_id.tolist()]
    ),
    "customer.manager": lambda s: np.zeros(s.struct.n_accounts, np.bool_),
    "customer.test_account": lambda s: np.zeros(s.struct.n_accounts, np.bool_),
    "customer.status": lambda s: _obj(["ENABLED"] * s.struct.n_accounts),
    "customer.auto_tagging_enabled": lambda s: np.ones(s.struct.n_accounts, np.bool_),
    # campaign
    "campaign.id": lambda s: s.struct.campaign_id,
    "campaign.name": lambda s: _obj(s.struct.campaign_name),
    "campaign.status": lambda s: _names(STATUSES, s.state.campaign_status),
    "campaign.advertising_channel_type": lambda s: _obj(["SEARCH"] * s.struct.n_campaigns),
    "campaign.bidding_strategy_type": lambda s: _names(BIDDING, s.state.campaign_bidding),
    "campaign.resource_name": lambda s: _rn(
        _account_cid(s, "campaign"), "campaigns", s.struct.campaign_id
    ),
    "campaign.campaign_budget": lambda s: _rn(
        _account_cid(s, "campaign"), "campaignBudgets", s.struct.campaign_budget_id
    ),
    # Each campaign sets one member of Google's campaign_bidding_strategy oneof: a field of
    # another member is unset (None: the row leaves it out), never a zero that would set it.
    "campaign.target_cpa.target_cpa_micros": lambda s: _member(
        s, TARGET_CPA, s.state.campaign_target_cpa
    ),
    "campaign.target_roas.target_roas": lambda s: _member(
        s, TARGET_ROAS, s.state.campaign_target_roas
    ),
    # the market has no Maximize conversions (value) campaigns: never set
    "campaign.maximize_conversions.target_cpa_micros": lambda s: _none(s.struct.n_campaigns),
    "campaign.maximize_conversion_value.target_roas": lambda s: _none(s.struct.n_campaigns),
    "campaign.serving_status": lambda s: _obj(["SERVING"] * s.struct.n_campaigns),
    "campaign.start_date": lambda s: _obj([s.history_start.isoformat()] * s.struct.n_campaigns),
    "campaign_budget.id": lambda s: s.struct.campaign_budget_id,
    "campaign_budget.amount_micros": lambda s: s.state.campaign_budget,
    "campaign_budget.name": lambda s: _obj([budget_name(n) for n in s.struct.campaign_name]),
    "campaign_budget.resource_name": lambda s: _rn(
        _account_cid(s, "campaign"), "campaignBudgets", s.struct.campaign_budget_id
    ),
    "campaign_budget.delivery_method": lambda s: _obj(["STANDARD"] * s.struct.n_campaigns),
    "campaign_budget.period": lambda s: _obj(["DAILY"] * s.struct.n_campaigns),
    "campaign_budget.status": lambda s: _obj(["ENABLED"] * s.struct.n_campaigns),
    "campaign_budget.explicitly_shared": lambda s: np.zeros(s.struct.n_campaigns, np.bool_),
    # ad group
    "ad_group.id": lambda s: s.struct.ad_group_id,
    "ad_group.name": lambda s: _obj(s.struct.ad_group_name),
    "ad_group.status": lambda s: _names(STATUSES, s.state.ad_group_status),
    "ad_group.cpc_bid_micros": lambda s: s.state.ad_group_bid,
    "ad_group.type": lambda s: _obj(["SEARCH_STANDARD"] * s.struct.n_ad_groups),
    "ad_group.resource_name": lambda s: _rn(
        _account_cid(s, "ad_group"), "adGroups", s.struct.ad_group_id
    ),
    "ad_group.campaign": lambda s: _rn(
        _account_cid(s, "ad_group"), "campaigns", s.struct.campaign_id[s.struct.ad_group_campaign]
    ),
    # keyword criteria
    "ad_group_criterion.criterion_id": lambda s: s.struct.keyword_id,
    "ad_group_criterion.type": lambda s: _obj(["KEYWORD"] * s.struct.n_keywords),
    "ad_group_criterion.keyword.text": lambda s: _obj(s.struct.keyword_text),
    "ad_group_criterion.keyword.match_type": lambda s: _names(MATCH_TYPES, s.struct.keyword_match),
    "ad_group_criterion.status": lambda s: _names(STATUSES, s.state.keyword_status),
    "ad_group_criterion.cpc_bid_micros": lambda s: s.state.keyword_bid,
    "ad_group_criterion.effective_cpc_bid_micros": lambda s: np.where(
        s.state.keyword_bid > 0,
        s.state.keyword_bid,
        s.state.ad_group_bid[s.struct.keyword_ad_group],
    ),
    "ad_group_criterion.negative": lambda s: np.zeros(s.struct.n_keywords, np.bool_),
    "ad_group_criterion.approval_status": lambda s: _obj(["APPROVED"] * s.struct.n_keywords),
    "ad_group_criterion.quality_info.quality_score": lambda s: s.struct.keyword_qs.astype(np.int64),
    "ad_group_criterion.quality_info.creative_quality_score": lambda s: _names(
        QS_LEVELS, s.struct.keyword_qs_relevance
    ),
    "ad_group_criterion.quality_info.post_click_quality_score": lambda s: _names(
        QS_LEVELS, s.struct.keyword_qs_landing
    ),
    "ad_group_criterion.quality_info.search_predicted_ctr": lambda s: _names(
        QS_LEVELS, s.struct.keyword_qs_ctr
    ),
    "ad_group_criterion.position_estimates.first_page_cpc_micros": lambda s: round_bid(
        s.first_page_cpc, s.struct.unit_of("keyword")
    ),
    "ad_group_criterion.system_serving_status": lambda s: np.where(
        s.below_first_page, "RARELY_SERVED", "ELIGIBLE"
    ).astype(object),
    "ad_group_criterion.resource_name": lambda s: _rn(
        _account_cid(s, "keyword"),
        "adGroupCriteria",
        s.struct.ad_group_id[s.struct.keyword_ad_group],
        s.struct.keyword_id,
    ),
    "ad_group_criterion.ad_group": lambda s: _rn(
        _account_cid(s, "keyword"), "adGroups", s.struct.ad_group_id[s.struct.keyword_ad_group]
    ),
    "keyword_view.resource_name": lambda s: _rn(
        _account_cid(s, "keyword"),
        "keywordViews",
        s.struct.ad_group_id[s.struct.keyword_ad_group],
        s.struct.keyword_id,
    ),
    # ads
    "ad_group_ad.ad.id": lambda s: s.struct.ad_id,
    "ad_group_ad.ad.type": lambda s: _obj(["RESPONSIVE_SEARCH_AD"] * s.struct.n_ads),
    "ad_group_ad.status": lambda s: _names(STATUSES, s.state.ad_status),
    "ad_group_ad.policy_summary.approval_status": lambda s: np.where(
        s.ad_approved, "APPROVED", "DISAPPROVED"
    ).astype(object),
    "ad_group_ad.policy_summary.review_status": lambda s: _obj(["REVIEWED"] * s.struct.n_ads),
    "ad_group_ad.policy_summary.policy_topic_entries": lambda s: _obj(
        [
            []
            if ok
            else [
                {"topic": s.ctx.ad_topics.get(i, "DESTINATION_NOT_WORKING"), "type_": "PROHIBITED"}
            ]
            for i, ok in enumerate(s.ad_approved.tolist())
        ]
    ),
    "ad_group_ad.ad.responsive_search_ad.headlines": lambda s: _obj(s.struct.ad_headlines),
    "ad_group_ad.ad.responsive_search_ad.descriptions": lambda s: _obj(s.struct.ad_descriptions),
    "ad_group_ad.ad.final_urls": lambda s: _obj(s.struct.ad_final_urls),
    "ad_group_ad.resource_name": lambda s: _rn(
        _account_cid(s, "ad"),
        "adGroupAds",
        s.struct.ad_group_id[s.struct.ad_ad_group],
        s.struct.ad_id,
    ),
    "ad_group_ad.ad_group": lambda s: _rn(
        _account_cid(s, "ad"), "adGroups", s.struct.ad_group_id[s.struct.ad_ad_group]
    ),
    # search terms
    "search_term_view.search_term": lambda s: _obj(s.struct.term_text),
    "search_term_view.status": lambda s: s.term_status,
    "search_term_view.ad_group": lambda s: _rn(
        _account_cid(s, "term"), "adGroups", s.struct.ad_group_id[s.struct.term_ad_group]
    ),
    "search_term_view.resource_name": lambda s: _obj(
        [
            f"customers/{c}/searchTermViews/{cp}~{ag}~{b64_text(t)}"
            for c, cp, ag, t in zip(
                _account_cid(s, "term").tolist(),
                s.struct.campaign_id[s.struct.term_campaign].tolist(),
                s.struct.ad_group_id[s.struct.term_ad_group].tolist(),
                s.struct.term_text,
                strict=True,
            )
        ]
    ),
    "segments.keyword.info.text": lambda s: _obj(s.struct.keyword_text)[s.struct.term_keyword],
    "segments.keyword.info.match_type": lambda s: _names(MATCH_TYPES, s.struct.keyword_match)[
        s.struct.term_keyword
    ],
    "segments.keyword.ad_group_criterion": lambda s: _rn(
        _account_cid(s, "keyword"),
        "adGroupCriteria",
        s.struct.ad_group_id[s.struct.keyword_ad_group],
        s.struct.keyword_id,
    )[s.struct.term_keyword],
}

# the entity kind each attribute is indexed by (segments.keyword.* hang off the search term)
ATTRIBUTE_KIND: dict[str, str] = {
    name: ("term" if name.startswith("segments.keyword.") else PREFIX_KIND[name.split(".", 1)[0]])
    for name in ATTRIBUTES
}

METRICS: frozenset[str] = frozenset(
    {
        "metrics.impressions",
        "metrics.clicks",
        "metrics.cost_micros",
        "metrics.conversions",
        "metrics.conversions_value",
        "metrics.all_conversions",
        "metrics.all_conversions_value",
        "metrics.ctr",
        "metrics.average_cpc",
        "metrics.cost_per_conversion",
        "metrics.search_impression_share",
        "metrics.search_budget_lost_impression_share",
        "metrics.search_rank_lost_impression_share",
    }
)

DAY_SEGMENTS: frozenset[str] = frozenset(
    {"segments.date", "segments.day_of_week", "segments.week", "segments.month", "segments.year"}
)
