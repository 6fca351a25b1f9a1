"""Analytics engine: speed at scale and the many-seed statistical properties.

Figures (all on spectra.analytics.synthetic accounts, whose truth is known; the realistic market
simulator's truth API is the next validation step):

* analyze time for 20k keywords x 365 days — ``analyze_account`` end to end (lag, seasonality,
  anomalies per campaign, ~100k tests + BH, allocation); baseline: a per-keyword Python loop
  with statsmodels calls, timed on 200 keywords and scaled to 20k;
* A/A false-discovery rate (complete null: FWER = FDR) over many seeds, baseline 5 %;
* planted CTR lifts: power vs the power expected at each seed's BH cutoff, and the FDR;
* lag completion: error of the completed last 7 days vs matured truth (baseline: uncompleted),
  and the coverage of 95 % nowcast intervals;
* anomalies: planted CPC shock on Black Friday detected; Black Friday volume false alarms with
  and without the holiday calendar; false alarms per score on ordinary days;
* allocation: water-filling vs an SLSQP optimum on known curves; value of the allocation from
  curves fitted on noisy history vs the oracle (baseline: keeping current budgets).

``python bench/bench_analytics.py [--quick]`` prints the table.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

QUICK = False


def _figure(
    results: dict[str, Any], name: str, value: float, unit: str, baseline: float | None
) -> None:
    ratio = value / baseline if baseline not in (None, 0) else None
    results[f"analytics: {name}"] = {
        "value": float(value),
        "unit": unit,
        "baseline": baseline,
        "ratio": ratio,
    }
    print(
        f"   {name}: {value:.4g} {unit} (baseline {baseline if baseline is None else f'{baseline:.4g}'})",
        flush=True,
    )


def _seeds(full: int, quick: int) -> range:
    return range(quick if QUICK else full)


# --------------------------------------------------------------------------- speed
def bench_speed(results: dict[str, Any]) -> None:
    import warnings

    from statsmodels.stats.proportion import proportions_ztest

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # naive loop: 0/0 on idle keywords

    from spectra.analytics import analyze_account
    from spectra.analytics.seasonality import fit_seasonality
    from spectra.analytics.significance import ratio_test
    from spectra.analytics.synthetic import make_account

    acc = make_account(
        n_campaigns=100, keywords_per_campaign=200, days=365, seed=3, impressions_per_keyword=300
    )
    n_kw = int((acc.perf["level"] == "keyword").sum() / 365)
    started = time.perf_counter()
    res = analyze_account(acc.perf, acc.snapshots, as_of=acc.as_of)
    elapsed = time.perf_counter() - started
    print(
        f"   {len(acc.perf):,} rows, {len(res.verdicts):,} tests; timings { ({k: round(v, 2) for k, v in res.timings.items()}) }"
    )

    # Baseline: the per-keyword loop the vectorised path replaces (200 keywords, scaled).
    kw = acc.perf[acc.perf["level"] == "keyword"]
    end = pd.Timestamp(acc.as_of)
    b0, a0 = end - pd.Timedelta(days=13), end - pd.Timedelta(days=41)
    sample = 200
    started = time.perf_counter()
    for _, g in zip(range(sample), kw.groupby("entity_id"), strict=False):
        frame = g[1]
        after = frame[frame["date"] >= b0]
        before = frame[(frame["date"] >= a0) & (frame["date"] < b0)]
        proportions_ztest(
            [after["clicks"].sum(), before["clicks"].sum()],
            [after["impressions"].sum() or 1, before["impressions"].sum() or 1],
        )
        proportions_ztest(
            [after["conversions"].sum(), before["conversions"].sum()],
            [after["clicks"].sum() or 1, before["clicks"].sum() or 1],
        )
        ratio_test(
            before["cost_micros"],
            before["clicks"],
            after["cost_micros"],
            after["clicks"],
            metric="cpc",
        )
        ratio_test(
            before["cost_micros"],
            before["conversions"],
            after["cost_micros"],
            after["conversions"],
            metric="cpa",
        )
        fit_seasonality(frame.set_index("date")["clicks"])
    naive = (time.perf_counter() - started) * n_kw / sample
    _figure(results, f"analyze time for {n_kw // 1000}k keywords x 365 days", elapsed, "s", naive)


# --------------------------------------------------------------------------- significance
def bench_aa_fdr(results: dict[str, Any]) -> None:
    from spectra.analytics import analyze_account
    from spectra.analytics.synthetic import make_account

    any_discovery, tests = [], 0
    for seed in _seeds(40, 8):
        acc = make_account(n_campaigns=5, keywords_per_campaign=40, days=120, seed=1000 + seed)
        v = analyze_account(
            acc.perf, acc.snapshots, as_of=acc.as_of, campaign_anomalies=False
        ).verdicts
        tests += int(v["p_value"].notna().sum())
        any_discovery.append(bool(v["verdict"].str.startswith("significant").any()))
    rate = float(np.mean(any_discovery))
    print(f"   {len(any_discovery)} A/A accounts, {tests:,} tests")
    _figure(results, "A/A false-discovery rate (BH, complete null)", rate, "share", 0.05)


def bench_power(results: dict[str, Any]) -> None:
    from scipy import stats

    from spectra.analytics import analyze_account
    from spectra.analytics.synthetic import make_account

    power, expected, fdp = [], [], []
    for seed in _seeds(20, 4):
        n_camp, kpc = 5, 40
        planted = list(range(0, n_camp * kpc, 10))  # 10 % of keywords, CTR x1.3
        as_of = dt.date(2025, 12, 15)
        acc = make_account(
            n_campaigns=n_camp, keywords_per_campaign=kpc, days=120, seed=2000 + seed, end=as_of,
            ctr_effects={k: 1.3 for k in planted}, effect_start=as_of - dt.timedelta(days=13),
        )  # fmt: skip
        res = analyze_account(acc.perf, acc.snapshots, as_of=as_of, campaign_anomalies=False)
        v = res.verdicts
        ids = acc.keywords["entity_id"].to_numpy()
        planted_ids = set(ids[planted])
        kw = v[v["level"] == "keyword"]
        sig = kw[kw["verdict"].str.startswith("significant")]
        true_hits = sig[(sig["metric"] == "ctr") & sig["entity_id"].isin(planted_ids)]
        false_hits = len(sig) - len(true_hits)
        fdp.append(false_hits / max(len(sig), 1))
        power.append(len(true_hits) / len(planted_ids))
        # Expected power of each planted test at this batch's BH cutoff (normal approximation).
        p_sorted = np.sort(v["p_value"].dropna().to_numpy())
        m = len(p_sorted)
        ok = np.nonzero(p_sorted <= 0.05 * np.arange(1, m + 1) / m)[0]
        cutoff = 0.05 * (ok[-1] + 1) / m if ok.size else 0.05 / m
        ctr = kw[(kw["metric"] == "ctr") & kw["entity_id"].isin(planted_ids)]
        imps = acc.perf[(acc.perf["level"] == "keyword") & acc.perf["entity_id"].isin(planted_ids)]
        (a0, a1), (b0, b1) = res.baseline_window, res.test_window
        d = pd.to_datetime(imps["date"])
        n_a = (
            imps[(d >= pd.Timestamp(a0)) & (d <= pd.Timestamp(a1))]
            .groupby("entity_id")["impressions"]
            .sum()
        )
        n_b = (
            imps[(d >= pd.Timestamp(b0)) & (d <= pd.Timestamp(b1))]
            .groupby("entity_id")["impressions"]
            .sum()
        )
        p_a = acc.keywords.set_index("entity_id").loc[ctr["entity_id"], "ctr"].to_numpy()
        na, nb = n_a.reindex(ctr["entity_id"]).to_numpy(), n_b.reindex(ctr["entity_id"]).to_numpy()
        p_b = np.minimum(p_a * 1.3, 0.99)
        se = np.sqrt(p_a * (1 - p_a) / na + p_b * (1 - p_b) / nb)
        expected.append(
            float(np.mean(stats.norm.cdf((p_b - p_a) / se - stats.norm.isf(cutoff / 2))))
        )
    _figure(
        results,
        "power for planted CTR x1.3 (BH)",
        float(np.mean(power)),
        "share",
        float(np.mean(expected)),
    )
    _figure(results, "FDR with 10 % planted effects (BH)", float(np.mean(fdp)), "share", 0.05)


# --------------------------------------------------------------------------- lag
def bench_nowcast(results: dict[str, Any]) -> None:
    from spectra.analytics.lag import fit_lag_curve, nowcast
    from spectra.analytics.synthetic import make_account

    err, raw, cover = [], [], []
    for seed in _seeds(30, 6):
        acc = make_account(
            n_campaigns=5,
            keywords_per_campaign=20,
            days=120,
            seed=3000 + seed,
            lag_mean_days=2 + seed % 4,
        )
        curve = fit_lag_curve(acc.snapshots, fit_date=acc.as_of)
        camp = nowcast(acc.perf[acc.perf["level"] == "campaign"], curve, as_of=acc.as_of)
        truth = acc.truth.rename(columns={"campaign_id": "entity_id", "conversions": "truth"})
        m = camp.merge(truth[["entity_id", "date", "truth"]], on=["entity_id", "date"])
        last7 = m[m["age_days"] <= 6]
        err.append(abs(last7["conversions_nowcast"].sum() / last7["truth"].sum() - 1))
        raw.append(abs(last7["conversions"].sum() / last7["truth"].sum() - 1))
        judged = m[(m["age_days"] <= 25) & (m["maturity"] >= 0.5) & (m["maturity"] < 1)]
        z = (judged["conversions_nowcast"] - judged["truth"]) / judged["conversions_nowcast_se"]
        cover.append(float((z.abs() <= 1.96).mean()))
    _figure(
        results,
        "nowcast error, last 7 days (completed)",
        float(np.mean(err)),
        "rel. error",
        float(np.mean(raw)),
    )
    _figure(
        results, "nowcast 95 % interval coverage (F >= 0.5)", float(np.mean(cover)), "share", 0.95
    )


# --------------------------------------------------------------------------- anomalies
def bench_anomalies(results: dict[str, Any]) -> None:
    from spectra.analytics.anomalies import detect_anomalies
    from spectra.analytics.config import AnomalyConfig
    from spectra.analytics.lag import fit_lag_curve, nowcast
    from spectra.analytics.seasonality import HolidayCalendar
    from spectra.analytics.synthetic import make_account

    bf = dt.date(2025, 11, 28)
    detected, false_us, false_none = [], [], []
    for seed in _seeds(10, 3):
        acc = make_account(
            n_campaigns=4,
            keywords_per_campaign=10,
            days=420,
            end=bf,
            seed=4000 + seed,
            cpc_shock=(bf, 2, 1.5),
        )
        curve = fit_lag_curve(acc.snapshots, fit_date=acc.as_of)
        camp = nowcast(acc.perf[acc.perf["level"] == "campaign"], curve, as_of=acc.as_of)
        camp["conversions"] = camp["conversions_nowcast"]
        for market, sink in (("US", false_us), ("NONE", false_none)):
            cal = HolidayCalendar.for_market(market)
            for cid, g in camp.groupby("entity_id"):
                alerts = [
                    a
                    for a in detect_anomalies(g, as_of=bf, entity_id=int(cid), calendar=cal)
                    if a.flagged
                ]
                if cid == 1002:
                    if market == "US":
                        detected.append(any(a.metric == "cpc" for a in alerts))
                else:
                    sink.append(bool(alerts))
    _figure(
        results,
        "planted CPC shock (x1.5) on Black Friday detected",
        float(np.mean(detected)),
        "share",
        1.0,
    )
    _figure(
        results,
        "Black Friday false alarms per campaign (US calendar)",
        float(np.mean(false_us)),
        "share",
        float(np.mean(false_none)),
    )

    flagged = scored = 0
    cfg = AnomalyConfig(eval_days=7)
    for seed in _seeds(10, 3):
        acc = make_account(
            n_campaigns=5,
            keywords_per_campaign=10,
            days=150,
            end=dt.date(2025, 10, 31),
            seed=5000 + seed,
        )
        curve = fit_lag_curve(acc.snapshots, fit_date=acc.as_of)
        camp = nowcast(acc.perf[acc.perf["level"] == "campaign"], curve, as_of=acc.as_of)
        camp["conversions"] = camp["conversions_nowcast"]
        for back in (30, 37, 44):
            day = acc.as_of - dt.timedelta(days=back)
            for cid, g in camp.groupby("entity_id"):
                out = detect_anomalies(
                    g, as_of=day, entity_id=int(cid), config=cfg, include_normal=True
                )
                scored += len(out)
                flagged += sum(a.flagged for a in out)
    # Under a normal model |z| >= 3.5 happens 0.047 % of the time.
    _figure(
        results,
        "anomaly false alarms per score, ordinary days",
        flagged / max(scored, 1),
        "share",
        0.000465,
    )


# --------------------------------------------------------------------------- allocation
def _true_curves(rng: np.random.Generator, n: int) -> dict[int, Any]:
    from spectra.analytics.allocation import ResponseCurve

    curves = {}
    for i in range(n):
        if i % 2:
            curves[i] = ResponseCurve("log", (rng.uniform(200, 2000), rng.uniform(20, 300)))
        else:
            curves[i] = ResponseCurve("power", (rng.uniform(5, 40), rng.uniform(0.3, 0.8)))
    return curves


def bench_allocation(results: dict[str, Any]) -> None:
    from scipy import optimize

    from spectra.analytics.allocation import (
        MICROS,
        allocate_budget,
        fit_response_curve,
        plan_portfolio,
    )

    gaps = []
    for seed in _seeds(30, 5):
        rng = np.random.default_rng(6000 + seed)
        n = 20
        curves = _true_curves(rng, n)
        total, lo, hi = 3_000.0, 10.0, 500.0
        alloc = allocate_budget(
            curves,
            int(total * MICROS),
            bounds_micros={k: (int(lo * MICROS), int(hi * MICROS)) for k in curves},
        )
        ref = optimize.minimize(
            lambda b, c=curves: -float(sum(c[k].value(x) for k, x in zip(c, b, strict=True))),
            np.full(n, total / n), method="SLSQP", bounds=[(lo, hi)] * n,
            constraints=[{"type": "eq", "fun": lambda b, t=total: b.sum() - t}], options={"ftol": 1e-12, "maxiter": 1000},
        )  # fmt: skip
        gaps.append(max(0.0, 1 - (alloc.total_value_micros / MICROS) / -ref.fun))
    _figure(
        results,
        "allocation gap vs SLSQP optimum (known curves)",
        float(np.max(gaps)),
        "rel. gap",
        0.01,
    )

    fitted_share, current_share = [], []
    for seed in _seeds(20, 4):
        rng = np.random.default_rng(7000 + seed)
        n = 10
        curves = _true_curves(rng, n)
        current = {k: float(rng.uniform(50, 300)) for k in curves}
        fits = {}
        for k, c in curves.items():
            spend = current[k] * rng.uniform(0.5, 1.5, 90)  # past budget moves
            value = c.value(spend) * rng.lognormal(0.0, 0.15, 90)
            fits[k] = fit_response_curve(spend, value)
        total = sum(current.values())
        budgets = {k: int(v * MICROS) for k, v in current.items()}
        plan = plan_portfolio(fits, budgets).set_index("campaign_id")
        target = {k: plan.loc[k, "target_budget_micros"] / MICROS for k in curves}
        oracle = allocate_budget(curves, int(total * MICROS)).total_value_micros / MICROS
        value_fitted = sum(float(curves[k].value(target[k])) for k in curves)
        value_current = sum(float(curves[k].value(current[k])) for k in curves)
        fitted_share.append(value_fitted / oracle)
        current_share.append(value_current / oracle)
    _figure(
        results,
        "allocation value vs oracle (curves fitted on noisy history)",
        float(np.mean(fitted_share)),
        "share of oracle",
        float(np.mean(current_share)),
    )


def run(results: dict[str, Any]) -> None:
    for part in (
        bench_speed,
        bench_aa_fdr,
        bench_power,
        bench_nowcast,
        bench_anomalies,
        bench_allocation,
    ):
        started = time.perf_counter()
        print(f"-- {part.__name__}", flush=True)
        part(results)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)


def main(argv: list[str]) -> int:
    global QUICK
    QUICK = "--quick" in argv
    results: dict[str, Any] = {}
    run(results)
    width = max(len(k) for k in results)
    print(f"\n{'figure':<{width}}  {'value':>12} {'unit':<18} {'baseline':>12} {'ratio':>8}")
    for key, fig in results.items():
        base = "" if fig["baseline"] is None else f"{fig['baseline']:.4g}"
        ratio = "" if fig["ratio"] is None else f"{fig['ratio']:.3g}"
        print(f"{key:<{width}}  {fig['value']:>12.4g} {fig['unit']:<18} {base:>12} {ratio:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
