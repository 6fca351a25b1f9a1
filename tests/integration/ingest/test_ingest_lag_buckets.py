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
from spectra.ingest.daily import (
    hold_back,
    ingest_account,
    lag_histogram_range,
    planned_pulls,
    write_pulled,
)
from spectra.quality.screen import Rejected
from spectra.warehouse import models as m
from spectra.warehouse.checksums import table_checksums

TENANT = "acme"  # registered by the ``warehouse`` fixture (conftest.py)
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


def _crafted_pull(campaign: int) -> dict[str, list[Any]]:
    """A lag pull as the client decodes it, with a bucket name no API version of ours has
    (the sandbox cannot serve one: it encodes unknown names as UNKNOWN) beside other faults."""
    return {
        "campaign.id": [campaign, campaign, campaign, campaign, 0, campaign],
        "segments.conversion_lag_bucket": [
            "LESS_THAN_ONE_DAY", "ONE_TO_TWO_DAYS", "NINETY_PLUS_DAYS", "UNKNOWN",
            "TWO_TO_THREE_DAYS", "THREE_TO_FOUR_DAYS",
        ],
        "metrics.conversions": [10.0, float("nan"), 2.0, 1.5, 3.0, 4.0],
        "metrics.conversions_value": [100.0, 20.0, 20.0, 15.0, 30.0, -40.0],
    }  # fmt: skip


def test_writer_holds_back_bad_cells_and_stores_the_rest(
    warehouse: Engine, market: Any, ref_day: dt.date
) -> None:
    """The writer path with a crafted pull (both backends): bad cells go to quarantine with
    the field and value, good ones (UNKNOWN included) to the table; a re-run changes nothing;
    the fixed pull replaces the day's histogram and resolves the entries."""
    cid = int(market.customer_ids()[0])
    campaign = 42
    as_of = ref_day + dt.timedelta(days=1)

    def write(pull: dict[str, list[Any]]) -> dict[str, int]:
        """The pull through ingest's writer, then its rejected cells held back, as a run does
        after its writes (in the same transaction)."""
        rejected: list[Rejected] = []
        account = {"tenant_id": TENANT, "customer_id": cid, "as_of": as_of}
        with warehouse.begin() as conn:
            counts = write_pulled(
                conn, {"conversion_lag": pull}, **account, logical_date=ref_day, rejected=rejected
            )
            held = hold_back(conn, rejected, **account, logical_date=ref_day)
        return counts | {f"quality_quarantine.{name}": n for name, n in held.items()}

    def quarantined() -> list[Any]:
        q = m.QualityQuarantine
        with warehouse.connect() as conn:
            return list(
                conn.execute(
                    select(q.check_name, q.reason, q.entity_id, q.active, q.severity)
                    .where(q.source_table == LAG.__tablename__)
                    .order_by(q.check_name)
                ).all()
            )

    def checksums() -> dict[str, str]:
        with warehouse.connect() as conn:
            return table_checksums(
                conn, [LAG.__table__, m.QualityQuarantine.__table__], tenant_id=TENANT,
                exclude_columns=("id", "quarantined_at", "resolved_at"),
            )  # fmt: skip

    counts = write(_crafted_pull(campaign))
    assert counts == {"conversion_lag_buckets": 2, "quality_quarantine.conversion_lag": 4}
    stored = {r.conversion_lag_bucket: r for r in _stored(warehouse, cid, ref_day)}
    assert set(stored) == {"LESS_THAN_ONE_DAY", "UNKNOWN"}
    assert stored["UNKNOWN"].conversions == 1.5
    assert stored["UNKNOWN"].conversions_value_micros == 15_000_000
    assert quarantined() == [
        ("lag.bucket_known:conversion_lag_bucket",
         "segments.conversion_lag_bucket is 'NINETY_PLUS_DAYS': not a known lag bucket",
         campaign, True, "warn"),
        ("lag.keys_present:campaign_id", "campaign.id is 0: not a valid id", None, True, "warn"),
        ("lag.metrics_present:conversions", "metrics.conversions is nan: not a finite number",
         campaign, True, "warn"),
        ("lag.non_negative:conversions_value_micros",
         "metrics.conversions_value is -40.0: negative", campaign, True, "warn"),
    ]  # fmt: skip

    before = checksums()
    assert write(_crafted_pull(campaign)) == counts
    assert checksums() == before

    fixed = _crafted_pull(campaign)
    fixed["campaign.id"][4] = campaign
    fixed["segments.conversion_lag_bucket"][2] = "SIXTY_TO_NINETY_DAYS"
    fixed["metrics.conversions"][1] = 2.0
    fixed["metrics.conversions_value"][5] = 40.0
    assert write(fixed) == {"conversion_lag_buckets": 6}
    assert len(_stored(warehouse, cid, ref_day)) == 6
    assert [entry.active for entry in quarantined()] == [False] * 4
