"""Throughput of bulk_upsert: 200k keyword-day rows of performance_daily on each backend.

Floors are regression guards well below what a laptop does (SQLite ~170-250k rows/s,
PostgreSQL ~55-70k rows/s on a 2-core box), so they hold under ``pytest -n auto``.
Run with ``-s`` to see the measured rates.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import Engine, func, select
from warehouse_factories import PERF_KEYS, perf_row

from spectra.warehouse.models import PerformanceDaily
from spectra.warehouse.upsert import bulk_upsert

N_KEYWORDS, N_DAYS = 2_000, 100
FLOOR_ROWS_PER_S = {"sqlite": 50_000, "postgresql": 15_000}


@pytest.mark.slow
def test_200k_keyword_days(tenants: Engine) -> None:
    engine = tenants
    start = dt.date(2026, 1, 1)
    days = [start + dt.timedelta(days=d) for d in range(N_DAYS)]
    first = [
        perf_row(k, day, as_of=dt.date(2026, 4, 11)) for k in range(N_KEYWORDS) for day in days
    ]
    restated = [
        {**row, "conversions": row["conversions"] + 1, "reported_as_of": dt.date(2026, 4, 12)}
        for row in first
    ]

    rates = {}
    for label, rows, expected in (
        ("insert", first, len(first)),
        ("update", restated, len(first)),
        ("re-run", restated, 0),
    ):
        started = time.perf_counter()
        with engine.begin() as conn:
            written = bulk_upsert(
                conn, PerformanceDaily, rows, keys=PERF_KEYS, freshness_column="reported_as_of"
            )
        rates[label] = len(rows) / (time.perf_counter() - started)
        assert written == expected, label

    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PerformanceDaily)) == len(first)
    backend = engine.dialect.name
    print(f"\n{backend}: " + ", ".join(f"{k} {v:,.0f} rows/s" for k, v in rates.items()))
    assert min(rates.values()) >= FLOOR_ROWS_PER_S[backend], rates
