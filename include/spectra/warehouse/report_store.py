"""SQL of ``spectra report``: one account's stored findings for a day, read back.

Every read is scoped by tenant and account, except :func:`newest_quality_day` and
:func:`quality_accounts` without a tenant: the operator's report over every tenant (the CLI's
own view), which then reads each account on its own. Every function takes a Core
``Connection`` and never commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from spectra.warehouse import models as m


def newest_quality_day(conn: Connection) -> dt.date | None:
    """The newest report day with a quality verdict, of any tenant."""
    return conn.execute(select(func.max(m.QualityRun.logical_date))).scalar_one_or_none()


def quality_accounts(
    conn: Connection, days: Sequence[dt.date], tenant_id: str | None, customer_id: int | None
) -> list[tuple[str, int]]:
    """(tenant, customer id) of the accounts with a quality verdict on one of ``days``
    (those of ``tenant_id`` / ``customer_id`` when given), sorted."""
    r = m.QualityRun
    stmt = select(r.tenant_id, r.customer_id).where(r.logical_date.in_(list(days))).distinct()
    if tenant_id is not None:
        stmt = stmt.where(r.tenant_id == tenant_id)
    if customer_id is not None:
        stmt = stmt.where(r.customer_id == customer_id)
    return sorted((t, int(c)) for t, c in conn.execute(stmt).all())


def expected_currency(conn: Connection, *, tenant_id: str, customer_id: int) -> str | None:
    """The currency the quality gate expects of the account (its pinned expectation)."""
    e = m.AccountExpectation
    return conn.execute(
        select(e.currency_code).where(e.tenant_id == tenant_id, e.customer_id == customer_id)
    ).scalar_one_or_none()


def analytics_run(
    conn: Connection, *, tenant_id: str, customer_id: int, logical_date: dt.date
) -> Any:
    """(warnings, counts) of the account's analyze run of the day; None when it has none."""
    a = m.AnalyticsRun
    return conn.execute(
        select(a.warnings, a.counts).where(
            a.tenant_id == tenant_id, a.customer_id == customer_id, a.logical_date == logical_date
        )
    ).first()


def day_rows(
    conn: Connection,
    model: Any,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    order: Sequence[str],
) -> list[dict[str, Any]]:
    """The account's rows of a per-day table for the day, without their keys, in ``order``."""
    table = model.__table__
    skip = {"id", "tenant_id", "customer_id", "logical_date"}
    columns = [c for c in table.c if c.name not in skip]
    stmt = (
        select(*columns)
        .where(
            table.c.tenant_id == tenant_id,
            table.c.customer_id == customer_id,
            table.c.logical_date == logical_date,
        )
        .order_by(*(table.c[name] for name in order))
    )
    return [dict(row._mapping) for row in conn.execute(stmt)]


def quality_runs(
    conn: Connection, *, tenant_id: str, customer_id: int, days: Sequence[dt.date]
) -> list[Any]:
    """The account's quality verdicts of ``days``, oldest first: (logical date, status,
    blocking, warnings, quarantined rows, excluded days)."""
    r = m.QualityRun
    return list(
        conn.execute(
            select(
                r.logical_date, r.status, r.blocking, r.warnings, r.quarantined_rows,
                r.excluded_days,
            )
            .where(r.tenant_id == tenant_id, r.customer_id == customer_id)
            .where(r.logical_date.in_(list(days)))
            .order_by(r.logical_date)
        ).all()
    )  # fmt: skip


def tracking_outages(
    conn: Connection, *, tenant_id: str, customer_id: int, day: dt.date
) -> tuple[list[Any], list[Any]]:
    """The account's tracking-outage exclusions as of ``day``: (the active ones of the newest
    run on or before it, oldest day first: date, clicks, conversions, expected conversions,
    reason; every run's entries: date, logical date, expected conversions). Both are empty
    when no run excluded any."""
    x = m.DataExclusion
    scope = (
        x.tenant_id == tenant_id,
        x.customer_id == customer_id,
        x.kind == "tracking_outage",
        x.logical_date <= day,
    )
    latest = conn.execute(select(func.max(x.logical_date)).where(*scope)).scalar_one_or_none()
    if latest is None:
        return [], []
    current = conn.execute(
        select(x.date, x.clicks, x.conversions, x.expected_conversions, x.reason)
        .where(*scope, x.logical_date == latest, x.active.is_(True))
        .order_by(x.date)
    ).all()
    history = conn.execute(
        select(x.date, x.logical_date, x.expected_conversions).where(*scope)
    ).all()
    return list(current), list(history)


def nowcast_totals(
    conn: Connection, *, tenant_id: str, customer_id: int, logical_date: dt.date, since: dt.date
) -> list[Any]:
    """Per click day from ``since``, newest first, the account's lag completion of the day's
    run summed over campaigns: (date, observed, nowcast, nowcast variance, youngest age,
    status)."""
    n = m.Nowcast
    return list(
        conn.execute(
            select(
                n.date,
                func.sum(n.conversions_observed),
                func.sum(n.conversions_nowcast),
                func.sum(n.conversions_nowcast_se * n.conversions_nowcast_se),
                func.min(n.age_days),
                func.max(n.lag_status),
            )
            .where(
                n.tenant_id == tenant_id,
                n.customer_id == customer_id,
                n.logical_date == logical_date,
                n.date >= since,
            )
            .group_by(n.date)
            .order_by(n.date.desc())
        ).all()
    )


# The day column a table's span is read from, in order of preference (absent: no span).
SPAN_COLUMNS = ("date", "pulled_for", "logical_date")


def table_spans(conn: Connection) -> list[tuple[str, int, str]]:
    """(table, rows, first .. last day) for every warehouse table, in the models' order, over
    every tenant (the operator's view of what the demo stored).

    Derived from the models' metadata, so a table a migration adds shows up without a list
    here to keep in step.
    """
    out = []
    for table in m.Base.metadata.tables.values():
        count = conn.execute(select(func.count()).select_from(table)).scalar_one()
        span = ""
        day = next((table.c[c] for c in SPAN_COLUMNS if c in table.c), None)
        if day is not None:
            lo, hi = conn.execute(select(func.min(day), func.max(day))).one()
            span = f"{lo} .. {hi}" if lo else ""
        out.append((table.name, int(count), span))
    return out
