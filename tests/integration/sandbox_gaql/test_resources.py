"""The resources an MCC client and a Smart Bidding client read, through the real client, checked
against the market's own customer rows and daily facts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spectra.sandbox.resources import MANAGER_CUSTOMER_ID
from tests.integration.sandbox_gaql.reports import daily, gaql, refusal


@pytest.fixture(scope="module")
def today(market: Any) -> dt.date:
    return market.reference_date


def _profiles(market: Any, today: dt.date) -> dict[int, dict[str, Any]]:
    fields = frozenset(
        {"customer.id", "customer.descriptive_name", "customer.currency_code", "customer.time_zone"}
    )
    out = {}
    for cid in market.customer_ids():
        (row,) = market.rows(
            "customer", customer_id=cid, date_from=None, date_to=None, as_of=today, fields=fields
        )
        out[int(cid)] = row
    return out


CLIENT_FIELDS = (
    "customer_client.id",
    "customer_client.level",
    "customer_client.manager",
    "customer_client.descriptive_name",
    "customer_client.currency_code",
    "customer_client.time_zone",
    "customer_client.client_customer",
)


def test_manager_discovers_every_client_account(
    ads_client: Any, market: Any, today: dt.date
) -> None:
    got = gaql(
        ads_client,
        MANAGER_CUSTOMER_ID,
        f"SELECT {', '.join(CLIENT_FIELDS)} FROM customer_client",
        CLIENT_FIELDS,
    )
    manager = [r for r in got if r["customer_client.level"] == 0]
    assert [(r["customer_client.id"], r["customer_client.manager"]) for r in manager] == [
        (MANAGER_CUSTOMER_ID, True)
    ]
    clients = {r["customer_client.id"]: r for r in got if r["customer_client.level"] == 1}
    profiles = _profiles(market, today)
    assert set(clients) == set(profiles)
    for cid, row in clients.items():
        assert row["customer_client.client_customer"] == f"customers/{cid}"
        assert row["customer_client.manager"] is False
        assert row["customer_client.descriptive_name"] == profiles[cid]["customer.descriptive_name"]
        assert row["customer_client.currency_code"] == profiles[cid]["customer.currency_code"]
        assert row["customer_client.time_zone"] == profiles[cid]["customer.time_zone"]
    direct = gaql(
        ads_client,
        MANAGER_CUSTOMER_ID,
        "SELECT customer_client.id FROM customer_client WHERE customer_client.level = 1 "
        "AND customer_client.manager = FALSE",
        ("customer_client.id",),
    )
    assert {r["customer_client.id"] for r in direct} == set(profiles)


def test_a_client_account_sees_only_itself(ads_client: Any, market: Any) -> None:
    cid = int(market.customer_ids()[0])
    got = gaql(
        ads_client, cid, f"SELECT {', '.join(CLIENT_FIELDS)} FROM customer_client", CLIENT_FIELDS
    )
    assert [(r["customer_client.id"], r["customer_client.level"]) for r in got] == [(cid, 0)]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT customer.id, metrics.clicks FROM customer WHERE segments.date DURING LAST_7_DAYS",
        "SELECT customer_client.id, metrics.impressions FROM customer_client",
    ],
)
def test_a_manager_has_no_metrics(ads_client: Any, query: str) -> None:
    assert refusal(ads_client, MANAGER_CUSTOMER_ID, query).startswith("query_error.")
    if "customer_client" not in query:
        assert refusal(ads_client, MANAGER_CUSTOMER_ID, query) == (
            "query_error.REQUESTED_METRICS_FOR_MANAGER"
        )


def test_a_manager_owns_no_campaigns(ads_client: Any) -> None:
    assert gaql(ads_client, MANAGER_CUSTOMER_ID, "SELECT campaign.id FROM campaign", ()) == []


def test_conversions_split_by_the_accounts_conversion_action(
    ads_client: Any, market: Any, today: dt.date
) -> None:
    cid = int(market.customer_ids()[0])
    fields = (
        "conversion_action.resource_name",
        "conversion_action.name",
        "conversion_action.status",
        "conversion_action.include_in_conversions_metric",
        "conversion_action.click_through_lookback_window_days",
    )
    (action,) = gaql(ads_client, cid, f"SELECT {', '.join(fields)} FROM conversion_action", fields)
    assert action["conversion_action.status"] == "ENABLED"
    assert action["conversion_action.include_in_conversions_metric"] is True
    first, last = today - dt.timedelta(days=14), today - dt.timedelta(days=1)
    facts = daily(market, "campaign", cid, first, last, today, ["campaign.id"])
    expected: dict[int, float] = {}
    for f in facts:
        expected[f["campaign.id"]] = expected.get(f["campaign.id"], 0) + f["metrics.conversions"]
    seg = (
        "campaign.id",
        "segments.conversion_action",
        "segments.conversion_action_name",
        "metrics.conversions",
    )
    got = gaql(
        ads_client,
        cid,
        f"SELECT {', '.join(seg)} FROM campaign WHERE segments.date DURING LAST_14_DAYS",
        seg,
    )
    assert {r["segments.conversion_action"] for r in got} == {
        action["conversion_action.resource_name"]
    }
    assert {r["segments.conversion_action_name"] for r in got} == {action["conversion_action.name"]}
    assert {r["campaign.id"]: r["metrics.conversions"] for r in got} == pytest.approx(
        {k: v for k, v in expected.items() if v}
    )


def test_no_portfolio_bidding_strategies_while_campaigns_bid_standard(
    ads_client: Any, market: Any
) -> None:
    cid = int(market.customer_ids()[0])
    got = gaql(
        ads_client,
        cid,
        "SELECT bidding_strategy.id, bidding_strategy.type FROM bidding_strategy",
        ("bidding_strategy.id",),
    )
    assert got == []
    types = gaql(
        ads_client,
        cid,
        "SELECT campaign.bidding_strategy_type FROM campaign",
        ("campaign.bidding_strategy_type",),
    )
    assert types and all(t["campaign.bidding_strategy_type"] != "UNSPECIFIED" for t in types)


def test_geographic_view_puts_the_accounts_traffic_in_its_country(
    ads_client: Any, market: Any, today: dt.date
) -> None:
    cid = int(market.customer_ids()[0])
    assert _profiles(market, today)[cid]["customer.time_zone"] == "America/New_York"
    first, last = today - dt.timedelta(days=7), today - dt.timedelta(days=1)
    facts = daily(market, "campaign", cid, first, last, today, ["campaign.id"])
    fields = (
        "geographic_view.country_criterion_id",
        "geographic_view.location_type",
        "metrics.clicks",
        "metrics.cost_micros",
    )
    got = gaql(
        ads_client,
        cid,
        f"SELECT {', '.join(fields)} FROM geographic_view WHERE segments.date DURING LAST_7_DAYS",
        fields,
    )
    assert [
        (r["geographic_view.country_criterion_id"], r["geographic_view.location_type"]) for r in got
    ] == [(2840, "LOCATION_OF_PRESENCE")]  # geo target constant of the United States
    assert got[0]["metrics.clicks"] == sum(f["metrics.clicks"] for f in facts)
    assert got[0]["metrics.cost_micros"] == sum(f["metrics.cost_micros"] for f in facts)
    per_campaign = gaql(
        ads_client,
        cid,
        "SELECT campaign.id, geographic_view.country_criterion_id, metrics.clicks "
        "FROM geographic_view WHERE segments.date DURING LAST_7_DAYS",
        ("campaign.id", "metrics.clicks"),
    )
    want: dict[int, int] = {}
    for f in facts:
        want[f["campaign.id"]] = want.get(f["campaign.id"], 0) + f["metrics.clicks"]
    assert {r["campaign.id"]: r["metrics.clicks"] for r in per_campaign} == want
