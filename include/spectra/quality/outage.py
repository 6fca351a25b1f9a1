"""Tracking-outage scoring: conversions collapsing while clicks hold is a tag problem.

When a site release drops the conversion tag, clicks and spend carry on and conversions
fall to (near) zero. An optimizer reading that as "this traffic stopped converting" cuts
bids on everything at once; Google Ads' answer is a *data exclusion* for those days. This
module scores each day of the window; the ``perf.tracking_ok`` expectation fails on the days
that collapsed, and the gate turns them into exclusions.

A day collapsed when, with clicks holding (at least ``outage_clicks_hold`` of the window's
median), it reported at most ``outage_collapse_ratio`` of the conversions the account's own
conversion rate predicts, and that prediction is big enough to mean something
(``outage_min_expected``). Conversions are reported with a lag, so a young day is only held
to a share of its expectation that ramps from ``outage_young_share`` (day 1) to 1
(``outage_mature_days``); that share is a deliberate lower bound, so young days are judged
leniently rather than flagged for conversions that simply have not arrived yet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spectra.quality.checks import QualityConfig

MIN_BASELINE_DAYS = 5


def reported_share(age_days: pd.Series | np.ndarray, config: QualityConfig) -> np.ndarray:
    """Lower bound of the share of a day's conversions reported ``age_days`` after it."""
    age = np.asarray(age_days, dtype=float)
    span = max(config.outage_mature_days - 1, 1)
    ramp = np.clip((age - 1) / span, 0.0, 1.0)
    return config.outage_young_share + (1 - config.outage_young_share) * ramp


def score_tracking(days: pd.DataFrame, config: QualityConfig) -> pd.DataFrame:
    """Add ``expected_conversions`` and ``conversion_ratio`` to a per-day frame.

    ``days`` has ``clicks``, ``conversions`` and ``age_days`` (as_of − date). The ratio is
    NaN where the test does not apply (too few conversions due, or clicks did not hold), so
    the expectation only judges days where a collapse is distinguishable from noise.
    """
    out = days.copy()
    clicks = out["clicks"].astype(float).to_numpy()
    conversions = out["conversions"].astype(float).to_numpy()
    share = reported_share(out["age_days"], config)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(clicks > 0, conversions / (clicks * share), np.nan)
    mature = (out["age_days"].to_numpy() >= config.outage_mature_days) & ~np.isnan(rate)
    pool = rate[mature] if mature.sum() >= MIN_BASELINE_DAYS else rate[~np.isnan(rate)]
    # The median is robust to the outage days themselves (they are a minority of the window).
    baseline = float(np.median(pool)) if pool.size else 0.0
    expected = baseline * clicks * share
    busy = clicks[clicks > 0]
    median_clicks = float(np.median(busy)) if busy.size else 0.0
    applies = (expected >= config.outage_min_expected) & (
        clicks >= config.outage_clicks_hold * median_clicks
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(applies, conversions / expected, np.nan)
    out["expected_conversions"] = expected
    out["conversion_ratio"] = ratio
    return out
