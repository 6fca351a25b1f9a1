"""spectra.analytics.engine.analyze_account end to end on synthetic accounts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from support.synthetic import SyntheticAccount

from spectra.analytics import AnalysisInputError, AnalysisResult, analyze_account
from spectra.analytics.config import AnalyticsConfig


@pytest.fixture(scope="module")
def effect_result(effect_account: SyntheticAccount) -> AnalysisResult:
    changes = pd.DataFrame({"entity_id": [1000], "change_date": [dt.date(2025, 11, 3)]})
    return analyze_account(
        effect_account.perf, effect_account.snapshots, as_of=effect_account.as_of, changes=changes
    )


def test_planted_effects_are_found_with_evidence(effect_result: AnalysisResult) -> None:
    v = effect_result.verdicts
    sig = v[v["verdict"].str.startswith("significant")]
    ctr_up = set(sig.loc[(sig["metric"] == "ctr") & (sig["level"] == "keyword"), "entity_id"])
    assert {10_000_000, 10_000_001} <= ctr_up
    cvr_up = set(
        sig.loc[(sig["metric"] == "cvr") & (sig["verdict"] == "significant_increase"), "entity_id"]
    )
    assert 10_000_002 in cvr_up
    assert (v["p_adjusted"].dropna() >= v["p_value"].dropna() - 1e-15).all()
    assert {
        "level",
        "entity_id",
        "campaign_id",
        "ad_group_id",
        "effect",
        "ci_low",
        "ci_high",
    } <= set(v.columns)
    assert set(v["metric"]) == {"ctr", "cpc", "cvr", "cpa", "roas"}


def test_conversion_tests_use_only_mature_days(
    effect_result: AnalysisResult, effect_account: SyntheticAccount
) -> None:
    start, end = effect_result.conversion_test_window
    assert end <= effect_account.as_of - dt.timedelta(days=6)  # F(a) >= 0.9 needs ~7 days here
    assert (end - start).days == 13
    assert effect_result.test_window[1] == effect_account.as_of


def test_cpc_shock_is_an_anomaly(effect_result: AnalysisResult) -> None:
    a = effect_result.anomalies
    alerts = a[a["flagged"]]
    assert ((alerts["entity_id"] == 1002) & (alerts["metric"] == "cpc")).any()
    assert not alerts[(alerts["entity_level"] == "campaign") & (alerts["entity_id"] != 1002)].shape[
        0
    ]


def test_lag_nowcast_seasonality_allocation_and_effects_are_reported(
    effect_result: AnalysisResult,
) -> None:
    r = effect_result
    assert r.lag_curve.source == "snapshots"
    assert r.lag_curve.fit_date == r.as_of
    assert set(r.nowcast["lag_status"]) <= {"completing", "too_immature"}
    assert (r.nowcast["conversions_nowcast"] >= r.nowcast["conversions"]).all()
    assert r.nowcast["conversions_value_nowcast_micros"].dtype == np.int64
    assert list(r.seasonality["metric"]) == ["clicks", "cost_micros", "conversions"]
    assert len(r.allocation) == 5
    assert set(r.allocation["direction"]) <= {"increase", "decrease", "hold"}
    assert r.allocation["next_budget_micros"].map(type).eq(int).all()
    assert set(r.effects["metric"]) == {"conversions", "cpa"}
    assert r.timings["total"] > 0


def test_aa_account_has_no_discoveries(small_account: SyntheticAccount) -> None:
    r = analyze_account(small_account.perf, small_account.snapshots, as_of=small_account.as_of)
    v = r.verdicts
    assert not v["verdict"].str.startswith("significant").any()
    insufficient = v[v["verdict"] == "insufficient_data"]
    assert insufficient["p_value"].isna().all()
    assert (insufficient["reason"] != "").all()


def test_without_snapshots_recent_days_are_not_completed(small_account: SyntheticAccount) -> None:
    cfg = AnalyticsConfig()
    r = analyze_account(
        small_account.perf, None, as_of=small_account.as_of, config=cfg, campaign_anomalies=False
    )
    assert r.lag_curve.source == "none"
    assert any("not completed" in w for w in r.warnings)


def test_input_validation(small_account: SyntheticAccount) -> None:
    with pytest.raises(AnalysisInputError, match="lack columns"):
        analyze_account(
            small_account.perf.drop(columns=["clicks"]), None, as_of=small_account.as_of
        )
    two = pd.concat([small_account.perf.head(5), small_account.perf.head(5).assign(customer_id=1)])
    with pytest.raises(AnalysisInputError, match="one account"):
        analyze_account(two, None, as_of=small_account.as_of)
    with pytest.raises(AnalysisInputError, match="no performance rows"):
        analyze_account(small_account.perf, None, as_of=dt.date(2000, 1, 1))


def test_warehouse_shaped_rows_python_dates_and_nullable_ints(
    small_account: SyntheticAccount,
) -> None:
    """Rows as SQLAlchemy returns them: datetime.date objects, nullable integer columns."""
    perf = small_account.perf.copy()
    perf["date"] = pd.to_datetime(perf["date"]).dt.date
    perf["reported_as_of"] = pd.to_datetime(perf["reported_as_of"]).dt.date
    for col in ("impressions", "clicks", "cost_micros", "conversions_value_micros"):
        perf[col] = perf[col].astype("Int64")
    snaps = small_account.snapshots.assign(
        click_date=lambda f: f["click_date"].dt.date, report_date=lambda f: f["report_date"].dt.date
    )
    r = analyze_account(perf, snaps, as_of=small_account.as_of, campaign_anomalies=False)
    assert r.lag_curve.source == "snapshots"
    assert len(r.verdicts) == 5 * 105


def test_bid_evidence_starts_at_a_campaigns_cpc_shock(effect_account: SyntheticAccount) -> None:
    """Campaign 1002's CPCs jump 60 % on the last day: its keywords' bids are not judged on
    the days before (they measured a market that is gone), the other campaigns' are."""
    from spectra.analytics.engine import cpc_shocks, shock_start

    kw = effect_account.keywords
    bids = {
        (int(a), int(c)): 1_200_000 for a, c in zip(kw["ad_group_id"], kw["entity_id"], strict=True)
    }
    res = analyze_account(
        effect_account.perf, effect_account.snapshots, as_of=effect_account.as_of,
        keyword_bids_micros=bids,
    )  # fmt: skip
    assert cpc_shocks(res.anomalies, None) == {1002: effect_account.as_of}
    judged = set(res.bid_envelopes["campaign_id"].astype(int))
    assert 1002 not in judged  # no day of its evidence window is after the shock yet
    assert {1000, 1001, 1003, 1004} <= judged
    # the latest run of flagged days (gaps up to 2 days) starts the shock; older blips do not
    days = [dt.date(2025, 11, 1), dt.date(2025, 12, 10), dt.date(2025, 12, 12)]
    assert shock_start(days) == dt.date(2025, 12, 10)
    assert shock_start([]) is None
    past = {1000: [dt.date(2025, 12, 12), dt.date(2025, 12, 13)]}
    assert cpc_shocks(res.anomalies, past)[1000] == dt.date(2025, 12, 12)
