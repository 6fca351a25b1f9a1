"""SQL the quality gate reads an account's stored window and its context with.

The fact rows and the structure come back as plain driver tuples (:func:`fetch_tuples`): the
gate turns a 30-day window of fact rows (200k on a large account) into one DataFrame. For
that many rows SQLAlchemy's per-value result processing (dates parsed one by one) and its Row
objects cost more than the query itself, so these reads hand the driver's own tuples to the
frame, which parses dates in one vectorised pass. Parameters are bound, never rendered into
the SQL. The small reads below them (ingest's entries, schedules, change history, row
counts, settings) go through SQLAlchemy as usual. Every query is scoped by tenant and account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, func, literal, select

from spectra.warehouse import models as m
from spectra.warehouse.db import dbapi_connection

# The structure the gate checks, per level: (entity id, parent id, money) columns.
STRUCTURE_COLUMNS = ("entity_id", "parent_id", "money_micros")


def fetch_tuples(conn: Connection, stmt: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Every row of ``stmt`` as the driver's tuples, in the caller's transaction.

    The statement is compiled for the connection's dialect and its parameters go to the
    driver bound, each through its column type's bind processor (what SQLAlchemy's own
    execution does: SQLite stores dates as ISO text). IN lists (expanding parameters, which
    SQLAlchemy's execution rewrites) are refused.
    """
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect)
    values: dict[str, Any] = {}
    for name, value in compiled.construct_params().items():
        bind = compiled.binds[name]
        if bind.expanding:
            raise TypeError(f"fetch_tuples takes no IN list (parameter {name!r})")
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        values[name] = processor(value) if processor is not None else value
    params: Sequence[Any] | dict[str, Any] = values
    if compiled.positional:
        params = [values[name] for name in compiled.positiontup or ()]
    cursor = dbapi_connection(conn).cursor()
    try:
        cursor.execute(compiled.string, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def stored_facts(
    conn: Connection,
    model: type[m.PerformanceDaily] | type[m.SearchTermDaily],
    columns: Sequence[str],
    *,
    tenant_id: str,
    customer_id: int,
    first: dt.date,
    last: dt.date,
) -> list[tuple[Any, ...]]:
    """The account's stored fact rows dated ``first`` to ``last``, as ``columns``."""
    table = model.__table__
    return fetch_tuples(
        conn,
        select(*(table.c[name] for name in columns)).where(
            table.c.tenant_id == tenant_id,
            table.c.customer_id == customer_id,
            table.c.date.between(first, last),
        ),
    )


def stored_structure(
    conn: Connection, *, tenant_id: str, customer_id: int
) -> dict[str, list[tuple[Any, ...]]]:
    """The account's campaigns, ad groups, keywords and ads: per level, one
    (entity id, parent id, money) tuple each (ads have no money of their own: 0)."""
    c, g, k, a = m.Campaign, m.AdGroup, m.Keyword, m.Ad
    by_level: dict[str, Select[*tuple[Any, ...]]] = {
        "campaign": select(c.campaign_id, c.customer_id, c.budget_micros).where(
            c.tenant_id == tenant_id, c.customer_id == customer_id
        ),
        "ad_group": select(g.ad_group_id, g.campaign_id, g.cpc_bid_micros).where(
            g.tenant_id == tenant_id, g.customer_id == customer_id
        ),
        "keyword": select(k.criterion_id, k.ad_group_id, k.cpc_bid_micros).where(
            k.tenant_id == tenant_id, k.customer_id == customer_id
        ),
        "ad": select(a.ad_id, a.ad_group_id, literal(0)).where(
            a.tenant_id == tenant_id, a.customer_id == customer_id
        ),
    }
    return {level: fetch_tuples(conn, stmt) for level, stmt in by_level.items()}


# --------------------------------------------------------------------------- the gate's small reads
# What the gate reads besides the fact rows: small, per account (and day), through SQLAlchemy.


def first_fact_date(conn: Connection, *, tenant_id: str, customer_id: int) -> dt.date | None:
    """The account's first day with performance rows, ever (None: none yet)."""
    p = m.PerformanceDaily
    return conn.execute(
        select(func.min(p.date)).where(p.tenant_id == tenant_id, p.customer_id == customer_id)
    ).scalar_one()


def _held_today(tenant_id: str, customer_id: int, logical_date: dt.date) -> tuple[Any, ...]:
    """Where ingest's active entries for this account and day are (``quality_quarantine``)."""
    q = m.QualityQuarantine
    return (
        q.tenant_id == tenant_id,
        q.customer_id == customer_id,
        q.stage == "ingest",
        q.logical_date == logical_date,
        q.active.is_(True),
    )


def held_entries(
    conn: Connection, *, tenant_id: str, customer_id: int, logical_date: dt.date
) -> list[tuple[str, str, str]]:
    """What ingest's screen recorded for the day: (check, severity, reason), one per entry."""
    q = m.QualityQuarantine
    return [
        (check_name, severity, reason)
        for check_name, severity, reason in conn.execute(
            select(q.check_name, q.severity, q.reason)
            .where(*_held_today(tenant_id, customer_id, logical_date))
            .order_by(q.check_name, q.id)
        )
    ]


def held_payloads(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    source_tables: Collection[str],
    except_checks: Collection[str] = (),
) -> list[str]:
    """The payloads of the rows ingest held back for the day from ``source_tables``: one per
    held row (a row failing two checks has two entries and one fingerprint), by fingerprint.
    Entries of ``except_checks`` (recorded, not held) are left out."""
    q = m.QualityQuarantine
    where = [*_held_today(tenant_id, customer_id, logical_date), q.source_table.in_(source_tables)]
    if except_checks:
        where.append(q.check_name.not_in(sorted(except_checks)))
    return [
        payload
        for _, payload in conn.execute(
            select(q.row_fingerprint, q.payload)
            .where(*where)
            .distinct()
            .order_by(q.row_fingerprint)
        )
    ]


def ad_schedule_days(
    conn: Connection, *, tenant_id: str, customer_id: int
) -> list[tuple[int, str]]:
    """(campaign id, day of week) of every ad schedule of the account."""
    s = m.CampaignAdSchedule
    return [
        (int(campaign_id), day)
        for campaign_id, day in conn.execute(
            select(s.campaign_id, s.day_of_week).where(
                s.tenant_id == tenant_id, s.customer_id == customer_id
            )
        )
    ]


def campaign_status_changes(
    conn: Connection, *, tenant_id: str, customer_id: int
) -> list[tuple[int, dt.datetime]]:
    """(campaign id, when, UTC) of every stored change of a campaign's status."""
    e = m.ChangeEvent
    out = []
    for campaign_id, resource_type, fields, changed_at in conn.execute(
        select(e.campaign_id, e.resource_type, e.changed_fields, e.changed_at).where(
            e.tenant_id == tenant_id, e.customer_id == customer_id
        )
    ):
        if campaign_id is None or resource_type != "CAMPAIGN" or "status" not in (fields or []):
            continue
        at = changed_at if changed_at.tzinfo else changed_at.replace(tzinfo=dt.UTC)
        out.append((int(campaign_id), at))
    return out


def enabled_campaigns(conn: Connection, *, tenant_id: str, customer_id: int) -> set[int]:
    """The account's campaigns Google serves (serving status ENABLED)."""
    c = m.Campaign
    return {
        int(campaign_id)
        for (campaign_id,) in conn.execute(
            select(c.campaign_id).where(
                c.tenant_id == tenant_id,
                c.customer_id == customer_id,
                c.serving_status == "ENABLED",
            )
        )
    }


def daily_row_counts(
    conn: Connection,
    model: type[m.PerformanceDaily] | type[m.SearchTermDaily],
    *,
    tenant_id: str,
    customer_id: int,
    first: dt.date,
    last: dt.date,
) -> dict[dt.date, int]:
    """Stored rows per day of the account, ``first`` to ``last``."""
    return {
        _as_date(day): int(n)
        for day, n in conn.execute(
            select(model.date, func.count())
            .where(
                model.tenant_id == tenant_id,
                model.customer_id == customer_id,
                model.date.between(first, last),
            )
            .group_by(model.date)
        )
    }


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def account_settings(conn: Connection, *, tenant_id: str, customer_id: int) -> tuple[str, str]:
    """The account's stored (currency, time zone)."""
    a = m.AdAccount
    currency, time_zone = conn.execute(
        select(a.currency_code, a.time_zone).where(
            a.tenant_id == tenant_id, a.customer_id == customer_id
        )
    ).one()
    return currency, time_zone


def pinned_settings(
    conn: Connection, *, tenant_id: str, customer_id: int
) -> tuple[str, str, dt.date] | None:
    """The (currency, time zone, pinned on) the gate pinned for the account (None: not yet)."""
    e = m.AccountExpectation
    row = conn.execute(
        select(e.currency_code, e.time_zone, e.pinned_on).where(
            e.tenant_id == tenant_id, e.customer_id == customer_id
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


def account_currency(conn: Connection, *, tenant_id: str, customer_id: int) -> str | None:
    """The account's stored currency (None: the account is not registered)."""
    a = m.AdAccount
    return conn.execute(
        select(a.currency_code).where(a.tenant_id == tenant_id, a.customer_id == customer_id)
    ).scalar_one_or_none()


def metric_maxima(
    conn: Connection,
    model: type[m.PerformanceDaily] | type[m.SearchTermDaily],
    columns: Sequence[str],
    *,
    by_level: bool,
    tenant_id: str,
    customer_id: int,
    first: dt.date,
    last: dt.date,
) -> list[tuple[str | None, int, list[Any]]]:
    """The account's largest stored value of each of ``columns``, ``first`` to ``last``:
    (level or None, days with rows, maxima in ``columns`` order), per level with
    ``by_level``, else one row."""
    table = model.__table__
    level = table.c.level if by_level else None
    maxima = [func.max(table.c[c]) for c in columns]
    stmt = select(
        *([level] if level is not None else []), func.count(func.distinct(table.c.date)), *maxima
    ).where(
        table.c.tenant_id == tenant_id,
        table.c.customer_id == customer_id,
        table.c.date >= first,
        table.c.date <= last,
    )
    if level is not None:
        stmt = stmt.group_by(level)
    out = []
    for row in conn.execute(stmt):
        values = list(row)
        name = values.pop(0) if level is not None else None
        out.append((name, values[0], values[1:]))
    return out


def quality_runs(
    conn: Connection,
    *,
    logical_dates: Sequence[dt.date] | None = None,
    tenant_id: str | None = None,
    accounts: Sequence[tuple[str, int]] | None = None,
) -> list[Row[Any]]:
    """Stored verdicts (one per account and day), optionally of ``logical_dates``, of one
    tenant, and of the tenants and accounts in ``accounts`` (bound IN lists on both key
    columns: the caller keeps the exact pairs)."""
    r = m.QualityRun
    stmt = select(
        r.logical_date,
        r.tenant_id,
        r.customer_id,
        r.status,
        r.blocking,
        r.warnings,
        r.quarantined_rows,
        r.excluded_days,
        r.data_docs_path,
    )
    if logical_dates is not None:
        stmt = stmt.where(r.logical_date.in_(list(logical_dates)))
    if tenant_id is not None:
        stmt = stmt.where(r.tenant_id == tenant_id)
    if accounts is not None:
        stmt = stmt.where(
            r.tenant_id.in_(sorted({t for t, _ in accounts})),
            r.customer_id.in_(sorted({c for _, c in accounts})),
        )
    return list(conn.execute(stmt))


def latest_lag_cdf(
    conn: Connection, *, tenant_id: str, customer_id: int, before: dt.date
) -> list[float] | None:
    """The account's conversion-lag F by age (index = age in days) from the latest usable
    curve analytics stored for a day before ``before``; None when there is none yet."""
    c = m.LagCurveRow
    latest = conn.execute(
        select(c.logical_date)
        .where(
            c.tenant_id == tenant_id,
            c.customer_id == customer_id,
            c.logical_date < before,
            c.usable.is_(True),
        )
        .order_by(c.logical_date.desc())
        .limit(1)
    ).scalar()
    if latest is None:
        return None
    rows = conn.execute(
        select(c.age_days, c.cdf_conversions)
        .where(c.tenant_id == tenant_id, c.customer_id == customer_id, c.logical_date == latest)
        .order_by(c.age_days)
    ).all()
    by_age = {int(age): float(cdf) for age, cdf in rows}
    if not by_age or min(by_age) != 0 or len(by_age) != max(by_age) + 1:
        return None  # a gap in the ages: not a curve to index by age
    return [by_age[a] for a in range(len(by_age))]
