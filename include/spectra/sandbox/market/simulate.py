"""One simulated day: expected values plus seeded over-dispersed noise and conversion lags.

Noise (all counter-based, see rng.py):
- a keyword-day demand shock G ~ Gamma(k, 1/k) multiplies expected traffic, so clicks are
  negative binomial with Var = mu + mu^2 / k (k = ``click_dispersion``);
- clicks ~ Poisson(mu·G) and non-clicked impressions ~ Poisson((imps-mu)·G) (Poisson thinning: the
  impressions are Poisson(imps·G) and clicks given impressions binomial);
- a keyword-day CVR shock H ~ Gamma(kc, 1/kc); conversions ~ Poisson(clicks·cvr·H), ≤ clicks;
- each conversion gets its own lag (account's lag distribution) and value (log-normal around the
  keyword's mean); a conversion hit by a tracking outage (its click day, or the day it happens,
  depending on the outage's mode) is lost for good.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from spectra.sandbox.market import rng
from spectra.sandbox.market.model import Expected, expected
from spectra.sandbox.market.state import DayContext, State
from spectra.sandbox.market.structure import Structure


@dataclass
class DayResult:
    """Realised metrics of one day per search term, and that day's conversions one by one."""

    ordinal: int
    impressions: NDArray[np.int64]
    clicks: NDArray[np.int64]
    cost_micros: NDArray[np.int64]
    expected_impressions: NDArray[np.float32]
    searches: NDArray[np.float32]
    rank_lost: NDArray[np.float32]
    budget_lost: NDArray[np.float32]
    conversion_term: NDArray[np.int64]
    conversion_lag: NDArray[np.int16]
    conversion_value: NDArray[np.float64]
    conversion_lost: NDArray[np.bool_]
    ad_serving: NDArray[np.bool_]
    keyword_first_page_cpc: NDArray[np.float64]

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f).nbytes for f in self.__dataclass_fields__ if f != "ordinal")

    def reported(
        self, age_days: int, n_terms: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Conversions and value per term as reported ``age_days`` after the click day."""
        mask = (self.conversion_lag < age_days) & ~self.conversion_lost
        terms = self.conversion_term[mask]
        conversions = np.bincount(terms, minlength=n_terms).astype(np.float64)
        value = np.bincount(terms, weights=self.conversion_value[mask], minlength=n_terms)
        return conversions, value


def simulate_day(
    struct: Structure,
    state: State,
    ctx: DayContext,
    *,
    seed: int,
    outage_days: dict[str, dict[int, frozenset[int]]],
    value_sigma: float = 0.6,
    max_overdelivery: float = 2.0,
) -> tuple[DayResult, Expected]:
    """Realise one day. ``outage_days[mode][account]``: ordinals of tracking outages, by click
    date (conversions of that day's clicks are lost) or by conversion date."""
    day = ctx.ordinal
    exp = expected(struct, state, ctx, budget_factor=ctx.budget_factor)
    tk = struct.term_keyword
    acct = struct.term_account
    k_click = np.array([n.click_dispersion for n in struct.account_noise])[struct.keyword_account]
    k_conv = np.array([n.conversion_dispersion for n in struct.account_noise])[
        struct.keyword_account
    ]
    cpc_sigma = np.array([n.cpc_sigma for n in struct.account_noise])[struct.keyword_account]

    g = rng.gamma_shock(rng.uniform(seed, rng.DEMAND, day, struct.keyword_key), k_click)[tk]
    clicks = rng.poisson_inv(rng.uniform(seed, rng.CLICKS, day, struct.term_id), exp.clicks * g)
    other = rng.poisson_inv(
        rng.uniform(seed, rng.NONCLICK_IMPRESSIONS, day, struct.term_id),
        np.maximum(exp.impressions - exp.clicks, 0.0) * g,
    )
    z = rng.uniform(seed, rng.CPC_NOISE, day, struct.keyword_key)
    cpc_mult = np.exp(cpc_sigma * ndtri(z) - 0.5 * cpc_sigma**2)[tk]
    cpc = np.minimum(exp.cpc * cpc_mult, exp.bid)
    cost = np.rint(clicks * cpc).astype(np.int64)
    # Google never charges more than the day's allowance (budget x the day's overdelivery
    # factor, at most ``max_overdelivery`` budgets): the noise may not either (the campaign's
    # clicks are cut to what that pays for). The factors of a month add up to at most 30.4,
    # so capping each day at its own allowance keeps the month within 30.4 budgets too.
    tc = struct.term_campaign
    allowance = (
        np.minimum(ctx.budget_factor[: state.campaign_budget.size], max_overdelivery)
        if ctx.budget_factor is not None
        else max_overdelivery
    )
    cap = state.campaign_budget.astype(np.float64) * allowance
    spent = np.bincount(tc, weights=cost, minlength=cap.size)
    over = spent > cap
    if over.any():
        # only the campaigns over their allowance change (the others keep their own luck)
        cut_terms = over[tc]
        cut = np.where(over, cap / np.maximum(spent, 1.0), 1.0)[tc]
        clicks = np.where(cut_terms, np.floor(clicks * cut), clicks).astype(clicks.dtype)
        other = np.where(cut_terms, np.floor(other * cut), other).astype(other.dtype)
        cost = np.where(cut_terms, np.floor(clicks * cpc), cost).astype(np.int64)
    impressions = clicks + other

    h = rng.gamma_shock(rng.uniform(seed, rng.CVR_SHOCK, day, struct.keyword_key), k_conv)[tk]
    conv = np.minimum(
        rng.poisson_inv(
            rng.uniform(seed, rng.CONVERSIONS, day, struct.term_id), clicks * exp.cvr * h
        ),
        clicks,
    )
    n_conv = int(conv.sum())
    conv_term = np.repeat(np.arange(struct.n_terms, dtype=np.int64), conv)
    starts = np.repeat(np.cumsum(conv) - conv, conv)
    j = np.arange(n_conv, dtype=np.int64) - starts
    tid = struct.term_id[conv_term]
    u_lag = rng.uniform(seed, rng.LAG, day, tid, j)
    lag = np.zeros(n_conv, np.int16)
    conv_acct = acct[conv_term]
    for a in np.unique(conv_acct).tolist():
        sel = conv_acct == a
        lag[sel] = struct.account_lag[a].sample(u_lag[sel])
    sigma_v = value_sigma
    zv = ndtri(rng.uniform(seed, rng.VALUE, day, tid, j))
    value = struct.keyword_value[tk[conv_term]] * np.exp(sigma_v * zv - 0.5 * sigma_v**2)
    lost = np.zeros(n_conv, np.bool_)
    for a, days in outage_days.get("conversion_date", {}).items():
        if days:
            sel = conv_acct == a
            lost[sel] = np.isin(day + lag[sel].astype(np.int64), np.fromiter(days, np.int64))
    for a, days in outage_days.get("click_date", {}).items():
        if day in days:
            lost[conv_acct == a] = True
    ad_serving = (state.ad_status == 0) & ctx.ad_approved & exp.keyword_serving.any()
    result = DayResult(
        ordinal=day,
        impressions=impressions,
        clicks=clicks,
        cost_micros=cost,
        expected_impressions=exp.impressions.astype(np.float32),
        searches=exp.searches.astype(np.float32),
        rank_lost=exp.rank_lost.astype(np.float32),
        budget_lost=exp.budget_lost.astype(np.float32),
        conversion_term=conv_term,
        conversion_lag=lag,
        conversion_value=np.round(value, 2),
        conversion_lost=lost,
        ad_serving=ad_serving,
        keyword_first_page_cpc=exp.keyword_first_page_cpc,
    )
    return result, exp
