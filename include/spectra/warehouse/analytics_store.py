"""SQL of the analyze step: what it reads of one account, and how it stores one day's results.

The reads return SQLAlchemy rows (tuples in the order of the columns asked for); the analytics
service turns them into its frames and settings, so the warehouse knows no pandas and the
service writes no SQL. Parameters are bound, never rendered into the SQL. Every query is scoped
by tenant and account; every function takes a Core ``Connection`` in the caller's transaction
and never commits.

The day's results are replaced, not merged: :func:`replace_day` deletes the rows of
(tenant, account, logical day) in every per-day analytics table and inserts the new ones, so a
re-run or a backfill of the day leaves exactly one set of results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, delete, func, insert, or_, select

from spectra.warehouse import models as m
from spectra.warehouse.clean_views import performance_daily_clean
from spectra.warehouse.upsert import bulk_upsert

# The per-day result tables of the analyze step: every row keyed to (tenant, account, day).
DAY_TABLES: tuple[type[m.Base], ...] = (
    m.LagCurveRow,
    m.Nowcast,
    m.Verdict,
    m.AnomalyRow,
    m.ChangeEffectRow,
    m.Envelope,
)


# --------------------------------------------------------------------------- reading
def clean_performance(
    conn: Connection,
    columns: Sequence[str],
    *,
    tenant_id: str,
    customer_id: int,
    as_of: dt.date,
    campaign_from: dt.date,
    detail_from: dt.date,
) -> tuple[list[Row[*tuple[Any, ...]]], list[Row[*tuple[Any, ...]]]]:
    """The account's clean rows up to ``as_of`` as ``columns``: (campaign rows from
    ``campaign_from``, ad-group and keyword rows from ``detail_from``)."""
    v = performance_daily_clean
    base = select(*(v.c[name] for name in columns)).where(
        v.c.tenant_id == tenant_id, v.c.customer_id == customer_id, v.c.date <= as_of
    )
    campaign = conn.execute(base.where(v.c.level == "campaign", v.c.date >= campaign_from))
    campaign_rows = list(campaign.all())
    detail = conn.execute(
        base.where(v.c.level.in_(("ad_group", "keyword")), v.c.date >= detail_from)
    )
    return campaign_rows, list(detail.all())


def keyword_rows_in_ranges(
    conn: Connection,
    columns: Sequence[str],
    *,
    tenant_id: str,
    customer_id: int,
    ranges: Sequence[tuple[dt.date, dt.date]],
) -> list[Row[*tuple[Any, ...]]]:
    """The account's clean keyword rows dated inside any of ``ranges`` (inclusive), as
    ``columns``. ``ranges`` must not be empty."""
    v = performance_daily_clean
    days = or_(*(and_(v.c.date >= lo, v.c.date <= hi) for lo, hi in ranges))
    return list(
        conn.execute(
            select(*(v.c[name] for name in columns)).where(
                v.c.tenant_id == tenant_id, v.c.customer_id == customer_id,
                v.c.level == "keyword", days,
            )
        ).all()
    )  # fmt: skip


def store_lag_snapshots(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert lag snapshots by their cell (campaign, click day, report day): a re-run writes the
    same values into the same cell."""
    if rows:
        bulk_upsert(
            conn,
            m.LagSnapshot.__table__,
            rows,
            keys=m.natural_key(m.LagSnapshot),
        )


def lag_snapshots(
    conn: Connection, *, tenant_id: str, customer_id: int, since: dt.date, until: dt.date
) -> list[Row[*tuple[Any, ...]]]:
    """The account's lag snapshots reported in [since, until]: (campaign id, click day, report
    day, clicks, conversions, conversions value micros)."""
    t = m.LagSnapshot
    return list(
        conn.execute(
            select(
                t.campaign_id,
                t.click_date,
                t.report_date,
                t.clicks,
                t.conversions,
                t.conversions_value_micros,
            ).where(
                t.tenant_id == tenant_id,
                t.customer_id == customer_id,
                t.report_date >= since,
                t.report_date <= until,
            )
        ).all()
    )


def latest_lag_buckets(
    conn: Connection, columns: Sequence[str], *, tenant_id: str, customer_id: int, until: dt.date
) -> list[Row[*tuple[Any, ...]]]:
    """The cells, as ``columns``, of the account's newest conversion-lag histogram pulled for a
    day up to ``until`` (a backfill never reads a later one); none when ingest pulled none."""
    t = m.ConversionLagBucket
    account = (t.tenant_id == tenant_id, t.customer_id == customer_id)
    latest = select(func.max(t.pulled_for)).where(*account, t.pulled_for <= until)
    return list(
        conn.execute(
            select(*(t.__table__.c[c] for c in columns)).where(
                *account, t.pulled_for == latest.scalar_subquery()
            )
        ).all()
    )


def held_lag_cells(
    conn: Connection, *, tenant_id: str, customer_id: int, pulled_for: dt.date
) -> list[tuple[str, str]]:
    """(entity id, reason) of every active ingest quarantine entry of the lag histogram pulled
    for ``pulled_for``, in that order."""
    q = m.QualityQuarantine
    rows = conn.execute(
        select(q.entity_id, q.reason).where(
            q.tenant_id == tenant_id, q.customer_id == customer_id, q.stage == "ingest",
            q.source_table == m.ConversionLagBucket.__tablename__,
            q.logical_date == pulled_for, q.active.is_(True),
        ).order_by(q.entity_id, q.reason)
    ).all()  # fmt: skip
    return [(str(entity_id), str(reason)) for entity_id, reason in rows]


def campaign_settings(
    conn: Connection, *, tenant_id: str, customer_id: int
) -> list[Row[*tuple[Any, ...]]]:
    """Every campaign of the account: (campaign id, serving status, bidding strategy type,
    budget micros, max daily spend micros, target CPA micros, target ROAS)."""
    c = m.Campaign
    return list(
        conn.execute(
            select(
                c.campaign_id,
                c.serving_status,
                c.bidding_strategy_type,
                c.budget_micros,
                c.max_daily_spend_micros,
                c.target_cpa_micros,
                c.target_roas,
            ).where(c.tenant_id == tenant_id, c.customer_id == customer_id)
        ).all()
    )


def ad_group_bids(conn: Connection, *, tenant_id: str, customer_id: int) -> dict[int, int | None]:
    """Ad group id -> its default CPC bid in micros (None where it has none)."""
    g = m.AdGroup
    rows = conn.execute(
        select(g.ad_group_id, g.cpc_bid_micros).where(
            g.tenant_id == tenant_id, g.customer_id == customer_id
        )
    ).all()
    return {ad_group_id: bid for ad_group_id, bid in rows}


def keyword_settings(
    conn: Connection, *, tenant_id: str, customer_id: int
) -> list[Row[*tuple[Any, ...]]]:
    """Every keyword of the account: (criterion id, ad group id, CPC bid micros, negative,
    serving status)."""
    k = m.Keyword
    return list(
        conn.execute(
            select(
                k.criterion_id, k.ad_group_id, k.cpc_bid_micros, k.negative, k.serving_status
            ).where(k.tenant_id == tenant_id, k.customer_id == customer_id)
        ).all()
    )


def campaign_versions(
    conn: Connection, *, tenant_id: str, customer_id: int
) -> list[Row[*tuple[Any, ...]]]:
    """(campaign id, version, created at) of every campaign version after a campaign's first:
    the apply step snapshots one per applied change."""
    v = m.CampaignVersion
    return list(
        conn.execute(
            select(v.campaign_id, v.version, v.created_at).where(
                v.tenant_id == tenant_id, v.customer_id == customer_id, v.version > 1
            )
        ).all()
    )


def applied_changes(
    conn: Connection, *, tenant_id: str, customer_id: int, until: dt.date, fields: Sequence[str]
) -> list[Row[*tuple[Any, ...]]]:
    """(payload, effective date) of every applied change of ``fields`` that took effect on or
    before ``until``."""
    c = m.AppliedChange
    return list(
        conn.execute(
            select(c.payload, c.effective_date).where(
                c.tenant_id == tenant_id, c.customer_id == customer_id,
                c.field.in_(list(fields)), c.effective_date.is_not(None),
                c.effective_date <= until,
            )
        ).all()
    )  # fmt: skip


def recorded_bid_changes(
    conn: Connection, *, tenant_id: str, customer_id: int, until: dt.date
) -> list[Row[*tuple[Any, ...]]]:
    """(payload, effective date, value before, value after) of every recorded keyword bid
    change that took effect on or before ``until``."""
    c = m.AppliedChange
    return list(
        conn.execute(
            select(c.payload, c.effective_date, c.before_value, c.after_value).where(
                c.tenant_id == tenant_id, c.customer_id == customer_id,
                c.field == "cpc_bid_micros", c.phase == "recorded",
                c.effective_date.is_not(None), c.effective_date <= until,
            )
        ).all()
    )  # fmt: skip


def flagged_cpc_rises(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    since: dt.date,
    until: dt.date,
    runs_before: dt.date,
) -> list[Row[*tuple[Any, ...]]]:
    """(campaign id, day) of the days in [since, until] that runs of a logical date before
    ``runs_before`` flagged as the campaign's CPC going up."""
    a = m.AnomalyRow
    return list(
        conn.execute(
            select(a.entity_id, a.date).where(
                a.tenant_id == tenant_id, a.customer_id == customer_id,
                a.entity_level == "campaign", a.metric == "cpc", a.direction == "up",
                a.flagged.is_(True), a.date >= since, a.date <= until,
                a.logical_date < runs_before,
            )
        ).all()
    )  # fmt: skip


# --------------------------------------------------------------------------- writing
def replace_day(
    conn: Connection,
    rows: Mapping[Table, Sequence[Mapping[str, Any]]],
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    tables: Iterable[Table] | None = None,
) -> None:
    """Delete the day's rows of the account in every per-day table, then insert ``rows``."""
    for table in tables or [t.__table__ for t in DAY_TABLES]:
        conn.execute(
            delete(table).where(
                table.c.tenant_id == tenant_id,
                table.c.customer_id == customer_id,
                table.c.logical_date == logical_date,
            )
        )
        batch = rows.get(table)
        if batch:
            conn.execute(insert(table), list(batch))


def record_analytics_run(conn: Connection, run: Mapping[str, Any]) -> None:
    """Upsert the run's summary row by (tenant, account, logical day)."""
    bulk_upsert(conn, m.AnalyticsRun.__table__, [run], keys=m.natural_key(m.AnalyticsRun))
