"""The clock: one UTC instant, and which of an account's days it has seen complete.

Google reports ``segments.date`` in the account's own time zone, and a day's statistics are
complete only once the day has ended there and Google's reporting delay has passed (most
statistics arrive within three hours: support.google.com/google-ads/answer/2544985). So one
instant means different days in different accounts: at 06:00 UTC it is still yesterday
evening in America/Los_Angeles, and "yesterday" there is partial.

Every pull records its instant (``ingest_runs.pulled_at``) and the newest account-local day
that was complete then (``complete_through``); the gate and analytics judge no later day.
Later work (hourly monitors) extends the same instant with hours.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

REPORTING_DELAY = dt.timedelta(hours=3)
DAILY_RUN_UTC = dt.time(6, 0)  # spectra_daily's schedule: 06:00 UTC, for the day before


def daily_pull_instant(logical_date: dt.date) -> dt.datetime:
    """When the daily run for ``logical_date`` pulls: the next day at 06:00 UTC."""
    return dt.datetime.combine(logical_date + dt.timedelta(days=1), DAILY_RUN_UTC, tzinfo=dt.UTC)


def change_effective_date(logical_date: dt.date) -> dt.date:
    """The day a change decided for ``logical_date`` is in force: the day its daily run pulls
    (the apply executor's ``effective_date`` for it; the learning window counts from it)."""
    return daily_pull_instant(logical_date).date()


def account_day(instant: dt.datetime, time_zone: str) -> dt.date:
    """The account-local day ``instant`` falls on."""
    if instant.tzinfo is None:
        raise ValueError(f"{instant!r} has no time zone; the clock is a UTC instant")
    return instant.astimezone(ZoneInfo(time_zone or "UTC")).date()


def complete_through(
    instant: dt.datetime, time_zone: str, *, delay: dt.timedelta = REPORTING_DELAY
) -> dt.date:
    """The newest account-local day whose statistics were complete at ``instant``."""
    return account_day(instant - delay, time_zone) - dt.timedelta(days=1)
