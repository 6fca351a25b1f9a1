"""SQL of the evaluation harness: the ledger, cost and limits it scores, and what its rule
bots read of the warehouse.

The harness owns a tenant of its own for a run, so most reads here are scoped by tenant
alone (every account of the run); the greedy bot's reads are scoped by tenant and account.
Every function takes a Core ``Connection`` in the caller's transaction and never commits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, func, select, update

from spectra.warehouse import models as m


def cap_spend_at_budgets(conn: Connection, *, tenant_id: str, factor: int) -> dict[int, int]:
    """Set every campaign's max daily spend to ``factor`` times its budget; return the budgets
    (campaign id -> budget micros, 0 where none is stored)."""
    rows = conn.execute(
        m.Campaign.__table__.select().where(m.Campaign.tenant_id == tenant_id)
    ).mappings()
    budgets = {int(r["campaign_id"]): int(r["budget_micros"] or 0) for r in rows}
    for campaign_id, budget in budgets.items():
        conn.execute(
            update(m.Campaign)
            .where(m.Campaign.tenant_id == tenant_id, m.Campaign.campaign_id == campaign_id)
            .values(max_daily_spend_micros=budget * factor)
        )
    return budgets


def recorded_changes(conn: Connection, *, tenant_id: str) -> list[Any]:
    """The tenant's recorded changes, oldest first: (campaign id, entity key, field, before,
    after, effective date, origin kind, target)."""
    t = m.AppliedChange
    return list(
        conn.execute(
            select(
                t.campaign_id, t.entity_key, t.field, t.before_value, t.after_value,
                t.effective_date, t.origin_kind, t.target,
            )
            .where(t.tenant_id == tenant_id, t.phase == "recorded")
            .order_by(t.effective_date, t.id)
        ).all()
    )  # fmt: skip


def ai_cost_micros(conn: Connection, *, tenant_id: str) -> int:
    """What the tenant's AI calls cost in all."""
    total = conn.execute(
        select(func.coalesce(func.sum(m.AiCall.cost_micros), 0)).where(
            m.AiCall.tenant_id == tenant_id
        )
    ).scalar_one()
    return int(total)


def spend_limits(conn: Connection, *, tenant_id: str) -> dict[int, int]:
    """Campaign id -> max daily spend micros, of the tenant's campaigns that have one."""
    rows = conn.execute(
        select(m.Campaign.campaign_id, m.Campaign.max_daily_spend_micros).where(
            m.Campaign.tenant_id == tenant_id, m.Campaign.max_daily_spend_micros.is_not(None)
        )
    ).all()
    return {int(c): int(v) for c, v in rows if v is not None}


def last_change_days(conn: Connection, *, tenant_id: str, origin: str) -> dict[int, dt.date]:
    """Campaign id -> effective day of its newest recorded change made by ``origin`` (the
    changes whose origin ref starts ``origin:``)."""
    c = m.AppliedChange
    rows = conn.execute(
        select(c.campaign_id, func.max(c.effective_date))
        .where(
            c.tenant_id == tenant_id,
            c.origin_ref.like(f"{origin}:%"),
            c.phase == "recorded",
        )
        .group_by(c.campaign_id)
    ).all()
    return {int(cid): d for cid, d in rows if d is not None}


def keyword_day_rows(
    conn: Connection, *, tenant_id: str, customer_id: int, day: dt.date
) -> list[Any]:
    """The account's stored keyword rows of ``day``: (campaign id, ad group id, criterion id,
    cost micros, conversions)."""
    perf = m.PerformanceDaily
    return list(
        conn.execute(
            select(
                perf.campaign_id, perf.ad_group_id, perf.entity_id,
                perf.cost_micros, perf.conversions,
            ).where(
                perf.tenant_id == tenant_id, perf.customer_id == customer_id, perf.date == day,
                perf.level == "keyword",
            )
        ).all()
    )  # fmt: skip


def campaign_day_rows(
    conn: Connection, *, tenant_id: str, customer_id: int, day: dt.date
) -> list[Any]:
    """The account's stored campaign rows of ``day``: (campaign id, cost micros, conversions,
    conversions value micros)."""
    perf = m.PerformanceDaily
    return list(
        conn.execute(
            select(
                perf.entity_id, perf.cost_micros, perf.conversions, perf.conversions_value_micros
            ).where(
                perf.tenant_id == tenant_id, perf.customer_id == customer_id, perf.date == day,
                perf.level == "campaign",
            )
        ).all()
    )  # fmt: skip


def positive_keyword_bids(
    conn: Connection, *, tenant_id: str, customer_id: int
) -> dict[tuple[int, int], int]:
    """(ad group id, criterion id) -> CPC bid micros of the account's positive keywords."""
    k = m.Keyword
    return {
        (int(r.ad_group_id), int(r.criterion_id)): int(r.cpc_bid_micros)
        for r in conn.execute(
            select(k).where(
                k.tenant_id == tenant_id, k.customer_id == customer_id, k.negative.is_(False)
            )
        )
    }


def campaigns_by_id(conn: Connection, *, tenant_id: str, customer_id: int) -> dict[int, Any]:
    """Campaign id -> the account's stored campaign row (every column)."""
    c = m.Campaign
    return {
        int(r.campaign_id): r
        for r in conn.execute(
            select(c).where(c.tenant_id == tenant_id, c.customer_id == customer_id)
        )
    }
