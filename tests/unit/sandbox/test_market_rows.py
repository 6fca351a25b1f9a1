"""The market's row interface: shapes, types, determinism, consistency and the clock."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from spectra.sandbox.market import Market

AS_OF = dt.date(2026, 12, 1)
KEYWORD_FIELDS = frozenset(
    {
        "campaign.id",
        "ad_group.id",
        "ad_group_criterion.criterion_id",
        "ad_group_criterion.keyword.text",
        "ad_group_criterion.keyword.match_type",
        "ad_group_criterion.quality_info.quality_score",
        "ad_group_criterion.quality_info.search_predicted_ctr",
        "metrics.impressions",
        "metrics.clicks",
        "metrics.cost_micros",
        "metrics.conversions",
        "metrics.conversions_value",
        "segments.date",
        "segments.day_of_week",
    }
)


def _rows(
    m: Market,
    resource: str,
    fields: set[str],
    days: int = 7,
    as_of: dt.date = AS_OF,
    cid: int | None = None,
) -> list[dict]:
    return list(
        m.rows(
            resource,
            customer_id=cid or m.customer_ids()[0],
            date_from=as_of - dt.timedelta(days=days),
            date_to=as_of - dt.timedelta(days=1),
            as_of=as_of,
            fields=frozenset(fields),
        )
    )


def test_customer_ids_are_ten_digits(tiny: Market) -> None:
    ids = tiny.customer_ids()
    assert len(ids) == 2
    assert all(1_000_000_000 <= c <= 9_999_999_999 for c in ids)


def test_attribute_rows_one_per_entity(tiny: Market) -> None:
    cid = tiny.customer_ids()[0]
    fields = frozenset(
        {
            "campaign.id",
            "campaign.name",
            "campaign.status",
            "campaign.advertising_channel_type",
            "campaign.bidding_strategy_type",
            "campaign.resource_name",
            "campaign_budget.id",
            "campaign_budget.amount_micros",
            "campaign.target_cpa.target_cpa_micros",
        }
    )
    rows = list(
        tiny.rows(
            "campaign", customer_id=cid, date_from=None, date_to=None, as_of=AS_OF, fields=fields
        )
    )
    assert len(rows) == 2
    for row in rows:
        assert fields <= row.keys()
        assert row["campaign.status"] == "ENABLED"
        assert row["campaign.advertising_channel_type"] == "SEARCH"
        assert row["campaign.bidding_strategy_type"] in {"MANUAL_CPC", "TARGET_CPA"}
        assert row["campaign.resource_name"] == f"customers/{cid}/campaigns/{row['campaign.id']}"
        assert (
            isinstance(row["campaign_budget.amount_micros"], int)
            and row["campaign_budget.amount_micros"] % 10_000 == 0
        )


def test_keyword_rows_types(tiny: Market) -> None:
    rows = _rows(tiny, "keyword_view", set(KEYWORD_FIELDS))
    assert rows
    for row in rows:
        assert KEYWORD_FIELDS <= row.keys()
        assert row["metrics.impressions"] > 0
        assert isinstance(row["metrics.cost_micros"], int)
        assert isinstance(row["metrics.conversions"], float)
        assert row["ad_group_criterion.keyword.match_type"] in {"EXACT", "PHRASE", "BROAD"}
        assert row["ad_group_criterion.quality_info.search_predicted_ctr"] in {
            "BELOW_AVERAGE",
            "AVERAGE",
            "ABOVE_AVERAGE",
        }
        assert 1 <= row["ad_group_criterion.quality_info.quality_score"] <= 10
        assert row["metrics.clicks"] <= row["metrics.impressions"]
        assert (
            dt.date.fromisoformat(row["segments.date"]).strftime("%A").upper()
            == row["segments.day_of_week"]
        )


def test_ad_rows_carry_rsa_text_and_policy(tiny: Market) -> None:
    cid = tiny.customer_ids()[0]
    rows = list(
        tiny.rows(
            "ad_group_ad",
            customer_id=cid,
            date_from=None,
            date_to=None,
            as_of=AS_OF,
            fields=frozenset(
                {
                    "ad_group_ad.ad.id",
                    "ad_group_ad.ad.type",
                    "ad_group_ad.status",
                    "ad_group_ad.policy_summary.approval_status",
                    "ad_group_ad.policy_summary.review_status",
                    "ad_group_ad.ad.responsive_search_ad.headlines",
                    "ad_group_ad.ad.responsive_search_ad.descriptions",
                    "ad_group.id",
                    "campaign.id",
                }
            ),
        )
    )
    assert len(rows) == 2 * 2 * 2
    for row in rows:
        assert row["ad_group_ad.ad.type"] == "RESPONSIVE_SEARCH_AD"
        heads = row["ad_group_ad.ad.responsive_search_ad.headlines"]
        assert 3 <= len(heads) <= 15 and all(len(h["text"]) <= 30 for h in heads)
        assert all(
            len(d["text"]) <= 90 for d in row["ad_group_ad.ad.responsive_search_ad.descriptions"]
        )
    # tiny.yaml disapproves the ads of account 0 / campaign 0 / ad group 1 from 2026-11-15
    assert sum(r["ad_group_ad.policy_summary.approval_status"] == "DISAPPROVED" for r in rows) == 2


def test_deterministic_and_order_independent() -> None:
    a = Market.from_scenario("tiny")
    b = Market.from_scenario("tiny")
    cid = a.customer_ids()[0]
    # b computes days in a different order first
    _rows(b, "keyword_view", set(KEYWORD_FIELDS), days=3, as_of=AS_OF - dt.timedelta(days=40))
    assert _rows(a, "keyword_view", set(KEYWORD_FIELDS)) == _rows(
        b, "keyword_view", set(KEYWORD_FIELDS)
    )
    other = Market.from_scenario("tiny", seed=8)
    assert other.customer_ids() != a.customer_ids() or _rows(
        other, "keyword_view", set(KEYWORD_FIELDS), cid=other.customer_ids()[0]
    ) != _rows(a, "keyword_view", set(KEYWORD_FIELDS), cid=cid)


def test_campaign_day_is_sum_of_keywords(tiny: Market) -> None:
    metrics = [
        "metrics.impressions",
        "metrics.clicks",
        "metrics.cost_micros",
        "metrics.conversions",
    ]
    for cid in tiny.customer_ids():
        kw = _rows(
            tiny, "keyword_view", {"campaign.id", "segments.date", *metrics}, days=30, cid=cid
        )
        camp = _rows(tiny, "campaign", {"campaign.id", "segments.date", *metrics}, days=30, cid=cid)
        sums: dict[tuple, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
        for r in kw:
            acc = sums[(r["campaign.id"], r["segments.date"])]
            for i, m in enumerate(metrics):
                acc[i] += r[m]
        assert len(camp) == len(sums)
        for r in camp:
            assert [r[m] for m in metrics] == pytest.approx(
                sums[(r["campaign.id"], r["segments.date"])]
            )
        ad = _rows(
            tiny, "ad_group_ad", {"campaign.id", "segments.date", *metrics}, days=30, cid=cid
        )
        ad_sum: dict[tuple, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
        for r in ad:
            acc = ad_sum[(r["campaign.id"], r["segments.date"])]
            for i, m in enumerate(metrics):
                acc[i] += r[m]
        for r in camp:
            assert [r[m] for m in metrics] == pytest.approx(
                ad_sum[(r["campaign.id"], r["segments.date"])]
            )


def test_future_days_do_not_exist(tiny: Market) -> None:
    rows = list(
        tiny.rows(
            "campaign",
            customer_id=tiny.customer_ids()[0],
            date_from=AS_OF - dt.timedelta(days=3),
            date_to=AS_OF + dt.timedelta(days=10),
            as_of=AS_OF,
            fields=frozenset({"segments.date", "metrics.clicks"}),
        )
    )
    assert (
        rows and max(r["segments.date"] for r in rows) == (AS_OF - dt.timedelta(days=1)).isoformat()
    )
    before = list(
        tiny.rows(
            "campaign",
            customer_id=tiny.customer_ids()[0],
            date_from=dt.date(2020, 1, 1),
            date_to=dt.date(2020, 1, 5),
            as_of=AS_OF,
            fields=frozenset({"metrics.clicks"}),
        )
    )
    assert before == []


def test_past_is_restated_as_clock_moves(tiny: Market) -> None:
    cid = tiny.customer_ids()[0]
    day = dt.date(2026, 11, 2)
    fields = frozenset(
        {"campaign.id", "metrics.clicks", "metrics.conversions", "metrics.cost_micros"}
    )

    def snapshot(as_of: dt.date) -> dict[int, tuple]:
        rows = tiny.rows(
            "campaign", customer_id=cid, date_from=day, date_to=day, as_of=as_of, fields=fields
        )
        return {
            r["campaign.id"]: (
                r["metrics.clicks"],
                r["metrics.cost_micros"],
                r["metrics.conversions"],
            )
            for r in rows
        }

    early, later = snapshot(day + dt.timedelta(days=1)), snapshot(day + dt.timedelta(days=30))
    assert early.keys() == later.keys()
    for cid_ in early:
        assert early[cid_][:2] == later[cid_][:2]  # clicks and cost are final at once
        assert early[cid_][2] <= later[cid_][2]  # conversions only grow
    assert sum(v[2] for v in later.values()) > sum(v[2] for v in early.values())


def test_unknown_resource_is_key_error(tiny: Market) -> None:
    with pytest.raises(KeyError):
        list(
            tiny.rows(
                "shopping_performance_view",
                customer_id=tiny.customer_ids()[0],
                date_from=None,
                date_to=None,
                as_of=AS_OF,
                fields=frozenset(),
            )
        )
