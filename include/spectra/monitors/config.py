"""How the monitors look at an account: their period, Google's reporting delay, the hourly shape
of traffic they project spend with, and the safety margins.

Why a projection at all: at an instant ``now`` Google has reported spend only up to
``now - reporting_delay`` (most statistics within three hours,
support.google.com/google-ads/answer/2544985), and the next monitor run acts at
``now + period``. A monitor that paused only once reported spend passed a limit would let the
campaign spend on for ``reporting_delay + period`` (hours of traffic at its pace). So the spend
monitor pauses as soon as the spend it projects *by its next chance to act* reaches the limit.
The pace is today's reported spend per share of the day's traffic seen, times a safety factor;
with too little of the day seen it is Google's own bound, two daily budgets a day
(support.google.com/google-ads/answer/2375423).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# Share of a day's search traffic per local hour (00:00 .. 23:00): the usual diurnal shape of
# search demand. An account's own shape can be measured with ``segments.hour``.
TYPICAL_HOURLY_PROFILE: tuple[float, ...] = (
    0.012, 0.008, 0.006, 0.005, 0.005, 0.008, 0.016, 0.028, 0.045, 0.055, 0.059, 0.061,
    0.061, 0.060, 0.059, 0.058, 0.057, 0.057, 0.058, 0.061, 0.063, 0.057, 0.042, 0.036,
)  # fmt: skip


@dataclass(frozen=True)
class SpendMonitorConfig:
    """The spend monitor's assumptions (defaults: hourly runs, Google's three-hour delay)."""

    period: dt.timedelta = dt.timedelta(hours=1)
    reporting_delay: dt.timedelta = dt.timedelta(hours=3)
    # the time a pause needs to be in force after the run starts (the apply round trip)
    action_latency: dt.timedelta = dt.timedelta(minutes=10)
    hourly_profile: tuple[float, ...] = TYPICAL_HOURLY_PROFILE
    pace_safety: float = 1.25  # the projected pace is the observed one times this
    min_share_for_pace: float = 0.03  # less of the day seen: pace at Google's daily maximum
    max_daily_budgets: float = 2.0  # Google spends at most two daily budgets on a day
    warn_ratio: float = 1.0  # warn when today's whole-day projection reaches this × the limit
    lifetime_from: dt.date = dt.date(2000, 1, 1)  # lifetime spend is summed from here
    # naive: pause only once *reported* spend reached the limit (the baseline the bench
    # measures overshoot against; never the product's default)
    project: bool = True
