"""Conversion lag: how many days after the click a conversion is reported.

A point mass on day 0 plus a discretised log-normal tail truncated at ``max_days`` (30+ days of
tail, as in Google Ads' 30-90 day conversion windows). ``reported_share(age)`` is the fraction of a
click day's conversions visible once ``age`` days have passed (as_of - click day).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy import special

# segments.conversion_lag_bucket: (enum name, first lag day, last lag day inclusive)
LAG_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("LESS_THAN_ONE_DAY", 0, 0),
    ("ONE_TO_TWO_DAYS", 1, 1),
    ("TWO_TO_THREE_DAYS", 2, 2),
    ("THREE_TO_FOUR_DAYS", 3, 3),
    ("FOUR_TO_FIVE_DAYS", 4, 4),
    ("FIVE_TO_SIX_DAYS", 5, 5),
    ("SIX_TO_SEVEN_DAYS", 6, 6),
    ("SEVEN_TO_EIGHT_DAYS", 7, 7),
    ("EIGHT_TO_NINE_DAYS", 8, 8),
    ("NINE_TO_TEN_DAYS", 9, 9),
    ("TEN_TO_ELEVEN_DAYS", 10, 10),
    ("ELEVEN_TO_TWELVE_DAYS", 11, 11),
    ("TWELVE_TO_THIRTEEN_DAYS", 12, 12),
    ("THIRTEEN_TO_FOURTEEN_DAYS", 13, 13),
    ("FOURTEEN_TO_TWENTY_ONE_DAYS", 14, 20),
    ("TWENTY_ONE_TO_THIRTY_DAYS", 21, 29),
    ("THIRTY_TO_FORTY_FIVE_DAYS", 30, 44),
    ("FORTY_FIVE_TO_SIXTY_DAYS", 45, 59),
    ("SIXTY_TO_NINETY_DAYS", 60, 89),
)


@dataclass(frozen=True)
class LagDistribution:
    """P(lag = 0) = ``same_day``; the rest log-normal(median ``median_days``, ``sigma``) on 1..max."""

    same_day: float = 0.4
    median_days: float = 3.0
    sigma: float = 1.2
    max_days: int = 45

    def __post_init__(self) -> None:
        if not 0.0 <= self.same_day <= 1.0:
            raise ValueError("lag.same_day must be in [0, 1]")
        if self.max_days < 1 or self.max_days > 89:
            raise ValueError("lag.max_days must be in 1..89")

    @cached_property
    def pmf(self) -> NDArray[np.float64]:
        """P(lag = k) for k = 0..max_days."""
        edges = np.arange(1.5, self.max_days + 1.0)  # lag k covers (k - 0.5, k + 0.5]
        cdf = special.ndtr((np.log(edges) - math.log(self.median_days)) / self.sigma)
        tail = np.diff(np.concatenate([[0.0], cdf]))  # lag 1 also takes the mass below 0.5
        tail = tail / tail.sum()
        return np.concatenate([[self.same_day], (1.0 - self.same_day) * tail])

    @cached_property
    def cdf(self) -> NDArray[np.float64]:
        """P(lag <= k) for k = 0..max_days."""
        out = np.cumsum(self.pmf)
        out[-1] = 1.0
        return out

    def reported_share(self, age_days: int) -> float:
        """Share of a click day's conversions reported when as_of - click_day == age_days."""
        if age_days <= 0:
            return 0.0
        return float(self.cdf[min(age_days - 1, self.max_days)])

    def sample(self, u: NDArray[np.float64]) -> NDArray[np.int16]:
        """Lag days by inversion of the CDF at ``u``."""
        return np.minimum(np.searchsorted(self.cdf, u, side="right"), self.max_days).astype(
            np.int16
        )


def lag_bucket(lag_days: NDArray[np.integer]) -> NDArray[np.int64]:
    """Index into LAG_BUCKETS for each lag."""
    starts = np.array([b[1] for b in LAG_BUCKETS])
    return np.searchsorted(starts, np.asarray(lag_days), side="right") - 1
