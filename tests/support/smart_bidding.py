"""A sandbox market whose campaigns use every Smart Bidding target the product handles.

The ``tiny`` scenario with half of the campaigns not on target CPA bidding with target ROAS:
account 0 has a target CPA and a manual CPC campaign, account 1 two target ROAS campaigns
(the scenario's draws, seed 7). Shared by the ingest, analytics, agent and apply tests.
"""

from __future__ import annotations

from typing import Any

import yaml

from spectra.sandbox.market import Market
from spectra.sandbox.market.scenario import scenario_from_dict, scenario_path
from spectra.sandbox.market.structure import BIDDING


def smart_bidding_market() -> Market:
    raw: dict[str, Any] = yaml.safe_load(scenario_path("tiny").read_text())
    raw["name"] = "tiny-smart-bidding"
    raw["structure"]["target_roas_share"] = 0.5
    return Market(scenario_from_dict(raw))


def campaign_targets(market: Market) -> dict[int, tuple[str, int | None, float | None]]:
    """campaign id -> (strategy, target CPA micros, target ROAS) as the market holds them."""
    st = market.struct
    state = market.state_at(market.reference_date.toordinal())
    out: dict[int, tuple[str, int | None, float | None]] = {}
    for i, cid in enumerate(st.campaign_id.tolist()):
        strategy = BIDDING[int(state.campaign_bidding[i])]
        out[int(cid)] = (
            strategy,
            int(state.campaign_target_cpa[i]) if strategy == "TARGET_CPA" else None,
            float(state.campaign_target_roas[i]) if strategy == "TARGET_ROAS" else None,
        )
    return out
