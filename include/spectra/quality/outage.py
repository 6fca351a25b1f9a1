"""Tracking-outage scoring: conversions collapsing while clicks hold is a tag problem.

When a site release drops the conversion tag, clicks and spend carry on and conversions
fall to (near) zero. An optimizer reading that as "this traffic stopped converting" cuts
bids on everything at once; Google Ads' answer is a *data exclusion* for those days. This
module scores each day of the window; the ``perf.tracking_ok`` expectation fails on the days
that collapsed, and the gate turns them into exclusions.

A day collapsed when, with clicks holding (at least ``outage_clicks_hold`` of the window's
median), it reported at most ``outage_collapse_ratio`` of the conversions the account's own
conversion rate predicts; a run of such days is flagged when the conversions it was due add
up to something that cannot be noise (``outage_min_expected``). Conversions are reported with a lag, so a young day is only held
to a share of its expectation that ramps from ``outage_young_share`` (day 1) to 1
(``outage_mature_days``); that share is a deliberate lower bound, so young days are judged
leniently rather than flagged for conversions that simply have not arrived yet.

When analytics has fitted the account's conversion-lag curve (``analytics_lag_curves``, the
run before this day's), the share of a day ``a`` days old is that curve's F(a) instead (never
below the ramp): measured, not a bound. With a median lag of a few days F(2) is ~0.5 where the
ramp says 0.31, so the first complete day of an outage is already due enough conversions to
be told from noise — flagged on its first look instead of two days later, while the agent
would otherwise read it as demand collapsing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from spectra.quality.checks import QualityConfig

MIN_BASELINE_DAYS = 5


def reported_share(
    age_days: pd.Series | np.ndarray,
    config: QualityConfig,
    lag_cdf: Sequence[float] | None = None,
) -> np.ndarray:
    """Share of a day's conversions reported ``age_days`` after it: the lower-bound ramp, or
    the fitted lag curve's F(age) (``lag_cdf[age]``; ages past its end take its last value)
    where that is higher."""
    age = np.asarray(age_days, dtype=float)
    span = max(config.outage_mature_days - 1, 1)
    ramp = np.clip((age - 1) / span, 0.0, 1.0)
    share = config.outage_young_share + (1 - config.outage_young_share) * ramp
    if lag_cdf is None or len(lag_cdf) == 0:
        return share
    cdf = np.clip(np.asarray(lag_cdf, dtype=float), 0.0, 1.0)
    index = np.clip(np.nan_to_num(age, nan=0.0).astype(np.int64), 0, len(cdf) - 1)
    return np.maximum(share, cdf[index])


def score_tracking(
    days: pd.DataFrame, config: QualityConfig, lag_cdf: Sequence[float] | None = None
) -> pd.DataFrame:
    """Add ``expected_conversions`` and ``conversion_ratio`` to a per-day frame.

    ``days`` has one row per consecutive day with ``clicks``, ``conversions`` and
    ``age_days`` (as_of − date). A day is a candidate when clicks held and it reported at most
    ``outage_collapse_ratio`` of its expectation; consecutive candidates form a run, judged on
    its summed expectation (a two-day outage of a small account is as clear as a one-day
    outage of a big one). Days of a run due at least ``outage_min_expected`` conversions get
    the run's ratio (below the threshold: the expectation fails on them); other days with
    enough conversions due get their own ratio; the rest get NaN (not judged). ``lag_cdf``:
    the account's fitted F by age (index = age in days), when analytics has one.
    """
    out = days.copy()
    clicks = out["clicks"].astype(float).to_numpy()
    conversions = out["conversions"].astype(float).to_numpy()
    share = reported_share(out["age_days"], config, lag_cdf)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(clicks > 0, conversions / (clicks * share), np.nan)
    mature = (out["age_days"].to_numpy() >= config.outage_mature_days) & ~np.isnan(rate)
    pool = rate[mature] if mature.sum() >= MIN_BASELINE_DAYS else rate[~np.isnan(rate)]
    # The median is robust to the outage days themselves (they are a minority of the window).
    baseline = float(np.median(pool)) if pool.size else 0.0
    expected = baseline * clicks * share
    busy = clicks[clicks > 0]
    median_clicks = float(np.median(busy)) if busy.size else 0.0
    holds = (clicks > 0) & (clicks >= config.outage_clicks_hold * median_clicks)
    collapse = config.outage_collapse_ratio
    candidate = holds & (expected > 0) & (conversions <= collapse * expected)
    ratio = np.full(len(out), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        judged = holds & ~candidate & (expected >= config.outage_min_expected_one_day)
        ratio[judged] = conversions[judged] / expected[judged]
    for run in _runs(candidate):
        due, seen = expected[run].sum(), conversions[run].sum()
        # One quiet day happens (over-dispersed noise); two in a row with clicks holding
        # rarely do, so a lone day must be due more conversions than a run.
        alone = run.stop - run.start == 1
        needed = config.outage_min_expected_one_day if alone else config.outage_min_expected
        if due >= needed:
            ratio[run] = seen / due
    out["expected_conversions"] = expected
    out["conversion_ratio"] = ratio
    return out


def _runs(mask: np.ndarray) -> list[slice]:
    """Slices of consecutive True values."""
    runs, start = [], None
    for i, flag in enumerate(mask.tolist()):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append(slice(start, i))
            start = None
    if start is not None:
        runs.append(slice(start, len(mask)))
    return runs
