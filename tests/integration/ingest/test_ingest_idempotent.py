"""Ingest through the real client and sandbox: re-runs and backfills leave the warehouse identical."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from support.ingest_chaos import INGESTED_TABLES

from spectra.ads.client import AdsCredentials
from spectra.ingest.daily import IngestError, ingest_account, ingest_window
from spectra.warehouse import models as m
from spectra.warehouse.checksums import table_checksums
from spectra.warehouse.repositories import register_tenant

TENANT = "acme"  # registered by the ``warehouse`` fixture (conftest.py)
REPULL = 7


def _ingest(
    engine: Engine, client: Any, creds: AdsCredentials, market: Any, day: dt.date
) -> dict[str, int]:
    rows: dict[str, int] = {}
    for cid in market.customer_ids():
        result = ingest_account(
            engine,
            client,
            creds,
            tenant_id=TENANT,
            customer_id=cid,
            logical_date=day,
            repull_days=REPULL,
        )
        for k, v in result.rows.items():
            rows[k] = rows.get(k, 0) + v
    return rows


def _checksums(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return table_checksums(conn, INGESTED_TABLES, tenant_id=TENANT)


def test_window_is_the_logical_day_and_the_days_before() -> None:
    assert ingest_window(dt.date(2026, 11, 24), 30) == (
        dt.date(2026, 10, 26),
        dt.date(2026, 11, 24),
        dt.date(2026, 11, 25),
    )
    with pytest.raises(ValueError, match="repull_days"):
        ingest_window(dt.date(2026, 11, 24), 0)


def test_load_same_day_twice_is_identical(
    warehouse: Engine, ads_client: Any, ads_creds: AdsCredentials, market: Any, ref_day: dt.date
) -> None:
    rows = _ingest(warehouse, ads_client, ads_creds, market, ref_day)
    assert rows["performance_daily.keyword"] > 0 and rows["campaigns"] > 0
    first = _checksums(warehouse)
    _ingest(warehouse, ads_client, ads_creds, market, ref_day)
    assert _checksums(warehouse) == first
    with warehouse.connect() as conn:
        days = conn.execute(
            select(func.min(m.PerformanceDaily.date), func.max(m.PerformanceDaily.date)).where(
                m.PerformanceDaily.tenant_id == TENANT
            )
        ).one()
    assert days == (ref_day - dt.timedelta(days=REPULL - 1), ref_day)


def test_backfill_then_rerun_is_identical_and_old_day_never_regresses(
    warehouse: Engine, ads_client: Any, ads_creds: AdsCredentials, market: Any, ref_day: dt.date
) -> None:
    backfill = [ref_day - dt.timedelta(days=k) for k in (3, 2, 1, 0)]
    for day in backfill:
        _ingest(warehouse, ads_client, ads_creds, market, day)
    after_backfill = _checksums(warehouse)
    for day in backfill:
        _ingest(warehouse, ads_client, ads_creds, market, day)
    assert _checksums(warehouse) == after_backfill
    # Re-running the oldest day afterwards must not overwrite fresher, restated numbers.
    _ingest(warehouse, ads_client, ads_creds, market, backfill[0])
    assert _checksums(warehouse)["performance_daily"] == after_backfill["performance_daily"]
    with warehouse.connect() as conn:
        freshest = conn.execute(
            select(func.max(m.PerformanceDaily.reported_as_of)).where(
                m.PerformanceDaily.date == backfill[0]
            )
        ).scalar_one()
    assert freshest == ref_day + dt.timedelta(days=1)


def test_restated_conversions_are_refreshed_by_later_runs(
    warehouse: Engine, ads_client: Any, ads_creds: AdsCredentials, market: Any, ref_day: dt.date
) -> None:
    early = ref_day - dt.timedelta(days=5)

    def conversions_of(day: dt.date) -> float:
        with warehouse.connect() as conn:
            return float(
                conn.execute(
                    select(func.sum(m.PerformanceDaily.conversions)).where(
                        m.PerformanceDaily.date == day, m.PerformanceDaily.level == "campaign"
                    )
                ).scalar_one()
                or 0.0
            )

    _ingest(warehouse, ads_client, ads_creds, market, early)
    as_reported_next_day = conversions_of(early)
    _ingest(warehouse, ads_client, ads_creds, market, ref_day)
    assert conversions_of(early) >= as_reported_next_day
    assert conversions_of(early) > as_reported_next_day, (
        "conversion lag should restate day D upward"
    )


def test_campaign_levels_add_up(
    warehouse: Engine, ads_client: Any, ads_creds: AdsCredentials, market: Any, ref_day: dt.date
) -> None:
    _ingest(warehouse, ads_client, ads_creds, market, ref_day)
    with warehouse.connect() as conn:
        totals = dict(
            conn.execute(
                select(m.PerformanceDaily.level, func.sum(m.PerformanceDaily.cost_micros))
                .where(m.PerformanceDaily.tenant_id == TENANT)
                .group_by(m.PerformanceDaily.level)
            ).all()
        )
    assert totals["campaign"] == totals["ad_group"] == totals["keyword"]


def test_account_of_another_tenant_is_refused(
    warehouse: Engine, ads_client: Any, ads_creds: AdsCredentials, market: Any, ref_day: dt.date
) -> None:
    with warehouse.begin() as conn:
        register_tenant(conn, tenant_id="other", name="Other")
    with pytest.raises(IngestError, match="belongs to tenant"):
        ingest_account(
            warehouse,
            ads_client,
            ads_creds,
            tenant_id="other",
            customer_id=market.customer_ids()[0],
            logical_date=ref_day,
        )
    with pytest.raises(IngestError, match="not registered"):
        ingest_account(
            warehouse,
            ads_client,
            ads_creds,
            tenant_id=TENANT,
            customer_id=9999999999,
            logical_date=ref_day,
        )
