"""Per-vertical economics: price, click-through, conversion, value, weekday shape, CPC inflation.

The market's curve parameters (scenario.MarketSpec) are those of the base vertical (outdoor
retail); each vertical scales them by the ratios of its published benchmarks, so a dental
practice pays several times a retailer's CPC and a lawyer more still, and a B2B software
vendor's searches fall away at weekends.

Sources (WordStream by LocalIQ, "Search Advertising Benchmarks" 2024,
wordstream.com/online-advertising-benchmarks; the 2021-2023 editions for the trend): average search CPC
$4.66 (2024) after $4.22 (2023) and $4.01 (2022), i.e. +5 % and +10 % a year; attorneys &
legal services CPC $8.94, CVR 5.6 %, CTR 5.3 %; dentists & dental services CPC $6.82, CTR
5.4 %, CVR ~7 %; business services (B2B) CPC ~$5, CVR ~5 %; travel CPC $1.92, CTR ~8.7 %, CVR
~3.9 %; sports & recreation CTR 9.7 %, CPC ~$2 (2021: $1.73). The base vertical's absolute
CPC ($1.2 at the scenario's default price) sits a little under its category's; the ratios
between verticals are the benchmarks'. B2B search demand at weekends is 0.3-0.6x a weekday's
(offices are closed; B2C demand dips little).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VerticalEconomics:
    """Multipliers on the scenario's medians, a weekday demand profile and CPC inflation."""

    cpc: float = 1.0
    ctr: float = 1.0
    cvr: float = 1.0
    value: float = 1.0
    b2b: bool = False
    # searches per weekday, Monday first (None: the scenario's weekly_demand)
    weekly_demand: tuple[float, ...] | None = None
    # secular growth of the price per click, per year (benchmarks: 5-13 %); the realised
    # average CPC grows a little slower (CPCs that reach the bid stop there)
    cpc_inflation_per_year: float = 0.08


# B2B: weekends at ~0.4x a weekday; local services a little lower at weekends (the
# practice is closed, people still search); travel flat, Sunday planning.
B2B_WEEK: tuple[float, ...] = (1.14, 1.16, 1.15, 1.12, 1.0, 0.45, 0.48)
LOCAL_SERVICES_WEEK: tuple[float, ...] = (1.1, 1.08, 1.06, 1.04, 0.98, 0.82, 0.78)
TRAVEL_WEEK: tuple[float, ...] = (1.02, 1.03, 1.01, 0.98, 0.93, 0.95, 1.08)

VERTICAL_ECONOMICS: dict[str, VerticalEconomics] = {
    # sports & recreation retail: the scenario's own medians
    "outdoor": VerticalEconomics(cpc_inflation_per_year=0.1),
    # dentists: CPC ~4x sports retail, CTR lower, CVR twice, a patient is worth far more
    "dental": VerticalEconomics(
        cpc=4.0, ctr=0.8, cvr=2.0, value=4.5, weekly_demand=LOCAL_SERVICES_WEEK,
        cpc_inflation_per_year=0.09,
    ),
    # B2B software (business services): CPC ~4x, a demo request is worth a lot
    "software": VerticalEconomics(
        cpc=3.8, ctr=0.9, cvr=1.4, value=5.5, b2b=True, weekly_demand=B2B_WEEK,
        cpc_inflation_per_year=0.09,
    ),
    # travel: clicks priced like retail's, high CTR, bookings worth a few retail orders
    "travel": VerticalEconomics(
        cpc=1.1, ctr=1.5, cvr=1.05, value=3.0, weekly_demand=TRAVEL_WEEK,
        cpc_inflation_per_year=0.12,
    ),
    # attorneys & legal services: the dearest clicks (~5.5x sports retail)
    "legal": VerticalEconomics(
        cpc=5.5, ctr=0.85, cvr=1.6, value=9.0, weekly_demand=LOCAL_SERVICES_WEEK,
        cpc_inflation_per_year=0.11,
    ),
}  # fmt: skip


def economics(vertical: str) -> VerticalEconomics:
    """The vertical's economics (the base vertical's for one without its own)."""
    return VERTICAL_ECONOMICS.get(vertical, VerticalEconomics())


VERTICAL_WEEKLY_DEMAND: tuple[tuple[str, tuple[float, ...]], ...] = tuple(
    (name, e.weekly_demand) for name, e in VERTICAL_ECONOMICS.items() if e.weekly_demand
)

__all__ = ["VERTICAL_ECONOMICS", "VERTICAL_WEEKLY_DEMAND", "VerticalEconomics", "economics"]
