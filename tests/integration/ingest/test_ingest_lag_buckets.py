"""The daily ingest pulls the conversion-lag histogram through the real client and sandbox:
what Google serves is what the warehouse stores, per run, and re-runs change nothing."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from spectra.ads.client import AdsCredentials
from spectra.analytics.lag import LAG_BUCKETS
from spectra.ingest.daily import ingest_account, lag_histogram_range, planned_pulls
from spectra.warehouse import models as m
from spectra.warehouse.repositories import register_account, register_tenant
from spectra.warehouse.upsert import table_checksums

TENANT = "acme"
REPULL = 7
LAG = m.ConversionLagBucket
HISTOGRAM_FIELDS = frozenset(
    {
        "campaign.id",
        "segments.conversion_lag_bucket",
        "metrics.conversions",
        "metrics.conversions_value",
    }
)


@pytest.fixture
def warehouse(engine: Engine, market: Any) -> Engine:
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        for cid in market.customer_ids():
            register_account(conn, tenant_id=TENANT, customer_id=cid)
    return engine


def _ingest(
    engine: Engine, client: Any, creds: AdsCredentials, customer_id: int, day: dt.date
) -> dict[str, int]:
    result = ingest_account(
        engine, client, creds, tenant_id=TENANT, customer_id=customer_id, logical_date=day,
        repull_days=REPULL,
    )  # fmt: skip
    return result.rows


def _stored(engine: Engine, customer_id: int, day: dt.date) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(LAG.__table__).where(
                    LAG.tenant_id == TENANT, LAG.customer_id == customer_id, LAG.pulled_for == day
                )
            ).all()
        )


def _checksum(engine: Engine) -> str:
    with engine.connect() as conn:
        return table_checksums(conn, [LAG.__table__], tenant_id=TENANT)[LAG.__tablename__]


def test_range_is_mature_click_days_before_the_window() -> None:
    day = dt.date(2026, 11, 24)
    assert lag_histogram_range(day) == (dt.date(2026, 7, 28), dt.date(2026, 10, 25))
    first, last = lag_histogram_range(day)
    # On the pull (day + 1) the youngest click day is 31 days old: its first 30 days are in.
    assert (day + dt.timedelta(days=1) - last).days == 31
    pulls = planned_pulls(day - dt.timedelta(days=29), day)
    lag_pulls = [params for name, params in pulls if name == "conversion_lag"]
    assert lag_pulls == [{"date_from": first.isoformat(), "date_to": last.isoformat()}]
    assert pulls[-1][0] == "conversion_lag"  # smallest write last: nothing overlaps it


def test_histogram_is_stored_per_run_as_served_and_reruns_change_nothing(
    warehouse: Engine, ads_client: Any, ads_creds: AdsCredentials, market: Any, ref_day: dt.date
) -> None:
    cid = int(market.customer_ids()[0])
    rows = _ingest(warehouse, ads_client, ads_creds, cid, ref_day)
    stored = _stored(warehouse, cid, ref_day)
    assert rows["conversion_lag_buckets"] == len(stored) > 0
    first, last = lag_histogram_range(ref_day)
    assert {(r.date_from, r.date_to, r.reported_as_of) for r in stored} == {
        (first, last, ref_day + dt.timedelta(days=1))
    }
    assert {r.conversion_lag_bucket for r in stored} <= set(LAG_BUCKETS)
    assert all(isinstance(r.conversions_value_micros, int) for r in stored)
    with warehouse.connect() as conn:
        campaigns = set(
            conn.execute(select(m.Campaign.campaign_id).where(m.Campaign.customer_id == cid))
            .scalars()
            .all()
        )
    assert {r.campaign_id for r in stored} <= campaigns

    # What the market serves for that range on that clock, summed over days as Google does.
    served: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in market.rows(
        "campaign", customer_id=cid, date_from=first, date_to=last,
        as_of=ref_day + dt.timedelta(days=1), fields=HISTOGRAM_FIELDS,
    ):  # fmt: skip
        cell = served[(int(row["campaign.id"]), row["segments.conversion_lag_bucket"])]
        cell[0] += row["metrics.conversions"]
        cell[1] += row["metrics.conversions_value"]
    assert {(r.campaign_id, r.conversion_lag_bucket) for r in stored} == set(served)
    for r in stored:
        conversions, value = served[(r.campaign_id, r.conversion_lag_bucket)]
        assert r.conversions == pytest.approx(conversions)
        assert r.conversions_value_micros == pytest.approx(value * 1_000_000, abs=1)

    checksum = _checksum(warehouse)
    again = _ingest(warehouse, ads_client, ads_creds, cid, ref_day)
    assert again["conversion_lag_buckets"] == len(stored)
    assert _checksum(warehouse) == checksum

    # The next run stores its own histogram beside the first, which stays as it was.
    _ingest(warehouse, ads_client, ads_creds, cid, ref_day - dt.timedelta(days=1))
    assert _stored(warehouse, cid, ref_day) == stored
    assert len(_stored(warehouse, cid, ref_day - dt.timedelta(days=1))) > 0


def test_rerun_drops_cells_the_day_no_longer_has(
    warehouse: Engine, ads_client: Any, ads_creds: AdsCredentials, market: Any, ref_day: dt.date
) -> None:
    """A day holds one histogram: a cell an earlier run of the day stored but the re-run does
    not return (a campaign since removed) goes; other days' and accounts' cells stay."""
    cid, other = (int(c) for c in market.customer_ids())
    _ingest(warehouse, ads_client, ads_creds, cid, ref_day)
    _ingest(warehouse, ads_client, ads_creds, other, ref_day)
    checksum = _checksum(warehouse)
    template = {
        "tenant_id": TENANT, "customer_id": cid, "campaign_id": 1, "conversion_lag_bucket": "ONE_TO_TWO_DAYS",
        "date_from": ref_day, "date_to": ref_day, "reported_as_of": ref_day, "conversions": 1.0,
        "conversions_value_micros": 1_000_000,
    }  # fmt: skip
    with warehouse.begin() as conn:
        conn.execute(
            LAG.__table__.insert(),
            [
                {**template, "pulled_for": ref_day},
                {**template, "pulled_for": ref_day - dt.timedelta(days=5)},
            ],
        )
    _ingest(warehouse, ads_client, ads_creds, cid, ref_day)
    with warehouse.connect() as conn:
        bogus = conn.execute(
            select(LAG.pulled_for).where(LAG.campaign_id == 1).order_by(LAG.pulled_for)
        ).scalars()
        assert list(bogus) == [ref_day - dt.timedelta(days=5)]
        conn.execute(LAG.__table__.delete().where(LAG.campaign_id == 1))
        conn.commit()
        owners = set(conn.execute(select(LAG.tenant_id, func.count()).group_by(LAG.tenant_id)))
    assert _checksum(warehouse) == checksum
    assert {tenant for tenant, _ in owners} == {TENANT}
