"""The re-pull window of a daily run: which days ingest pulls for logical date D, and as of when.

Shared by ingest (what to pull) and the quality gate (what to validate), so neither imports the
other for it.
"""

from __future__ import annotations

import datetime as dt


def ingest_window(logical_date: dt.date, repull_days: int) -> tuple[dt.date, dt.date, dt.date]:
    """(window_start, window_end, as_of) for the run of ``logical_date``."""
    if repull_days < 1:
        raise ValueError(f"repull_days must be at least 1, got {repull_days}")
    start = logical_date - dt.timedelta(days=repull_days - 1)
    return start, logical_date, logical_date + dt.timedelta(days=1)
