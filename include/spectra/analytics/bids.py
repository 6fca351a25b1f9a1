"""Keyword bid envelopes: which manual-CPC keywords may move their bid, which way, how far.

The question per keyword is whether its clicks pay for themselves. A keyword's lag-completed
conversions are compared with the number it needs to break even at its cost:

    break-even conversions  = cost / value per conversion,
    decrease allowed  when  conversions are significantly below break-even (ROAS < 1),
    increase allowed  when  conversions are significantly above ``increase_roas`` x break-even.

Why these two lines and the gap between them: raising a bid buys extra clicks at a *marginal*
cost above the average CPC (the auction's price rises with the bid), so a keyword earning just
above break-even on average loses money on the clicks a higher bid would add. Measured on the
market simulator against its profit-optimal bids (``Truth.oracle``): keywords with a true ROAS
below 1.2 should nearly all bid lower, above 2 nearly all higher, and between the two it goes
either way — the envelope holds there.

Statistics: the count of conversions is tested with an exact one-sided Poisson tail, on the
effective counts x / phi where phi is the keyword's day-level over-dispersion (conversions of one
keyword-day share a shock); value per conversion is the keyword's own, shrunk toward its
campaign's (empirical Bayes, ``value_prior_conversions`` pseudo-conversions), because one keyword's
handful of conversion values is too noisy to trust alone. Benjamini-Hochberg runs over every
keyword's test of the day. Keywords in Smart Bidding campaigns have no manual bid and are left
out; keywords without a significant result hold (the envelope allows no bid change).

A keyword is (ad group, criterion): Google gives one keyword text and match type the same
criterion id in every ad group, and each ad group's copy has its own bid and its own traffic.
Next bids are whole billable units of the account's currency (one cent in USD, one yen in
JPY): Google rejects a bid that is not a multiple of the unit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from spectra.analytics.config import BidConfig
from spectra.analytics.significance import adjust_pvalues, day_level_dispersion
from spectra.domain.money import DEFAULT_BILLABLE_UNIT_MICROS

KEYWORD_KEY = ["ad_group_id", "entity_id"]

# What a bid or target envelope's break-even test rests on: columns of both envelope frames,
# and the evidence JSON the analyze step stores with each envelope.
BREAK_EVEN_EVIDENCE = (
    "clicks", "cost_micros", "conversions", "value_per_conversion_micros", "roas",
    "break_even_conversions", "dispersion", "p_value", "p_adjusted",
)  # fmt: skip
ENVELOPE_COLUMNS = [
    "keyword_id",
    "campaign_id",
    "ad_group_id",
    "current_bid_micros",
    "next_bid_micros",
    "direction",
    "max_change_pct",
    *BREAK_EVEN_EVIDENCE,
    "reason",
]


class BidChange(NamedTuple):
    """One applied bid change of a keyword (the apply ledger): in force from the day after
    ``effective`` (it lands during that day, at the apply's hour)."""

    effective: dt.date
    before_micros: int
    after_micros: int


def _reprice(
    rows: pd.DataFrame,
    current_bids_micros: Mapping[tuple[int, int], int],
    history: Mapping[tuple[int, int], Sequence[BidChange]],
) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows without the days a change took effect, and per row the current bid over the bid
    in force that day (1 for keywords without history and for days of the current bid)."""
    groups = rows["ad_group_id"].astype(np.int64).to_numpy()
    crits = rows["entity_id"].astype(np.int64).to_numpy()
    dates = pd.to_datetime(rows["date"]).dt.date.to_numpy()
    ratio = np.ones(len(rows))
    keep = np.ones(len(rows), dtype=bool)
    for i in range(len(rows)):
        key = (int(groups[i]), int(crits[i]))
        changes = history.get(key)
        if not changes:
            continue
        ordered = sorted(changes, key=lambda c: c.effective)
        day = dates[i]
        if any(c.effective == day for c in ordered):
            keep[i] = False
            continue
        then = ordered[0].before_micros
        for c in ordered:
            if c.effective < day:
                then = c.after_micros
        now = current_bids_micros.get(key)
        if now and then > 0:
            ratio[i] = float(now) / float(then)
    return rows[keep], ratio[keep]


def _round_toward(target: np.ndarray, current: np.ndarray, unit: int) -> np.ndarray:
    """Billable units on the current bid's side of the target: rounding never makes a step
    larger than the envelope allows."""
    units = target / unit
    units = np.where(target >= current, np.floor(units), np.ceil(units))
    return (np.maximum(units, 1) * unit).astype(np.int64)


def _rank_lost_share(rows: pd.DataFrame) -> pd.Series:
    """Per keyword: impressions lost to ad rank over the window / eligible impressions
    (impressions / impression share), from Google's ``search_impression_share`` and
    ``search_rank_lost_impression_share`` (support.google.com/google-ads/answer/2497703).
    NaN where Google gave no share (rows without it, or an older warehouse)."""
    need = {"impressions", "search_impression_share", "search_rank_lost_impression_share"}
    if not need <= set(rows.columns):
        index = pd.MultiIndex.from_frame(rows[KEYWORD_KEY].drop_duplicates())
        return pd.Series(np.nan, index=index)
    share = pd.to_numeric(rows["search_impression_share"], errors="coerce")
    lost = pd.to_numeric(rows["search_rank_lost_impression_share"], errors="coerce")
    known = share.notna() & lost.notna() & (share > 0)
    eligible = rows["impressions"].astype(float) / share.where(known)
    frame = pd.DataFrame(
        {
            "ad_group_id": rows["ad_group_id"],
            "entity_id": rows["entity_id"],
            "eligible": eligible.fillna(0.0),
            "lost": (eligible * lost).fillna(0.0),
        }
    )
    g = frame.groupby(KEYWORD_KEY, sort=True)[["eligible", "lost"]].sum()
    return (g["lost"] / g["eligible"].where(g["eligible"] > 0)).astype(float)


def keyword_bid_envelopes(
    keyword_days: pd.DataFrame,
    current_bids_micros: Mapping[tuple[int, int], int],
    *,
    smart_bidding_campaigns: Collection[int] = (),
    config: BidConfig | None = None,
    billable_unit_micros: int = DEFAULT_BILLABLE_UNIT_MICROS,
    max_bid_micros: int | None = None,
    bid_in_force_since: Mapping[tuple[int, int], object] | None = None,
    bid_history: Mapping[tuple[int, int], Sequence[BidChange]] | None = None,
) -> pd.DataFrame:
    """One envelope per keyword with a manual bid (see module docstring).

    bid_in_force_since: per (ad group id, criterion id), the first day its current bid was in
    force (the apply ledger's effective date of its last bid change): only those days are
    evidence about the bid that is there now. Days from before a change judge a bid that is
    gone; re-using them raised a keyword again every 72 h on the same pre-raise evidence
    (measured in the closed-loop evaluation, steady, 28 days: bids compounded past the
    optimum). A keyword whose new bid has not yet gathered ``min_clicks`` holds.

    bid_history: per keyword, its applied bid changes (effective day, bid before, bid after).
    With it, the days before the current bid stay evidence, their cost re-priced at the
    current bid by the bound least favourable to acting: a raise is judged as if each older
    day's cost had grown in proportion to the bid since (average CPC rises less than the bid:
    on the sandbox market a 20 % raise moves CPC +11.6 %, ROAS at least -7 %), a cut as if
    it had not fallen. Each raise so weakens the older days' case by its own factor, so the
    same days can carry a keyword only as far as their margin over ``increase_roas`` allows
    (a ROAS of 3 at the old bid: 1.2x and 1.44x, not more) and never compound past it; the
    day a change took effect (old bid until the apply) is left out. Measured in the
    closed-loop evaluation: with only the new bid's days as evidence a raised keyword needed
    ~15 days to be raised again (2 raises in 28 days) while the truth's optimum was 2.5-3.8x
    its starting bid.

    keyword_days: keyword rows of the evidence window — entity_id (criterion id), campaign_id,
    ad_group_id, date, clicks, cost_micros, conversions and conversions_value_micros
    (lag-completed); with impressions, search_impression_share and
    search_rank_lost_impression_share, a raise also needs impressions lost to rank. current_bids_micros: effective max CPC per (ad group id, criterion id)
    (the keyword's bid, else its ad group's). billable_unit_micros: the account currency's
    unit, which every next bid is a multiple of; max_bid_micros: the cap on raised bids in the
    account's currency (default ``config.max_bid_micros``).
    """
    cfg = config or BidConfig()
    unit = int(billable_unit_micros)
    if unit <= 0:
        raise ValueError(f"billable unit must be positive micros, got {billable_unit_micros}")
    cap = cfg.max_bid_micros if max_bid_micros is None else int(max_bid_micros)
    if keyword_days.empty:
        return pd.DataFrame(columns=ENVELOPE_COLUMNS)
    rows = keyword_days[~keyword_days["campaign_id"].isin(list(smart_bidding_campaigns))]
    keys = pd.MultiIndex.from_frame(rows[KEYWORD_KEY].astype(np.int64))
    rows = rows[keys.isin(list(current_bids_micros))]
    ratio_up = ratio_down = None
    if bid_history:
        rows, ratio = _reprice(rows, current_bids_micros, bid_history)
        ratio_up, ratio_down = np.maximum(ratio, 1.0), np.minimum(ratio, 1.0)
        bid_in_force_since = {
            k: v for k, v in (bid_in_force_since or {}).items() if k not in bid_history
        }
    if bid_in_force_since:
        since = pd.Series(
            [pd.Timestamp(v) for v in bid_in_force_since.values()],
            index=pd.MultiIndex.from_tuples(
                [(int(a), int(c)) for a, c in bid_in_force_since], names=KEYWORD_KEY
            ),
            dtype="datetime64[ns]",
        )
        first = since.reindex(pd.MultiIndex.from_frame(rows[KEYWORD_KEY].astype(np.int64)))
        kept = ~(pd.to_datetime(rows["date"]).to_numpy() < first.to_numpy())
        rows = rows[kept]
        if ratio_up is not None and ratio_down is not None:
            ratio_up, ratio_down = ratio_up[kept], ratio_down[kept]
    if rows.empty:
        return pd.DataFrame(columns=ENVELOPE_COLUMNS)
    cost_micros = rows["cost_micros"].astype(float)
    rows = rows.assign(
        _cost_up=cost_micros * (1.0 if ratio_up is None else ratio_up),
        _cost_down=cost_micros * (1.0 if ratio_down is None else ratio_down),
    )
    cols = ["clicks", "cost_micros", "conversions", "conversions_value_micros"]
    g = rows.groupby(KEYWORD_KEY, sort=True)
    sums = g[[*cols, "_cost_up", "_cost_down"]].sum().astype(float)
    # room to buy is a fact about the current bid: its own days when it has any
    own = rows if ratio_up is None else rows[(ratio_up == 1.0) & (ratio_down == 1.0)]
    rank_lost = (
        _rank_lost_share(own)
        .reindex(sums.index)
        .fillna(_rank_lost_share(rows).reindex(sums.index))
        .to_numpy(dtype=float)
    )
    meta = g[["campaign_id"]].first()
    camp = rows.groupby("campaign_id")[["conversions", "conversions_value_micros"]].sum()
    camp_vpc = camp["conversions_value_micros"] / camp["conversions"].where(camp["conversions"] > 0)
    prior_vpc = meta["campaign_id"].map(camp_vpc).to_numpy(dtype=float)
    k = cfg.value_prior_conversions
    conv = sums["conversions"].to_numpy()
    value = sums["conversions_value_micros"].to_numpy()
    cost = sums["cost_micros"].to_numpy()
    clicks = sums["clicks"].to_numpy()
    cost_up = sums["_cost_up"].to_numpy()
    cost_down = sums["_cost_down"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        vpc = np.where(np.isfinite(prior_vpc), (value + k * prior_vpc) / (conv + k), value / conv)
        break_even = cost / vpc
        break_even_up, break_even_down = cost_up / vpc, cost_down / vpc
        roas = value / cost
    phi = (
        day_level_dispersion(rows, keys=KEYWORD_KEY, successes="conversions", trials="clicks")
        .reindex(sums.index)
        .fillna(1.0)
        .clip(upper=cfg.max_dispersion)
        .to_numpy()
    )
    x_eff = np.rint(conv / phi)
    lo_eff = break_even_down / phi
    hi_eff = cfg.increase_roas * break_even_up / phi
    ok = (clicks >= cfg.min_clicks) & (cost > 0) & np.isfinite(break_even) & (break_even > 0)
    p_dec = np.where(ok, stats.poisson.cdf(x_eff, np.where(ok, lo_eff, 1.0)), np.nan)
    p_inc = np.where(ok, stats.poisson.sf(x_eff - 1, np.where(ok, hi_eff, 1.0)), np.nan)
    # One family for the whole account and day: both directions of every keyword.
    adj = adjust_pvalues(np.concatenate([p_dec, p_inc]), method=cfg.fdr_method)
    n = len(sums)
    adj_dec, adj_inc = adj[:n], adj[n:]
    down = ok & (adj_dec <= cfg.alpha)
    # no room to buy: the keyword wins (nearly) every auction it enters (unknown share: no gate)
    saturated = np.isfinite(rank_lost) & (rank_lost < cfg.increase_min_rank_lost)
    up = ok & (adj_inc <= cfg.alpha) & ~down & ~saturated
    current = np.array(
        [int(current_bids_micros[(int(g_), int(k_))]) for g_, k_ in sums.index], dtype=np.int64
    )
    step = np.where(up, cfg.max_step, np.where(down, -cfg.max_step, 0.0))
    nxt = np.where(step != 0, _round_toward(current * (1 + step), current, unit), current)
    nxt = np.where(up, np.minimum(nxt, cap // unit * unit), nxt)
    direction = np.where(up, "increase", np.where(down, "decrease", "hold"))
    reason = np.where(
        ~ok,
        f"fewer than {cfg.min_clicks} clicks or no cost in the window",
        np.where(
            down,
            "conversions significantly below break-even (ROAS < 1)",
            np.where(
                up,
                f"conversions significantly above {cfg.increase_roas:g}x break-even",
                np.where(
                    ok & (adj_inc <= cfg.alpha) & ~down & saturated,
                    f"converts well but lost under {cfg.increase_min_rank_lost:.0%} of its "
                    "impressions to rank: a higher bid buys little",
                    "no significant evidence either way",
                ),
            ),
        ),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(current > 0, np.abs(nxt / current - 1), 0.0)
    return pd.DataFrame(
        {
            "keyword_id": sums.index.get_level_values("entity_id").to_numpy(dtype=np.int64),
            "campaign_id": meta["campaign_id"].to_numpy(dtype=np.int64),
            "ad_group_id": sums.index.get_level_values("ad_group_id").to_numpy(dtype=np.int64),
            "current_bid_micros": current,
            "next_bid_micros": nxt.astype(np.int64),
            "direction": direction,
            "max_change_pct": np.where(direction == "hold", 0.0, pct),
            "clicks": clicks,
            "cost_micros": cost,
            "conversions": conv,
            "value_per_conversion_micros": vpc,
            "roas": roas,
            "break_even_conversions": break_even,
            "dispersion": phi,
            "p_value": np.where(up, p_inc, np.where(down, p_dec, np.fmin(p_dec, p_inc))),
            "p_adjusted": np.where(up, adj_inc, np.where(down, adj_dec, np.fmin(adj_dec, adj_inc))),
            "reason": reason,
        },
        columns=ENVELOPE_COLUMNS,
    )
