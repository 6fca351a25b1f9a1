"""spectra.analytics.cpc_index: keyword-mix effects, the ranges they need, CPC anomalies at fixed mix."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from spectra.analytics.anomalies import detect_anomalies
from spectra.analytics.cpc_index import index_ranges, mix_effects, mix_series
from spectra.analytics.seasonality import HolidayCalendar

AS_OF = dt.date(2026, 6, 30)


def _panel(
    days: int = 120,
    *,
    seed: int = 0,
    prices: tuple[float, ...] = (0.5, 1.5, 4.0),
    price_noise: float = 0.01,
    shock: float = 1.0,
    campaign_id: int = 7,
) -> pd.DataFrame:
    """Keyword-days of one campaign whose keywords' prices are nearly fixed but whose clicks
    reshuffle strongly from day to day (gamma demand shocks, as on Smart Bidding campaigns).
    ``shock`` multiplies every keyword's price on the last day."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=pd.Timestamp(AS_OF), periods=days, freq="D")
    rows = []
    for i, day in enumerate(dates):
        for k, price in enumerate(prices):
            clicks = int(rng.poisson(200 * rng.gamma(2.0, 0.5))) + 1
            p = price * np.exp(price_noise * rng.standard_normal())
            if i == days - 1:
                p *= shock
            rows.append(
                {
                    "date": day,
                    "campaign_id": campaign_id,
                    "ad_group_id": 100 + k,
                    "entity_id": 1 + k,
                    "impressions": clicks * 20,
                    "clicks": clicks,
                    "cost_micros": int(round(clicks * p * 1e6)),
                    "conversions": clicks * 0.05,
                }
            )
    return pd.DataFrame(rows)


def _raw_log_cpc(kw: pd.DataFrame) -> pd.Series:
    g = kw.groupby("date")[["cost_micros", "clicks"]].sum()
    return np.log(g["cost_micros"] / g["clicks"])


def test_mix_effect_explains_the_raw_cpc_swings_of_fixed_prices() -> None:
    kw = _panel()
    mix = mix_effects(kw, by="campaign_id")
    assert set(mix["group"]) == {7} and len(mix) == 120
    raw = _raw_log_cpc(kw)
    adjusted = raw - mix_series(mix, 7).reindex(raw.index)
    # The click mix moves raw CPC by ~25 % a day; at fixed mix only the 1 % price noise is left.
    assert raw.diff().std() > 0.15
    assert adjusted.diff().std() < 0.02
    # Centred per stretch of days: the adjusted series keeps the raw level.
    assert float(np.median(mix["mix_log"])) == pytest.approx(0.0, abs=1e-12)
    assert np.all(mix["keywords"] == 3)


def test_a_price_shock_stays_in_the_index_not_in_the_mix() -> None:
    kw = _panel(shock=1.5)
    mix = mix_series(mix_effects(kw, by="campaign_id"), 7)
    raw = _raw_log_cpc(kw)
    adjusted = raw - mix.reindex(raw.index)
    jump = adjusted.iloc[-1] - adjusted.iloc[:-1].median()
    assert jump == pytest.approx(np.log(1.5), abs=0.03)


def test_groups_stretches_and_repeated_criterion_ids() -> None:
    a = _panel(days=30, seed=1, campaign_id=1)
    b = _panel(days=30, seed=2, campaign_id=2, prices=(1.0, 9.0, 2.0))
    b["ad_group_id"] += 50  # same criterion ids as campaign 1, other ad groups
    # A second stretch a year earlier: its own index, centred on its own.
    old = _panel(days=20, seed=3, campaign_id=1)
    old["date"] -= pd.Timedelta(days=365)
    mix = mix_effects(pd.concat([a, b, old]), by="campaign_id")
    assert sorted(set(mix["group"])) == [1, 2]
    one = mix_series(mix, 1)
    assert len(one) == 50
    recent, past = one[one.index > pd.Timestamp("2026-01-01")], one[one.index < "2026-01-01"]
    assert np.median(recent) == pytest.approx(0.0, abs=1e-12)
    assert np.median(past) == pytest.approx(0.0, abs=1e-12)
    # The account as one group pools both campaigns' keywords (6 keyword-days a day).
    account = mix_effects(pd.concat([a, b]), by=None)
    assert set(account["keywords"]) == {6}
    assert mix_series(mix, 3).empty
    with pytest.raises(ValueError, match="cost_micros"):
        mix_effects(a.drop(columns=["cost_micros"]))
    assert mix_effects(a.assign(clicks=0)).empty


def test_index_ranges_cover_last_years_holidays_with_a_lead_in() -> None:
    cal = HolidayCalendar.for_market("US")
    as_of = dt.date(2026, 11, 27)
    recent_from = as_of - dt.timedelta(days=76)
    ranges = index_ranges(
        as_of=as_of, first_day=dt.date(2025, 10, 1), recent_from=recent_from, calendar=cal,
        lead_days=42,
    )  # fmt: skip
    # BFCM 2025 (Nov 27 - Dec 1) with 42 days before it, merged with Christmas and New Year.
    assert ranges == [(dt.date(2025, 10, 16), dt.date(2026, 1, 8))]
    assert all(hi < recent_from for _, hi in ranges)
    # History that starts later cuts the lead-in; no history before the recent window: none.
    assert index_ranges(
        as_of=as_of, first_day=dt.date(2025, 11, 20), recent_from=recent_from, calendar=cal
    )[0][0] == dt.date(2025, 11, 20)
    assert (
        index_ranges(as_of=as_of, first_day=recent_from, recent_from=recent_from, calendar=cal)
        == []
    )


def _daily(kw: pd.DataFrame) -> pd.DataFrame:
    d = kw.groupby("date")[["impressions", "clicks", "cost_micros", "conversions"]].sum()
    return d.reset_index()


def test_cpc_anomaly_at_fixed_mix_finds_a_shock_the_raw_cpc_hides() -> None:
    kw = _panel(shock=1.3, seed=4)
    mix = mix_series(mix_effects(kw, by="campaign_id"), 7)
    cal = HolidayCalendar.for_market("NONE")
    kwargs = {"as_of": AS_OF, "entity_level": "campaign", "entity_id": 7, "metrics": ("cpc",)}
    raw = detect_anomalies(_daily(kw), calendar=cal, include_normal=True, **kwargs)[0]
    fixed = detect_anomalies(_daily(kw), calendar=cal, include_normal=True, cpc_mix=mix, **kwargs)[
        0
    ]
    assert fixed.flagged and fixed.direction == "up"
    assert abs(fixed.score) > 3 * abs(raw.score)
    # Evidence stays in money: observed is the day's raw CPC, the expectation at its mix.
    day_cpc = kw[kw["date"] == pd.Timestamp(AS_OF)]
    assert fixed.observed == pytest.approx(day_cpc["cost_micros"].sum() / day_cpc["clicks"].sum())
    assert np.log(fixed.observed / fixed.expected) == pytest.approx(fixed.log_residual)
    assert "keyword mix" in fixed.reason
    # Without a mix value for the scored day the raw series is judged, not a mixture.
    partial = mix[mix.index < pd.Timestamp(AS_OF)]
    same = detect_anomalies(
        _daily(kw), calendar=cal, include_normal=True, cpc_mix=partial, **kwargs
    )
    assert same[0].score == pytest.approx(raw.score)
