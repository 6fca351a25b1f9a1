"""Per-day totals: each day's rows against the trailing median and, for performance, the
tracking-outage score."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from spectra.quality.checks import QualityConfig
from spectra.quality.frames.batch import Batch, window_days, with_row
from spectra.quality.outage import score_tracking
from spectra.warehouse import models as m
from spectra.warehouse.quality_reads import daily_row_counts, latest_lag_cdf


def days_frame(
    conn: Connection,
    batch: Batch,
    model: type[m.PerformanceDaily] | type[m.SearchTermDaily],
    rows: pd.DataFrame,
    config: QualityConfig,
    *,
    outage: bool = False,
) -> pd.DataFrame:
    """Per day: rows against the trailing median and, with ``outage``, the outage score
    (from the stored campaign rows' clicks and conversions)."""
    history_start = batch.window_start - dt.timedelta(days=config.row_count_history_days)
    counts = daily_row_counts(
        conn, model, **batch.scope, first=history_start, last=batch.logical_date
    )
    days = window_days(batch) if batch.first_date is not None else []
    records = []
    for day in days:
        previous = [
            counts[d]
            for k in range(1, config.row_count_history_days + 1)
            if (d := day - dt.timedelta(days=k)) in counts
        ]
        n = counts.get(day, 0)
        enough = (
            len(previous) >= config.row_count_min_history
            and n > 0
            and day not in batch.left_out_days
        )
        median = float(np.median(previous)) if previous else float("nan")
        records.append(
            {
                "date": pd.Timestamp(day),
                "rows": n,
                "trailing_median_rows": median,
                "row_count_ratio": n / median if enough and median > 0 else float("nan"),
                "age_days": (batch.as_of - day).days,
            }
        )
    frame = pd.DataFrame(
        records,
        columns=["date", "rows", "trailing_median_rows", "row_count_ratio", "age_days"],
    )
    frame["date"] = pd.to_datetime(frame["date"])  # also when empty (a new account)
    if outage:
        stored = rows[(rows["_origin"] == "warehouse") & (rows["level"] == "campaign")]
        totals = stored.groupby("date")[["clicks", "conversions"]].sum()
        frame = frame.join(totals, on="date").fillna({"clicks": 0, "conversions": 0.0})
        lag_cdf = latest_lag_cdf(
            conn,
            tenant_id=batch.tenant_id,
            customer_id=batch.customer_id,
            before=batch.logical_date,
        )
        frame = score_tracking(frame, config, lag_cdf)
    return with_row(frame)
