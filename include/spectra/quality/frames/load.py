"""One account's batch: every frame the suites need, read back from the warehouse."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from spectra.quality.checks import PERFORMANCE, SEARCH_TERMS, QualityConfig
from spectra.quality.frames.account import account_frame
from spectra.quality.frames.batch import (
    ACCOUNT,
    PERF_COVERAGE,
    PERF_DAYS,
    PERF_ROWS,
    ST_DAYS,
    ST_ROWS,
    STRUCTURE,
    Batch,
)
from spectra.quality.frames.coverage import coverage_frame
from spectra.quality.frames.days import days_frame
from spectra.quality.frames.rows import rows_frame
from spectra.quality.frames.structure import structure_frame
from spectra.warehouse import models as m
from spectra.warehouse.ingest_store import ingest_complete_through
from spectra.warehouse.quality_reads import first_fact_date, held_entries


def load_batch(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    window_start: dt.date,
    as_of: dt.date,
    config: QualityConfig,
) -> Batch:
    """Read the window back from the warehouse and derive every frame the suites need.

    The order matters: coverage records the days Google left out, which the per-day row
    counts then leave unjudged.
    """
    batch = Batch(tenant_id, customer_id, logical_date, window_start, as_of)
    batch.complete_through = ingest_complete_through(conn, **batch.day_scope)
    batch.first_date = first_fact_date(conn, **batch.scope)
    batch.ingest_entries = held_entries(conn, **batch.day_scope)
    perf = rows_frame(conn, batch, PERFORMANCE, config)
    terms = rows_frame(conn, batch, SEARCH_TERMS, config)
    batch.frames[PERF_ROWS] = perf
    batch.frames[ST_ROWS] = terms
    batch.frames[PERF_COVERAGE] = coverage_frame(conn, batch, perf, config)
    batch.frames[PERF_DAYS] = days_frame(conn, batch, m.PerformanceDaily, perf, config, outage=True)
    batch.frames[ST_DAYS] = days_frame(conn, batch, m.SearchTermDaily, terms, config)
    batch.frames[ACCOUNT] = account_frame(conn, batch)
    batch.frames[STRUCTURE] = structure_frame(conn, batch)
    return batch
