"""The fact rows of the window: stored ones, with the rows ingest held back in their place."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from spectra.quality.checks import PERFORMANCE, RECORD_ONLY, QualityConfig
from spectra.quality.frames.batch import METRICS, PERF_KEY, ST_KEY, Batch, records_frame
from spectra.quality.screen import warehouse_row
from spectra.warehouse import models as m
from spectra.warehouse.quality_reads import held_payloads, stored_facts


def rows_frame(conn: Connection, batch: Batch, table: str, config: QualityConfig) -> pd.DataFrame:
    """``table``'s rows of the window (performance or search terms), with derived rates."""
    model = m.PerformanceDaily if table == PERFORMANCE else m.SearchTermDaily
    if table == PERFORMANCE:
        names = ["level", "entity_id", "campaign_id", "ad_group_id"]
        extra = ["search_impression_share"]
        key = PERF_KEY
    else:
        names = ["search_term", "campaign_id", "ad_group_id"]
        extra = []
        key = ST_KEY
    columns = [*names, "date", *METRICS, *extra, "reported_as_of"]
    rows = stored_facts(
        conn, model, columns, **batch.scope, first=batch.window_start, last=batch.logical_date
    )
    stored = _typed(records_frame(rows, columns), extra)
    stored["_origin"] = "warehouse"
    held = _typed(_held_frame(conn, batch, table, columns), extra)
    if len(held):
        # The fresh pull supersedes what is stored for the same key. Both sides are typed
        # first: the driver returns dates as ISO strings on SQLite and as dates on
        # PostgreSQL, the held rows carry date objects, and keys of different types never
        # match (the stored row would stay beside its held version as a false duplicate).
        held_keys = pd.MultiIndex.from_frame(held[key].dropna())
        stored = stored[~pd.MultiIndex.from_frame(stored[key]).isin(held_keys)]
        frame = pd.concat([stored, held], ignore_index=True)
    else:
        frame = stored.reset_index(drop=True)
    derive_rates(frame, config)
    frame["_row"] = np.arange(len(frame))
    return frame


def _typed(frame: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    """Dates as timestamps, ids and metrics as numbers, whatever the driver returned."""
    frame = frame.copy()
    frame["date"] = pd.to_datetime(frame["date"])
    for column in [*METRICS, *extra, "entity_id", "campaign_id", "ad_group_id"]:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _held_frame(conn: Connection, batch: Batch, table: str, columns: list[str]) -> pd.DataFrame:
    """The rows ingest held back for this day, in warehouse columns."""
    rows = []
    for payload in held_payloads(
        conn, **batch.day_scope, source_tables=[table], except_checks=RECORD_ONLY
    ):
        data = json.loads(payload)
        row = warehouse_row(data["query"], data["row"])
        row["reported_as_of"] = batch.as_of
        rows.append({c: row.get(c) for c in columns})
    frame = pd.DataFrame(rows, columns=columns)
    frame["_origin"] = "ingest"
    return frame


def derive_rates(frame: pd.DataFrame, config: QualityConfig) -> None:
    """CTR, CPC and CVR where their denominators are large enough to judge (else NaN).

    NaN is skipped by Great Expectations' column-value expectations, so a keyword with 3
    impressions and 2 clicks is not called implausible.
    """
    impressions = frame["impressions"].to_numpy(dtype=float)
    clicks = frame["clicks"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["ctr"] = np.where(
            impressions >= config.ctr_min_impressions, clicks / impressions, np.nan
        )
        frame["cpc_micros"] = np.where(
            clicks >= 1, frame["cost_micros"].to_numpy(dtype=float) / clicks, np.nan
        )
        frame["cvr"] = np.where(
            clicks >= config.cvr_min_clicks,
            frame["conversions"].to_numpy(dtype=float) / clicks,
            np.nan,
        )
