"""SQL of the daily ingest beside its bulk upserts: who owns an account, the account's own
row, Spectra's lifecycle of known campaigns, the stored campaign-days a re-pull must send
again, the replace-all tables (ad schedules, the lag histogram) and the run's own row.

Every function takes a Core ``Connection`` inside the caller's transaction and never commits;
every query is scoped by tenant and account (:func:`account_owner` is the one lookup by
customer id alone: it is how ingest learns the tenant, to refuse a mismatch). Parameters are
bound.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select

from spectra.warehouse import models as m
from spectra.warehouse.upsert import bulk_upsert

INGEST_RUN_KEY = tuple(m.natural_key(m.IngestRun))


def account_owner(conn: Connection, customer_id: int) -> str | None:
    """The tenant the Google Ads account is registered to (None: to none)."""
    return conn.execute(
        select(m.AdAccount.tenant_id).where(m.AdAccount.customer_id == customer_id)
    ).scalar_one_or_none()


def ingest_complete_through(
    conn: Connection, *, tenant_id: str, customer_id: int, logical_date: dt.date
) -> dt.date | None:
    """The newest account-local day complete when ingest pulled ``logical_date`` (None: no
    run recorded it)."""
    r = m.IngestRun
    return conn.execute(
        select(r.complete_through).where(
            r.tenant_id == tenant_id, r.customer_id == customer_id, r.logical_date == logical_date
        )
    ).scalar_one_or_none()


def relabel_account(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    descriptive_name: str,
    currency_code: str,
    time_zone: str,
) -> None:
    """The account's name, currency and time zone as the API reported them."""
    a = m.AdAccount
    conn.execute(
        a.__table__.update()
        .where(a.tenant_id == tenant_id, a.customer_id == customer_id)
        .values(descriptive_name=descriptive_name, currency_code=currency_code, time_zone=time_zone)
    )


def campaign_lifecycles(conn: Connection, *, tenant_id: str, customer_id: int) -> dict[int, str]:
    """Spectra's lifecycle state of each campaign of the account it knows, by campaign id."""
    c = m.Campaign
    return {
        int(campaign_id): status
        for campaign_id, status in conn.execute(
            select(c.campaign_id, c.status).where(
                c.tenant_id == tenant_id, c.customer_id == customer_id
            )
        )
    }


def served_campaign_days(
    conn: Connection, *, tenant_id: str, customer_id: int, first: dt.date, last: dt.date
) -> list[Row[Any]]:
    """Stored campaign-days with impressions of the account's ENABLED campaigns, ``first`` to
    ``last``: (entity_id, date, the five metrics, reported_as_of), by campaign and day."""
    p, c = m.PerformanceDaily, m.Campaign
    return list(
        conn.execute(
            select(
                p.entity_id,
                p.date,
                p.impressions,
                p.clicks,
                p.cost_micros,
                p.conversions,
                p.conversions_value_micros,
                p.reported_as_of,
            )
            .join(
                c,
                (c.tenant_id == p.tenant_id)
                & (c.customer_id == p.customer_id)
                & (c.campaign_id == p.entity_id),
            )
            .where(
                p.tenant_id == tenant_id,
                p.customer_id == customer_id,
                p.level == "campaign",
                p.date.between(first, last),
                p.impressions > 0,
                c.serving_status == "ENABLED",
            )
            .order_by(p.entity_id, p.date)
        )
    )


def clear_ad_schedules(conn: Connection, *, tenant_id: str, customer_id: int) -> None:
    """Delete the account's stored ad schedules (the pulled ones replace them all)."""
    table = m.CampaignAdSchedule.__table__
    conn.execute(
        table.delete().where(table.c.tenant_id == tenant_id, table.c.customer_id == customer_id)
    )


def drop_lag_cells(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    pulled_for: dt.date,
    keep: Collection[tuple[Any, Any]],
) -> int:
    """Delete the (campaign, lag bucket) cells of the day's stored histogram not in ``keep``;
    returns how many."""
    table = m.ConversionLagBucket.__table__
    run = (
        table.c.tenant_id == tenant_id,
        table.c.customer_id == customer_id,
        table.c.pulled_for == pulled_for,
    )
    stale = [
        {"stale_campaign": campaign, "stale_bucket": bucket}
        for campaign, bucket in conn.execute(
            select(table.c.campaign_id, table.c.conversion_lag_bucket).where(*run)
        )
        if (campaign, bucket) not in keep
    ]
    if stale:
        conn.execute(
            table.delete().where(
                *run,
                table.c.campaign_id == bindparam("stale_campaign"),
                table.c.conversion_lag_bucket == bindparam("stale_bucket"),
            ),
            stale,
        )
    return len(stale)


def record_ingest_run(conn: Connection, run: Mapping[str, Any]) -> None:
    """The run's own row (one per account and logical date: a re-run replaces it)."""
    bulk_upsert(conn, m.IngestRun.__table__, [dict(run)], keys=list(INGEST_RUN_KEY))
