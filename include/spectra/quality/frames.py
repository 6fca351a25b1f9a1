"""The data the suites validate: one account's window, read back from the warehouse.

The batch is what the API sent for the window, reconstructed: the rows ingest wrote plus the
rows it held back in quarantine (put back in warehouse columns, replacing any older stored
version of the same key), so a duplicated key is two rows and a NaN is a NaN when the suites
look. Besides the row frames, the gate derives small frames for what is not a property of
one row: per-day coverage (missing days), per-day totals (row counts against the trailing
median, the tracking-outage score) and the account's settings.

Every frame carries ``_row`` (its position), which the suites report for failing rows so the
gate can quarantine exactly those.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, select

from spectra.quality.checks import (
    ACCOUNTS,
    PERFORMANCE,
    RECORD_ONLY,
    SEARCH_TERMS,
    STRUCTURE_TABLES,
    QualityConfig,
)
from spectra.quality.outage import score_tracking
from spectra.quality.screen import warehouse_row
from spectra.warehouse import models as m
from spectra.warehouse.quality_reads import (
    STRUCTURE_COLUMNS,
    latest_lag_cdf,
    stored_facts,
    stored_structure,
)

# A keyword is (ad group, criterion): Google shares criterion ids across ad groups. Campaign
# rows carry ad group 0 (as stored), ad-group rows their own id.
PERF_KEY = ["level", "entity_id", "ad_group_id", "date"]
ST_KEY = ["ad_group_id", "search_term", "date"]
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
    """Read the window back from the warehouse and derive every frame the suites need."""
    batch = Batch(tenant_id, customer_id, logical_date, window_start, as_of)
    p = m.PerformanceDaily
    r = m.IngestRun
    batch.complete_through = conn.execute(
        select(r.complete_through).where(
            r.tenant_id == tenant_id, r.customer_id == customer_id, r.logical_date == logical_date
        )
    ).scalar_one_or_none()
    batch.first_date = conn.execute(
        select(func.min(p.date)).where(p.tenant_id == tenant_id, p.customer_id == customer_id)
    ).scalar_one()
    q = m.QualityQuarantine
    batch.ingest_entries = [
        (check_name, severity, reason)
        for check_name, severity, reason in conn.execute(
            select(q.check_name, q.severity, q.reason)
            .where(*_held_today(batch), q.active.is_(True))
            .order_by(q.check_name, q.id)
        )
    ]
    perf = _rows_frame(conn, batch, PERFORMANCE, config)
    terms = _rows_frame(conn, batch, SEARCH_TERMS, config)
    batch.frames[PERF_ROWS] = perf
    batch.frames[ST_ROWS] = terms
    batch.frames[PERF_COVERAGE] = _coverage_frame(conn, batch, perf, config)
    batch.frames[PERF_DAYS] = _days_frame(conn, batch, p, perf, config, outage=True)
    batch.frames[ST_DAYS] = _days_frame(conn, batch, m.SearchTermDaily, terms, config)
    batch.frames[ACCOUNT] = _account_frame(conn, batch)
    batch.frames[STRUCTURE] = _structure_frame(conn, batch)
    return batch


# --------------------------------------------------------------------------- row frames


def _rows_frame(conn: Connection, batch: Batch, table: str, config: QualityConfig) -> pd.DataFrame:
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
        conn,
        model,
        columns,
        tenant_id=batch.tenant_id,
        customer_id=batch.customer_id,
        first=batch.window_start,
        last=batch.logical_date,
    )
    stored = _typed(_frame(rows, columns), extra)
    stored["_origin"] = "warehouse"
    held = _typed(_ingest_quarantine_frame(conn, batch, table, columns), extra)
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
    _derive_rates(frame, config)
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


def _frame(rows: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame.from_records(rows, columns=columns)


def _held_today(batch: Batch) -> tuple[Any, ...]:
    """Where ingest's entries for this account and day are (``quality_quarantine``)."""
    q = m.QualityQuarantine
    return (
        q.tenant_id == batch.tenant_id,
        q.customer_id == batch.customer_id,
        q.stage == "ingest",
        q.logical_date == batch.logical_date,
    )


def _ingest_quarantine_frame(
    conn: Connection, batch: Batch, table: str, columns: list[str]
) -> pd.DataFrame:
    """The rows ingest held back for this day, in warehouse columns."""
    q = m.QualityQuarantine
    payloads = conn.execute(
        select(q.row_fingerprint, q.payload)
        .where(
            *_held_today(batch),
            q.source_table == table,
            q.active.is_(True),
            q.check_name.not_in(sorted(RECORD_ONLY)),
        )
        .distinct()
        .order_by(q.row_fingerprint)
    ).all()
    rows = []
    for _, payload in payloads:
        data = json.loads(payload)
        row = warehouse_row(data["query"], data["row"])
        row["reported_as_of"] = batch.as_of
        rows.append({c: row.get(c) for c in columns})
    frame = pd.DataFrame(rows, columns=columns)
    frame["_origin"] = "ingest"
    return frame


def _derive_rates(frame: pd.DataFrame, config: QualityConfig) -> None:
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


# --------------------------------------------------------------------------- coverage


def _window_days(batch: Batch) -> list[dt.date]:
    start = batch.window_start
    if batch.first_date is not None and batch.first_date > start:
        start = batch.first_date
    last = batch.judged_through
    return [start + dt.timedelta(days=i) for i in range((last - start).days + 1)]


WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def _schedules(conn: Connection, batch: Batch) -> dict[int, set[int]]:
    """Per campaign with ad schedules, the weekdays (Monday = 0) it may serve on."""
    s = m.CampaignAdSchedule
    out: dict[int, set[int]] = {}
    for campaign_id, day in conn.execute(
        select(s.campaign_id, s.day_of_week).where(
            s.tenant_id == batch.tenant_id, s.customer_id == batch.customer_id
        )
    ):
        if day in WEEKDAYS:
            out.setdefault(int(campaign_id), set()).add(WEEKDAYS.index(day))
    return out


def _status_change_days(conn: Connection, batch: Batch) -> dict[int, set[dt.date]]:
    """Per campaign, the account-local days its status was changed (Google's change history,
    stored in UTC: the account's time zone turns it back into its days)."""
    from zoneinfo import ZoneInfo

    zone_name = conn.execute(
        select(m.AdAccount.time_zone).where(
            m.AdAccount.tenant_id == batch.tenant_id, m.AdAccount.customer_id == batch.customer_id
        )
    ).scalar_one_or_none()
    zone = ZoneInfo(zone_name or "UTC")
    e = m.ChangeEvent
    out: dict[int, set[dt.date]] = {}
    for campaign_id, resource_type, fields, changed_at in conn.execute(
        select(e.campaign_id, e.resource_type, e.changed_fields, e.changed_at).where(
            e.tenant_id == batch.tenant_id, e.customer_id == batch.customer_id
        )
    ):
        if campaign_id is None or resource_type != "CAMPAIGN" or "status" not in (fields or []):
            continue
        at = changed_at if changed_at.tzinfo else changed_at.replace(tzinfo=dt.UTC)
        out.setdefault(int(campaign_id), set()).add(at.astimezone(zone).date())
    return out


def _left_out(
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


def _coverage_frame(
    conn: Connection, batch: Batch, perf: pd.DataFrame, config: QualityConfig
) -> pd.DataFrame:
    """Rows per day for the account and for each steady campaign, and the rows expected.

    Google sends no row for an entity on a day it had no impressions, so a day without rows
    is a finding only when something should have served: ``expected_rows`` is 0 on a day
    Google left out (outside the campaign's ad schedule, or a day it was paused, from the
    change history; for the account, a day every campaign was left out) and 1 otherwise.
    A campaign is steady when it has rows or a left-out day on most days of its span.
    """
    columns = ["level", "entity_id", "date", "rows", "expected_rows"]
    if batch.first_date is None:
        return _with_row(pd.DataFrame(columns=columns))
    stored = perf[(perf["_origin"] == "warehouse") & perf["date"].notna()]
    days = pd.to_datetime(pd.Series(_window_days(batch)))
    per_day = stored.groupby("date").size()
    c = m.Campaign
    enabled = {
        int(cid)
        for cid, status in conn.execute(
            select(c.campaign_id, c.serving_status).where(
                c.tenant_id == batch.tenant_id, c.customer_id == batch.customer_id
            )
        )
        if status == "ENABLED"
    }
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
        left_out = _left_out(
            span, present, schedules.get(int(campaign_id)), status_days.get(int(campaign_id), set())
        )
        for day, out in zip(span, left_out, strict=True):
            if out:
                batch.left_out_days.add(day.date())
            elif day in could_serve:
                could_serve[day] = True
        served = len(present) + sum(left_out)
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
                    "expected_rows": [0 if out else 1 for out in left_out],
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
    return _with_row(pd.concat([account, *parts], ignore_index=True))


def _with_row(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame["_row"] = np.arange(len(frame))
    return frame


# --------------------------------------------------------------------------- per day


def _days_frame(
    conn: Connection,
    batch: Batch,
    model: Any,
    rows: pd.DataFrame,
    config: QualityConfig,
    *,
    outage: bool = False,
) -> pd.DataFrame:
    """Per day: rows against the trailing median and, for performance, the outage score."""
    history_start = batch.window_start - dt.timedelta(days=config.row_count_history_days)
    counts = {
        _as_date(d): int(n)
        for d, n in conn.execute(
            select(model.date, func.count())
            .where(
                model.tenant_id == batch.tenant_id,
                model.customer_id == batch.customer_id,
                model.date.between(history_start, batch.logical_date),
            )
            .group_by(model.date)
        ).all()
    }
    days = _window_days(batch) if batch.first_date is not None else []
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
    return _with_row(frame)


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


# --------------------------------------------------------------------------- structure


def _structure_frame(conn: Connection, batch: Batch) -> pd.DataFrame:
    """Campaigns, ad groups, keywords and ads of the account as one frame of entities.

    ``key`` is each entity's warehouse key as text (keywords and ads are keyed within their
    ad group); ``parent_known`` says whether the parent entity is there too. Rows ingest held
    back today replace stored rows of the same key, as for the facts.
    """
    parts = []
    for level, rows in stored_structure(
        conn, tenant_id=batch.tenant_id, customer_id=batch.customer_id
    ).items():
        frame = _frame(rows, list(STRUCTURE_COLUMNS))
        frame["level"], frame["_origin"] = level, "warehouse"
        parts.append(frame)
    q = m.QualityQuarantine
    held_rows = []
    # One row per held row (a row failing two checks has two entries, one fingerprint).
    for _fingerprint, payload in conn.execute(
        select(q.row_fingerprint, q.payload)
        .where(
            *_held_today(batch),
            q.source_table.in_(STRUCTURE_TABLES),
            q.active.is_(True),
        )
        .distinct()
        .order_by(q.row_fingerprint)
    ):
        data = json.loads(payload)
        row = warehouse_row(data["query"], data["row"])
        if row["level"] == "campaign":
            row["parent_id"] = batch.customer_id
        held_rows.append({**row, "_origin": "ingest"})
    present = [p for p in parts if len(p)]
    frame = pd.concat(present, ignore_index=True) if present else parts[0]
    for column in ("entity_id", "parent_id", "money_micros"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["key"] = _structure_keys(frame)
    if held_rows:
        held = pd.DataFrame(held_rows)
        for column in ("entity_id", "parent_id", "money_micros"):
            held[column] = pd.to_numeric(held.get(column), errors="coerce")
        held["key"] = _structure_keys(held)
        frame = frame[~frame["key"].isin(set(held["key"].dropna()))]
        frame = pd.concat([frame, held[frame.columns]], ignore_index=True)
    campaigns = set(frame.loc[frame["level"] == "campaign", "entity_id"].dropna())
    ad_groups = set(frame.loc[frame["level"] == "ad_group", "entity_id"].dropna())
    parents = {"ad_group": campaigns, "keyword": ad_groups, "ad": ad_groups}
    frame["parent_known"] = [
        level == "campaign" or pid in parents.get(level, ())
        for level, pid in zip(frame["level"], frame["parent_id"], strict=True)
    ]
    return _with_row(frame)


def _structure_keys(frame: pd.DataFrame) -> pd.Series:
    """The warehouse key of each entity as text (None when an id is missing)."""

    def key(level: str, entity: Any, parent: Any) -> str | None:
        if pd.isna(entity) or (level in ("keyword", "ad") and pd.isna(parent)):
            return None
        if level in ("keyword", "ad"):
            return f"{level}:{int(parent)}:{int(entity)}"
        return f"{level}:{int(entity)}"

    return pd.Series(
        [key(*v) for v in zip(frame["level"], frame["entity_id"], frame["parent_id"], strict=True)],
        index=frame.index,
        dtype=object,
    )


# --------------------------------------------------------------------------- settings


def _account_frame(conn: Connection, batch: Batch) -> pd.DataFrame:
    a, e = m.AdAccount, m.AccountExpectation
    currency, time_zone = conn.execute(
        select(a.currency_code, a.time_zone).where(
            a.tenant_id == batch.tenant_id, a.customer_id == batch.customer_id
        )
    ).one()
    pinned = conn.execute(
        select(e.currency_code, e.time_zone).where(
            e.tenant_id == batch.tenant_id, e.customer_id == batch.customer_id
        )
    ).one_or_none()
    batch.settings_pinned = pinned is not None
    batch.expected_currency, batch.expected_time_zone = pinned or (currency, time_zone)
    batch.pinned_on = conn.execute(
        select(e.pinned_on).where(
            e.tenant_id == batch.tenant_id, e.customer_id == batch.customer_id
        )
    ).scalar_one_or_none()
    # A change ingest held (the account is not relabelled until a person accepts it) is what
    # this pull reported: judge that, not the pinned label the account kept.
    q = m.QualityQuarantine
    held = conn.execute(
        select(q.payload)
        .where(
            *_held_today(batch),
            q.source_table == ACCOUNTS,
            q.active.is_(True),
        )
        .limit(1)
    ).scalar_one_or_none()
    if held is not None:
        row = json.loads(held)["row"]
        currency = row.get("customer.currency_code", currency)
        time_zone = row.get("customer.time_zone", time_zone)
    return _with_row(pd.DataFrame({"currency_code": [currency], "time_zone": [time_zone]}))
