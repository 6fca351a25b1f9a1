"""Hours inside a simulated day: the hourly traffic profile, Google's overdelivery, and days
whose settings changed at an hour.

A day is simulated as a whole (simulate.py) and its traffic is spread over the account's local
hours by a fixed diurnal profile: the share of a day's impressions, clicks and cost that has
happened by local time t is ``F(t)``, the profile's cumulative sum (linear inside an hour).

A mutation made at an instant is in force from the start of that local hour on ("a pause at
hour h stops spend from h on"). A day with such changes is the blend of the whole-day results
under each hour segment's settings, each weighted by its share of the profile; each simulated
conversion carries its own time of day (a counter-based uniform in profile space), so it
happened in exactly one segment and survives in the blend only there. Entities whose settings
did not change get back exactly their unblended day.

Overdelivery: Google may spend up to twice a campaign's average daily budget on one day and at
most 30.4 times it in a calendar month (support.google.com/google-ads/answer/2375423), more on
high-traffic days and less on others. The market's factor per campaign and day follows the
day's demand relative to its month (weekdays, holidays) times a log-normal draw, is cut at the
daily maximum, and a month is scaled down when its factors would add up to more than the
monthly maximum; the day's budget throttle uses budget × factor, and the realised cost is cut
at the daily maximum.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from spectra.sandbox.market import rng

if TYPE_CHECKING:  # simulate.py -> structure.py -> scenario.py imports this module
    from spectra.sandbox.market.simulate import DayResult

# Share of a day's search traffic per local hour, 00:00 to 23:00: quiet nights, a morning
# ramp, a flat working day and an evening peak (the usual shape of search demand by hour).
DEFAULT_HOURLY_PROFILE: tuple[float, ...] = (
    0.012, 0.008, 0.006, 0.005, 0.005, 0.008, 0.016, 0.028, 0.045, 0.055, 0.059, 0.061,
    0.061, 0.060, 0.059, 0.058, 0.057, 0.057, 0.058, 0.061, 0.063, 0.057, 0.042, 0.036,
)  # fmt: skip

HOURS = 24


def normalised(profile: Sequence[float]) -> NDArray[np.float64]:
    """The profile as 24 non-negative shares adding up to one (or a clear error)."""
    p = np.asarray(profile, np.float64)
    if p.shape != (HOURS,) or (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"an hourly profile needs 24 non-negative weights, got {list(profile)!r}")
    return p / p.sum()


def cumulative(
    profile: NDArray[np.float64], fraction: float | NDArray[np.float64]
) -> NDArray[np.float64]:
    """F(t): the share of a day's traffic that has happened by local time ``fraction`` of 24 h."""
    t = np.clip(np.asarray(fraction, np.float64) * HOURS, 0.0, float(HOURS))
    edges = np.concatenate([[0.0], np.cumsum(profile)])
    hour = np.minimum(np.floor(t).astype(np.int64), HOURS - 1)
    return np.minimum(edges[hour] + profile[hour] * (t - hour), 1.0)


def overdelivery(
    seed: int,
    campaign_ids: NDArray[np.int64],
    ordinal: int,
    *,
    sigma: float,
    daily_max: float,
    monthly_days: float,
    demand: Callable[[dt.date], float | NDArray[np.float64]] | None = None,
) -> NDArray[np.float64]:
    """Per campaign, how many budgets Google may spend on this day (≤ ``daily_max``, and the
    month's factors add up to at most ``monthly_days``). Google spends more on its high-traffic
    days and less on the others: the factor follows the day's ``demand`` relative to the
    month's mean, times a log-normal of ``sigma``. ``sigma`` 0: exactly one budget a day."""
    day = dt.date.fromordinal(ordinal)
    month = month_overdelivery(
        seed,
        campaign_ids,
        day.year,
        day.month,
        sigma=sigma,
        daily_max=daily_max,
        monthly_days=monthly_days,
        demand=demand,
    )
    return month[day.day - 1]


def month_overdelivery(
    seed: int,
    campaign_ids: NDArray[np.int64],
    year: int,
    month: int,
    *,
    sigma: float,
    daily_max: float,
    monthly_days: float,
    demand: Callable[[dt.date], float | NDArray[np.float64]] | None = None,
) -> NDArray[np.float64]:
    """The overdelivery factors of a calendar month: (days, campaigns); see ``overdelivery``."""
    n_days = calendar.monthrange(year, month)[1]
    if sigma <= 0 or campaign_ids.size == 0:
        return np.ones((n_days, campaign_ids.size))
    first = dt.date(year, month, 1).toordinal()
    ordinals = range(first, first + n_days)
    # the day's demand per campaign (its account's vertical) relative to its month's mean
    level = np.broadcast_to(
        np.array(
            [demand(dt.date.fromordinal(o)) if demand else 1.0 for o in ordinals], np.float64
        ).reshape(n_days, -1),
        (n_days, campaign_ids.size),
    )
    level = level / level.mean(axis=0)
    raw = np.stack(
        [
            lv
            * np.exp(
                sigma * ndtri(rng.uniform(seed, rng.OVERDELIVERY, o, campaign_ids)) - 0.5 * sigma**2
            )
            for o, lv in zip(ordinals, level, strict=True)
        ]
    )
    raw = np.minimum(raw, daily_max)
    scale = np.minimum(1.0, monthly_days / raw.sum(axis=0))
    return raw * scale


def conversion_times(
    seed: int, result: DayResult, term_id: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Each conversion's time of day in profile space (uniform: the share of traffic before it)."""
    terms = result.conversion_term
    if terms.size == 0:
        return np.zeros(0)
    _, first, inverse = np.unique(terms, return_index=True, return_inverse=True)
    j = np.arange(terms.size, dtype=np.int64) - first[inverse]
    return rng.uniform(seed, rng.CONVERSION_TIME, result.ordinal, term_id[terms], j)


def blend(
    parts: Sequence[tuple[DayResult, float, float]],
    times: Sequence[NDArray[np.float64]],
) -> DayResult:
    """One day from hour segments: ``(result under the segment's settings, F(start), F(end))``.

    Counts and cost are the weighted sums (rounded); a conversion is kept from the segment whose
    profile interval holds its time. One segment over the whole day is returned unchanged."""
    from spectra.sandbox.market.simulate import DayResult

    if len(parts) == 1 and parts[0][1] == 0.0 and parts[0][2] >= 1.0:
        return parts[0][0]
    weights = [max(0.0, end - start) for _, start, end in parts]
    first = parts[0][0]

    def mix(name: str) -> NDArray[np.float64]:
        return sum(
            (
                w * getattr(r, name).astype(np.float64)
                for (r, _, _), w in zip(parts, weights, strict=True)
            ),
            np.zeros_like(getattr(first, name), dtype=np.float64),
        )

    keep = [(t >= start) & (t < end) for (_, start, end), t in zip(parts, times, strict=True)]
    conv_term = np.concatenate(
        [r.conversion_term[k] for (r, _, _), k in zip(parts, keep, strict=True)]
    )
    order = np.argsort(conv_term, kind="stable")

    def conv(name: str) -> NDArray[np.generic]:
        return np.concatenate(
            [getattr(r, name)[k] for (r, _, _), k in zip(parts, keep, strict=True)]
        )[order]

    serving = np.zeros_like(first.ad_serving)
    for r, _, _ in parts:
        serving |= r.ad_serving
    return DayResult(
        ordinal=first.ordinal,
        impressions=np.rint(mix("impressions")).astype(np.int64),
        clicks=np.rint(mix("clicks")).astype(np.int64),
        cost_micros=np.rint(mix("cost_micros")).astype(np.int64),
        expected_impressions=mix("expected_impressions").astype(np.float32),
        searches=mix("searches").astype(np.float32),
        rank_lost=mix("rank_lost").astype(np.float32),
        budget_lost=mix("budget_lost").astype(np.float32),
        conversion_term=conv_term[order],
        conversion_lag=conv("conversion_lag").astype(np.int16),
        conversion_value=conv("conversion_value").astype(np.float64),
        conversion_lost=conv("conversion_lost").astype(np.bool_),
        ad_serving=serving,
        keyword_first_page_cpc=first.keyword_first_page_cpc,
    )


__all__ = [
    "DEFAULT_HOURLY_PROFILE",
    "blend",
    "conversion_times",
    "cumulative",
    "normalised",
    "month_overdelivery",
    "overdelivery",
]
