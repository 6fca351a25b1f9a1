"""SQL the quality gate reads the account's stored window with, as plain driver tuples.

The gate turns a 30-day window of fact rows (200k on a large account) into one DataFrame. For
that many rows SQLAlchemy's per-value result processing (dates parsed one by one) and its Row
objects cost more than the query itself, so these reads hand the driver's own tuples to the
frame, which parses dates in one vectorised pass. Parameters are bound, never rendered into
the SQL. Every query is scoped by tenant and account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, literal, select

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
