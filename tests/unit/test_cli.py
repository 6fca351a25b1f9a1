"""`spectra demo`'s warehouse listing: every table the models define, with its rows."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from spectra.cli import warehouse_summary
from spectra.warehouse import models as m
from spectra.warehouse.repositories import register_account, register_tenant


def test_listing_covers_every_table_with_counts_and_day_spans(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPECTRA_DATABASE_URL", sqlite_engine.url.render_as_string())
    day = dt.date(2026, 11, 24)
    with sqlite_engine.begin() as conn:
        register_tenant(conn, tenant_id="acme", name="Acme")
        register_account(conn, tenant_id="acme", customer_id=1)
        conn.execute(
            m.ConversionLagBucket.__table__.insert(),
            [
                {
                    "tenant_id": "acme", "customer_id": 1, "pulled_for": day, "campaign_id": 7,
                    "conversion_lag_bucket": bucket, "date_from": day, "date_to": day,
                    "reported_as_of": day, "conversions": 1.0, "conversions_value_micros": 0,
                }
                for bucket in ("LESS_THAN_ONE_DAY", "UNKNOWN")
            ],
        )  # fmt: skip

    summary = {table: (count, span) for table, count, span in warehouse_summary()}

    assert list(summary) == list(m.Base.metadata.tables)
    assert summary["conversion_lag_buckets"] == (2, f"{day} .. {day}")
    assert summary["tenants"] == (1, "")
    assert summary["performance_daily"] == (0, "")
