"""What the ingest tests under chaos share: the tables an ingest writes, a market serving rows
ingest must hold back, and a warehouse knowing the accounts."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Engine

from spectra.warehouse import models as m
from spectra.warehouse.repositories import register_account, register_tenant

# Every table an ingest run writes the pulled rows to (its own run row and the quarantine
# are judged on their own): the checksums of these say two runs left the same warehouse.
INGESTED_TABLES = [
    m.Campaign.__table__,
    m.AdGroup.__table__,
    m.Keyword.__table__,
    m.Ad.__table__,
    m.PerformanceDaily.__table__,
    m.SearchTermDaily.__table__,
    m.CampaignAdSchedule.__table__,
    m.ChangeEvent.__table__,
]


class BadRowsMarket:
    """The market, serving a few rows ingest must hold back (negative clicks, NaN conversions)
    on ``day``.

    So the quarantine side of the accounting invariant is not empty: a broken screen that
    wrote or dropped them would break the count.
    """

    def __init__(self, market: Any, day: dt.date) -> None:
        self.market, self.day = market, day.isoformat()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.market, name)

    def customer_ids(self) -> list[int]:
        return self.market.customer_ids()

    def rows(self, resource: str, *, customer_id: int, **kwargs: Any) -> Iterator[dict[str, Any]]:
        rows: Iterable[dict[str, Any]] = self.market.rows(
            resource, customer_id=customer_id, **kwargs
        )
        spoiled = 0
        for row in rows:
            if spoiled < 2 and row.get("segments.date") == self.day:
                if resource == "keyword_view":
                    row, spoiled = {**row, "metrics.clicks": -3}, spoiled + 1
                elif resource == "search_term_view":
                    row, spoiled = {**row, "metrics.conversions": math.nan}, spoiled + 1
            yield row


def register_accounts(engine: Engine, tenant_id: str, customer_ids: Sequence[int]) -> Engine:
    """``engine`` with ``tenant_id`` registered, owning ``customer_ids``."""
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=tenant_id, name=tenant_id.title())
        for cid in customer_ids:
            register_account(conn, tenant_id=tenant_id, customer_id=cid)
    return engine
