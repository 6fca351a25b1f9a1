"""What changes over time: the advertiser's settings (State) and the world's conditions (DayContext).

State is what mutations edit (statuses, bids, budgets, negatives); DayContext is what the calendar
and the scenario's events impose on a given day (seasonality, competitor prices, ad approvals,
tracking outages). Keeping them apart lets the truth API re-run any day under other settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import NDArray

STATUSES: tuple[str, ...] = ("ENABLED", "PAUSED", "REMOVED")
ENABLED, PAUSED, REMOVED = 0, 1, 2


@dataclass
class State:
    campaign_status: NDArray[np.int8]
    campaign_budget: NDArray[np.int64]
    campaign_bidding: NDArray[np.int8]
    campaign_target_cpa: NDArray[np.int64]
    campaign_target_roas: NDArray[np.float64]  # conversion value / cost (TARGET_ROAS campaigns)
    ad_group_status: NDArray[np.int8]
    ad_group_bid: NDArray[np.int64]
    keyword_status: NDArray[np.int8]
    keyword_bid: NDArray[np.int64]  # 0 = inherit the ad group's bid
    ad_status: NDArray[np.int8]
    term_blocked: NDArray[np.bool_]  # excluded by a negative keyword

    def copy(self) -> State:
        return State(**{f.name: getattr(self, f.name).copy() for f in fields(self)})


@dataclass
class DayContext:
    """Conditions of one day, per account (``*_multiplier`` by account index) or per entity."""

    ordinal: int
    demand_multiplier: NDArray[np.float64]  # per account: weekly × yearly × holiday
    cvr_multiplier: NDArray[np.float64]  # per account
    keyword_demand: NDArray[np.float64]  # per keyword: demand shocks from events
    cpc_multiplier: NDArray[np.float64]  # per keyword: competitors' prices (events)
    ad_approved: NDArray[np.bool_]  # per ad: not DISAPPROVED on this day
    keyword_exists: NDArray[np.bool_]  # per keyword: created on or before this day
    tracking_outage: NDArray[np.bool_]  # per account: conversions recorded today are lost
    max_impression_share: float
    smart_bidding_efficiency: float
    # per keyword: the secular price level per click (CPC inflation, 1.0 at the reference
    # date); None = one. It moves what a click costs, not the ranks (every advertiser's bids
    # rise with it, as the benchmarks measure it year on year)
    cpc_level: NDArray[np.float64] | None = None
    # per campaign: budgets Google may spend today (overdelivery, intraday.py); None = one
    budget_factor: NDArray[np.float64] | None = None
    # per disapproved ad index: the policy topic Google names (ad_disapproval events)
    ad_topics: dict[int, str] = field(default_factory=dict)
