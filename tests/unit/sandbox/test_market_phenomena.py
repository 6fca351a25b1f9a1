"""Each market phenomenon, shown with numbers through ``Market.rows`` (what the API serves).

Tolerances are stated per test and come from the noise the scenario configures (a keyword-day
demand shock with shape k = 8 gives ~35% day-to-day noise per keyword; sums over many keywords
and days shrink it), so a failure means the phenomenon is off, not that the dice were unlucky.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from spectra.sandbox.market import Market, load_scenario
from spectra.sandbox.market.calendar import black_friday
from spectra.sandbox.market.mutations import Mutation
from spectra.sandbox.market.scenario import scenario_from_dict
from spectra.sandbox.market.truth import Truth

FAR = dt.date(2027, 6, 30)  # a clock far enough ahead that every conversion has arrived
DAY_FIELDS = frozenset(
    {
        "segments.date",
        "metrics.clicks",
        "metrics.impressions",
        "metrics.conversions",
        "metrics.cost_micros",
    }
)

SEASONAL: dict[str, Any] = {
    "name": "seasonal-test",
    "seed": 5,
    "reference_date": "2026-12-31",
    "history_days": 800,
    "structure": {
        "accounts": 1,
        "campaigns_per_account": 4,
        "ad_groups_per_campaign": 3,
        "keywords_per_ad_group": 8,
        "target_cpa_share": 0.0,
    },
    "market": {"budget_headroom": [30, 40]},
}
FLAT: dict[str, Any] = {
    **SEASONAL,
    "name": "flat-test",
    "seed": 9,
    "seasonality": {
        "weekly_demand": [1] * 7,
        "weekly_cvr": [1] * 7,
        "yearly_amplitude": 0.0,
        "holidays": [],
    },
    "noise": {"click_dispersion": 6.0, "conversion_dispersion": 10.0},
}


@pytest.fixture(scope="module")
def seasonal() -> Market:
    return Market(scenario_from_dict(SEASONAL))


def _daily(
    m: Market,
    cid: int,
    start: dt.date,
    end: dt.date,
    resource: str = "customer",
    fields: frozenset[str] = DAY_FIELDS,
    as_of: dt.date = FAR,
) -> list[dict[str, Any]]:
    return list(
        m.rows(resource, customer_id=cid, date_from=start, date_to=end, as_of=as_of, fields=fields)
    )


def test_weekly_shape(seasonal: Market) -> None:
    """Clicks by weekday over a year, yearly/holiday factors divided out, match the weekly profile (±4%)."""
    season = seasonal.scenario.seasonality
    rows = _daily(seasonal, seasonal.customer_ids()[0], dt.date(2025, 1, 6), dt.date(2026, 1, 4))
    totals, counts = np.zeros(7), np.zeros(7)
    for r in rows:
        day = dt.date.fromisoformat(r["segments.date"])
        totals[day.weekday()] += r["metrics.clicks"] / (season.yearly(day) * season.holiday(day)[0])
        counts[day.weekday()] += 1
    observed = totals / counts / np.mean(totals / counts)
    configured = np.array(season.weekly_demand) / np.mean(season.weekly_demand)
    print("weekday clicks (observed/configured):", np.round(observed / configured, 3))
    assert np.max(np.abs(observed / configured - 1)) < 0.04


def test_yearly_shape(seasonal: Market) -> None:
    """Monthly mean clicks follow the configured yearly × weekly × holiday profile (r > 0.97, ±6%)."""
    season = seasonal.scenario.seasonality
    rows = _daily(seasonal, seasonal.customer_ids()[0], dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    obs: dict[int, list[float]] = defaultdict(list)
    exp: dict[int, list[float]] = defaultdict(list)
    for r in rows:
        day = dt.date.fromisoformat(r["segments.date"])
        obs[day.month].append(r["metrics.clicks"])
        exp[day.month].append(season.demand(day))
    o = np.array([np.mean(obs[k]) for k in range(1, 13)])
    e = np.array([np.mean(exp[k]) for k in range(1, 13)])
    ratio = (o / o.mean()) / (e / e.mean())
    print(
        "monthly clicks / configured:",
        np.round(ratio, 3),
        "peak/trough observed",
        round(o.max() / o.min(), 2),
    )
    assert np.corrcoef(o, e)[0, 1] > 0.97
    assert np.max(np.abs(ratio - 1)) < 0.06


def test_black_friday_lift(seasonal: Market) -> None:
    """Black Friday → Cyber Monday: the served clicks and CVR lift over the same weekdays two and
    three weeks before is the market's expected lift (the truth: the retail holiday profile
    through the response curves) within ±12% (clicks) and ±25% (CVR: a 4-day window of
    conversions is noisy), and is a real lift (clicks ×1.3 or more, CVR ×1.4 or more)."""
    cid = seasonal.customer_ids()[0]
    truth = Truth(seasonal)
    for year in (2025,):
        bf = black_friday(year)
        window = [bf + dt.timedelta(days=i) for i in range(4)]
        base = [d - dt.timedelta(days=7 * w) for d in window for w in (2, 3)]
        rows = {
            r["segments.date"]: r
            for r in _daily(seasonal, cid, bf - dt.timedelta(days=30), bf + dt.timedelta(days=5))
        }
        clicks_w = sum(rows[d.isoformat()]["metrics.clicks"] for d in window)
        clicks_b = sum(rows[d.isoformat()]["metrics.clicks"] for d in base) / 2
        conv_w = sum(rows[d.isoformat()]["metrics.conversions"] for d in window)
        conv_b = sum(rows[d.isoformat()]["metrics.conversions"] for d in base) / 2
        lift = clicks_w / clicks_b
        cvr_lift = (conv_w / clicks_w) / (conv_b / clicks_b)
        exp = {d: truth.keywords(d, customer_id=cid).sum() for d in window + base}
        exp_clicks_w = sum(exp[d]["clicks"] for d in window)
        exp_clicks_b = sum(exp[d]["clicks"] for d in base) / 2
        exp_lift = exp_clicks_w / exp_clicks_b
        exp_cvr_lift = (sum(exp[d]["conversions"] for d in window) / exp_clicks_w) / (
            sum(exp[d]["conversions"] for d in base) / 2 / exp_clicks_b
        )
        print(
            f"Black Friday {year}: clicks ×{lift:.2f} (expected {exp_lift:.2f}), "
            f"CVR ×{cvr_lift:.2f} (expected {exp_cvr_lift:.2f})"
        )
        assert lift == pytest.approx(exp_lift, rel=0.12)
        assert cvr_lift == pytest.approx(exp_cvr_lift, rel=0.25)
        assert lift > 1.3
        assert cvr_lift > 1.4


@pytest.mark.parametrize("account", [0, 1])
def test_conversion_lag_shares_match_configuration(account: int) -> None:
    """Share of click-day D's conversions visible by D+1, D+7, D+30 equals the account's lag CDF
    (within 4 binomial standard errors + 0.01)."""
    m = Market.from_scenario("tiny")
    cid = m.customer_ids()[account]
    lag = m.struct.account_lag[account]
    start, end = dt.date(2026, 3, 1), dt.date(2026, 6, 30)
    fields = frozenset({"segments.date", "metrics.conversions"})
    final = {
        r["segments.date"]: r["metrics.conversions"]
        for r in _daily(m, cid, start, end, fields=fields)
    }
    total = sum(final.values())
    assert total > 250  # enough conversions for the binomial tolerances below
    for k in (1, 7, 30):
        seen = 0.0
        for ordinal in range(start.toordinal(), end.toordinal() + 1):
            day = dt.date.fromordinal(ordinal)
            seen += sum(
                r["metrics.conversions"]
                for r in _daily(m, cid, day, day, fields=fields, as_of=day + dt.timedelta(days=k))
            )
        share, configured = seen / total, lag.reported_share(k)
        tolerance = 4 * np.sqrt(configured * (1 - configured) / total) + 0.01
        print(
            f"account {account}: reported by D+{k}: {share:.3f} (configured {configured:.3f}, n={total:.0f})"
        )
        assert share == pytest.approx(configured, abs=tolerance)


def test_lag_buckets_follow_the_distribution() -> None:
    """segments.conversion_lag_bucket splits matured conversions like the lag pmf (±0.03)."""
    m = Market.from_scenario("tiny")
    cid = m.customer_ids()[0]
    fields = frozenset({"segments.date", "segments.conversion_lag_bucket", "metrics.conversions"})
    by_bucket: dict[str, float] = defaultdict(float)
    for r in _daily(m, cid, dt.date(2026, 1, 5), dt.date(2026, 8, 31), fields=fields):
        by_bucket[r["segments.conversion_lag_bucket"]] += r["metrics.conversions"]
    total = sum(by_bucket.values())
    pmf = m.struct.account_lag[0].pmf
    assert by_bucket["LESS_THAN_ONE_DAY"] / total == pytest.approx(pmf[0], abs=0.03)
    assert by_bucket["ONE_TO_TWO_DAYS"] / total == pytest.approx(pmf[1], abs=0.03)
    assert (by_bucket["FOURTEEN_TO_TWENTY_ONE_DAYS"]) / total == pytest.approx(
        pmf[14:21].sum(), abs=0.03
    )


def test_over_dispersion_as_configured() -> None:
    """With flat demand, keyword-day clicks are negative binomial: Var = mu + mu^2/k with the
    configured k = 6 (estimated 1/k within ±25%); a Poisson market would give 1/k ≈ 0."""
    m = Market(scenario_from_dict(FLAT))
    cid = m.customer_ids()[0]
    fields = frozenset(
        {
            "ad_group.id",
            "ad_group_criterion.criterion_id",
            "segments.date",
            "metrics.clicks",
            "metrics.conversions",
        }
    )
    # a keyword is (ad group, criterion): ad groups holding the same keyword share its id
    series: dict[tuple[int, int], list[int]] = defaultdict(list)
    start, end = dt.date(2025, 6, 1), dt.date(2026, 5, 31)
    days = end.toordinal() - start.toordinal() + 1
    conv: dict[tuple[int, int], list[float]] = defaultdict(list)
    for r in _daily(m, cid, start, end, resource="keyword_view", fields=fields):
        kw = (r["ad_group.id"], r["ad_group_criterion.criterion_id"])
        series[kw].append(r["metrics.clicks"])
        conv[kw].append(r["metrics.conversions"])
    excess, mu2, ratios = 0.0, 0.0, []
    for values in series.values():
        x = np.array(values + [0] * (days - len(values)), float)  # days without impressions = 0
        mean, var = x.mean(), x.var(ddof=1)
        if mean >= 3:
            excess += var - mean
            mu2 += mean**2
            ratios.append(var / mean)
    inv_k = excess / mu2
    print(
        f"clicks: estimated 1/k = {inv_k:.3f} (configured {1 / 6:.3f}); median var/mean = {np.median(ratios):.1f}"
    )
    assert inv_k == pytest.approx(1 / 6, rel=0.25)
    assert np.median(ratios) > 2
    c_excess, c_mu2 = 0.0, 0.0
    for values in conv.values():
        x = np.array(values + [0.0] * (days - len(values)))
        if x.mean() >= 0.5:
            c_excess += x.var(ddof=1) - x.mean()
            c_mu2 += x.mean() ** 2
    # conversions carry both shocks: 1/k_eff = 1/k + 1/kc + 1/(k kc)
    expected = 1 / 6 + 1 / 10 + 1 / 60
    print(f"conversions: estimated 1/k = {c_excess / c_mu2:.3f} (expected {expected:.3f})")
    assert c_excess / c_mu2 == pytest.approx(expected, rel=0.35)


def test_bid_response_saturates_and_cpc_stays_below_bid(seasonal: Market) -> None:
    """Truth: clicks rise with bid with diminishing returns; CPC < bid; higher QS → more clicks, lower CPC."""
    truth = Truth(seasonal)
    day = dt.date(2026, 3, 10)
    base = truth.keywords(day)
    ids = base["criterion_id"].tolist()
    clicks, cpcs = [], []
    for mult in (0.5, 1.0, 2.0, 4.0, 8.0):
        k = truth.keywords(
            day,
            bids={
                i: int(b * mult) // 10_000 * 10_000
                for i, b in zip(ids, base["bid_micros"], strict=True)
            },
        )
        clicks.append(k["clicks"].sum())
        cpcs.append(k["cost_micros"].sum() / k["clicks"].sum())
        assert (k["cost_micros"] <= k["clicks"] * k["bid_micros"] + 1).all()
    gains = np.diff(clicks)
    print(
        "clicks at 0.5,1,2,4,8× bids:",
        np.round(clicks),
        "avg CPC:",
        np.round(np.array(cpcs) / 1e6, 2),
    )
    assert (gains > 0).all() and gains[-1] < gains[1]  # rising, saturating
    assert np.all(np.diff(cpcs) > 0)
    # quality score: same keyword, QS 4 vs QS 9
    struct = seasonal.struct
    qs = struct.keyword_qs.copy()
    try:
        struct.keyword_qs[:] = 4
        low = truth.keywords(day)
        struct.keyword_qs[:] = 9
        high = truth.keywords(day)
    finally:
        struct.keyword_qs[:] = qs
    assert high["clicks"].sum() > 1.3 * low["clicks"].sum()
    assert (
        high["cost_micros"].sum() / high["clicks"].sum()
        < low["cost_micros"].sum() / low["clicks"].sum()
    )


def test_budget_cap_and_impression_share_lost_to_budget() -> None:
    """A campaign whose budget is below its demand spends about its budget (±15% on average) and
    reports impression share lost to budget; the three shares add up to 1."""
    m = Market.from_scenario("tiny", events=())
    cid = m.customer_ids()[0]
    fields = frozenset(
        {
            "campaign.id",
            "campaign_budget.amount_micros",
            "segments.date",
            "metrics.cost_micros",
            "metrics.search_impression_share",
            "metrics.search_budget_lost_impression_share",
            "metrics.search_rank_lost_impression_share",
        }
    )
    rows = _daily(
        m, cid, dt.date(2026, 9, 1), dt.date(2026, 9, 30), resource="campaign", fields=fields
    )
    capped = [r for r in rows if r["metrics.search_budget_lost_impression_share"] > 0.05]
    assert capped, "tiny has a budget-limited campaign"
    for r in rows:
        total = (
            r["metrics.search_impression_share"]
            + r["metrics.search_budget_lost_impression_share"]
            + r["metrics.search_rank_lost_impression_share"]
        )
        assert total == pytest.approx(1.0, abs=1e-6)
    # the campaign most limited by its budget (budget below its demand on most days)
    lost: dict[int, float] = defaultdict(float)
    for r in rows:
        lost[r["campaign.id"]] += r["metrics.search_budget_lost_impression_share"]
    camp = max(lost, key=lambda c: lost[c])
    spend = [
        r["metrics.cost_micros"] / r["campaign_budget.amount_micros"]
        for r in rows
        if r["campaign.id"] == camp
    ]
    print(
        f"budget-limited campaign spends {np.mean(spend):.2f}× its budget on average (max {max(spend):.2f}×)"
    )
    # Google paces a budget over the month: some days up to twice it, others less, never more
    # than 30.4 budgets in a month (support.google.com/google-ads/answer/2375423); a campaign
    # that is budget-limited only on some days therefore averages a little under one budget
    assert 0.75 <= np.mean(spend) <= 1.05
    assert max(spend) <= 2.0  # Google may overspend a day, never beyond 2×
    assert max(spend) > 1.2  # and it does overspend on some days
    assert sum(spend) <= 30.4


def test_mutations_change_later_days_only_with_common_random_numbers() -> None:
    """Raising one keyword's bid on day T changes that keyword from T on; everything before T, and
    keywords in other campaigns, stay identical (each entity has its own random stream)."""
    a = Market.from_scenario("tiny", events=())
    b = Market.from_scenario("tiny", events=())
    cid = a.customer_ids()[0]
    fields = frozenset(
        {
            "campaign.id",
            "ad_group_criterion.criterion_id",
            "ad_group_criterion.resource_name",
            "segments.date",
            "metrics.clicks",
            "metrics.cost_micros",
        }
    )
    t = dt.date(2026, 8, 1)
    # the resource name is (ad group, criterion): criterion ids repeat across ad groups
    rows = _daily(
        a,
        cid,
        t - dt.timedelta(days=20),
        t + dt.timedelta(days=20),
        resource="keyword_view",
        fields=fields,
    )
    manual = {
        r["campaign.id"]
        for r in a.rows(
            "campaign",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=t,
            fields=frozenset({"campaign.id", "campaign.bidding_strategy_type"}),
        )
        if r["campaign.bidding_strategy_type"] == "MANUAL_CPC"
    }
    target = next(r for r in rows if r["campaign.id"] in manual)
    kw_id = rn = target["ad_group_criterion.resource_name"]
    # a higher bid than the keyword's own (three times it, whatever the vertical's prices)
    bid = next(
        r["ad_group_criterion.effective_cpc_bid_micros"]
        for r in a.rows(
            "ad_group_criterion",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=t,
            fields=frozenset(
                {"ad_group_criterion.resource_name", "ad_group_criterion.effective_cpc_bid_micros"}
            ),
        )
        if r["ad_group_criterion.resource_name"] == rn
    )
    new_bid = 3 * bid // 10_000 * 10_000
    b.apply_mutation(
        cid, Mutation("ad_group_criterion", "update", rn, {"cpc_bid_micros": new_bid}), as_of=t
    )
    after = _daily(
        b,
        cid,
        t - dt.timedelta(days=20),
        t + dt.timedelta(days=20),
        resource="keyword_view",
        fields=fields,
    )
    key = lambda r: (r["ad_group_criterion.resource_name"], r["segments.date"])  # noqa: E731
    before_map, after_map = {key(r): r for r in rows}, {key(r): r for r in after}
    changed_before = [
        k for k in before_map if k[1] < t.isoformat() and before_map[k] != after_map.get(k)
    ]
    assert changed_before == []
    other = [k for k in before_map if before_map[k]["campaign.id"] != target["campaign.id"]]
    assert all(before_map[k] == after_map.get(k) for k in other)
    pre = sum(
        r["metrics.clicks"] for k, r in after_map.items() if k[0] == kw_id and k[1] >= t.isoformat()
    )
    old = sum(
        r["metrics.clicks"]
        for k, r in before_map.items()
        if k[0] == kw_id and k[1] >= t.isoformat()
    )
    print(f"keyword {kw_id}: clicks in the 21 days from T: {old} at {bid}, {pre} at {new_bid}")
    assert pre > old


def test_events_competitor_outage_disapproval_first_page() -> None:
    """tiny.yaml's timeline, seen through the API."""
    m = Market.from_scenario("tiny")
    a0, a1 = m.customer_ids()
    fields = frozenset(
        {
            "campaign.id",
            "segments.date",
            "metrics.clicks",
            "metrics.impressions",
            "metrics.cost_micros",
            "metrics.conversions",
            "metrics.search_impression_share",
        }
    )
    # competitor entry (account 0, campaign 1, CPC ×1.6 from 2026-10-01): IS falls, CPC rises
    camps = [
        r["campaign.id"]
        for r in m.rows(
            "campaign",
            customer_id=a0,
            date_from=None,
            date_to=None,
            as_of=FAR,
            fields=frozenset({"campaign.id"}),
        )
    ]
    rows = [
        r
        for r in _daily(
            m, a0, dt.date(2026, 9, 10), dt.date(2026, 10, 20), resource="campaign", fields=fields
        )
        if r["campaign.id"] == camps[1]
    ]
    pre = [r for r in rows if r["segments.date"] < "2026-10-01"]
    post = [r for r in rows if r["segments.date"] >= "2026-10-01"]
    is_pre, is_post = (
        np.mean([r["metrics.search_impression_share"] for r in pre]),
        np.mean([r["metrics.search_impression_share"] for r in post]),
    )
    cpc_pre = sum(r["metrics.cost_micros"] for r in pre) / sum(r["metrics.clicks"] for r in pre)
    cpc_post = sum(r["metrics.cost_micros"] for r in post) / sum(r["metrics.clicks"] for r in post)
    print(
        f"competitor entry: impression share {is_pre:.2f} → {is_post:.2f}, CPC {cpc_pre / 1e6:.2f} → {cpc_post / 1e6:.2f}"
    )
    assert is_post < 0.8 * is_pre and cpc_post > 1.05 * cpc_pre
    # tracking outage by click date (account 1, 2026-11-10..12): conversions vanish, clicks hold
    days = {
        r["segments.date"]: r
        for r in _daily(m, a1, dt.date(2026, 11, 3), dt.date(2026, 11, 16), fields=fields)
    }
    out = ["2026-11-10", "2026-11-11", "2026-11-12"]
    normal = ["2026-11-03", "2026-11-04", "2026-11-05"]

    def cvr(ds: list[str]) -> float:
        return sum(days[d]["metrics.conversions"] for d in ds) / sum(
            days[d]["metrics.clicks"] for d in ds
        )

    def clicks(ds: list[str]) -> int:
        return sum(days[d]["metrics.clicks"] for d in ds)

    print(
        f"tracking outage: CVR {cvr(normal):.4f} → {cvr(out):.4f}, clicks {clicks(normal)} → {clicks(out)}"
    )
    assert cvr(out) == 0.0 and cvr(normal) > 0 and clicks(out) > 0.6 * clicks(normal)
    truth = Truth(m).matured(a1, dt.date(2026, 11, 10), dt.date(2026, 11, 12))
    assert truth["conversions"].sum() == 0 and truth["conversions_actual"].sum() > 0
    # ad disapproval (account 0, campaign 0, ad group 1 from 2026-11-15): the ad group stops serving
    ag_fields = frozenset({"ad_group.id", "campaign.id", "segments.date", "metrics.impressions"})
    groups = [
        r["ad_group.id"]
        for r in m.rows(
            "ad_group",
            customer_id=a0,
            date_from=None,
            date_to=None,
            as_of=FAR,
            fields=frozenset({"ad_group.id"}),
        )
    ]
    served = {
        r["segments.date"]
        for r in _daily(
            m,
            a0,
            dt.date(2026, 11, 10),
            dt.date(2026, 11, 20),
            resource="ad_group",
            fields=ag_fields,
        )
        if r["ad_group.id"] == groups[1]
    }
    assert max(served) == "2026-11-14"
    # below first-page bid (account 1, keywords 0 and 1, CPC ×4 from 2026-11-20)
    kw_fields = frozenset(
        {
            "ad_group_criterion.criterion_id",
            "ad_group_criterion.effective_cpc_bid_micros",
            "ad_group_criterion.position_estimates.first_page_cpc_micros",
            "ad_group_criterion.system_serving_status",
        }
    )
    kws = list(
        m.rows(
            "ad_group_criterion",
            customer_id=a1,
            date_from=None,
            date_to=None,
            as_of=dt.date(2026, 11, 25),
            fields=kw_fields,
        )
    )
    below = [r for r in kws[:2]]
    assert all(
        r["ad_group_criterion.position_estimates.first_page_cpc_micros"]
        > r["ad_group_criterion.effective_cpc_bid_micros"]
        for r in below
    )
    assert all(r["ad_group_criterion.system_serving_status"] == "RARELY_SERVED" for r in below)


def test_tracking_outage_by_conversion_date_spreads_over_click_days() -> None:
    """A tag outage (mode conversion_date) loses the conversions that happen in the window, so
    earlier click days lose the part of their lag that falls into it: observed losses match the
    lag distribution's prediction (±20%)."""
    sc = load_scenario("tiny")
    window = (dt.date(2026, 7, 10), dt.date(2026, 7, 16))
    outage = replace(
        sc.events[1], start=window[0], end=window[1], account=0, mode="conversion_date"
    )
    m = Market(replace(sc, events=(outage,)))
    cid = m.customer_ids()[0]
    lag = m.struct.account_lag[0]
    matured = Truth(m).matured(cid, dt.date(2026, 6, 1), window[1])
    by_day = matured.groupby("date")[["conversions", "conversions_actual"]].sum()
    expected_lost = 0.0
    for date, row in by_day.iterrows():
        d = dt.date.fromisoformat(str(date)).toordinal()
        p = sum(
            lag.pmf[k]
            for k in range(lag.max_days + 1)
            if window[0].toordinal() <= d + k <= window[1].toordinal()
        )
        expected_lost += row["conversions_actual"] * p
    observed_lost = float((by_day["conversions_actual"] - by_day["conversions"]).sum())
    print(
        f"conversion-date outage: lost {observed_lost:.0f} conversions, lag model predicts {expected_lost:.0f}"
    )
    assert observed_lost == pytest.approx(expected_lost, rel=0.2)
    before_window = by_day.loc[[d for d in by_day.index if str(d) < window[0].isoformat()]]
    assert (
        before_window["conversions_actual"] - before_window["conversions"]
    ).sum() > 0  # earlier clicks hit too


def test_irrelevant_search_terms_are_costly_negative_candidates(seasonal: Market) -> None:
    """Irrelevant search terms (truth) take a real share of spend but convert at a few percent of
    relevant ones: the true negative-keyword candidates."""
    cid = seasonal.customer_ids()[0]
    truth = Truth(seasonal).search_terms(dt.date(2026, 6, 1))
    relevant = dict(
        zip(
            truth["search_term"] + "|" + truth["criterion_id"].astype(str),
            truth["relevant"],
            strict=True,
        )
    )
    fields = frozenset(
        {
            "search_term_view.search_term",
            "segments.keyword.info.text",
            "ad_group.id",
            "segments.date",
            "metrics.cost_micros",
            "metrics.clicks",
            "metrics.conversions",
        }
    )
    rows = _daily(
        seasonal,
        cid,
        dt.date(2026, 5, 1),
        dt.date(2026, 6, 29),
        resource="search_term_view",
        fields=fields,
    )
    texts = {t for t in truth["search_term"]}
    assert {r["search_term_view.search_term"] for r in rows} <= texts
    irr = [r for r in rows if not _is_relevant(r, relevant, seasonal)]
    rel = [r for r in rows if _is_relevant(r, relevant, seasonal)]
    cost_share = sum(r["metrics.cost_micros"] for r in irr) / sum(
        r["metrics.cost_micros"] for r in rows
    )
    cvr_irr = sum(r["metrics.conversions"] for r in irr) / sum(r["metrics.clicks"] for r in irr)
    cvr_rel = sum(r["metrics.conversions"] for r in rel) / sum(r["metrics.clicks"] for r in rel)
    print(
        f"irrelevant search terms: {cost_share:.0%} of spend, CVR {cvr_irr:.4f} vs {cvr_rel:.4f} for relevant"
    )
    assert cost_share > 0.05
    assert cvr_irr < 0.15 * cvr_rel


def _is_relevant(row: dict[str, Any], relevant: dict[str, bool], m: Market) -> bool:
    st = m.struct
    text = row["search_term_view.search_term"]
    kw_text = row["segments.keyword.info.text"]
    ks = [
        k
        for k in np.flatnonzero(st.ad_group_id[st.keyword_ad_group] == row["ad_group.id"]).tolist()
        if st.keyword_text[k] == kw_text
    ]
    return any(relevant.get(f"{text}|{int(st.keyword_id[k])}", True) for k in ks)


def test_oracle_beats_current_settings_and_is_reachable(seasonal: Market) -> None:
    """The oracle's settings, applied as mutations, give the oracle's expected profit (±2%)."""
    m = Market(replace(seasonal.scenario))
    truth = Truth(m)
    day = dt.date(2026, 6, 1)
    oracle = truth.oracle(day)
    assert oracle.expected_profit_optimal > oracle.expected_profit_current
    cid = m.customer_ids()[0]
    crit = {
        (r["ad_group.id"], r["ad_group_criterion.criterion_id"]): r[
            "ad_group_criterion.resource_name"
        ]
        for r in m.rows(
            "ad_group_criterion",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=day,
            fields=frozenset(
                {
                    "ad_group.id",
                    "ad_group_criterion.criterion_id",
                    "ad_group_criterion.resource_name",
                }
            ),
        )
        if not r.get("ad_group_criterion.negative")
    }
    ops = []
    for row in oracle.keyword_bids.itertuples():
        if row.optimal_bid_micros > 0:
            ops.append(
                Mutation(
                    "ad_group_criterion",
                    "update",
                    crit[(row.ad_group_id, row.criterion_id)],
                    {"cpc_bid_micros": int(row.optimal_bid_micros)},
                )
            )
        else:
            ops.append(
                Mutation(
                    "ad_group_criterion",
                    "update",
                    crit[(row.ad_group_id, row.criterion_id)],
                    {"status": "PAUSED"},
                )
            )
    budgets = {
        r["campaign.id"]: r["campaign_budget.resource_name"]
        for r in m.rows(
            "campaign",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=day,
            fields=frozenset({"campaign.id", "campaign_budget.resource_name"}),
        )
    }
    for row in oracle.campaigns.itertuples():
        ops.append(
            Mutation(
                "campaign_budget",
                "update",
                budgets[row.campaign_id],
                {"amount_micros": int(row.optimal_budget_micros)},
            )
        )
    results = m.mutate(cid, ops, as_of=day)
    assert all(isinstance(r, str) for r in results)
    after = Truth(m).oracle(day)
    print(
        f"expected profit/day: current {oracle.expected_profit_current:,.0f}, oracle {oracle.expected_profit_optimal:,.0f}, after applying it {after.expected_profit_current:,.0f}"
    )
    assert after.expected_profit_current == pytest.approx(oracle.expected_profit_optimal, rel=0.02)


def test_scenario_overrides_and_packaged_names() -> None:
    sc = load_scenario("tiny", seed=99)
    assert sc.seed == 99 and sc.name == "tiny"
    from spectra.sandbox.market import packaged_scenarios

    assert {"tiny", "demo", "bench", "large"} <= set(packaged_scenarios())
