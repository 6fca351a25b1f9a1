"""What analytics reads: the fact tables minus quarantined rows and excluded days.

Migration 0002 creates the views ``performance_daily_clean`` and ``search_terms_daily_clean``;
this module exposes them to SQLAlchemy code. A fact row is hidden when an *active* quarantine
entry names the same stored version of it (same key and ``reported_as_of``: a later pull that
restates the row brings it back) or when its day is under an active data exclusion (a
tracking outage). Quarantine entries and exclusions are never deleted, only deactivated, so
the view can always be explained row by row.

    rows = conn.execute(clean_performance_query("acme", customer_id=123,
                                                date_from=d0, date_to=d1)).all()
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, MetaData, Select, Table, select

from spectra.warehouse import models as m

# A metadata of its own: these are views, and must never be created as tables.
_views = MetaData()

performance_daily_clean = Table(
    "performance_daily_clean",
    _views,
    *(Column(c.name, c.type) for c in m.PerformanceDaily.__table__.columns),
)
search_terms_daily_clean = Table(
    "search_terms_daily_clean",
    _views,
    *(Column(c.name, c.type) for c in m.SearchTermDaily.__table__.columns),
)


def _query(
    view: Table,
    tenant_id: str,
    customer_id: int | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> Select[tuple[object, ...]]:
    stmt = select(view).where(view.c.tenant_id == tenant_id)
    if customer_id is not None:
        stmt = stmt.where(view.c.customer_id == customer_id)
    if date_from is not None:
        stmt = stmt.where(view.c.date >= date_from)
    if date_to is not None:
        stmt = stmt.where(view.c.date <= date_to)
    return stmt


def clean_performance_query(
    tenant_id: str,
    *,
    customer_id: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Select[tuple[object, ...]]:
    """Daily performance analytics may use: one tenant, optionally one account and range."""
    return _query(performance_daily_clean, tenant_id, customer_id, date_from, date_to)


def clean_search_terms_query(
    tenant_id: str,
    *,
    customer_id: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Select[tuple[object, ...]]:
    """Daily search-term metrics analytics may use (same rules as performance)."""
    return _query(search_terms_daily_clean, tenant_id, customer_id, date_from, date_to)
