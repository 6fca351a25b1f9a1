"""Holiday profiles per vertical and Google's budget pacing, through ``Market.rows``.

Published shapes the market reproduces (sources in calendar.py): retail e-commerce revenue vs an
early-November day (Adobe 2024) Thanksgiving ~1.9x, Black Friday ~3.4x, the weekend ~1.7x a
day, Cyber Monday ~4.1x, paid-search spend +50-105 % on those days, Dec 19-24 falling ~20 % a
day and a Dec 26 rebound; lead-generation services flat or down. Google may spend up to twice a
daily budget on one day and at most 30.4 budgets in a month
(support.google.com/google-ads/answer/2375423).

Tolerances: each ratio is a day of one account over two years against a 14-day base; revenue
carries the per-conversion value noise (log-normal sigma 0.6), so revenue bands are wider than
the published point values, clicks and cost bands narrower.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from spectra.sandbox.market import Market
from spectra.sandbox.market.calendar import black_friday
from spectra.sandbox.market.scenario import scenario_from_dict

FAR = dt.date(2027, 6, 30)
FIELDS = frozenset(
    {
        "segments.date",
        "metrics.clicks",
        "metrics.cost_micros",
        "metrics.conversions",
        "metrics.conversions_value",
    }
)


def _scenario(headroom: list[float], seed: int = 11) -> dict[str, Any]:
    return {
        "name": "holidays-test",
        "seed": seed,
        "reference_date": "2026-12-31",
        "history_days": 800,
        "structure": {
            "accounts": 2,
            "campaigns_per_account": 5,
            "ad_groups_per_campaign": 3,
            "keywords_per_ad_group": 8,
            "target_cpa_share": 0.25,
        },
        "market": {"budget_headroom": headroom},
        "accounts": [{"vertical": "outdoor"}, {"vertical": "dental"}],
    }


@pytest.fixture(scope="module")
def unconstrained() -> Market:
    return Market(scenario_from_dict(_scenario([30, 40])))


def _ratios(m: Market, account: int) -> dict[str, dict[str, float]]:
    """Per metric, each peak day's value over the mean early-November day, pooled over 2024
    and 2025 (sums of both years' days)."""
    cid = m.customer_ids()[account]
    peak: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    base: dict[str, float] = defaultdict(float)
    for year in (2024, 2025):
        rows = {
            r["segments.date"]: r
            for r in m.rows(
                "customer",
                customer_id=cid,
                date_from=dt.date(year, 11, 1),
                date_to=dt.date(year, 12, 31),
                as_of=FAR,
                fields=FIELDS,
            )
        }
        bf = black_friday(year)
        days = {
            "thanksgiving": [bf - dt.timedelta(days=1)],
            "black_friday": [bf],
            "weekend": [bf + dt.timedelta(days=1), bf + dt.timedelta(days=2)],
            "cyber_monday": [bf + dt.timedelta(days=3)],
            **{f"dec{d}": [dt.date(year, 12, d)] for d in range(18, 27)},
        }
        for metric in ("clicks", "cost_micros", "conversions_value"):
            key = f"metrics.{metric}"
            base[metric] += sum(rows[dt.date(year, 11, d).isoformat()][key] for d in range(1, 15))
            for name, ds in days.items():
                peak[metric][name] += sum(rows[d.isoformat()][key] for d in ds) / len(ds)
    return {
        metric: {name: v / (base[metric] / 14) for name, v in by_day.items()}
        for metric, by_day in peak.items()
    }


def test_retail_holiday_shape_is_adobes(unconstrained: Market) -> None:
    """Retail: revenue on Thanksgiving/BF/weekend/CM near Adobe's 1.9/3.4/1.7/4.1 (bands ±30 %),
    spend +40-120 % on BF and CM, and the ordering TG < BF < CM."""
    r = _ratios(unconstrained, 0)
    rev, cost = r["conversions_value"], r["cost_micros"]
    print({k: round(v, 2) for k, v in rev.items()}, {k: round(v, 2) for k, v in cost.items()})
    for day, published in (
        ("thanksgiving", 1.9),
        ("black_friday", 3.4),
        ("weekend", 1.7),
        ("cyber_monday", 4.1),
    ):
        assert rev[day] == pytest.approx(published, rel=0.3), day
    assert rev["thanksgiving"] < rev["black_friday"] < rev["cyber_monday"]
    for day in ("black_friday", "cyber_monday"):
        assert 1.4 <= cost[day] <= 2.2, day


def test_retail_december_falls_after_the_shipping_cutoff_and_rebounds(
    unconstrained: Market,
) -> None:
    """Dec 19 → Dec 24: clicks fall every day (revenue about 20 % a day: -10 to -30 % on
    average); Dec 26 rebounds above Dec 25 by half or more."""
    r = _ratios(unconstrained, 0)
    clicks, rev = r["clicks"], r["conversions_value"]
    seq = [clicks[f"dec{d}"] for d in range(19, 25)]
    assert all(b < a for a, b in zip(seq, seq[1:], strict=False)), seq
    daily = (rev["dec24"] / rev["dec19"]) ** (1 / 5) - 1
    print(
        f"revenue Dec 19 → 24: {daily:+.0%} a day; Dec 26 / Dec 25 {rev['dec26'] / rev['dec25']:.2f}"
    )
    assert -0.30 <= daily <= -0.10
    assert rev["dec26"] > 1.5 * rev["dec25"]


def test_lead_gen_services_get_no_retail_spike(unconstrained: Market) -> None:
    """A dental practice: clicks on Thanksgiving, BF, the weekend and CM are flat or down
    (≤ 1.05× early November), Thanksgiving clearly down."""
    clicks = _ratios(unconstrained, 1)["clicks"]
    print({k: round(v, 2) for k, v in clicks.items()})
    for day in ("thanksgiving", "black_friday", "weekend", "cyber_monday"):
        assert clicks[day] <= 1.05, day
    assert clicks["thanksgiving"] < 0.7


def test_budget_throttle_spends_up_to_twice_a_day_and_30_4_budgets_a_month() -> None:
    """Budgets that bind (the default headroom): no campaign-day above 2 budgets and no
    campaign-month above 30.4 budgets over a year; on Black Friday budget-limited retail
    campaigns do spend well above one budget (Google's high-traffic days)."""
    m = Market(scenario_from_dict(_scenario([0.55, 1.6], seed=12)))
    fields = frozenset(
        {
            "campaign.id",
            "campaign_budget.amount_micros",
            "segments.date",
            "metrics.cost_micros",
            "metrics.search_budget_lost_impression_share",
        }
    )
    per_day: list[float] = []
    per_month: dict[tuple[int, str], float] = defaultdict(float)
    bf = black_friday(2025).isoformat()
    bf_limited: list[float] = []
    for cid in m.customer_ids():
        for r in m.rows(
            "campaign",
            customer_id=cid,
            date_from=dt.date(2025, 1, 1),
            date_to=dt.date(2025, 12, 31),
            as_of=FAR,
            fields=fields,
        ):
            ratio = r["metrics.cost_micros"] / r["campaign_budget.amount_micros"]
            per_day.append(ratio)
            per_month[(r["campaign.id"], r["segments.date"][:7])] += ratio
            if r["segments.date"] == bf and cid == m.customer_ids()[0]:
                bf_limited.append(ratio)
    print(
        f"max day {max(per_day):.2f} budgets, max month {max(per_month.values()):.2f} budgets, "
        f"Black Friday retail {np.round(sorted(bf_limited), 2)}"
    )
    assert max(per_day) <= 2.0
    assert max(per_month.values()) <= 30.4
    assert max(per_day) > 1.6  # Google does use the room on its busiest days
    assert max(bf_limited) > 1.5


def test_the_daily_cap_holds_where_google_would_spend_more() -> None:
    """Demand at three to four budgets every day and a wide day-to-day overdelivery spread
    (sigma 0.9, where Google's own is about 0.25): the two-budget day cap is what stops the
    spend, so it is reached, and never passed; months stay within 30.4 budgets.

    (With the default spread no day reaches two budgets on its own, so the test above cannot
    tell a looser day cap from the right one: measured, a cap of 3 passes it.)"""
    spec = _scenario([0.25, 0.35], seed=13)
    spec["market"]["overdelivery_sigma"] = 0.9
    m = Market(scenario_from_dict(spec))
    fields = frozenset({"campaign.id", "campaign_budget.amount_micros", "segments.date",
                        "metrics.cost_micros"})  # fmt: skip
    per_day: list[float] = []
    per_month: dict[tuple[int, str], float] = defaultdict(float)
    for cid in m.customer_ids():
        for r in m.rows(
            "campaign",
            customer_id=cid,
            date_from=dt.date(2025, 3, 1),
            date_to=dt.date(2025, 5, 31),
            as_of=FAR,
            fields=fields,
        ):
            ratio = r["metrics.cost_micros"] / r["campaign_budget.amount_micros"]
            per_day.append(ratio)
            per_month[(r["campaign.id"], r["segments.date"][:7])] += ratio
    print(f"max day {max(per_day):.3f} budgets, max month {max(per_month.values()):.2f}")
    assert 1.9 < max(per_day) <= 2.0
    assert max(per_month.values()) <= 30.4
