"""The data the suites validate: one account's window, read back from the warehouse.

The batch is what the API sent for the window, reconstructed: the rows ingest wrote plus the
rows it held back in quarantine (put back in warehouse columns, replacing any older stored
version of the same key), so a duplicated key is two rows and a NaN is a NaN when the suites
look. Besides the row frames, the gate derives small frames for what is not a property of
one row: per-day coverage (missing days), per-day totals (row counts against the trailing
median, the tracking-outage score) and the account's settings.

Every frame carries ``_row`` (its position), which the suites report for failing rows so the
gate can quarantine exactly those.

One module per kind of frame: ``rows`` (the fact rows), ``coverage`` (days without rows),
``days`` (per-day totals), ``structure`` (the entities) and ``account`` (the settings);
``batch`` holds what they share and ``load`` puts them together. Their SQL lives in
``spectra.warehouse.quality_reads``.
"""

from __future__ import annotations

from spectra.quality.frames.batch import (
    ACCOUNT,
    LEVELS,
    METRICS,
    PERF_COVERAGE,
    PERF_DAYS,
    PERF_KEY,
    PERF_ROWS,
    ST_DAYS,
    ST_KEY,
    ST_ROWS,
    STRUCTURE,
    Batch,
)
from spectra.quality.frames.load import load_batch
from spectra.quality.frames.rows import derive_rates

__all__ = [
    "ACCOUNT",
    "LEVELS",
    "METRICS",
    "PERF_COVERAGE",
    "PERF_DAYS",
    "PERF_KEY",
    "PERF_ROWS",
    "ST_DAYS",
    "ST_KEY",
    "ST_ROWS",
    "STRUCTURE",
    "Batch",
    "derive_rates",
    "load_batch",
]
