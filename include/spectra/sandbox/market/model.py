"""The latent response model: expected traffic, cost and conversions of every search term on a day.

One pure, vectorised function serves both the simulation (which adds noise on top) and the truth
API (which asks "what if the bid/budget were X"), so the oracle and the served data can never
disagree about the market.

Per search term t of keyword k in campaign c (bid b, quality factor q = QS/7, competitors' price c_k):
- ad rank position x = b·q / c_k;  impression share from rank  s_max · x^a / (1 + x^a)
  (saturating in bid: diminishing returns), cut to 10% when a manual bid is below first-page bid;
- CTR rises with position; CPC is second-price-like: (c_k/q) · 0.6 · x^0.6, at most 0.92·b, so it
  rises with competitors' prices, falls with quality score and grows slower than the bid;
- the campaign's daily budget throttles serving: f_c = min(1, budget / spend at full serving),
  and the throttled part is "impression share lost to budget";
- conversions = clicks · CVR (irrelevant terms convert at a few percent of the keyword's rate),
  value = conversions · value per conversion; weekly/yearly/holiday profiles scale demand and CVR.
- Target-CPA campaigns ignore keyword bids: Smart Bidding bids per query ≈ tCPA · CVR(term).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spectra.sandbox.market.state import DayContext, State
from spectra.sandbox.market.structure import MANUAL_CPC, TARGET_ROAS, Structure

FIRST_PAGE_POSITION = 0.35  # the ad-rank position x at which an ad reaches the first page
BELOW_FIRST_PAGE_SHARE = 0.1  # what is left of impression share under the first-page bid
MAX_CTR = 0.6
MAX_CPC_TO_BID = 0.92
CPC_SCALE = 0.6
CPC_BID_ELASTICITY = 0.6


@dataclass
class Expected:
    """Expected values (no noise). Per-term arrays unless named ``keyword_*``/``campaign_*``."""

    bid: NDArray[np.float64]
    cpc: NDArray[np.float64]
    searches: NDArray[np.float64]  # eligible searches (serving entities only)
    is_rank: NDArray[np.float64]
    impressions: NDArray[np.float64]
    clicks: NDArray[np.float64]
    cost: NDArray[np.float64]
    cvr: NDArray[np.float64]
    conversions: NDArray[np.float64]
    value: NDArray[np.float64]
    rank_lost: NDArray[np.float64]  # searches · (1 - rank share)
    budget_lost: NDArray[np.float64]  # searches · rank share · (1 - throttle)
    campaign_throttle: NDArray[np.float64]
    campaign_spend_unthrottled: NDArray[np.float64]
    keyword_first_page_cpc: NDArray[np.float64]
    keyword_serving: NDArray[np.bool_]


def keyword_serving(struct: Structure, state: State, ctx: DayContext) -> NDArray[np.bool_]:
    """A keyword serves when it, its ad group and campaign are ENABLED, the campaign's ad
    schedule includes the day and an ad may serve."""
    ad_ok = (state.ad_status == 0) & ctx.ad_approved
    group_has_ad = np.bincount(struct.ad_ad_group, weights=ad_ok, minlength=struct.n_ad_groups) > 0
    weekday = dt.date.fromordinal(ctx.ordinal).weekday()
    return (
        (state.keyword_status == 0)
        & (state.ad_group_status[struct.keyword_ad_group] == 0)
        & (state.campaign_status[struct.keyword_campaign] == 0)
        & struct.campaign_weekdays[struct.keyword_campaign, weekday]
        & group_has_ad[struct.keyword_ad_group]
        & ctx.keyword_exists
    )


def expected(
    struct: Structure,
    state: State,
    ctx: DayContext,
    *,
    keyword_bid: NDArray[np.float64] | None = None,
    campaign_budget: NDArray[np.float64] | None = None,
    ignore_budget: bool = False,
    budget_factor: NDArray[np.float64] | None = None,
) -> Expected:
    """Expected metrics for one day; ``keyword_bid``/``campaign_budget`` override the state."""
    tk = struct.term_keyword
    tc = struct.term_campaign
    ta = struct.term_account
    manual_bid = (
        np.where(
            state.keyword_bid > 0, state.keyword_bid, state.ad_group_bid[struct.keyword_ad_group]
        ).astype(np.float64)
        if keyword_bid is None
        else np.asarray(keyword_bid, np.float64)
    )
    quality = struct.keyword_qs.astype(np.float64) / 7.0
    price = struct.keyword_cpc_scale * ctx.cpc_multiplier
    season_cvr = ctx.cvr_multiplier[ta]
    cvr = np.minimum(struct.keyword_cvr[tk] * struct.term_cvr_mult * season_cvr, 1.0)
    bidding = state.campaign_bidding[tc]
    smart = bidding != MANUAL_CPC
    # Smart Bidding's auction-time bid: what a click is worth at the target, i.e. the target
    # CPA x the click's conversion rate, or the click's expected value / the target ROAS
    with np.errstate(divide="ignore", invalid="ignore"):
        worth = np.where(
            bidding == TARGET_ROAS,
            struct.keyword_value[tk] * 1e6 * cvr / np.maximum(state.campaign_target_roas[tc], 1e-6),
            state.campaign_target_cpa[tc] * cvr,
        )
    smart_bid = worth * ctx.smart_bidding_efficiency
    bid = np.where(smart, np.minimum(smart_bid, price[tk] * 8.0), manual_bid[tk])
    first_page = price / quality * FIRST_PAGE_POSITION
    x = bid * quality[tk] / price[tk]
    xa = x ** struct.keyword_steepness[tk]
    is_rank = ctx.max_impression_share * xa / (1.0 + xa)
    below = (~smart) & (bid < first_page[tk])
    is_rank = np.where(below, is_rank * BELOW_FIRST_PAGE_SHARE, is_rank)
    position = x / (1.0 + x)
    ctr = np.minimum(struct.keyword_ctr[tk] * struct.term_ctr_mult * (0.5 + position), MAX_CTR)
    # second price: the ad below sets the price; rises with competitors' prices (elasticity 0.4),
    # falls with quality, grows less than the bid (elasticity 0.6) and never exceeds it
    cpc = price[tk] / quality[tk] * CPC_SCALE * x**CPC_BID_ELASTICITY
    if ctx.cpc_level is not None:  # secular CPC inflation (economics.py)
        cpc = cpc * ctx.cpc_level[tk]
    cpc = np.minimum(MAX_CPC_TO_BID * bid, cpc)
    serving = keyword_serving(struct, state, ctx)
    term_on = serving[tk] & ~state.term_blocked
    searches = np.where(
        term_on,
        struct.keyword_searches[tk]
        * struct.term_share
        * ctx.demand_multiplier[ta]
        * ctx.keyword_demand[tk],
        0.0,
    )
    imps_full = searches * is_rank
    clicks_full = imps_full * ctr
    cost_full = clicks_full * cpc
    spend = np.bincount(tc, weights=cost_full, minlength=struct.n_campaigns)
    budget = (
        state.campaign_budget.astype(np.float64)
        if campaign_budget is None
        else np.asarray(campaign_budget, np.float64)
    )
    if budget_factor is not None:
        # Google's pacing on one realised day: more than the budget, or less (intraday.py);
        # expectations (the truth API) pace at one budget a day
        budget = budget * budget_factor[: budget.size]
    if ignore_budget:
        throttle = np.ones(struct.n_campaigns)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            throttle = np.where(spend > budget, budget / np.maximum(spend, 1e-9), 1.0)
    f = throttle[tc]
    impressions = imps_full * f
    clicks = clicks_full * f
    cost = cost_full * f
    conversions = clicks * cvr
    return Expected(
        bid=bid,
        cpc=cpc,
        searches=searches,
        is_rank=is_rank,
        impressions=impressions,
        clicks=clicks,
        cost=cost,
        cvr=cvr,
        conversions=conversions,
        value=conversions * struct.keyword_value[tk],
        rank_lost=searches * (1.0 - is_rank),
        budget_lost=searches * is_rank * (1.0 - f),
        campaign_throttle=throttle,
        campaign_spend_unthrottled=spend,
        keyword_first_page_cpc=first_page,
        keyword_serving=serving,
    )
