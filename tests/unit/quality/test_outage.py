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
