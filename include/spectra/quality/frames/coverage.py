"""Days without rows: for the account and each steady campaign, the rows seen and expected.

Google sends no row for an entity on a day it had no impressions, so a day without rows is a
finding only when something should have served; the ad schedules and the change history say
which days Google had nothing to report for.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection

from spectra.quality.checks import QualityConfig
from spectra.quality.frames.batch import Batch, window_days, with_row
from spectra.warehouse.quality_reads import (
    ad_schedule_days,
    campaign_status_changes,
    enabled_campaigns,
)
from spectra.warehouse.repositories import account_time_zone

WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def _schedules(conn: Connection, batch: Batch) -> dict[int, set[int]]:
    """Per campaign with ad schedules, the weekdays (Monday = 0) it may serve on."""
    out: dict[int, set[int]] = {}
    for campaign_id, day in ad_schedule_days(conn, **batch.scope):
        if day in WEEKDAYS:
            out.setdefault(campaign_id, set()).add(WEEKDAYS.index(day))
    return out


def _status_change_days(conn: Connection, batch: Batch) -> dict[int, set[dt.date]]:
    """Per campaign, the account-local days its status was changed (Google's change history,
    stored in UTC: the account's time zone turns it back into its days)."""
    zone = ZoneInfo(account_time_zone(conn, **batch.scope) or "UTC")
    out: dict[int, set[dt.date]] = {}
    for campaign_id, changed_at in campaign_status_changes(conn, **batch.scope):
        out.setdefault(campaign_id, set()).add(changed_at.astimezone(zone).date())
    return out


def left_out(
    span: pd.DatetimeIndex,
    present: set[pd.Timestamp],
    weekdays: set[int] | None,
    status_days: set[dt.date],
) -> list[bool]:
    """Days of ``span`` without rows that Google had nothing to report for: outside the
    campaign's ad schedule, or inside a gap its status was changed in (paused, enabled again
    on the day after the gap at the latest). Any other day without rows is missing."""
    out = [False] * len(span)
    i = 0
    while i < len(span):
        if span[i] in present:
            i += 1
            continue
        j = i
        while j + 1 < len(span) and span[j + 1] not in present:
            j += 1
        gap = {(span[i] + pd.Timedelta(days=k)).date() for k in range(j - i + 2)}
        paused = bool(gap & status_days)
        for k in range(i, j + 1):
            outside = weekdays is not None and span[k].weekday() not in weekdays
            out[k] = paused or outside
        i = j + 1
    return out


def coverage_frame(
    conn: Connection, batch: Batch, perf: pd.DataFrame, config: QualityConfig
) -> pd.DataFrame:
    """Rows per day for the account and for each steady campaign, and the rows expected.

    ``expected_rows`` is 0 on a day Google left out (outside the campaign's ad schedule, or a
    day it was paused, from the change history; for the account, a day every campaign was
    left out) and 1 otherwise. A campaign is steady when it has rows or a left-out day on
    most days of its span. Records the left-out days in ``batch.left_out_days``.
    """
    columns = ["level", "entity_id", "date", "rows", "expected_rows"]
    if batch.first_date is None:
        return with_row(pd.DataFrame(columns=columns))
    stored = perf[(perf["_origin"] == "warehouse") & perf["date"].notna()]
    days = pd.to_datetime(pd.Series(window_days(batch)))
    per_day = stored.groupby("date").size()
    enabled = enabled_campaigns(conn, **batch.scope)
    schedules = _schedules(conn, batch)
    status_days = _status_change_days(conn, batch)
    campaigns = stored[stored["level"] == "campaign"]
    last_day = pd.Timestamp(batch.judged_through)
    campaigns = campaigns[campaigns["date"] <= last_day]
    parts = []
    # per day, whether some campaign that could serve was not left out (account level)
    could_serve = dict.fromkeys(days.tolist(), False)
    for campaign_id, seen in campaigns.groupby("entity_id")["date"]:
        present = set(seen)
        first = min(present)
        last = last_day if int(campaign_id) in enabled else max(present)
        span = pd.date_range(first, last, freq="D")
        out_days = left_out(
            span, present, schedules.get(int(campaign_id)), status_days.get(int(campaign_id), set())
        )
        for day, out in zip(span, out_days, strict=True):
            if out:
                batch.left_out_days.add(day.date())
            elif day in could_serve:
                could_serve[day] = True
        served = len(present) + sum(out_days)
        steady = len(present) >= config.steady_min_days and (
            served / len(span) >= config.steady_share
        )
        if not steady or len(present) == len(span):
            continue
        parts.append(
            pd.DataFrame(
                {
                    "level": "campaign",
                    "entity_id": int(campaign_id),
                    "date": span,
                    "rows": [int(d in present) for d in span],
                    "expected_rows": [0 if out else 1 for out in out_days],
                }
            )
        )
    account = pd.DataFrame(
        {
            "level": "account",
            "entity_id": batch.customer_id,
            "date": days,
            "rows": per_day.reindex(days, fill_value=0).to_numpy(),
            # no campaign rows at all: nothing to explain a quiet day with, so it is expected
            "expected_rows": [1 if could_serve[d] or campaigns.empty else 0 for d in days.tolist()],
        }
    )
    return with_row(pd.concat([account, *parts], ignore_index=True))
