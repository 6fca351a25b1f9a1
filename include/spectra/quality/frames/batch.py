"""What every frame of the gate shares: the batch they sit in, their names and their keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spectra.warehouse.models import PerformanceDaily, SearchTermDaily, natural_key

# The tables' natural keys within one account (read from the models). A keyword is (ad group,
# criterion): Google shares criterion ids across ad groups. Campaign rows carry ad group 0
# (as stored), ad-group rows their own id.
_ACCOUNT = ("tenant_id", "customer_id")
PERF_KEY = [c for c in natural_key(PerformanceDaily) if c not in _ACCOUNT]
ST_KEY = [c for c in natural_key(SearchTermDaily) if c not in _ACCOUNT]
METRICS = ["impressions", "clicks", "cost_micros", "conversions", "conversions_value_micros"]
LEVELS = ("campaign", "ad_group", "keyword")

# Asset (frame) names; each has one suite of the same name.
PERF_ROWS = "performance_daily_rows"
PERF_COVERAGE = "performance_daily_coverage"
PERF_DAYS = "performance_daily_days"
ST_ROWS = "search_terms_daily_rows"
ST_DAYS = "search_terms_daily_days"
ACCOUNT = "account_settings"
STRUCTURE = "structure_entities"


@dataclass
class Batch:
    """Everything one validation looks at, for one account and logical day."""

    tenant_id: str
    customer_id: int
    logical_date: dt.date
    window_start: dt.date
    as_of: dt.date
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    first_date: dt.date | None = None  # the account's first day with data, ever
    expected_currency: str = ""
    expected_time_zone: str = ""
    settings_pinned: bool = False  # False: this validation pins the current settings
    # days some campaign had no rows because Google had nothing to report (paused, outside
    # its ad schedule): fewer rows on them are explained, so row counts are not judged there
    left_out_days: set[dt.date] = field(default_factory=set)
    # the newest account-local day complete when ingest pulled (None: the logical date)
    complete_through: dt.date | None = None
    pinned_on: dt.date | None = None  # when the expected settings were pinned
    # what ingest's screen recorded for this day: (check, severity, reason), one per entry
    ingest_entries: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def judged_through(self) -> dt.date:
        """The newest day judged: a day still partial when pulled (its time zone had not
        finished it, plus Google's reporting delay) is validated row by row but not judged
        for coverage, row counts or tracking until a later run re-pulls it complete."""
        if self.complete_through is None:
            return self.logical_date
        return min(self.logical_date, self.complete_through)

    @property
    def rows_validated(self) -> int:
        return len(self.frames.get(PERF_ROWS, ())) + len(self.frames.get(ST_ROWS, ()))

    @property
    def scope(self) -> dict[str, Any]:
        """The tenant and account, as the warehouse reads take them."""
        return {"tenant_id": self.tenant_id, "customer_id": self.customer_id}

    @property
    def day_scope(self) -> dict[str, Any]:
        """The tenant, account and day, as the reads of ingest's entries take them."""
        return {**self.scope, "logical_date": self.logical_date}


def window_days(batch: Batch) -> list[dt.date]:
    """The days judged: the window from the account's first day, through ``judged_through``."""
    start = batch.window_start
    if batch.first_date is not None and batch.first_date > start:
        start = batch.first_date
    last = batch.judged_through
    return [start + dt.timedelta(days=i) for i in range((last - start).days + 1)]


def with_row(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame renumbered, with its position in ``_row`` (what the suites report)."""
    frame = frame.reset_index(drop=True)
    frame["_row"] = np.arange(len(frame))
    return frame


def records_frame(rows: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    """Driver tuples as a frame of ``columns`` (the columns also when there are no rows)."""
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame.from_records(rows, columns=columns)
