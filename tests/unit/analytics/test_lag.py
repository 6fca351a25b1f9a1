"""spectra.analytics.lag: lag CDFs from snapshots and histograms, chain-ladder nowcast."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from support.synthetic import SyntheticAccount, geometric_lag_pmf

from spectra.analytics.config import LagConfig
from spectra.analytics.lag import (
    COMPLETING,
    MATURE,
    TOO_IMMATURE,
    LagCurve,
    LagDataError,
    fit_lag_curve,
    nowcast,
)


def test_chain_ladder_recovers_known_lag_cdf(small_account: SyntheticAccount) -> None:
    curve = fit_lag_curve(small_account.snapshots, fit_date=small_account.as_of)
    assert curve.source == "snapshots"
    assert curve.fit_date == small_account.as_of
    assert curve.max_age_observed == 30
    err = np.abs(curve.cdf_conversions - small_account.lag_cdf)
    assert err.max() < 0.02
    # The bootstrap standard error is honest: the truth lies within 4 SE at every age.
    se = np.sqrt(curve.var_cdf_conversions[:-1])
    assert np.all(err[:-1] <= 4 * se + 1e-3)
    assert np.all(np.diff(curve.cdf_conversions) >= 0)
    frame = curve.to_frame()
    assert list(frame["age_days"]) == list(range(31))


def test_lag_buckets_histogram_gives_the_cdf_at_half_day_ages() -> None:
    # Exponential lag, mean 3 days: bucket masses from the exact CDF at the bucket edges.
    from spectra.analytics.lag import LAG_BUCKETS

    lam = 1 / 3.0
    rows = []
    for name, (lo, hi) in LAG_BUCKETS.items():
        mass = np.exp(-lam * lo) - np.exp(-lam * hi)
        rows.append({"conversion_lag_bucket": name, "conversions": 10_000 * mass})
    rows.append({"conversion_lag_bucket": "UNKNOWN", "conversions": 5.0})
    curve = fit_lag_curve(
        None,
        pd.DataFrame(rows),
        fit_date=dt.date(2025, 6, 1),
        config=LagConfig(age_offset_days=0.5),
    )
    assert curve.source == "lag_buckets"
    ages = np.arange(14) + 0.5
    # Truncated at the 30-day conversion window.
    truth = (1 - np.exp(-lam * ages)) / (1 - np.exp(-lam * 30))
    # Linear interpolation inside a one-day bucket vs the exponential CDF: < 0.02 apart.
    np.testing.assert_allclose(curve.cdf_conversions[:14], truth, atol=0.02)
    assert curve.cdf_conversions[-1] == 1.0


def test_no_inputs_give_a_flagged_identity_curve() -> None:
    curve = fit_lag_curve(None, None, fit_date=dt.date(2025, 1, 1))
    assert curve.source == "none"
    assert curve.notes
    assert np.all(curve.maturity([0, 5, 40]) == 1.0)


def test_bad_snapshots_raise_named_error() -> None:
    with pytest.raises(LagDataError):
        fit_lag_curve(
            pd.DataFrame({"click_date": ["2025-01-01"], "conversions": [1.0]}),
            fit_date=dt.date(2025, 1, 1),
        )


def _curve(cdf: list[float], var: float = 0.0) -> LagCurve:
    c = np.array(cdf)
    return LagCurve(
        dt.date(2025, 1, 10),
        "test",
        len(c) - 1,
        c,
        c,
        np.full(len(c), var),
        np.full(len(c), var),
        0,
        0,
        len(c) - 1,
    )


def test_nowcast_formula_and_maturity_flags() -> None:
    curve = _curve([0.25, 0.6, 0.92, 1.0])
    daily = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-01-10", "2025-01-09", "2025-01-08", "2025-01-01"]),
            "conversions": [10.0, 30.0, 46.0, 50.0],
            "conversions_value_micros": [
                1_000_000_000,
                3_000_000_000,
                4_600_000_000,
                5_000_000_000,
            ],
        }
    )
    out = nowcast(daily, curve, as_of=dt.date(2025, 1, 10))
    assert list(out["age_days"]) == [0, 1, 2, 9]
    np.testing.assert_allclose(out["conversions_nowcast"], [40.0, 50.0, 50.0, 50.0])
    # Var = C_obs (1 - F) / F^2 with F known: 10 * 0.75 / 0.0625 = 120.
    assert out["conversions_nowcast_se"].iloc[0] == pytest.approx(np.sqrt(120.0))
    assert out["conversions_nowcast_se"].iloc[3] == 0.0
    assert list(out["lag_status"]) == [TOO_IMMATURE, COMPLETING, MATURE, MATURE]
    assert out["conversions_value_nowcast_micros"].dtype == np.int64
    assert out["conversions_value_nowcast_micros"].iloc[0] == 4_000_000_000


def test_nowcast_adds_cdf_uncertainty_term() -> None:
    curve = _curve([0.5, 1.0], var=0.0004)
    daily = pd.DataFrame({"date": [pd.Timestamp("2025-01-10")], "conversions": [100.0]})
    out = nowcast(daily, curve, as_of=dt.date(2025, 1, 10), value_col=None)
    # C(1-F)/F^2 + C^2 Var(F)/F^4 = 100*0.5/0.25 + 1e4*4e-4/0.0625 = 200 + 64.
    assert out["conversions_nowcast_se"].iloc[0] == pytest.approx(np.sqrt(264.0))


def test_nowcast_uses_each_rows_reported_as_of() -> None:
    curve = _curve([0.5, 0.8, 1.0])
    daily = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-01-05", "2025-01-05"]),
            "reported_as_of": pd.to_datetime(["2025-01-06", "2025-01-10"]),
            "conversions": [8.0, 10.0],
        }
    )
    out = nowcast(daily, curve, as_of=dt.date(2025, 1, 10), value_col=None)
    assert list(out["age_days"]) == [1, 5]
    np.testing.assert_allclose(out["conversions_nowcast"], [10.0, 10.0])


def test_nowcast_brings_recent_days_within_tolerance(small_account: SyntheticAccount) -> None:
    """Tolerance (stated): the completed last 7 days of the account within 10 % of their matured
    truth; per campaign-day 95 % intervals cover the truth at least 85 % of the time."""
    acc = small_account
    curve = fit_lag_curve(acc.snapshots, fit_date=acc.as_of)
    camp = acc.perf[acc.perf["level"] == "campaign"]
    out = nowcast(camp, curve, as_of=acc.as_of)
    truth = acc.truth.rename(columns={"campaign_id": "entity_id", "conversions": "truth"})
    merged = out.merge(truth[["entity_id", "date", "truth"]], on=["entity_id", "date"])
    last7 = merged[merged["age_days"] <= 6]
    rel = last7["conversions_nowcast"].sum() / last7["truth"].sum() - 1
    observed_gap = last7["conversions"].sum() / last7["truth"].sum() - 1
    assert abs(rel) < 0.10
    assert observed_gap < -0.25  # without completion the last week looks 25 %+ worse
    judged = merged[(merged["age_days"] <= 20) & (merged["maturity"] >= LagConfig().min_maturity)]
    z = (judged["conversions_nowcast"] - judged["truth"]) / judged["conversions_nowcast_se"]
    coverage = float((z.abs() <= 1.96).mean())
    assert coverage >= 0.85


def test_snapshots_shorter_than_window_borrow_the_tail_from_buckets() -> None:
    pmf = geometric_lag_pmf(3.0, 30)
    cdf = np.cumsum(pmf)
    click = pd.date_range("2025-03-01", periods=20, freq="D")
    rows = []
    for d in click:
        for a in range(0, 11):
            rows.append(
                {
                    "click_date": d,
                    "report_date": d + pd.Timedelta(days=a),
                    "conversions": 1000 * cdf[a],
                }
            )
    snaps = pd.DataFrame(rows)
    from spectra.analytics.lag import LAG_BUCKETS

    buckets = pd.DataFrame(
        [
            {
                "conversion_lag_bucket": name,
                "conversions": 1000
                * (cdf[min(int(hi) - 1, 30)] - (cdf[int(lo) - 1] if lo >= 1 else 0.0)),
            }
            for name, (lo, hi) in LAG_BUCKETS.items()
            if hi <= 30
        ]
    )
    curve = fit_lag_curve(
        snaps, buckets, fit_date=dt.date(2025, 4, 1), config=LagConfig(bootstrap_samples=0)
    )
    assert curve.source == "snapshots+lag_buckets"
    assert any("tail" in n for n in curve.notes)
    assert np.all(np.diff(curve.cdf_conversions) >= -1e-12)
    assert curve.cdf_conversions[5] == pytest.approx(cdf[5], abs=0.03)


def _pipeline_snapshots(cdf: np.ndarray, runs: int, daily: float = 400.0) -> pd.DataFrame:
    """Daily pulls of a 30-day window, the morning after: ages 1..30, exact expected values."""
    rows = []
    first = pd.Timestamp("2025-01-01")
    for r in range(runs):
        report = first + pd.Timedelta(days=60 + r)
        for age in range(1, 31):
            rows.append(
                {
                    "click_date": report - pd.Timedelta(days=age),
                    "report_date": report,
                    "conversions": daily * cdf[min(age, len(cdf) - 1)],
                }
            )
    return pd.DataFrame(rows)


def test_tail_past_the_window_is_extrapolated_from_the_link_ratios() -> None:
    # Ultimate CDF with a power-law tail: 1 - G(a) = 0.5 a^-1.2 (a >= 1).
    ages = np.arange(0, 31)
    g = 1 - 0.5 * np.maximum(ages, 1) ** -1.2
    g[0] = 0.2
    observed = g / g[30]  # what a 30-day re-pull ever sees, relative to age 30
    snaps = _pipeline_snapshots(observed, runs=30)
    curve = fit_lag_curve(snaps, fit_date=dt.date(2025, 4, 1))
    assert curve.usable and curve.max_age_observed == 30
    truth = (1 - 0.5 * 90.0**-1.2) / g[30]  # G(90) / G(30)
    assert curve.tail_factor == pytest.approx(truth, rel=0.01)
    out = nowcast(
        pd.DataFrame({"date": [pd.Timestamp("2025-03-01")], "conversions": [100.0]}),
        curve,
        as_of=dt.date(2025, 3, 1) + dt.timedelta(days=40),
        value_col=None,
    )
    assert out["conversions_nowcast"].iloc[0] == pytest.approx(100.0 * curve.tail_factor)


def test_few_pulls_or_low_volume_give_no_completion_claims() -> None:
    cdf = np.minimum(np.cumsum(geometric_lag_pmf(3.0, 30)), 1.0)
    early = fit_lag_curve(_pipeline_snapshots(cdf, runs=3), fit_date=dt.date(2025, 4, 1))
    assert not early.usable and any("not usable" in n for n in early.notes)
    young = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-03-05", "2025-01-01"]),
            "reported_as_of": pd.to_datetime(["2025-03-06", "2025-03-06"]),
            "conversions": [5.0, 50.0],
        }
    )
    out = nowcast(young, early, as_of=dt.date(2025, 3, 5), value_col=None)
    # Nothing completed; the young day is marked too immature instead of "mature at F = 1".
    assert list(out["conversions_nowcast"]) == [5.0, 50.0]
    assert list(out["lag_status"]) == [TOO_IMMATURE, MATURE]
    sparse = fit_lag_curve(
        _pipeline_snapshots(cdf, runs=30, daily=3.0), fit_date=dt.date(2025, 4, 1)
    )
    assert sparse.usable and sparse.tail_factor == 1.0  # too few conversions to read a tail


def _power_pmf(max_lag: int = 90) -> np.ndarray:
    """A heavy-tailed lag (a tenth of conversions arrive after day 30), lags 0..max_lag - 1."""
    pmf = (np.arange(max_lag) + 1.0) ** -1.3
    return pmf / pmf.sum()


def _histogram(
    pmf: np.ndarray, *, min_age: int, max_age: int, daily: float = 100.0, aged: bool = True
) -> pd.DataFrame:
    """segments.conversion_lag_bucket over click days aged min_age..max_age on the pull, with
    equal volume: each day has reported exactly its conversions of lag below its age."""
    from spectra.analytics.lag import LAG_BUCKETS

    rows = []
    for name, (lo, hi) in LAG_BUCKETS.items():
        lags = np.arange(int(lo), int(hi))
        seen = sum(daily * pmf[lags[lags < a]].sum() for a in range(min_age, max_age + 1))
        row: dict[str, object] = {
            "conversion_lag_bucket": name,
            "conversions": seen,
            "conversions_value_micros": int(seen * 40_000_000),
        }
        if aged:
            row.update(min_age_days=min_age, max_age_days=max_age)
        rows.append(row)
    return pd.DataFrame(rows)


def test_histogram_of_mature_days_gives_f_at_whole_day_ages_and_the_tail() -> None:
    """Ingest's range (ages 31-120): F(a) is the share of conversions with lag < a, exact at
    the one-day buckets; the 30-90 day buckets, corrected for the days too young to have
    filled them, give the tail past the window."""
    pmf = _power_pmf()
    curve = fit_lag_curve(
        None, _histogram(pmf, min_age=31, max_age=120), fit_date=dt.date(2025, 6, 1)
    )
    assert curve.source == "lag_buckets" and curve.usable
    within = np.cumsum(pmf[:30]) / pmf[:30].sum()
    # F(a) = P(lag < a | lag < 30): exact at the one-day bucket edges 1..14.
    np.testing.assert_allclose(curve.cdf_conversions[1:15], within[:14], rtol=1e-9)
    assert curve.cdf_conversions[0] == 0.0 and curve.cdf_conversions[30] == 1.0
    np.testing.assert_allclose(curve.cdf_conversions[15:30], within[14:29], atol=0.01)
    true_tail = pmf.sum() / pmf[:30].sum()
    assert true_tail > 1.08
    assert curve.tail_factor == pytest.approx(true_tail, rel=0.01)
    assert curve.tail_factor_value == pytest.approx(true_tail, rel=0.01)
    # Without the ages, a short tail bucket could be censoring: no tail is claimed.
    blind = fit_lag_curve(
        None, _histogram(pmf, min_age=31, max_age=120, aged=False), fit_date=dt.date(2025, 6, 1)
    )
    assert blind.tail_factor == 1.0
    np.testing.assert_allclose(blind.cdf_conversions, curve.cdf_conversions, atol=1e-12)


def test_histogram_of_young_days_is_corrected_for_exposure() -> None:
    """Click days aged 10-40: the 7-30 day buckets are only partly reported; uncorrected they
    would make the early ages look more mature than they are."""
    pmf = _power_pmf()
    within = np.cumsum(pmf[:30]) / pmf[:30].sum()
    young = _histogram(pmf, min_age=10, max_age=40)
    corrected = fit_lag_curve(None, young, fit_date=dt.date(2025, 6, 1))
    naive = fit_lag_curve(
        None, young.drop(columns=["min_age_days", "max_age_days"]), fit_date=dt.date(2025, 6, 1)
    )
    assert abs(corrected.cdf_conversions[7] - within[6]) < 0.01
    assert naive.cdf_conversions[7] - within[6] > 0.02


def test_new_account_completes_from_buckets_until_snapshots_are_usable() -> None:
    """One or two pulls cannot give link ratios (the 7-run rule), so the histogram completes
    the recent days; once a week of pulls is in, the snapshots win even though the histogram
    says otherwise."""
    cdf = np.minimum(np.cumsum(geometric_lag_pmf(3.0, 30)), 1.0)
    buckets = _histogram(_power_pmf(), min_age=31, max_age=120)
    young_day = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-03-05"]),
            "reported_as_of": pd.to_datetime(["2025-03-07"]),
            "conversions": [40.0],
        }
    )
    for runs in (1, 2):
        snaps = _pipeline_snapshots(cdf, runs=runs)
        alone = fit_lag_curve(snaps, fit_date=dt.date(2025, 4, 1))
        assert not alone.usable and alone.n_runs == runs
        curve = fit_lag_curve(snaps, buckets, fit_date=dt.date(2025, 4, 1))
        assert curve.source == "lag_buckets" and curve.usable
        assert any("until snapshots are usable" in n for n in curve.notes)
        out = nowcast(young_day, curve, as_of=dt.date(2025, 3, 6), value_col=None)
        assert out["maturity"].iloc[0] < 1.0 and out["lag_status"].iloc[0] != TOO_IMMATURE
        assert out["conversions_nowcast"].iloc[0] > 40.0
    week = fit_lag_curve(_pipeline_snapshots(cdf, runs=7), buckets, fit_date=dt.date(2025, 4, 1))
    assert week.source == "snapshots" and week.usable and week.n_runs == 7
    np.testing.assert_allclose(week.cdf_conversions[1:], cdf[1:] / cdf[30], atol=0.02)


def test_thin_histogram_does_not_replace_unusable_snapshots() -> None:
    cdf = np.minimum(np.cumsum(geometric_lag_pmf(3.0, 30)), 1.0)
    thin = _histogram(_power_pmf(), min_age=31, max_age=120, daily=0.3)
    assert thin["conversions"].sum() < LagConfig().min_bucket_conversions
    alone = fit_lag_curve(None, thin, fit_date=dt.date(2025, 4, 1))
    assert alone.source == "lag_buckets" and not alone.usable
    curve = fit_lag_curve(_pipeline_snapshots(cdf, runs=2), thin, fit_date=dt.date(2025, 4, 1))
    assert curve.source == "snapshots" and not curve.usable
    assert any("lag buckets not usable" in n for n in curve.notes)


def test_usable_snapshots_take_the_tail_the_buckets_measure() -> None:
    """Snapshots never see past the 30-day re-pull, so their tail is extrapolated; a histogram
    with its click days' ages measures it (the 30-90 day buckets) and replaces it. The
    snapshot CDF inside the window is kept. A log-normal lag (median 6 days, sigma 1, as the
    market's slow-lag accounts) is where the inverse power curve overshoots."""
    from scipy import stats

    edges = stats.lognorm.cdf(np.arange(91), s=1.0, scale=6.0)
    pmf = np.diff(edges) / edges[-1]
    g = np.concatenate([[0.0], np.cumsum(pmf)])[:31]  # F(a) = P(lag < a), a = 0..30
    snaps = _pipeline_snapshots(g / g[30], runs=30, daily=4000.0)
    extrapolated = fit_lag_curve(snaps, fit_date=dt.date(2025, 4, 1))
    assert extrapolated.tail_source == "extrapolated"
    true_tail = pmf.sum() / pmf[:30].sum()
    aged = _histogram(pmf, min_age=31, max_age=120)
    curve = fit_lag_curve(snaps, aged, fit_date=dt.date(2025, 4, 1))
    assert curve.source == "snapshots" and curve.tail_source == "measured"
    assert curve.tail_factor == pytest.approx(true_tail, rel=0.01)
    assert abs(curve.tail_factor - true_tail) < abs(extrapolated.tail_factor - true_tail)
    np.testing.assert_allclose(curve.cdf_conversions, extrapolated.cdf_conversions)
    assert any("measured by the lag buckets" in n for n in curve.notes)
    # Without ages the histogram cannot tell a short tail from censoring: extrapolation stays;
    # a malformed histogram is named in the notes and changes nothing.
    blind = fit_lag_curve(
        snaps, aged.drop(columns=["min_age_days", "max_age_days"]), fit_date=dt.date(2025, 4, 1)
    )
    assert blind.tail_factor == extrapolated.tail_factor
    broken = fit_lag_curve(snaps, aged[["conversions"]], fit_date=dt.date(2025, 4, 1))
    assert broken.tail_factor == extrapolated.tail_factor
    assert any("lag buckets ignored" in n for n in broken.notes)
