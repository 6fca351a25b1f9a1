"""A small, vectorised synthetic account with known truth, for analytics tests and benchmarks.

Not the market simulator (spectra.sandbox.market): no auctions or bidding, only what the
statistics must see — weekday/yearly seasonality, holiday lifts, Poisson/binomial noise with
optional day-level over-dispersion, conversion lag with a known CDF, planted effects and shocks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from spectra.analytics.seasonality import HolidayCalendar

WEEKDAY_LOG = np.array([0.08, 0.06, 0.04, 0.02, -0.02, -0.10, -0.08])  # Monday first


def geometric_lag_pmf(mean_days: float, window_days: int) -> np.ndarray:
    """Discrete lag distribution on 0..window (geometric, truncated and renormalised)."""
    k = np.arange(window_days + 1)
    q = mean_days / (1 + mean_days)
    pmf = (1 - q) * q**k
    return pmf / pmf.sum()


@dataclass(frozen=True)
class SyntheticAccount:
    perf: pd.DataFrame  # keyword and campaign rows in the performance_daily shape
    snapshots: pd.DataFrame  # account level: click_date, report_date, cumulative conversions/value
    truth: pd.DataFrame  # campaign level matured conversions and value per day
    lag_cdf: np.ndarray  # F(a), a = 0..window
    seasonal_index: pd.Series  # true multiplicative volume index per day
    as_of: dt.date
    keywords: pd.DataFrame  # keyword parameters (entity_id, campaign_id, ctr, cvr, cpc, ...)
    planted: dict[str, object] = field(default_factory=dict)


def make_account(
    *,
    n_campaigns: int = 5,
    keywords_per_campaign: int = 20,
    days: int = 365,
    end: dt.date = dt.date(2025, 12, 15),
    seed: int = 0,
    impressions_per_keyword: float = 2000.0,
    overdispersion: float = 0.0,
    yearly_amplitude: float = 0.15,
    holiday_lift: Mapping[str, float] | None = None,
    market: str = "US",
    lag_mean_days: float = 3.0,
    window_days: int = 30,
    ctr_effects: Mapping[int, float] | None = None,
    cvr_effects: Mapping[int, float] | None = None,
    effect_start: dt.date | None = None,
    cpc_shock: tuple[dt.date, int, float] | None = None,
    campaign_levels: bool = True,
    tenant_id: str = "t-synth",
    customer_id: int = 1234567890,
) -> SyntheticAccount:
    """Generate an account; effects map a keyword's position (0-based) to a multiplier.

    cpc_shock = (date, campaign position, multiplier): that campaign's CPC jumps that day only.
    Reported conversions of the last ``window_days`` days are thinned by the lag CDF, as Google
    Ads reports them on ``end``; ``truth`` keeps the matured values.
    """
    rng = np.random.default_rng(seed)
    holiday_lift = {"bfcm": 1.8, "christmas": 0.8} if holiday_lift is None else holiday_lift
    dates = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")
    n_kw = n_campaigns * keywords_per_campaign
    t = np.arange(days)

    cal = HolidayCalendar.for_market(market)
    win = cal.days(dates)["window"].to_numpy()
    lift = np.array([holiday_lift.get(w, 1.0) if w else 1.0 for w in win])
    doy = dates.day_of_year.to_numpy()
    log_index = WEEKDAY_LOG[dates.day_of_week] + yearly_amplitude * np.sin(
        2 * np.pi * (doy - 80) / 365.25
    )
    index = np.exp(log_index) * lift

    camp_pos = np.repeat(np.arange(n_campaigns), keywords_per_campaign)
    campaign_ids = 1000 + np.arange(n_campaigns)
    kw_ids = 10_000_000 + np.arange(n_kw)
    ad_group_ids = 500_000 + camp_pos * 10 + (np.arange(n_kw) % keywords_per_campaign) // 5
    scale = rng.lognormal(0.0, 1.0, n_kw) * impressions_per_keyword / np.exp(0.5)
    ctr = rng.beta(2, 40, n_kw)
    cvr = rng.beta(2, 25, n_kw)
    cpc = rng.lognormal(np.log(1.2), 0.4, n_kw)
    value_per_conv = rng.lognormal(np.log(60), 0.3, n_kw)

    # (days x keywords) arrays
    mu = scale[None, :] * index[:, None] * np.exp(0.0005 * t)[:, None]
    if overdispersion > 0:
        shape = 1.0 / overdispersion
        mu = mu * rng.gamma(shape, 1.0 / shape, size=mu.shape)
    impressions = rng.poisson(mu)
    ctr_m = np.tile(ctr, (days, 1))
    cvr_m = np.tile(cvr, (days, 1))
    if effect_start is not None:
        after = dates >= pd.Timestamp(effect_start)
        for pos, mult in (ctr_effects or {}).items():
            ctr_m[after, pos] = np.minimum(ctr_m[after, pos] * mult, 0.99)
        for pos, mult in (cvr_effects or {}).items():
            cvr_m[after, pos] = np.minimum(cvr_m[after, pos] * mult, 0.99)
    clicks = rng.binomial(impressions, ctr_m)
    cpc_m = np.tile(cpc, (days, 1)) * rng.lognormal(0.0, 0.05, size=(days, n_kw))
    if cpc_shock is not None:
        d_idx = int(np.where(dates == pd.Timestamp(cpc_shock[0]))[0][0])
        cpc_m[d_idx, camp_pos == cpc_shock[1]] *= cpc_shock[2]
    cost_micros = np.rint(clicks * cpc_m * 1e6).astype(np.int64)
    conversions = rng.binomial(clicks, cvr_m).astype(float)
    value_micros = np.rint(
        conversions * value_per_conv[None, :] * rng.lognormal(0, 0.1, size=(days, n_kw)) * 1e6
    )

    # Lag: the reported share at age a is Binomial-thinned with the true CDF.
    pmf = geometric_lag_pmf(lag_mean_days, window_days)
    cdf = np.minimum(np.cumsum(pmf), 1.0)
    cdf[-1] = 1.0
    age = (pd.Timestamp(end) - dates).days.to_numpy()
    f_age = cdf[np.clip(age, 0, window_days)]
    reported = rng.binomial(conversions.astype(np.int64), f_age[:, None]).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        reported_value = np.rint(
            np.where(conversions > 0, value_micros * reported / conversions, 0.0)
        )

    def long(
        level: str,
        ids: np.ndarray,
        camp: np.ndarray,
        ag: np.ndarray | None,
        cols: dict[str, np.ndarray],
    ) -> pd.DataFrame:
        n_e = len(ids)
        frame = pd.DataFrame(
            {
                "tenant_id": tenant_id,
                "customer_id": customer_id,
                "level": level,
                "entity_id": np.tile(ids, days),
                "campaign_id": np.tile(camp, days),
                # as performance_daily stores it: 0 on campaign rows
                "ad_group_id": np.tile(ag, days) if ag is not None else 0,
                "date": np.repeat(dates.values, n_e),
                **{k: v.reshape(-1) for k, v in cols.items()},
            }
        )
        frame["reported_as_of"] = pd.Timestamp(end)
        return frame

    kw_cols = {
        "impressions": impressions,
        "clicks": clicks,
        "cost_micros": cost_micros,
        "conversions": reported,
        "conversions_value_micros": reported_value.astype(np.int64),
    }
    frames = [long("keyword", kw_ids, campaign_ids[camp_pos], ad_group_ids, kw_cols)]
    onehot = np.zeros((n_kw, n_campaigns))
    onehot[np.arange(n_kw), camp_pos] = 1.0
    camp_cols = {k: (v.astype(float) @ onehot) for k, v in kw_cols.items()}
    for k in ("impressions", "clicks", "cost_micros", "conversions_value_micros"):
        camp_cols[k] = np.rint(camp_cols[k]).astype(np.int64)
    if campaign_levels:
        frames.insert(0, long("campaign", campaign_ids, campaign_ids, None, camp_cols))
    perf = pd.concat(frames, ignore_index=True)

    truth = pd.DataFrame(
        {
            "campaign_id": np.tile(campaign_ids, days),
            "date": np.repeat(dates.values, n_campaigns),
            "conversions": (conversions @ onehot).reshape(-1),
            "conversions_value_micros": (value_micros @ onehot).reshape(-1),
            "reported_conversions": camp_cols["conversions"].reshape(-1),
        }
    )

    # Account snapshots: each click day observed at every age up to its maturity (or end).
    total = conversions.sum(axis=1).astype(np.int64)
    total_value = value_micros.sum(axis=1)
    by_lag = np.stack([rng.multinomial(n, pmf) for n in total])  # days x (window+1)
    cum = np.cumsum(by_lag, axis=1)
    snap_rows = []
    for i, d in enumerate(dates):
        max_age = min(int(age[i]), window_days + 2)
        ages = np.arange(max_age + 1)
        c = cum[i, np.minimum(ages, window_days)]
        share = np.divide(c, total[i], out=np.zeros(len(ages)), where=total[i] > 0)
        snap_rows.append(
            pd.DataFrame(
                {
                    "click_date": d,
                    "report_date": d + pd.to_timedelta(ages, unit="D"),
                    "conversions": c.astype(float),
                    "conversions_value_micros": np.rint(share * total_value[i]).astype(np.int64),
                }
            )
        )
    snapshots = pd.concat(snap_rows, ignore_index=True)
    keywords = pd.DataFrame(
        {
            "entity_id": kw_ids,
            "campaign_id": campaign_ids[camp_pos],
            "ad_group_id": ad_group_ids,
            "impressions_scale": scale,
            "ctr": ctr,
            "cvr": cvr,
            "cpc": cpc,
            "value_per_conversion": value_per_conv,
        }
    )
    return SyntheticAccount(
        perf=perf,
        snapshots=snapshots,
        truth=truth,
        lag_cdf=cdf,
        seasonal_index=pd.Series(index, index=dates),
        as_of=pd.Timestamp(end).date(),
        keywords=keywords,
        planted={
            "ctr_effects": dict(ctr_effects or {}),
            "cvr_effects": dict(cvr_effects or {}),
            "cpc_shock": cpc_shock,
        },
    )
