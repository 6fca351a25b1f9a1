"""GAQL conformance: each rule Google documents, asked through the real ``google-ads`` client, and
checked against an answer this test computes itself from the market's daily rows.

The expected side never calls the sandbox's engine: it reads ``Market.rows`` per entity and day
(``segments.date`` selected, additive metrics only) and sums, divides, filters and sorts in plain
Python, the way Google's documentation says a report is built
(https://developers.google.com/google-ads/api/docs/query/structure,
https://developers.google.com/google-ads/api/docs/reporting/segmentation,
https://developers.google.com/google-ads/api/docs/reporting/zero-metrics).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.sandbox_gaql.reports import daily, gaql, ratio, refusal, sums


@pytest.fixture(scope="module")
def cid(market: Any) -> int:
    return int(market.customer_ids()[0])


@pytest.fixture(scope="module")
def today(market: Any) -> dt.date:
    """The sandbox's clock in these tests (the session sandbox runs at the reference date)."""
    return market.reference_date


# ----------------------------------------------------------------------------- 1. order of work
def test_ratio_metrics_come_from_summed_components(
    ads_client: Any, market: Any, cid: int, today: dt.date
) -> None:
    fields = (
        "campaign.id",
        "metrics.clicks",
        "metrics.impressions",
        "metrics.cost_micros",
        "metrics.conversions",
        "metrics.ctr",
        "metrics.average_cpc",
        "metrics.cost_per_conversion",
        "metrics.conversions_from_interactions_rate",
        "metrics.value_per_conversion",
        "metrics.average_cpm",
    )
    got = gaql(
        ads_client,
        cid,
        f"SELECT {', '.join(fields)} FROM campaign WHERE segments.date DURING LAST_7_DAYS",
        fields,
    )
    # LAST_7_DAYS: the seven days before today (Google excludes today)
    facts = daily(
        market,
        "campaign",
        cid,
        today - dt.timedelta(days=7),
        today - dt.timedelta(days=1),
        today,
        ["campaign.id"],
    )
    expected = sums(facts, "campaign.id")
    assert {r["campaign.id"] for r in got} == set(expected)
    for row in got:
        e = expected[row["campaign.id"]]
        clicks, imps, cost, conv = (
            e["metrics.clicks"],
            e["metrics.impressions"],
            e["metrics.cost_micros"],
            e["metrics.conversions"],
        )
        assert row["metrics.clicks"] == clicks
        assert row["metrics.impressions"] == imps
        assert row["metrics.ctr"] == pytest.approx(clicks / imps)
        assert row["metrics.average_cpc"] == pytest.approx(cost / clicks)
        assert row["metrics.cost_per_conversion"] == pytest.approx(ratio(cost, conv))
        assert row["metrics.conversions_from_interactions_rate"] == pytest.approx(conv / clicks)
        assert row["metrics.value_per_conversion"] == pytest.approx(
            ratio(e["metrics.conversions_value"], conv)
        )
        assert row["metrics.average_cpm"] == pytest.approx(cost * 1000 / imps)
        # the measured bug: a 7-day ctr that is the sum of seven daily ctrs
        daily_ctr_sum = sum(
            f["metrics.clicks"] / f["metrics.impressions"]
            for f in facts
            if f["campaign.id"] == row["campaign.id"]
        )
        assert row["metrics.ctr"] < daily_ctr_sum / 2


def test_metric_filter_order_and_limit_apply_to_the_aggregated_rows(
    ads_client: Any, market: Any, cid: int, today: dt.date
) -> None:
    first, last = today - dt.timedelta(days=30), today - dt.timedelta(days=1)
    facts = daily(market, "keyword_view", cid, first, last, today, ["keyword_view.resource_name"])
    totals = {k: v["metrics.clicks"] for k, v in sums(facts, "keyword_view.resource_name").items()}
    ranked = sorted(totals.values(), reverse=True)
    # a threshold no single day reaches but several 30-day totals do: filtering days first
    # (the measured bug) would return nothing
    max_day = max(f["metrics.clicks"] for f in facts)
    threshold = max(max_day, ranked[len(ranked) // 2])
    assert any(v > threshold for v in ranked)
    got = gaql(
        ads_client,
        cid,
        "SELECT keyword_view.resource_name, metrics.clicks FROM keyword_view "
        f"WHERE segments.date DURING LAST_30_DAYS AND metrics.clicks > {threshold}",
        ("keyword_view.resource_name", "metrics.clicks"),
    )
    assert {r["keyword_view.resource_name"]: r["metrics.clicks"] for r in got} == {
        k: v for k, v in totals.items() if v > threshold
    }
    top = gaql(
        ads_client,
        cid,
        "SELECT keyword_view.resource_name, metrics.clicks FROM keyword_view "
        "WHERE segments.date DURING LAST_30_DAYS ORDER BY metrics.clicks DESC LIMIT 3",
        ("keyword_view.resource_name", "metrics.clicks"),
    )
    assert [r["metrics.clicks"] for r in top] == ranked[:3]
    assert all(totals[r["keyword_view.resource_name"]] == r["metrics.clicks"] for r in top)


def test_no_date_filter_means_all_time_totals(
    ads_client: Any, market: Any, cid: int, today: dt.date
) -> None:
    got = gaql(
        ads_client,
        cid,
        "SELECT campaign.id, metrics.clicks, metrics.cost_micros FROM campaign",
        ("campaign.id", "metrics.clicks", "metrics.cost_micros"),
    )
    facts = daily(
        market,
        "campaign",
        cid,
        market.history_start,
        today - dt.timedelta(days=1),
        today,
        ["campaign.id"],
    )
    expected = sums(facts, "campaign.id")
    assert {r["campaign.id"]: r["metrics.clicks"] for r in got} == {
        k: v["metrics.clicks"] for k, v in expected.items()
    }
    assert all(r["metrics.clicks"] > 0 for r in got)


def test_unsegmented_report_lists_every_resource_and_segmented_one_omits_zero_rows(
    ads_client: Any, market: Any, cid: int, today: dt.date
) -> None:
    campaigns = {
        r["campaign.id"]
        for r in market.rows(
            "campaign",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=today,
            fields=frozenset({"campaign.id"}),
        )
    }
    before_history = market.history_start - dt.timedelta(days=30)
    window = f"'{before_history}' AND '{before_history + dt.timedelta(days=6)}'"
    got = gaql(
        ads_client,
        cid,
        f"SELECT campaign.id, metrics.clicks FROM campaign WHERE segments.date BETWEEN {window}",
        ("campaign.id", "metrics.clicks"),
    )
    assert {r["campaign.id"]: r["metrics.clicks"] for r in got} == dict.fromkeys(campaigns, 0)
    # segmented by date, a day whose selected metrics are all zero is not a row (the second
    # account: a dental practice's campaigns have days with clicks and no conversion)
    lead_gen = market.customer_ids()[1]
    first, last = today - dt.timedelta(days=14), today - dt.timedelta(days=1)
    facts = daily(market, "campaign", lead_gen, first, last, today, ["campaign.id"])
    got = gaql(
        ads_client,
        lead_gen,
        "SELECT campaign.id, segments.date, metrics.conversions FROM campaign "
        "WHERE segments.date DURING LAST_14_DAYS",
        ("campaign.id", "segments.date", "metrics.conversions"),
    )
    expected = {
        (f["campaign.id"], f["segments.date"]): f["metrics.conversions"]
        for f in facts
        if f["metrics.conversions"]
    }
    assert len(expected) < len(facts)  # some days had clicks but no conversion
    assert {(r["campaign.id"], r["segments.date"]): r["metrics.conversions"] for r in got} == (
        pytest.approx(expected)
    )


# ----------------------------------------------------------------------------- 2. segments split
def _quarter(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1).isoformat()


def _week(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return (d - dt.timedelta(days=d.weekday())).isoformat()


@pytest.mark.parametrize(
    ("segment", "bucket"),
    [
        ("segments.quarter", _quarter),
        ("segments.week", _week),
        ("segments.month", lambda d: d[:8] + "01"),
        ("segments.day_of_week", lambda d: dt.date.fromisoformat(d).strftime("%A").upper()),
        ("segments.ad_network_type", lambda d: "SEARCH"),
    ],
)
def test_segments_split_rows(
    ads_client: Any, market: Any, cid: int, today: dt.date, segment: str, bucket: Any
) -> None:
    first, last = dt.date(2026, 7, 1), dt.date(2026, 10, 31)
    facts = daily(market, "campaign", cid, first, last, today, ["campaign.id"])
    expected: dict[tuple[int, Any], int] = defaultdict(int)
    for f in facts:
        expected[(f["campaign.id"], bucket(f["segments.date"]))] += f["metrics.clicks"]
    got = gaql(
        ads_client,
        cid,
        f"SELECT campaign.id, {segment}, metrics.clicks FROM campaign "
        f"WHERE segments.date BETWEEN '{first}' AND '{last}'",
        ("campaign.id", segment, "metrics.clicks"),
    )
    assert {(r["campaign.id"], r[segment]): r["metrics.clicks"] for r in got} == dict(expected)
    if segment == "segments.quarter":
        assert len({r[segment] for r in got}) == 2  # Q3 and Q4 really split


def test_filter_on_a_coarse_date_segment_pins_its_days(
    ads_client: Any, market: Any, cid: int, today: dt.date
) -> None:
    facts = daily(
        market,
        "campaign",
        cid,
        dt.date(2026, 10, 1),
        dt.date(2026, 10, 31),
        today,
        ["campaign.id"],
    )
    expected = {k: v["metrics.clicks"] for k, v in sums(facts, "campaign.id").items()}
    got = gaql(
        ads_client,
        cid,
        "SELECT campaign.id, segments.month, metrics.clicks FROM campaign "
        "WHERE segments.month = '2026-10-01'",
        ("campaign.id", "segments.month", "metrics.clicks"),
    )
    assert {r["campaign.id"]: r["metrics.clicks"] for r in got} == expected
    assert {r["segments.month"] for r in got} == {"2026-10-01"}


def test_conversion_lag_bucket_sums_conversions_per_bucket(
    ads_client: Any, market: Any, cid: int, today: dt.date
) -> None:
    first, last = today - dt.timedelta(days=60), today - dt.timedelta(days=31)
    facts = list(
        market.rows(
            "campaign",
            customer_id=cid,
            date_from=first,
            date_to=last,
            as_of=today,
            fields=frozenset(
                {
                    "campaign.id",
                    "segments.date",
                    "segments.conversion_lag_bucket",
                    "metrics.conversions",
                }
            ),
        )
    )
    expected: dict[tuple[int, str], float] = defaultdict(float)
    for f in facts:
        expected[(f["campaign.id"], f["segments.conversion_lag_bucket"])] += f[
            "metrics.conversions"
        ]
    got = gaql(
        ads_client,
        cid,
        "SELECT campaign.id, segments.conversion_lag_bucket, metrics.conversions FROM campaign "
        f"WHERE segments.date BETWEEN '{first}' AND '{last}'",
        ("campaign.id", "segments.conversion_lag_bucket", "metrics.conversions"),
    )
    assert {
        (r["campaign.id"], r["segments.conversion_lag_bucket"]): r["metrics.conversions"]
        for r in got
    } == pytest.approx(dict(expected))


# ----------------------------------------------------------------------------- 2. metrics
def test_impression_shares_are_weighted_by_eligible_impressions(
    ads_client: Any, market: Any, cid: int, today: dt.date
) -> None:
    share_fields = (
        "metrics.search_impression_share",
        "metrics.search_budget_lost_impression_share",
        "metrics.search_rank_lost_impression_share",
    )
    first, last = today - dt.timedelta(days=30), today - dt.timedelta(days=1)
    facts = daily(
        market,
        "campaign",
        cid,
        first,
        last,
        today,
        ["campaign.id"],
        ("metrics.impressions", *share_fields),
    )
    got = gaql(
        ads_client,
        cid,
        f"SELECT campaign.id, {', '.join(share_fields)} FROM campaign "
        "WHERE segments.date DURING LAST_30_DAYS",
        ("campaign.id", *share_fields),
    )
    for row in got:
        days = [f for f in facts if f["campaign.id"] == row["campaign.id"]]
        # eligible impressions of a day = impressions / impression share
        eligible = [d["metrics.impressions"] / d["metrics.search_impression_share"] for d in days]
        for name in share_fields:
            want = sum(e * d[name] for e, d in zip(eligible, days, strict=True)) / sum(eligible)
            assert row[name] == pytest.approx(_reported_share(name, want))


def _reported_share(name: str, share: float) -> float:
    """Google's reporting buckets (developers.google.com/google-ads/api/fields/latest/metrics):
    search impression share in [0.1, 1], under 0.1 reported as 0.0999; lost shares in [0, 0.9],
    over 0.9 reported as 0.9001."""
    if name == "metrics.search_impression_share":
        return 0.0999 if 0 < share < 0.1 else share
    return 0.9001 if share > 0.9 else share


def test_impression_shares_are_reported_in_googles_buckets(
    ads_client: Any, market: Any, cid: int, today: dt.date
) -> None:
    """Daily keyword shares: every search impression share under 0.1 comes back as 0.0999,
    every lost share over 0.9 as 0.9001, the rest as the market's own value; the market has
    keyword-days on both sides of each threshold."""
    first, last = today - dt.timedelta(days=30), today - dt.timedelta(days=1)
    names = (
        "metrics.search_impression_share",
        "metrics.search_rank_lost_impression_share",
    )
    facts = daily(
        market,
        "keyword_view",
        cid,
        first,
        last,
        today,
        ["keyword_view.resource_name"],
        ("metrics.impressions", *names),
    )
    want = {(f["keyword_view.resource_name"], f["segments.date"]): f for f in facts}
    sis = [f["metrics.search_impression_share"] for f in facts]
    lost = [f["metrics.search_rank_lost_impression_share"] for f in facts]
    assert min(sis) < 0.1 < max(sis)
    assert min(lost) < 0.9 < max(lost)
    got = gaql(
        ads_client,
        cid,
        f"SELECT keyword_view.resource_name, segments.date, {', '.join(names)} "
        "FROM keyword_view WHERE segments.date DURING LAST_30_DAYS",
        ("keyword_view.resource_name", "segments.date", *names),
    )
    assert len(got) == len(want)
    for row in got:
        fact = want[(row["keyword_view.resource_name"], row["segments.date"])]
        for name in names:
            assert row[name] == pytest.approx(_reported_share(name, fact[name]))
    reported = [r["metrics.search_impression_share"] for r in got]
    assert min(reported) == pytest.approx(0.0999)
    assert max(r["metrics.search_rank_lost_impression_share"] for r in got) == pytest.approx(0.9001)


def test_historical_quality_score_is_the_keywords_quality_score(
    ads_client: Any, market: Any, cid: int, today: dt.date
) -> None:
    qs = {
        (r["ad_group.id"], r["ad_group_criterion.criterion_id"]): r[
            "ad_group_criterion.quality_info.quality_score"
        ]
        for r in market.rows(
            "ad_group_criterion",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=today,
            fields=frozenset(
                {
                    "ad_group.id",
                    "ad_group_criterion.criterion_id",
                    "ad_group_criterion.quality_info.quality_score",
                }
            ),
        )
    }
    fields = (
        "ad_group.id",
        "ad_group_criterion.criterion_id",
        "metrics.impressions",
        "metrics.historical_quality_score",
    )
    got = gaql(
        ads_client,
        cid,
        f"SELECT {', '.join(fields)} FROM keyword_view WHERE segments.date DURING LAST_7_DAYS",
        fields,
    )
    shown = [r for r in got if r["metrics.impressions"]]
    assert shown
    for row in shown:
        key = (row["ad_group.id"], row["ad_group_criterion.criterion_id"])
        assert row["metrics.historical_quality_score"] == qs[key]
    # a keyword that did not serve has no history to score: the field is absent, not 0
    assert all(
        r["metrics.historical_quality_score"] is None for r in got if not r["metrics.impressions"]
    )


# ----------------------------------------------------------------------------- 2. operators
def test_regexp_match_and_contains_any(
    ads_client: Any, market: Any, cid: int, today: dt.date
) -> None:
    ads = list(
        market.rows(
            "ad_group_ad",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=today,
            fields=frozenset(
                {"ad_group_ad.resource_name", "ad_group_ad.ad.final_urls", "campaign.name"}
            ),
        )
    )
    url = ads[0]["ad_group_ad.ad.final_urls"][0]
    got = gaql(
        ads_client,
        cid,
        f"SELECT ad_group_ad.resource_name FROM ad_group_ad "
        f"WHERE ad_group_ad.ad.final_urls CONTAINS ANY ('{url}', 'https://nowhere.example/')",
        ("ad_group_ad.resource_name",),
    )
    want = {a["ad_group_ad.resource_name"] for a in ads if url in a["ad_group_ad.ad.final_urls"]}
    assert {r["ad_group_ad.resource_name"] for r in got} == want
    none = gaql(
        ads_client,
        cid,
        f"SELECT ad_group_ad.resource_name FROM ad_group_ad "
        f"WHERE ad_group_ad.ad.final_urls CONTAINS NONE ('{url}')",
        ("ad_group_ad.resource_name",),
    )
    assert {r["ad_group_ad.resource_name"] for r in none} == {
        a["ad_group_ad.resource_name"] for a in ads
    } - want
    word = ads[0]["campaign.name"].split()[-1]
    pattern = f".*{re.escape(word)}$"
    got = gaql(
        ads_client,
        cid,
        f"SELECT campaign.name FROM campaign WHERE campaign.name REGEXP_MATCH '{pattern}'",
        ("campaign.name",),
    )
    names = {
        r["campaign.name"]
        for r in market.rows(
            "campaign",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=today,
            fields=frozenset({"campaign.name"}),
        )
    }
    assert {r["campaign.name"] for r in got} == {n for n in names if re.fullmatch(pattern, n)}
    assert got
    unmatched = gaql(
        ads_client,
        cid,
        f"SELECT campaign.name FROM campaign WHERE campaign.name NOT REGEXP_MATCH '{pattern}'",
        ("campaign.name",),
    )
    assert {r["campaign.name"] for r in unmatched} == {
        n for n in names if not re.fullmatch(pattern, n)
    }


# ----------------------------------------------------------------------------- 2. refusals
@pytest.mark.parametrize(
    ("query", "code"),
    [
        (
            "SELECT campaign.id, segments.device, metrics.clicks FROM campaign",
            "query_error.PROHIBITED_SEGMENT_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        (
            "SELECT campaign.id, segments.hour, metrics.clicks FROM campaign "
            "WHERE segments.date DURING YESTERDAY",
            "query_error.PROHIBITED_SEGMENT_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        (
            "SELECT campaign.id, metrics.top_impression_percentage FROM campaign",
            "query_error.PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        (
            "SELECT campaign.id, metrics.historical_quality_score FROM campaign",
            "query_error.PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        (
            "SELECT ad_group_criterion.criterion_id, metrics.clicks FROM ad_group_criterion",
            "query_error.PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.status = 'ENABLD'",
            "query_error.BAD_ENUM_CONSTANT",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.status IN ('ENABLED', 'LIVE')",
            "query_error.BAD_ENUM_CONSTANT",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.status = 'UNSPECIFIED'",
            "query_error.PROHIBITED_ENUM_CONSTANT",
        ),
        (
            "SELECT campaign.id, segments.conversion_lag_bucket, metrics.clicks FROM campaign "
            "WHERE segments.date DURING LAST_30_DAYS",
            "query_error.PROHIBITED_SEGMENT_WITH_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        (
            "SELECT campaign.id, segments.conversion_lag_bucket, metrics.conversions FROM "
            "campaign WHERE segments.date DURING LAST_30_DAYS AND metrics.impressions > 0",
            "query_error.PROHIBITED_SEGMENT_WITH_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        (
            "SELECT campaign.id, segments.week, metrics.clicks FROM campaign",
            "query_error.EXPECTED_FILTERS_ON_DATE_RANGE",
        ),
        (
            "SELECT campaign.id, segments.week, metrics.clicks FROM campaign "
            "WHERE segments.week = '2026-11-04'",
            "query_error.MISALIGNED_DATE_FOR_FILTER",
        ),
        (
            "SELECT campaign.id, segments.month, metrics.clicks FROM campaign "
            "WHERE segments.month = '2026-11-15'",
            "query_error.MISALIGNED_DATE_FOR_FILTER",
        ),
        (
            "SELECT campaign.id, metrics.clicks FROM campaign "
            "WHERE segments.date BETWEEN '2026-11-10' AND '2026-11-01'",
            "query_error.DATE_RANGE_TOO_NARROW",
        ),
        (
            "SELECT campaign.id, ad_group.id FROM campaign",
            "query_error.PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.name REGEXP_MATCH '(unclosed'",
            "query_error.BAD_VALUE",
        ),
        (
            "SELECT ad_group_ad.ad.id, metrics.search_impression_share FROM ad_group_ad "
            "WHERE segments.date DURING LAST_7_DAYS",
            "query_error.PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        (
            "SELECT search_term_view.search_term, metrics.search_impression_share "
            "FROM search_term_view WHERE segments.date DURING LAST_7_DAYS",
            "query_error.PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        (
            "SELECT ad_group_ad.ad.id FROM ad_group_ad ORDER BY ad_group_ad.ad.final_urls",
            "query_error.PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE",
        ),
        (
            "SELECT campaign.id FROM campaign PARAMETERS include_removed = true",
            "query_error.BAD_PARAMETER_NAME",
        ),
        (
            "SELECT campaign.id FROM campaign PARAMETERS include_drafts = maybe",
            "query_error.BAD_PARAMETER_VALUE",
        ),
    ],
)
def test_what_the_sandbox_does_not_serve_is_refused_as_google_refuses(
    ads_client: Any, cid: int, query: str, code: str
) -> None:
    assert refusal(ads_client, cid, query) == code


# ----------------------------------------------------------------------------- 4. change_event
# developers.google.com/google-ads/api/docs/change-event: a finite change_date_time range that
# starts within the last 30 days, and a LIMIT of at most 10,000; ChangeEventError otherwise.
_CE = "SELECT change_event.resource_name, change_event.change_date_time FROM change_event"
_T = "change_event.change_date_time"


def _ce_query(today: dt.date, start: int | None, end: int | None, limit: str) -> str:
    """A change_event query over [today - start, today - end] (None: no bound that side)."""
    where = []
    if start is not None:
        where.append(f"{_T} >= '{today - dt.timedelta(days=start)}'")
    if end is not None:
        where.append(f"{_T} <= '{today - dt.timedelta(days=end)} 23:59:59'")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"{_CE}{clause}{limit}"


@pytest.mark.parametrize(
    ("start", "end", "limit", "code"),
    [
        (7, 0, "", "change_event_error.LIMIT_NOT_SPECIFIED"),
        (7, 0, " LIMIT 10001", "change_event_error.INVALID_LIMIT_CLAUSE"),
        (7, None, " LIMIT 100", "change_event_error.CHANGE_DATE_RANGE_INFINITE"),
        (None, 0, " LIMIT 100", "change_event_error.CHANGE_DATE_RANGE_INFINITE"),
        (None, None, " LIMIT 100", "change_event_error.CHANGE_DATE_RANGE_INFINITE"),
        (2, 5, " LIMIT 100", "change_event_error.CHANGE_DATE_RANGE_NEGATIVE"),
        (31, 0, " LIMIT 100", "change_event_error.START_DATE_TOO_OLD"),
    ],
)
def test_change_event_queries_outside_googles_rules_are_refused(
    ads_client: Any,
    cid: int,
    today: dt.date,
    start: int | None,
    end: int | None,
    limit: str,
    code: str,
) -> None:
    assert refusal(ads_client, cid, _ce_query(today, start, end, limit)) == code


@pytest.fixture(scope="module")
def changed() -> Iterator[tuple[Any, Any, int, int]]:
    """A market of its own with a budget change per budget made today (the session market has
    no change history, and these tests must not change its state): (market, client, customer,
    the number of changes)."""
    from support.sandbox_campaigns import sandbox_creds

    from spectra.ads.client import build_client
    from spectra.sandbox.market import Market, Mutation
    from spectra.sandbox.server import SandboxServer

    market = Market.from_scenario("tiny")
    cid = int(market.customer_ids()[0])
    budgets = [
        r["campaign_budget.resource_name"]
        for r in market.rows(
            "campaign_budget",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=market.reference_date,
            fields=frozenset({"campaign_budget.resource_name"}),
        )
    ][:3]
    for i, rn in enumerate(budgets):
        market.mutate(
            cid,
            [Mutation("campaign_budget", "update", rn, {"amount_micros": (50 + i) * 1_000_000})],
            as_of=market.reference_date,
        )
    with SandboxServer(market, clock=market.reference_date) as server:
        yield market, build_client(sandbox_creds(server)), cid, len(budgets)


def test_change_event_within_the_rules_answers_the_history_in_range(
    changed: tuple[Any, Any, int, int],
) -> None:
    """30 days back and LIMIT 10000 (the edge of both rules) is answered: every change the
    market recorded in the range; LIMIT 1 cuts it to one row; a range ending yesterday has
    none of today's changes."""
    market, client, cid, n_changes = changed
    today = market.reference_date
    fields = ("change_event.resource_name", "change_event.change_date_time")
    history = list(
        market.rows(
            "change_event",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=today,
            fields=frozenset(fields),
        )
    )
    assert len(history) == n_changes >= 2
    got = gaql(client, cid, _ce_query(today, 30, 0, " LIMIT 10000"), fields)
    assert sorted(r["change_event.resource_name"] for r in got) == sorted(
        r["change_event.resource_name"] for r in history
    )
    assert len(gaql(client, cid, _ce_query(today, 30, 0, " LIMIT 1"), fields)) == 1
    assert gaql(client, cid, _ce_query(today, 30, 1, " LIMIT 10000"), fields) == []
