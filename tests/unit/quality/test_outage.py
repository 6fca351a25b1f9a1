"""Tracking-outage scoring: a collapse with clicks holding is flagged; lag and quiet days are not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from spectra.quality.checks import QualityConfig
from spectra.quality.outage import reported_share, score_tracking

CONFIG = QualityConfig()


def window(n: int = 30, clicks: float = 400.0, rate: float = 0.03) -> pd.DataFrame:
    """A window whose young days have only part of their conversions (true lag ~ the bound)."""
    age = np.arange(n, 0, -1)
    share = np.minimum(1.0, 0.35 + 0.65 * (age - 1) / 10)
    return pd.DataFrame(
        {"age_days": age, "clicks": [clicks] * n, "conversions": clicks * rate * share}
    )


def flagged(frame: pd.DataFrame) -> list[int]:
    scored = score_tracking(frame, CONFIG)
    ratio = scored["conversion_ratio"]
    return [i for i, r in enumerate(ratio) if not np.isnan(r) and r < CONFIG.outage_collapse_ratio]


def test_reported_share_ramps_from_a_lower_bound_to_one() -> None:
    share = reported_share(np.array([1, 7, 14, 40]), CONFIG)
    assert share[0] == CONFIG.outage_young_share
    assert share[0] < share[1] < share[2] == share[3] == 1.0


def test_a_clean_window_with_lag_is_not_flagged() -> None:
    assert flagged(window()) == []


def test_collapsed_days_are_flagged() -> None:
    frame = window()
    frame.loc[[10, 11, 12], "conversions"] = [0.0, 0.4, 0.0]
    assert flagged(frame) == [10, 11, 12]


def test_a_traffic_drop_is_not_a_tracking_problem() -> None:
    frame = window()
    frame.loc[10, ["clicks", "conversions"]] = [30.0, 0.0]  # clicks fell too: demand, not tags
    scored = score_tracking(frame, CONFIG)
    assert np.isnan(scored.loc[10, "conversion_ratio"])


def test_small_accounts_are_not_judged() -> None:
    frame = window(clicks=40.0, rate=0.03)  # ~1.2 conversions due a day: noise dominates
    frame.loc[10, "conversions"] = 0.0
    assert score_tracking(frame, CONFIG)["conversion_ratio"].isna().all()


def test_the_newest_day_needs_a_complete_collapse_to_be_judged() -> None:
    frame = window(clicks=400.0)
    frame.loc[len(frame) - 1, "conversions"] = 0.0  # one day old: few conversions due yet
    scored = score_tracking(frame, CONFIG)
    expected = scored["expected_conversions"].iloc[-1]
    assert expected < CONFIG.outage_min_expected
    assert np.isnan(scored["conversion_ratio"].iloc[-1])


def test_a_fitted_lag_curve_flags_an_outage_on_its_first_complete_day() -> None:
    """The account's lag curve says a two-day-old day has 60 % of its conversions; the ramp
    bound says 31 %. With the curve, a lone two-day-old collapsed day is due enough to judge."""
    cdf = [0.0, 0.35, 0.6, 0.72, 0.8, 0.85, 0.88, 0.9] + [0.92 + 0.0025 * a for a in range(23)]
    age = np.arange(30, 0, -1)
    clicks = 600.0
    share = np.asarray(cdf)[np.minimum(age, len(cdf) - 1)]
    frame = pd.DataFrame(
        {"age_days": age, "clicks": [clicks] * 30, "conversions": clicks * 0.04 * share}
    )
    frame.loc[len(frame) - 2, "conversions"] = 0.0  # two days old; yesterday's clicks are partial
    frame.loc[len(frame) - 1, "clicks"] = 150.0
    frame.loc[len(frame) - 1, "conversions"] = 150.0 * 0.04 * cdf[1]
    day = len(frame) - 2
    bound = score_tracking(frame, CONFIG)  # ~7.5 due at the ramp's 31 %: under the lone-day bar
    assert bound.loc[day, "expected_conversions"] < CONFIG.outage_min_expected_one_day
    assert np.isnan(bound.loc[day, "conversion_ratio"])
    fitted = score_tracking(frame, CONFIG, cdf)
    assert fitted.loc[day, "expected_conversions"] >= CONFIG.outage_min_expected_one_day
    assert fitted.loc[day, "conversion_ratio"] < CONFIG.outage_collapse_ratio
    # the fitted curve judges the clean days as clean (their conversions are as lagged as it says)
    others = fitted["conversion_ratio"].drop(index=day).dropna()
    assert (others > 0.5).all()


def test_the_fitted_curve_never_lowers_the_bound() -> None:
    low = [0.0, 0.05, 0.1]  # a curve claiming almost nothing has arrived: the bound stays
    share = reported_share(np.array([1, 2, 5, 40]), CONFIG, low)
    assert np.allclose(share, reported_share(np.array([1, 2, 5, 40]), CONFIG))
