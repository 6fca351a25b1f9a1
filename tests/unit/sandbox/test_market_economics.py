"""Per-vertical economics through ``Market.rows``: CPC levels, B2B weekday shape, CPC inflation.

Published ranges (WordStream by LocaliQ search benchmarks 2021-2024, written out in
support/market_figures.py): each vertical's average CPC in its industry's range (legal
$8.67-8.94, dental $6.49-6.82, sports retail $1.73-2.2), so legal and dental CPCs are several
times a sports retailer's; B2B weekends at 0.3-0.6x a weekday; the average CPC rising 5-13 % a
year.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pytest
from support.market_figures import B2B_WEEKEND_RATIO, CPC_DRIFT_PER_YEAR, cpc_band

from spectra.sandbox.market import Market
from spectra.sandbox.market.scenario import scenario_from_dict

VERTICALS = ("outdoor", "dental", "software", "travel", "legal")
FIELDS = frozenset({"segments.date", "metrics.clicks", "metrics.cost_micros"})


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(
        scenario_from_dict(
            {
                "name": "economics-test",
                "seed": 21,
                "reference_date": "2026-12-01",
                "history_days": 800,
                "structure": {
                    "accounts": len(VERTICALS),
                    "campaigns_per_account": 5,
                    "ad_groups_per_campaign": 3,
                    "keywords_per_ad_group": 6,
                },
                "market": {"budget_headroom": [30, 40]},
                "accounts": [{"vertical": v} for v in VERTICALS],
            }
        )
    )


def _daily(m: Market, account: int, start: dt.date, end: dt.date) -> list[dict[str, object]]:
    return list(
        m.rows(
            "customer",
            customer_id=m.customer_ids()[account],
            date_from=start,
            date_to=end,
            as_of=dt.date(2027, 6, 1),
            fields=FIELDS,
        )
    )


def _cpc(rows: list[dict[str, object]]) -> float:
    cost = sum(int(r["metrics.cost_micros"]) for r in rows)  # type: ignore[call-overload]
    clicks = sum(int(r["metrics.clicks"]) for r in rows)  # type: ignore[call-overload]
    return cost / clicks / 1e6


def _priced_market(seed: int) -> Market:
    """Twelve campaigns per vertical: one market's average CPC is a cost-weighted mean over a
    few dozen lognormal keyword prices, so fewer campaigns leave it a coin toss."""
    return Market(
        scenario_from_dict(
            {
                "name": f"cpc-test-{seed}",
                "seed": seed,
                "reference_date": "2026-12-01",
                "history_days": 100,
                "structure": {
                    "accounts": len(VERTICALS),
                    "campaigns_per_account": 12,
                    "ad_groups_per_campaign": 3,
                    "keywords_per_ad_group": 4,
                },
                "market": {"budget_headroom": [30, 40]},
                "accounts": [{"vertical": v} for v in VERTICALS],
            }
        )
    )


def test_each_vertical_pays_its_published_cpc() -> None:
    """Average CPC over two months, pooled over three markets, in each vertical's published
    range (± 20 %, what three markets' averages still spread); legal ≥ 3× outdoor retail,
    dental ≥ 2.5×, B2B software ≥ 2×, travel near retail (0.6-1.8×): dental is never cheaper
    than outdoor."""
    rows: dict[str, list[dict[str, object]]] = defaultdict(list)
    for seed in (1, 2, 3):
        m = _priced_market(seed)
        for a, v in enumerate(VERTICALS):
            rows[v] += _daily(m, a, dt.date(2026, 9, 1), dt.date(2026, 10, 31))
    cpc = {v: _cpc(r) for v, r in rows.items()}
    print({v: (round(c, 2), cpc_band(v, tolerance=0.2)) for v, c in cpc.items()})
    for vertical, price in cpc.items():
        low, high = cpc_band(vertical, tolerance=0.2)
        assert low <= price <= high, vertical
    assert cpc["legal"] >= 3 * cpc["outdoor"]
    assert cpc["dental"] >= 2.5 * cpc["outdoor"]
    assert cpc["software"] >= 2 * cpc["outdoor"]
    assert 0.6 <= cpc["travel"] / cpc["outdoor"] <= 1.8
    assert cpc["legal"] > cpc["dental"]


def test_b2b_weekends_are_a_third_to_a_half_of_weekdays(market: Market) -> None:
    """Clicks per weekend day / per weekday over Sep-Oct: B2B software 0.3-0.6, B2C retail
    above 0.75."""
    ratio = {}
    for a, v in enumerate(VERTICALS):
        by: dict[bool, list[int]] = defaultdict(list)
        for r in _daily(market, a, dt.date(2026, 9, 7), dt.date(2026, 11, 1)):
            weekend = dt.date.fromisoformat(str(r["segments.date"])).weekday() >= 5
            by[weekend].append(int(r["metrics.clicks"]))  # type: ignore[call-overload]
        ratio[v] = float(np.mean(by[True]) / np.mean(by[False]))
    print({v: round(x, 2) for v, x in ratio.items()})
    assert B2B_WEEKEND_RATIO[0] <= ratio["software"] <= B2B_WEEKEND_RATIO[1]
    assert ratio["outdoor"] > 0.75


def test_cpc_inflates_five_to_thirteen_percent_a_year(market: Market) -> None:
    """Average CPC in Feb-Apr 2026 over Feb-Apr 2025 (same settings, no events): +5-13 % for
    every vertical."""
    for a, v in enumerate(VERTICALS):
        now = _cpc(_daily(market, a, dt.date(2026, 2, 1), dt.date(2026, 4, 30)))
        before = _cpc(_daily(market, a, dt.date(2025, 2, 1), dt.date(2025, 4, 30)))
        print(f"{v}: CPC {before:.2f} → {now:.2f} ({now / before - 1:+.1%})")
        assert 1 + CPC_DRIFT_PER_YEAR[0] <= now / before <= 1 + CPC_DRIFT_PER_YEAR[1], v
