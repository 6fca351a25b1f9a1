"""Per-vertical economics: price, click-through, conversion, value, weekday shape, CPC inflation.

The market's curve parameters (scenario.MarketSpec) are a base vertical's; each vertical scales
them. Its price level comes from the published average search CPC of its industry
(``PUBLISHED_CPC_USD``), so a dental practice pays several times a sports retailer and a lawyer
more still; its conversions are worth its price level times a margin, so the return on ad spend
(value per click over price) of each vertical is set apart from its CPC.

Sources (WordStream by LocaliQ, "Search Advertising Benchmarks", 2021-2024 editions,
wordstream.com/online-advertising-benchmarks): average search CPC $3.53 (2021), $4.01 (2022),
$4.22 (2023), $4.66 (2024), i.e. +5 % to +10 % a year; attorneys & legal services $8.67 (2021)
to $8.94 (2024), CTR ~5 %, CVR 5.6 %; dentists & dental services $6.49 (2021) to $6.82 (2024),
CTR 5.4 %, CVR ~7 %; business services (B2B) $4.90 (2021), ~$5 since, CVR ~5 %; travel $1.40
(2021) to $1.92 (2024), CTR ~8.7 %, CVR ~3.9 %; sports & recreation $1.73 (2021), up more than
25 % by 2024 (~$2.2), CTR 9.7 %. B2B search demand at weekends is 0.3-0.6x a weekday's
(offices are closed; B2C demand dips little).
"""

from __future__ import annotations

from dataclasses import dataclass

# The published average search CPC per vertical, USD: [low, high] over the benchmark editions
# above (the market sits at its geometric middle at the reference date, CPC inflation before).
PUBLISHED_CPC_USD: dict[str, tuple[float, float]] = {
    "outdoor": (1.73, 2.2),  # sports & recreation
    "dental": (6.49, 6.82),  # dentists & dental services
    "software": (4.9, 5.4),  # business services (B2B)
    "travel": (1.4, 1.92),  # travel
    "legal": (8.67, 8.94),  # attorneys & legal services
}

# The average CPC (USD) the base curves realise per unit of price multiplier, per vertical: the
# auction charges under the latent price (second price, bids that cap it, a vertical's CTR and
# CVR move its Smart Bidding campaigns' bids), so the multiplier that lands a vertical on its
# published CPC is published / realised. Measured through gRPC by bench/bench_market.py
# (seeds 1-3, Sep-Oct before the reference date) at multipliers 1.0, 4.0, 3.8, 1.1, 5.5.
REALISED_CPC_PER_UNIT_USD: dict[str, float] = {
    "outdoor": 0.934,
    "dental": 1.148,
    "software": 0.929,
    "travel": 1.018,
    "legal": 0.930,
}


def published_cpc_multiplier(vertical: str) -> float:
    """The price multiplier that puts the vertical's realised CPC at the geometric middle of its
    published range."""
    low, high = PUBLISHED_CPC_USD[vertical]
    return float((low * high) ** 0.5 / REALISED_CPC_PER_UNIT_USD[vertical])


@dataclass(frozen=True)
class VerticalEconomics:
    """Multipliers on the scenario's medians, a weekday demand profile and CPC inflation."""

    cpc: float = 1.0
    ctr: float = 1.0
    cvr: float = 1.0
    # value per conversion relative to the price level (the vertical's margin): the value
    # multiplier is ``cpc * margin``, so a dearer click comes with a dearer conversion
    margin: float = 1.0
    b2b: bool = False
    # searches per weekday, Monday first (None: the scenario's weekly_demand)
    weekly_demand: tuple[float, ...] | None = None
    # secular growth of the price per click, per year (benchmarks: 5-13 %); the realised
    # average CPC grows a little slower (CPCs that reach the bid stop there)
    cpc_inflation_per_year: float = 0.08

    @property
    def value(self) -> float:
        """The multiplier on the scenario's value per conversion."""
        return self.cpc * self.margin


# B2B: weekends at ~0.4x a weekday; local services a little lower at weekends (the
# practice is closed, people still search); travel flat, Sunday planning.
B2B_WEEK: tuple[float, ...] = (1.14, 1.16, 1.15, 1.12, 1.0, 0.45, 0.48)
LOCAL_SERVICES_WEEK: tuple[float, ...] = (1.1, 1.08, 1.06, 1.04, 0.98, 0.82, 0.78)
TRAVEL_WEEK: tuple[float, ...] = (1.02, 1.03, 1.01, 0.98, 0.93, 0.95, 1.08)

VERTICAL_ECONOMICS: dict[str, VerticalEconomics] = {
    # sports & recreation retail: the scenario's own rates
    "outdoor": VerticalEconomics(
        cpc=published_cpc_multiplier("outdoor"), cpc_inflation_per_year=0.1,
    ),
    # dentists: CTR lower, CVR twice, a patient worth a little more than the price suggests
    "dental": VerticalEconomics(
        cpc=published_cpc_multiplier("dental"), ctr=0.8, cvr=2.0, margin=1.125,
        weekly_demand=LOCAL_SERVICES_WEEK, cpc_inflation_per_year=0.09,
    ),
    # B2B software (business services): a demo request is worth a lot
    "software": VerticalEconomics(
        cpc=published_cpc_multiplier("software"), ctr=0.9, cvr=1.4, margin=1.45, b2b=True,
        weekly_demand=B2B_WEEK, cpc_inflation_per_year=0.09,
    ),
    # travel: clicks priced like retail's, high CTR, bookings worth a few retail orders
    "travel": VerticalEconomics(
        cpc=published_cpc_multiplier("travel"), ctr=1.5, cvr=1.05, margin=2.7,
        weekly_demand=TRAVEL_WEEK, cpc_inflation_per_year=0.12,
    ),
    # attorneys & legal services: the dearest clicks
    "legal": VerticalEconomics(
        cpc=published_cpc_multiplier("legal"), ctr=0.85, cvr=1.6, margin=1.64,
        weekly_demand=LOCAL_SERVICES_WEEK, cpc_inflation_per_year=0.11,
    ),
}  # fmt: skip


def economics(vertical: str) -> VerticalEconomics:
    """The vertical's economics (the base vertical's for one without its own)."""
    return VERTICAL_ECONOMICS.get(vertical, VerticalEconomics())


VERTICAL_WEEKLY_DEMAND: tuple[tuple[str, tuple[float, ...]], ...] = tuple(
    (name, e.weekly_demand) for name, e in VERTICAL_ECONOMICS.items() if e.weekly_demand
)

__all__ = [
    "PUBLISHED_CPC_USD",
    "REALISED_CPC_PER_UNIT_USD",
    "VERTICAL_ECONOMICS",
    "VERTICAL_WEEKLY_DEMAND",
    "VerticalEconomics",
    "economics",
    "published_cpc_multiplier",
]
