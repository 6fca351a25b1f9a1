"""Ingest's screen: bad API rows are held back with a reason, never crash, never vanish."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest
from sqlalchemy import Engine, select

from spectra.quality.screen import (
    FACT_QUERIES,
    LAG_BUCKET_NAMES,
    SCREENED_QUERIES,
    STORED_LAG_BUCKETS,
    ScreenResult,
    quarantine_rows,
    record_ingest_quarantine,
    screen_columns,
    screen_pulled,
    warehouse_row,
)
from spectra.warehouse import models as m
from spectra.warehouse.repositories import register_account, register_tenant

TENANT, CUSTOMER = "acme", 1234567890
AS_OF = dt.date(2026, 11, 21)


def keyword_cols(n: int = 4) -> dict[str, list[Any]]:
    """A clean keyword_performance pull: n keywords on one day."""
    return {
        "ad_group_criterion.criterion_id": [100 + i for i in range(n)],
        "ad_group.id": [10] * n,
        "campaign.id": [1] * n,
        "segments.date": ["2026-11-20"] * n,
        "metrics.impressions": [100] * n,
        "metrics.clicks": [5] * n,
        "metrics.cost_micros": [2_000_000] * n,
        "metrics.conversions": [1.0] * n,
        "metrics.conversions_value": [12.5] * n,
    }


def failures(cols: dict[str, list[Any]], query: str = "keyword_performance") -> dict[int, set[str]]:
    bad, rejected = screen_columns(FACT_QUERIES[query], cols)
    assert bad == {r.index for r in rejected}
    return {r.index: {key for key, _ in r.failures} for r in rejected}


def test_clean_pull_passes_untouched() -> None:
    assert failures(keyword_cols()) == {}


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("metrics.conversions", math.nan, "perf.metrics_present:conversions"),
        ("metrics.conversions_value", math.inf, "perf.metrics_present:conversions_value_micros"),
        ("metrics.cost_micros", -5_000, "perf.non_negative:cost_micros"),
        ("metrics.clicks", None, "perf.metrics_present:clicks"),
        ("metrics.conversions", -1.0, "perf.non_negative:conversions"),
        ("ad_group_criterion.criterion_id", 0, "perf.keys_present:entity_id"),
        ("campaign.id", None, "perf.keys_present:campaign_id"),
        ("segments.date", "2026-13-45", "perf.keys_present:date"),
        ("segments.date", "", "perf.keys_present:date"),
    ],
)
def test_each_bad_value_is_caught_on_its_row_only(field: str, value: Any, expected: str) -> None:
    cols = keyword_cols()
    cols[field][2] = value
    assert failures(cols) == {2: {expected}}


def test_a_duplicated_key_holds_back_every_copy() -> None:
    cols = keyword_cols()
    for values in cols.values():
        values.append(values[1])
    assert failures(cols) == {1: {"perf.keys_unique"}, 4: {"perf.keys_unique"}}


def test_search_terms_need_a_term_and_a_unique_key() -> None:
    n = 3
    cols = {
        "search_term_view.search_term": ["boots", "", "tents"],
        "search_term_view.status": ["NONE"] * n,
        "ad_group.id": [10] * n,
        "campaign.id": [1] * n,
        "segments.date": ["2026-11-20"] * n,
        "metrics.impressions": [10] * n,
        "metrics.clicks": [1] * n,
        "metrics.cost_micros": [10] * n,
        "metrics.conversions": [0.0] * n,
        "metrics.conversions_value": [0.0] * n,
    }
    assert failures(cols, "search_terms") == {1: {"st.keys_present:search_term"}}


def test_nan_impression_share_is_caught_none_is_fine() -> None:
    cols = {
        "campaign.id": [1, 2, 3],
        "segments.date": ["2026-11-20"] * 3,
        "metrics.impressions": [100] * 3,
        "metrics.clicks": [5] * 3,
        "metrics.cost_micros": [10] * 3,
        "metrics.conversions": [1.0] * 3,
        "metrics.conversions_value": [1.0] * 3,
        "metrics.search_impression_share": [0.5, None, math.nan],
    }
    assert failures(cols, "campaign_performance") == {
        2: {"perf.metrics_present:search_impression_share"}
    }


def test_warehouse_row_rebuilds_what_it_can() -> None:
    row = {k: v[0] for k, v in keyword_cols().items()} | {"metrics.conversions": "NaN"}
    rebuilt = warehouse_row("keyword_performance", row)
    assert rebuilt["level"] == "keyword" and rebuilt["entity_id"] == 100
    assert rebuilt["date"] == dt.date(2026, 11, 20)
    assert rebuilt["conversions_value_micros"] == 12_500_000
    assert math.isnan(rebuilt["conversions"])


@pytest.fixture
def warehouse(sqlite_engine: Engine) -> Engine:
    with sqlite_engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_account(conn, tenant_id=TENANT, customer_id=CUSTOMER)
    return sqlite_engine


def _entries(engine: Engine) -> list[Any]:
    q = m.QualityQuarantine
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(q.check_name, q.active, q.payload, q.entity_id, q.date).order_by(
                    q.check_name
                )
            )
        )


def _hold(conn: Any, pulled: dict[str, Any]) -> tuple[ScreenResult, dict[str, int]]:
    """What ingest does with a pull: screen it, then record the rejected rows for the
    queries it screened (held entries per query)."""
    result = screen_pulled(pulled)
    held = record_ingest_quarantine(
        conn,
        result.rejected,
        screened_queries=[name for name in pulled if name in SCREENED_QUERIES],
        tenant_id=TENANT,
        customer_id=CUSTOMER,
        as_of=AS_OF,
        logical_date=AS_OF - dt.timedelta(days=1),
    )
    return result, held


def test_quarantine_is_written_idempotent_and_never_deleted(warehouse: Engine) -> None:
    cols = keyword_cols()
    cols["metrics.cost_micros"][0] = -1
    cols["metrics.conversions"][3] = math.nan
    pulled = {"keyword_performance": cols}
    for _ in range(2):
        with warehouse.begin() as conn:
            result, held = _hold(conn, pulled)
        assert held == {"keyword_performance": 2}
        assert result.pulled["keyword_performance"]["ad_group_criterion.criterion_id"] == [101, 102]
    entries = _entries(warehouse)
    assert [(e.check_name, e.active) for e in entries] == [
        ("perf.metrics_present:conversions", True),
        ("perf.non_negative:cost_micros", True),
    ]
    nan_row = json.loads(entries[0].payload)
    assert nan_row["query"] == "keyword_performance"
    assert nan_row["row"]["metrics.conversions"] == "NaN"
    assert entries[1].entity_id == 100 and entries[1].date == dt.date(2026, 11, 20)

    # The API fixed itself: a re-run for the same day deactivates the entries, keeps them.
    with warehouse.begin() as conn:
        _, clean = _hold(conn, {"keyword_performance": keyword_cols()})
    assert sum(clean.values()) == 0
    assert [(e.check_name, e.active) for e in _entries(warehouse)] == [
        ("perf.metrics_present:conversions", False),
        ("perf.non_negative:cost_micros", False),
    ]


def test_other_queries_entries_are_left_alone(warehouse: Engine) -> None:
    cols = keyword_cols()
    cols["metrics.cost_micros"][0] = -1
    with warehouse.begin() as conn:
        _hold(conn, {"keyword_performance": cols})
    with warehouse.begin() as conn:  # a pull screening another query does not resolve them
        _hold(conn, {"accounts": {}})
    assert [e.active for e in _entries(warehouse)] == [True]


# --------------------------------------------------------------------------- lag histogram


def lag_cols() -> dict[str, list[Any]]:
    """A clean conversion_lag pull: two campaigns' cells, one of them UNKNOWN (kept)."""
    return {
        "campaign.id": [1, 1, 1, 2, 2],
        "segments.conversion_lag_bucket": [
            "LESS_THAN_ONE_DAY", "ONE_TO_TWO_DAYS", "UNKNOWN", "LESS_THAN_ONE_DAY",
            "SIXTY_TO_NINETY_DAYS",
        ],
        "metrics.conversions": [12.0, 4.5, 1.0, 7.0, 0.0],
        "metrics.conversions_value": [120.0, 45.25, 10.0, 70.0, 0.0],
    }  # fmt: skip


def lag_rejected(cols: dict[str, list[Any]]) -> dict[int, list[tuple[str, str]]]:
    bad, rejected = screen_columns(FACT_QUERIES["conversion_lag"], cols)
    assert bad == {r.index for r in rejected}
    return {r.index: r.failures for r in rejected}


def test_clean_lag_histogram_passes_with_its_unknown_cell() -> None:
    assert lag_rejected(lag_cols()) == {}


@pytest.mark.parametrize(
    ("field", "value", "expected", "shown"),
    [
        ("metrics.conversions", math.nan, "lag.metrics_present:conversions", "nan"),
        ("metrics.conversions", math.inf, "lag.metrics_present:conversions", "inf"),
        ("metrics.conversions", None, "lag.metrics_present:conversions", "None"),
        ("metrics.conversions", -2.0, "lag.non_negative:conversions", "-2.0"),
        (
            "metrics.conversions_value",
            -math.inf,
            "lag.metrics_present:conversions_value_micros",
            "-inf",
        ),
        ("metrics.conversions_value", -0.5, "lag.non_negative:conversions_value_micros", "-0.5"),
        (
            "segments.conversion_lag_bucket",
            "UNSPECIFIED",
            "lag.bucket_known:conversion_lag_bucket",
            "'UNSPECIFIED'",
        ),
        (
            "segments.conversion_lag_bucket",
            "NINETY_TO_ONE_TWENTY_DAYS",
            "lag.bucket_known:conversion_lag_bucket",
            "'NINETY_TO_ONE_TWENTY_DAYS'",
        ),
        ("segments.conversion_lag_bucket", None, "lag.bucket_known:conversion_lag_bucket", "None"),
        ("campaign.id", 0, "lag.keys_present:campaign_id", "0"),
        ("campaign.id", None, "lag.keys_present:campaign_id", "None"),
    ],
)
def test_each_bad_lag_cell_is_held_with_the_field_and_value(
    field: str, value: Any, expected: str, shown: str
) -> None:
    cols = lag_cols()
    cols[field][1] = value
    ((index, fails),) = lag_rejected(cols).items()
    assert index == 1
    ((key, reason),) = fails
    assert key == expected
    assert reason.startswith(f"{field} is {shown}: ")


def test_unset_and_unknown_buckets_say_which() -> None:
    cols = lag_cols()
    cols["segments.conversion_lag_bucket"][0] = "UNSPECIFIED"
    cols["segments.conversion_lag_bucket"][3] = "SOON"
    reasons = {i: fails[0][1] for i, fails in lag_rejected(cols).items()}
    assert reasons[0].endswith("the API left the segment unset")
    assert reasons[3].endswith("not a known lag bucket")


def test_a_repeated_lag_cell_holds_back_every_copy() -> None:
    cols = lag_cols()
    for values in cols.values():
        values.append(values[2])  # (campaign 1, UNKNOWN) twice
    failures_by_row = lag_rejected(cols)
    assert set(failures_by_row) == {2, 5}
    assert {key for fails in failures_by_row.values() for key, _ in fails} == {"lag.keys_unique"}


def test_screen_pulled_removes_only_the_bad_lag_cells() -> None:
    cols = lag_cols()
    cols["metrics.conversions"][0] = math.nan
    cols["segments.conversion_lag_bucket"][4] = "UNSPECIFIED"
    result = screen_pulled({"conversion_lag": cols})
    kept = result.pulled["conversion_lag"]
    assert kept["segments.conversion_lag_bucket"] == [
        "ONE_TO_TWO_DAYS",
        "UNKNOWN",
        "LESS_THAN_ONE_DAY",
    ]
    assert kept["campaign.id"] == [1, 1, 2]
    assert [r.index for r in result.rejected] == [0, 4]


def test_lag_bucket_names_are_the_apis_and_analytics_buckets() -> None:
    """UNKNOWN aside, the stored names are exactly the API's named buckets, each of which
    analytics can place by days (a new API version's buckets would show up here)."""
    from google.ads.googleads.v26.enums.types.conversion_lag_bucket import (
        ConversionLagBucketEnum,
    )

    from spectra.ads.client import API_VERSION
    from spectra.analytics.lag import LAG_BUCKETS

    assert API_VERSION == "v26"
    api = {b.name for b in ConversionLagBucketEnum.ConversionLagBucket}
    assert api - {"UNSPECIFIED", "UNKNOWN"} == LAG_BUCKET_NAMES == set(LAG_BUCKETS)
    assert STORED_LAG_BUCKETS == LAG_BUCKET_NAMES | {"UNKNOWN"}


def test_lag_quarantine_entries_name_the_campaign_and_table() -> None:
    cols = lag_cols()
    cols["metrics.conversions_value"][3] = math.nan
    _, rejected = screen_columns(FACT_QUERIES["conversion_lag"], cols)
    (entry,) = quarantine_rows(
        rejected, tenant_id=TENANT, customer_id=CUSTOMER, as_of=AS_OF, logical_date=AS_OF
    )
    assert entry["source_table"] == "conversion_lag_buckets"
    assert entry["source_query"] == "conversion_lag"
    assert entry["check_name"] == "lag.metrics_present:conversions_value_micros"
    assert entry["severity"] == "warn"
    assert (entry["level"], entry["entity_id"], entry["date"]) == ("campaign", 2, None)
    row = json.loads(entry["payload"])["row"]
    assert row["segments.conversion_lag_bucket"] == "LESS_THAN_ONE_DAY"
    assert row["metrics.conversions_value"] == "NaN"
