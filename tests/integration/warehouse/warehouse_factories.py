"""Row factories and constants shared by the warehouse integration tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

TENANT_A, TENANT_B = "tenant-a", "tenant-b"
CUSTOMER_A, CUSTOMER_B = 1_111_111_111, 2_222_222_222
PERF_KEYS = ("tenant_id", "customer_id", "level", "entity_id", "ad_group_id", "date")
DAY = dt.date(2026, 3, 1)


def perf_row(
    entity_id: int,
    day: dt.date = DAY,
    *,
    as_of: dt.date = dt.date(2026, 3, 10),
    tenant_id: str = TENANT_A,
    customer_id: int = CUSTOMER_A,
    **metrics: Any,
) -> dict[str, Any]:
    """One keyword-day row of performance_daily with deterministic metrics."""
    row: dict[str, Any] = {
        "tenant_id": tenant_id,
        "customer_id": customer_id,
        "level": "keyword",
        "entity_id": entity_id,
        "campaign_id": 10 + entity_id % 3,
        "ad_group_id": 100 + entity_id % 7,
        "date": day,
        "impressions": 1000 + entity_id,
        "clicks": 10 + entity_id % 50,
        "cost_micros": 1_234_567 * (1 + entity_id % 5),
        "conversions": (entity_id % 9) / 4,
        "conversions_value_micros": 25_000_000 * (entity_id % 4),
        "search_impression_share": 0.5 + (entity_id % 10) / 100,
        "search_budget_lost_impression_share": None,
        "search_rank_lost_impression_share": 0.125,
        "reported_as_of": as_of,
    }
    row.update(metrics)
    return row
