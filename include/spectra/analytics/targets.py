"""Smart Bidding target envelopes: which way a campaign's target CPA or target ROAS may move.

A Smart Bidding campaign has no keyword bid to move: Google sets each auction's bid from the
campaign's target (Google Ads Help, "About Smart Bidding"; the API's ``TargetCpa`` /
``TargetRoas`` strategies). Its levers are the target and the budget, so the question per
campaign is the keyword envelopes' one asked of the campaign: do its clicks pay for
themselves? Its lag-completed conversions over the evidence window are compared with the
number it needs to break even at its cost (break-even conversions = cost / value per
conversion), with the same exact one-sided Poisson tails on over-dispersion-adjusted counts and
the same Benjamini-Hochberg family per account and day as ``spectra.analytics.bids``:

- conversions significantly below break-even (ROAS < 1): *tighten* the target — a lower
  target CPA, a higher target ROAS — so Smart Bidding stops buying the clicks that lose money;
- significantly above ``increase_roas`` x break-even: *loosen* it — a higher target CPA, a
  lower target ROAS — so it buys more of the clicks that pay (the margin is kept for the same
  reason as for bids: the extra clicks a looser target buys cost more than the average one);
- otherwise hold (no target change is allowed).

Two hard limits, whatever the evidence and the configuration say:

- one move changes the target by at most ``MAX_TARGET_STEP`` (15 %): Google advises
  changing targets in small steps, since each change restarts part of the strategy's
  learning (Google Ads Help, "About target CPA bidding" / "About target ROAS bidding");
- the target never crosses break-even: a target CPA is never raised above the campaign's value
  per conversion, a target ROAS never lowered below ``break_even_roas`` (1.0: conversion value
  equals cost). A campaign that met a target beyond that line would lose money on every
  conversion; a loosening move stops at the line and, at or past it, there is none.

Target CPAs are whole billable units of the account's currency (Google rejects anything
else); target ROAS moves in Google's two-decimal steps (4.00 = 400 %). Envelope values of a
target ROAS are stored as the ratio in micros (4.0 = 4 000 000), like every other envelope.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from spectra.analytics.bids import BREAK_EVEN_EVIDENCE
from spectra.analytics.config import MAX_TARGET_STEP, TargetConfig
from spectra.analytics.significance import adjust_pvalues, day_level_dispersion
from spectra.domain.money import DEFAULT_BILLABLE_UNIT_MICROS

TARGET_CPA = "TARGET_CPA"
TARGET_ROAS = "TARGET_ROAS"
# Every bidding strategy but manual CPC sets its own auction-time bids (no keyword bid to move).
MANUAL_BIDDING = frozenset({"MANUAL_CPC", "ENHANCED_CPC"})
ROAS_STEP_MICROS = 10_000  # 0.01 of a ROAS ratio, in micros: Google's two-decimal steps

TARGET_COLUMNS = [
    "campaign_id",
    "strategy",
    "current_micros",
    "next_micros",
    "target_micros",
    "direction",
    "max_change_pct",
    "conversions_value_micros",
    *BREAK_EVEN_EVIDENCE,
    "reason",
]


@dataclass(frozen=True)
class CampaignTarget:
    """A campaign's current Smart Bidding target: micros for target CPA, a ratio for ROAS."""

    strategy: str  # TARGET_CPA | TARGET_ROAS
    value: float

    @property
    def micros(self) -> int:
        return int(self.value) if self.strategy == TARGET_CPA else int(round(self.value * 1e6))


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=TARGET_COLUMNS)


def _tcpa_next(current: int, up: bool, ceiling: int, step: float, unit: int) -> int:
    """Next target CPA: ``up`` loosens (raises) it, never above the break-even ``ceiling``;
    whole billable units on the current target's side, so rounding never widens a step."""
    if up:
        raised = int(math.floor(current * (1 + step) / unit)) * unit
        return max(current, min(raised, ceiling))
    lowered = int(math.ceil(current * (1 - step) / unit)) * unit
    return min(current, max(lowered, unit))


def _troas_next(current: int, up: bool, floor_micros: int, step: float) -> int:
    """Next target ROAS in micros: ``up`` loosens (lowers) it, never below the floor."""
    s = ROAS_STEP_MICROS
    if up:
        lowered = int(math.ceil(current * (1 - step) / s)) * s
        return min(current, max(lowered, floor_micros))
    return max(current, int(math.floor(current * (1 + step) / s)) * s)


def target_envelopes(
    campaign_days: pd.DataFrame,
    targets: Mapping[int, CampaignTarget],
    *,
    config: TargetConfig | None = None,
    billable_unit_micros: int = DEFAULT_BILLABLE_UNIT_MICROS,
    target_in_force_since: Mapping[int, object] | None = None,
) -> pd.DataFrame:
    """One envelope per campaign of ``targets`` with rows in the evidence window.

    campaign_days: campaign rows of the window — entity_id (campaign id), date, clicks,
    cost_micros, conversions and conversions_value_micros (lag-completed). targets: each Smart
    Bidding campaign's current target (campaigns without one have nothing to move).
    target_in_force_since: per campaign, the first whole day of its current target; earlier
    days are dropped (they measured an older target: a campaign that paid well under a tight
    target would otherwise be loosened again and again on the same old days).
    """
    cfg = config or TargetConfig()
    unit = int(billable_unit_micros)
    if unit <= 0:
        raise ValueError(f"billable unit must be positive micros, got {billable_unit_micros}")
    if campaign_days.empty or not targets:
        return _empty()
    rows = campaign_days[campaign_days["entity_id"].isin(list(targets))]
    if target_in_force_since:
        since = pd.Series(
            {int(k): pd.Timestamp(v) for k, v in target_in_force_since.items()},
            dtype="datetime64[ns]",
        )
        first = since.reindex(rows["entity_id"].astype(np.int64).to_numpy())
        rows = rows[~(pd.to_datetime(rows["date"]).to_numpy() < first.to_numpy())]
    if rows.empty:
        return _empty()
    cols = ["clicks", "cost_micros", "conversions", "conversions_value_micros"]
    sums = rows.groupby("entity_id", sort=True)[cols].sum().astype(float)
    conv = sums["conversions"].to_numpy()
    value = sums["conversions_value_micros"].to_numpy()
    cost = sums["cost_micros"].to_numpy()
    clicks = sums["clicks"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        vpc = value / conv
        break_even = cost / vpc
        roas = value / cost
    phi = (
        day_level_dispersion(rows, keys=["entity_id"], successes="conversions", trials="clicks")
        .reindex(sums.index)
        .fillna(1.0)
        .clip(upper=cfg.max_dispersion)
        .to_numpy()
    )
    x_eff = np.rint(conv / phi)
    ok = (clicks >= cfg.min_clicks) & (cost > 0) & np.isfinite(break_even) & (break_even > 0)
    lo_eff = np.where(ok, break_even / phi, 1.0)
    hi_eff = np.where(ok, cfg.increase_roas * break_even / phi, 1.0)
    p_down = np.where(ok, stats.poisson.cdf(x_eff, lo_eff), np.nan)
    p_up = np.where(ok, stats.poisson.sf(x_eff - 1, hi_eff), np.nan)
    adj = adjust_pvalues(np.concatenate([p_down, p_up]), method=cfg.fdr_method)
    n = len(sums)
    adj_down, adj_up = adj[:n], adj[n:]
    losing = ok & (adj_down <= cfg.alpha)
    paying = ok & (adj_up <= cfg.alpha) & ~losing
    floor_micros = int(round(cfg.break_even_roas * 1e6))

    out = []
    for i, cid in enumerate(sums.index.astype(np.int64).tolist()):
        target = targets[int(cid)]
        current = target.micros
        move = bool(losing[i] or paying[i])
        if target.strategy == TARGET_CPA:
            # break-even CPA: what a conversion is worth (a higher target loses on each one)
            break_even_target = (
                int(math.floor(vpc[i] / unit)) * unit if math.isfinite(vpc[i]) else 0
            )
            nxt = (
                _tcpa_next(current, bool(paying[i]), break_even_target, cfg.max_step, unit)
                if move
                else current
            )
        else:
            break_even_target = floor_micros
            nxt = (
                _troas_next(current, bool(paying[i]), floor_micros, cfg.max_step)
                if move
                else current
            )
        # the direction of the target value: loosening raises a CPA and lowers a ROAS
        moved = nxt != current
        direction = "hold" if not moved else ("increase" if nxt > current else "decrease")
        if not ok[i]:
            reason = f"fewer than {cfg.min_clicks} clicks, no cost or no conversion in the window"
        elif losing[i]:
            reason = (
                "conversions significantly below break-even (ROAS < 1): tighten the target"
                if moved
                else "conversions significantly below break-even, target at its smallest step"
            )
        elif paying[i]:
            reason = (
                f"conversions significantly above {cfg.increase_roas:g}x break-even: loosen the "
                "target (not past break-even)"
                if moved
                else "conversions well above break-even, but the target is at break-even already"
            )
        else:
            reason = "no significant evidence either way"
        out.append(
            {
                "campaign_id": int(cid),
                "strategy": target.strategy,
                "current_micros": current,
                "next_micros": int(nxt),
                "target_micros": int(break_even_target),
                "direction": direction,
                "max_change_pct": abs(nxt / current - 1) if current > 0 and moved else 0.0,
                "clicks": clicks[i],
                "cost_micros": cost[i],
                "conversions": conv[i],
                "conversions_value_micros": value[i],
                "value_per_conversion_micros": vpc[i],
                "roas": roas[i],
                "break_even_conversions": break_even[i],
                "dispersion": phi[i],
                "p_value": p_up[i]
                if paying[i]
                else p_down[i]
                if losing[i]
                else np.fmin(p_down[i], p_up[i]),
                "p_adjusted": adj_up[i]
                if paying[i]
                else adj_down[i]
                if losing[i]
                else np.fmin(adj_down[i], adj_up[i]),
                "reason": reason,
            }
        )
    return pd.DataFrame(out, columns=TARGET_COLUMNS)


__all__ = [
    "MAX_TARGET_STEP",
    "TARGET_COLUMNS",
    "TARGET_CPA",
    "TARGET_ROAS",
    "CampaignTarget",
    "TargetConfig",
    "target_envelopes",
]
