"""spectra.analytics.seasonality: holiday calendar, weekday/yearly profiles, expectations."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from spectra.analytics.seasonality import (
    HolidayCalendar,
    HolidayRule,
    expected,
    fit_seasonality,
    us_thanksgiving,
    weekday_baseline,
)

TRUE_WEEKDAY = np.array([0.10, 0.05, 0.0, 0.0, -0.05, -0.20, -0.15])


def _series(
    days: int,
    *,
    seed: int = 0,
    end: str = "2025-12-10",
    bfcm_lift: float = 2.0,
    level: float = 500.0,
) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = pd.date_range(end=end, periods=days, freq="D")
    t = np.arange(days)
    win = HolidayCalendar.for_market("US").days(idx)["window"].to_numpy()
    log_mu = (
        np.log(level)
        + TRUE_WEEKDAY[idx.day_of_week]
        + 0.2 * np.sin(2 * np.pi * idx.day_of_year.to_numpy() / 365.25)
        + np.where(win == "bfcm", np.log(bfcm_lift), 0.0)
        + 0.0005 * t
    )
    return pd.Series(rng.poisson(np.exp(log_mu)).astype(float), index=idx)


def test_us_thanksgiving_and_bfcm_offsets() -> None:
    # US federal holiday: fourth Thursday of November (5 U.S.C. 6103).
    assert us_thanksgiving(2023) == dt.date(2023, 11, 23)
    assert us_thanksgiving(2024) == dt.date(2024, 11, 28)
    assert us_thanksgiving(2025) == dt.date(2025, 11, 27)
    assert us_thanksgiving(2026) == dt.date(2026, 11, 26)
    days = HolidayCalendar.for_market("US").days(pd.date_range("2025-11-26", "2025-12-02"))
    assert list(days["window"]) == ["", "bfcm", "bfcm", "bfcm", "bfcm", "bfcm", ""]
    assert days.loc["2025-11-28", "offset"] == 1  # Black Friday = Thanksgiving + 1
    assert days.loc["2025-12-01", "offset"] == 4  # Cyber Monday = Thanksgiving + 4
    gb = HolidayCalendar.for_market("GB").days(pd.date_range("2025-11-27", "2025-11-28"))
    assert list(gb["window"]) == ["", "bfcm"]  # no Thanksgiving outside the US


def test_christmas_window_and_explicit_flagged_days_are_configurable() -> None:
    cal = HolidayCalendar(
        rules=(HolidayRule("christmas", "fixed", start_offset=-3, end_offset=0, month=12, day=25),),
        explicit=(("seasonality_adjustment", dt.date(2025, 6, 3), dt.date(2025, 6, 4)),),
    )
    days = cal.days(
        pd.date_range("2025-06-02", "2025-06-05").append(pd.date_range("2025-12-21", "2025-12-26"))
    )
    assert list(days["window"]) == ["", "seasonality_adjustment", "seasonality_adjustment", "", "",
                                    "christmas", "christmas", "christmas", "christmas", ""]  # fmt: skip
    with pytest.raises(ValueError):
        HolidayCalendar.for_market("Atlantis")


def test_weekday_profile_recovered_with_stl() -> None:
    fit = fit_seasonality(_series(200, seed=1))
    assert fit.method == "stl"
    centred = TRUE_WEEKDAY - TRUE_WEEKDAY.mean()
    np.testing.assert_allclose(fit.weekday_profile, centred, atol=0.04)


def test_short_histories_fall_back() -> None:
    assert fit_seasonality(_series(20)).method == "weekday"
    assert fit_seasonality(_series(10)).method == "flat"


def test_holiday_factor_estimated_from_last_year_and_excluded_from_baseline() -> None:
    s = _series(420, seed=2, bfcm_lift=1.8)
    fit = fit_seasonality(s)
    eff = fit.holiday_effects.set_index(["window", "offset"])
    # Each BFCM day was seen once or twice (2024, 2025); its factor ~ the planted 1.8.
    bfcm = eff.loc["bfcm", "factor"]
    assert bfcm.between(1.6, 2.0).all()
    # The baseline level right after Cyber Monday is not inflated by the holiday spike.
    after = fit.level.loc["2025-12-02":"2025-12-05"]
    before = fit.level.loc["2025-11-20":"2025-11-26"]
    assert abs(after.mean() - before.mean()) < 0.05


def test_expected_tracks_seasonal_truth_out_of_sample() -> None:
    s = _series(200, seed=3)
    fit = fit_seasonality(s.iloc[:-7])
    exp = fit.expected_for(s.index[-7:])
    ratio = s.iloc[-7:] / exp
    assert ratio.between(0.85, 1.15).all()
    # The weekday swing is in the projection: Monday expected above Saturday.
    by_day = exp.groupby(exp.index.day_of_week).mean()
    assert by_day[0] > by_day[5] * 1.2


def test_expected_convenience_keeps_index_and_units() -> None:
    s = _series(60, seed=4)
    e = expected(s)
    assert e.index.equals(s.index)
    assert (e / s).median() == pytest.approx(1.0, abs=0.05)


def test_mstl_with_two_years_recovers_yearly_shape() -> None:
    s = _series(800, seed=5)
    fit = fit_seasonality(s)
    assert fit.method == "mstl"
    truth = 0.2 * np.sin(2 * np.pi * s.index.day_of_year.to_numpy() / 365.25)
    corr = np.corrcoef(fit.yearly.to_numpy(), truth)[0, 1]
    assert corr > 0.9
    bfcm = fit.holiday_effects.set_index(["window", "offset"]).loc["bfcm", "factor"]
    assert bfcm.between(1.7, 2.3).all()


def test_same_weekday_baseline() -> None:
    s = pd.Series(
        np.arange(35, dtype=float), index=pd.date_range("2025-01-06", periods=35, freq="D")
    )
    b = weekday_baseline(s, weeks=4)
    # Day 28 (a Monday): mean of days 21, 14, 7, 0.
    assert b.iloc[28] == pytest.approx((21 + 14 + 7 + 0) / 4)
    assert np.isnan(b.iloc[27])
