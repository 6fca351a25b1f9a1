"""The sandbox's GAQL parser and engine: what it accepts, what Google-shaped errors it raises."""

from __future__ import annotations

import datetime as dt

import pytest

from spectra.sandbox import gaql
from spectra.sandbox.errors import AdsFault

AS_OF = dt.date(2026, 11, 25)


def codes(fault: AdsFault) -> list[str]:
    return [f"{d.category}.{d.code}" for d in fault.details]


def test_parse_full_query() -> None:
    q = gaql.parse(
        "SELECT campaign.id, metrics.clicks, segments.date FROM campaign "
        "WHERE segments.date BETWEEN '2026-11-01' AND '2026-11-07' AND campaign.status = 'ENABLED' "
        "AND metrics.clicks > 3 ORDER BY metrics.clicks DESC, campaign.id LIMIT 5"
    )
    assert q.resource == "campaign"
    assert q.fields == ("campaign.id", "metrics.clicks", "segments.date")
    assert q.date_range(AS_OF) == (dt.date(2026, 11, 1), dt.date(2026, 11, 7))
    assert q.order_by == (("metrics.clicks", True), ("campaign.id", False))
    assert q.limit == 5


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT campaign.nope FROM campaign", "query_error.UNRECOGNIZED_FIELD"),
        ("SELECT campaign.id FROM nothing_here", "query_error.BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
        (
            "SELECT campaign.id FROM campaign_draft",
            "query_error.PROHIBITED_RESOURCE_TYPE_IN_FROM_CLAUSE",
        ),
        ("campaign.id FROM campaign", "query_error.EXPECTED_SELECT"),
        ("SELECT campaign.id campaign", "query_error.EXPECTED_FROM"),
        (
            "SELECT campaign.id, segments.date FROM campaign",
            "query_error.EXPECTED_FILTERS_ON_DATE_RANGE",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date = '2026-13-01'",
            "query_error.INVALID_DATE_FORMAT",
        ),
        ("SELECT campaign.id FROM campaign LIMIT 0", "query_error.LIMIT_VALUE_TOO_LOW"),
        ("SELECT campaign.id FROM campaign LIMIT x", "query_error.BAD_LIMIT_VALUE"),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.name = 'open",
            "query_error.STRING_NOT_TERMINATED",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.id IN ()",
            "query_error.PROHIBITED_EMPTY_LIST_IN_CONDITION",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date DURING LAST_9_YEARS",
            "query_error.INVALID_VALUE_WITH_DURING_OPERATOR",
        ),
        ("SELECT campaign.id FROM campaign WHERE campaign.id ~ 3", "query_error.BAD_SYMBOL"),
        ("SELECT campaign.id FROM campaign extra", "query_error.UNEXPECTED_INPUT"),
        ("SELECT campaign.id FROM campaign WHERE", "query_error.UNEXPECTED_END_OF_QUERY"),
    ],
)
def test_bad_queries_get_query_errors(text: str, code: str) -> None:
    with pytest.raises(AdsFault) as exc:
        gaql.parse(text, known_resources={"campaign"})
    assert codes(exc.value) == [code]


ROWS = [
    {
        "campaign.id": 1,
        "campaign.name": "Shoes",
        "campaign.status": "ENABLED",
        "segments.date": "2026-11-20",
        "metrics.clicks": 5,
    },
    {
        "campaign.id": 2,
        "campaign.name": "Boots",
        "campaign.status": "PAUSED",
        "segments.date": "2026-11-20",
        "metrics.clicks": 9,
    },
    {
        "campaign.id": 3,
        "campaign.name": "Socks",
        "campaign.status": "ENABLED",
        "segments.date": "2026-11-24",
        "metrics.clicks": 1,
    },
    {
        "campaign.id": 4,
        "campaign.name": "Shirts",
        "campaign.status": "ENABLED",
        "segments.date": "2026-11-10",
        "metrics.clicks": 7,
    },
]


def run(where: str, tail: str = "") -> list[int]:
    q = gaql.parse(f"SELECT campaign.id FROM campaign {where} {tail}")
    return [r["campaign.id"] for r in gaql.execute(q, ROWS, as_of=AS_OF)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("WHERE campaign.status = 'ENABLED'", [1, 3, 4]),
        ("WHERE campaign.status = ENABLED", [1, 3, 4]),
        ("WHERE campaign.status != 'ENABLED'", [2]),
        ("WHERE metrics.clicks >= 7", [2, 4]),
        ("WHERE metrics.clicks < 5", [3]),
        ("WHERE campaign.id IN (1, 3)", [1, 3]),
        ("WHERE campaign.id NOT IN (1, 3)", [2, 4]),
        ("WHERE campaign.name LIKE 'S%'", [1, 3, 4]),
        ("WHERE campaign.name NOT LIKE '%oo%'", [1, 3, 4]),
        ("WHERE campaign.name LIKE '_o%'", [2, 3]),
        ("WHERE segments.date DURING LAST_7_DAYS", [1, 2, 3]),
        ("WHERE segments.date DURING YESTERDAY", [3]),
        ("WHERE segments.date BETWEEN '2026-11-01' AND '2026-11-19'", [4]),
        ("WHERE segments.date > '2026-11-20'", [3]),
        ("WHERE campaign.status = 'ENABLED' AND metrics.clicks > 1", [1, 4]),
    ],
)
def test_where(where: str, expected: list[int]) -> None:
    assert run(where) == expected


def test_order_and_limit() -> None:
    assert run("", "ORDER BY metrics.clicks DESC LIMIT 3") == [2, 4, 1]
    assert run("", "ORDER BY campaign.status, metrics.clicks") == [3, 1, 4, 2]


def test_row_builder_sets_enums_nested_and_repeated_fields() -> None:
    builder = gaql.RowBuilder(
        (
            "campaign.status",
            "ad_group_criterion.keyword.match_type",
            "ad_group_criterion.quality_info.quality_score",
            "ad_group_ad.ad.responsive_search_ad.headlines",
            "metrics.cost_micros",
        )
    )
    row = builder.build(
        {
            "campaign.status": "PAUSED",
            "ad_group_criterion.keyword.match_type": "EXACT",
            "ad_group_criterion.quality_info.quality_score": 7,
            "ad_group_ad.ad.responsive_search_ad.headlines": [
                {"text": "Buy shoes"},
                {"text": "Fast"},
            ],
            "metrics.cost_micros": 1_230_000,
        }
    )
    status_enum = row.campaign.DESCRIPTOR.fields_by_name["status"].enum_type
    assert status_enum.values_by_number[row.campaign.status].name == "PAUSED"
    assert row.ad_group_criterion.quality_info.quality_score == 7
    assert [h.text for h in row.ad_group_ad.ad.responsive_search_ad.headlines] == [
        "Buy shoes",
        "Fast",
    ]
    assert row.metrics.cost_micros == 1_230_000


def test_like_brackets_match_literal_wildcards() -> None:
    rows = [{"campaign.name": "[Earth_to_Mars] 1"}, {"campaign.name": "EarthXtoXMars"}]
    q = gaql.parse("SELECT campaign.name FROM campaign WHERE campaign.name LIKE '[[]Earth[_]to%'")
    assert [r["campaign.name"] for r in gaql.execute(q, rows, as_of=AS_OF)] == ["[Earth_to_Mars] 1"]


def test_contains_all_needs_every_value() -> None:
    rows = [{"ad_group_ad.ad.final_urls": ["a", "b"]}, {"ad_group_ad.ad.final_urls": ["a"]}]
    q = gaql.parse(
        "SELECT ad_group_ad.ad.final_urls FROM ad_group_ad "
        "WHERE ad_group_ad.ad.final_urls CONTAINS ALL ('a', 'b')"
    )
    assert gaql.execute(q, rows, as_of=AS_OF) == [rows[0]]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("segments.month = '2026-02-01'", (dt.date(2026, 2, 1), dt.date(2026, 2, 28))),
        ("segments.quarter = '2026-10-01'", (dt.date(2026, 10, 1), dt.date(2026, 12, 31))),
        ("segments.week = '2026-11-02'", (dt.date(2026, 11, 2), dt.date(2026, 11, 8))),
        ("segments.year = 2025", (dt.date(2025, 1, 1), dt.date(2025, 12, 31))),
        (
            "segments.month BETWEEN '2026-01-01' AND '2026-03-01'",
            (dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
        ),
    ],
)
def test_coarse_date_filters_pin_their_days(where: str, expected: tuple[dt.date, dt.date]) -> None:
    assert gaql.parse(f"SELECT campaign.id FROM campaign WHERE {where}").date_range(AS_OF) == (
        expected
    )


def test_parameters_clause_accepts_googles_parameters() -> None:
    q = gaql.parse(
        "SELECT campaign.id FROM campaign LIMIT 2 "
        "PARAMETERS include_drafts = true, omit_unselected_resource_names = FALSE"
    )
    assert q.limit == 2
