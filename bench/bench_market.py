"""Market benchmarks: serving speed of the 20k-keyword scenario and many-seed realism checks.

Figures (added to ``results``):
- simulated keyword-days per second serving the 20k-keyword scenario: ``Market.rows`` for
  keyword_view over 20 uncached days (simulation + rows as dicts); baseline = the same rows from
  cached days (materialisation only), so the ratio is the share of time simulation costs;
- simulation alone (keyword-days/s), the oracle's time on the large scenario;
- realism over 10 seeds: conversion-lag share at D+7 vs configured, click over-dispersion 1/k vs
  configured, Black Friday click lift vs configured.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from typing import Any

import numpy as np

KEYWORD_FIELDS = frozenset(
    {
        "campaign.id",
        "ad_group.id",
        "ad_group_criterion.criterion_id",
        "segments.date",
        "metrics.impressions",
        "metrics.clicks",
        "metrics.cost_micros",
        "metrics.conversions",
        "metrics.conversions_value",
    }
)


def _fig(
    results: dict[str, Any], name: str, value: float, unit: str, baseline: float | None
) -> None:
    ratio = value / baseline if baseline else None
    results[name] = {"value": value, "unit": unit, "baseline": baseline, "ratio": ratio}
    print(f"   {name}: {value:,.3f} {unit} (baseline {baseline}, ratio {ratio})", flush=True)


def _serving(results: dict[str, Any]) -> None:
    from spectra.sandbox.market import Market

    started = time.perf_counter()
    market = Market.from_scenario("large")
    build = time.perf_counter() - started
    cid = market.customer_ids()[0]
    as_of = market.reference_date
    first, last = as_of - dt.timedelta(days=20), as_of - dt.timedelta(days=1)

    def serve() -> tuple[int, float]:
        t0 = time.perf_counter()
        n = sum(
            1
            for _ in market.rows(
                "keyword_view",
                customer_id=cid,
                date_from=first,
                date_to=last,
                as_of=as_of,
                fields=KEYWORD_FIELDS,
            )
        )
        return n, time.perf_counter() - t0

    n_cold, cold = serve()
    n_warm, warm = serve()
    assert n_cold == n_warm
    keyword_days = market.struct.n_keywords * 20
    _fig(
        results,
        "market: simulated keyword-days per second serving the 20k-keyword scenario",
        keyword_days / cold,
        "keyword-days/s",
        keyword_days / warm,
    )
    _fig(
        results,
        "market: keyword_view rows per second (20k keywords, cold cache)",
        n_cold / cold,
        "rows/s",
        n_warm / warm,
    )
    fresh = Market.from_scenario("large")
    t0 = time.perf_counter()
    for ordinal in range(first.toordinal(), last.toordinal() + 1):
        fresh.day(ordinal)
    sim = time.perf_counter() - t0
    _fig(
        results,
        "market: simulation only, keyword-days per second (20k keywords)",
        keyword_days / sim,
        "keyword-days/s",
        keyword_days / cold,
    )
    _fig(results, "market: build the 20k-keyword scenario", build, "s", None)
    from spectra.sandbox.market.truth import Truth

    t0 = time.perf_counter()
    oracle = Truth(market).oracle(as_of - dt.timedelta(days=30))  # an ordinary day
    _fig(results, "market: oracle for 20k keywords", time.perf_counter() - t0, "s", None)
    _fig(
        results,
        "market: oracle expected profit/day vs the scenario's settings (large, ordinary day)",
        oracle.expected_profit_optimal,
        "currency/day",
        oracle.expected_profit_current,
    )


def _realism(results: dict[str, Any]) -> None:
    from spectra.sandbox.market import Market, load_scenario
    from spectra.sandbox.market.calendar import black_friday
    from spectra.sandbox.market.scenario import Uniform

    base = load_scenario("demo")
    lag_errors, inv_k, lifts = [], [], []
    for seed in range(1, 11):
        sc = replace(
            base, seed=seed, events=(), market=replace(base.market, budget_headroom=Uniform(30, 40))
        )
        m = Market(sc)
        cid = m.customer_ids()[0]
        fields = frozenset({"segments.date", "metrics.conversions", "metrics.clicks"})
        start, end = dt.date(2026, 4, 1), dt.date(2026, 5, 31)
        final = sum(
            r["metrics.conversions"]
            for r in m.rows(
                "customer",
                customer_id=cid,
                date_from=start,
                date_to=end,
                as_of=dt.date(2027, 3, 1),
                fields=fields,
            )
        )
        seen = 0.0
        for ordinal in range(start.toordinal(), end.toordinal() + 1):
            day = dt.date.fromordinal(ordinal)
            seen += sum(
                r["metrics.conversions"]
                for r in m.rows(
                    "customer",
                    customer_id=cid,
                    date_from=day,
                    date_to=day,
                    as_of=day + dt.timedelta(days=7),
                    fields=fields,
                )
            )
        lag_errors.append(abs(seen / final - m.struct.account_lag[0].reported_share(7)))
        # dispersion from keyword-days in a flat stretch (weekday/yearly factors divided out)
        kw_fields = frozenset(
            {"ad_group_criterion.criterion_id", "segments.date", "metrics.clicks"}
        )
        series: dict[int, dict[str, int]] = {}
        for r in m.rows(
            "keyword_view",
            customer_id=cid,
            date_from=dt.date(2026, 2, 1),
            date_to=dt.date(2026, 7, 31),
            as_of=dt.date(2027, 3, 1),
            fields=kw_fields,
        ):
            series.setdefault(r["ad_group_criterion.criterion_id"], {})[r["segments.date"]] = r[
                "metrics.clicks"
            ]
        truth_days = [
            dt.date.fromordinal(o)
            for o in range(dt.date(2026, 2, 1).toordinal(), dt.date(2026, 7, 31).toordinal() + 1)
        ]
        from spectra.sandbox.market.truth import Truth

        truth = Truth(m)
        expected = {
            d.isoformat(): truth.keywords(d, customer_id=cid).set_index("criterion_id")["clicks"]
            for d in truth_days[::1]
        }
        num = den = 0.0
        for kw, by_day in series.items():
            mu = np.array([expected[d.isoformat()].get(kw, 0.0) for d in truth_days])
            x = np.array([by_day.get(d.isoformat(), 0) for d in truth_days], float)
            if mu.mean() >= 3:
                num += float(np.sum((x - mu) ** 2 - mu))
                den += float(np.sum(mu**2))
        inv_k.append(num / den)
        bf = black_friday(2025)
        window = [bf + dt.timedelta(days=i) for i in range(4)]
        ref = [d - dt.timedelta(days=7 * w) for d in window for w in (2, 3)]
        rows = {
            r["segments.date"]: r["metrics.clicks"]
            for r in m.rows(
                "customer",
                customer_id=cid,
                date_from=bf - dt.timedelta(days=30),
                date_to=bf + dt.timedelta(days=4),
                as_of=dt.date(2027, 3, 1),
                fields=fields,
            )
        }
        lifts.append(
            sum(rows[d.isoformat()] for d in window) / (sum(rows[d.isoformat()] for d in ref) / 2)
        )
    configured_k = base.noise.click_dispersion
    _fig(
        results,
        "market realism: |conversion share reported by D+7 - configured| (max over 10 seeds)",
        max(lag_errors),
        "share",
        None,
    )
    _fig(
        results,
        "market realism: click over-dispersion 1/k (mean over 10 seeds)",
        float(np.mean(inv_k)),
        "1/k",
        1 / configured_k,
    )
    _fig(
        results,
        "market realism: Black Friday click lift (mean over 10 seeds)",
        float(np.mean(lifts)),
        "x",
        1.9,
    )


def run(results: dict[str, Any]) -> None:
    _serving(results)
    _realism(results)


if __name__ == "__main__":
    out: dict[str, Any] = {}
    run(out)
