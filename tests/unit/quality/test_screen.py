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
    quarantine_pulled,
    screen_columns,
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


def test_quarantine_is_written_idempotent_and_never_deleted(warehouse: Engine) -> None:
    cols = keyword_cols()
    cols["metrics.cost_micros"][0] = -1
    cols["metrics.conversions"][3] = math.nan
    pulled = {"keyword_performance": cols}
    for _ in range(2):
        with warehouse.begin() as conn:
            result = quarantine_pulled(
                conn, pulled, tenant_id=TENANT, customer_id=CUSTOMER, as_of=AS_OF
            )
        assert result.quarantined == 2
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
        clean = quarantine_pulled(
            conn,
            {"keyword_performance": keyword_cols()},
            tenant_id=TENANT,
            customer_id=CUSTOMER,
            as_of=AS_OF,
        )
    assert clean.quarantined == 0
    assert [(e.check_name, e.active) for e in _entries(warehouse)] == [
        ("perf.metrics_present:conversions", False),
        ("perf.non_negative:cost_micros", False),
    ]


def test_other_queries_entries_are_left_alone(warehouse: Engine) -> None:
    cols = keyword_cols()
    cols["metrics.cost_micros"][0] = -1
    with warehouse.begin() as conn:
        quarantine_pulled(
            conn,
            {"keyword_performance": cols},
            tenant_id=TENANT,
            customer_id=CUSTOMER,
            as_of=AS_OF,
        )
    with warehouse.begin() as conn:  # a pull of another query does not resolve them
        quarantine_pulled(
            conn, {"accounts": {}}, tenant_id=TENANT, customer_id=CUSTOMER, as_of=AS_OF
        )
    assert [e.active for e in _entries(warehouse)] == [True]
