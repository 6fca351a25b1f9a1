"""Daily ingest of one Google Ads account into the warehouse.

The logical date is the clock: the run for day D pulls D and the trailing re-pull window
(conversions are restated for weeks) exactly as Google reported them on D+1, and upserts them
by natural keys. Re-running D, or backfilling any range, converges to the same warehouse state;
re-running an old day never overwrites fresher numbers (``reported_as_of`` guard). Each run
also pulls one small conversion-lag histogram of mature click days per account (campaigns x
lag buckets), stored per run, so analytics can complete a new account's recent conversions
before it has a week of its own lag snapshots.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from spectra.ads.client import AdsCredentials
from spectra.ads.errors import AdsError
from spectra.ads.fields import (
    METRIC_COLUMNS,
    SHARE_FIELDS,
    TARGET_CPA_FIELDS,
    TARGET_ROAS_FIELDS,
    VALUE_FIELDS,
    bidding_target,
    share_column,
)
from spectra.ads.retry import DEFAULT_RETRY, RetryPolicy, call_with_retry
from spectra.ads.stream import checks_totals, load_query, stream_columns
from spectra.domain.campaign_state import CampaignState
from spectra.domain.clock import complete_through
from spectra.domain.money import MICROS
from spectra.domain.windows import ingest_window
from spectra.quality.bounds import Bounds, account_bounds
from spectra.quality.screen import (
    SCREENED_QUERIES,
    Rejected,
    record_ingest_quarantine,
    screen_pulled,
)
from spectra.warehouse import models as m
from spectra.warehouse.db import reader
from spectra.warehouse.ingest_store import (
    account_owner,
    campaign_lifecycles,
    clear_ad_schedules,
    drop_lag_cells,
    record_ingest_run,
    relabel_account,
    served_campaign_days,
)
from spectra.warehouse.repositories import account_time_zone
from spectra.warehouse.upsert import Columns, StagedUpserts, bulk_upsert

log = logging.getLogger(__name__)

DEFAULT_REPULL_DAYS = 30
DEFAULT_SLICE_DAYS = 7
# The conversion-lag histogram (sql/gaql/conversion_lag.gaql): 90 days of click days, each at
# least 30 days old on the run's logical date (see lag_histogram_range).
LAG_HISTOGRAM_DAYS = 90
LAG_MATURE_DAYS = 30
# Google keeps change_event for 30 days: the run pulls the 30 account-local days ending on
# its logical date (the re-pull window, so every gap the gate judges has its history).
CHANGE_HISTORY_DAYS = 30

# What each table ingest writes is upserted by: its natural key, read from the model (a
# keyword is (ad group, criterion): Google shares a criterion id across ad groups).
_KEYS: dict[type[m.Base], list[str]] = {
    model: m.natural_key(model)
    for model in (
        m.Campaign, m.AdGroup, m.Keyword, m.Ad, m.PerformanceDaily, m.SearchTermDaily,
        m.ConversionLagBucket, m.CampaignAdSchedule, m.ChangeEvent,
    )
}  # fmt: skip

# Google's serving status → Spectra's lifecycle state, for campaigns first seen by ingest.
_LIFECYCLE_FOR_NEW = {
    "ENABLED": CampaignState.ACTIVE,
    "PAUSED": CampaignState.PAUSED,
    "REMOVED": CampaignState.ARCHIVED,
}


class IngestError(RuntimeError):
    """The account cannot be ingested (unknown to the warehouse, or misconfigured)."""


class IngestPullFailed(RuntimeError):
    """One query of an ingest gave up: which query, which date slice, after how many attempts.

    The run is recorded as failed in ``ingest_runs`` (nothing it pulled is kept: the load is
    one transaction); the Google Ads error is the ``__cause__``.
    """

    def __init__(
        self, *, account: str, query: str, date_slice: str, attempts: int, error: BaseException
    ) -> None:
        self.account, self.query, self.date_slice, self.attempts = (
            account,
            query,
            date_slice,
            attempts,
        )
        self.error = f"{type(error).__name__}: {error}"
        super().__init__(
            f"ingest of {account}: query {query} for {date_slice} failed after "
            f"{attempts} attempt{'s' if attempts != 1 else ''}: {self.error}"
        )


def slice_label(params: Mapping[str, Any]) -> str:
    """``2026-11-01..2026-11-07`` for a dated pull, ``all`` for structure."""
    if "date_from" in params:
        return f"{params['date_from']}..{params['date_to']}"
    return "all"


@dataclass
class IngestResult:
    tenant_id: str
    customer_id: int
    logical_date: dt.date
    window_start: dt.date
    window_end: dt.date
    as_of: dt.date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # the newest account-local day complete when pulled (later days were partial)
    complete_through: dt.date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "customer_id": self.customer_id,
            "logical_date": self.logical_date.isoformat(),
            "window": [self.window_start.isoformat(), self.window_end.isoformat()],
            "as_of": self.as_of.isoformat(),
            "rows": dict(self.rows),
            "complete_through": (
                self.complete_through.isoformat() if self.complete_through else None
            ),
            "seconds": round(self.seconds, 3),
        }


def date_slices(first: dt.date, last: dt.date, days: int) -> list[tuple[dt.date, dt.date]]:
    """[first, last] cut into consecutive inclusive slices of at most ``days`` days."""
    if days < 1:
        raise ValueError(f"slice days must be at least 1, got {days}")
    out = []
    while first <= last:
        end = min(last, first + dt.timedelta(days=days - 1))
        out.append((first, end))
        first = end + dt.timedelta(days=1)
    return out


def lag_histogram_range(logical_date: dt.date) -> tuple[dt.date, dt.date]:
    """Click days of the run's conversion-lag histogram: mature ones, before the window.

    The ``LAG_HISTOGRAM_DAYS`` days ending ``LAG_MATURE_DAYS`` before the logical date: on
    the pull (logical date + 1) the youngest is 31 days old, so every conversion it can get
    inside the 30-day conversion window analytics completes to is already reported.
    """
    last = logical_date - dt.timedelta(days=LAG_MATURE_DAYS)
    return last - dt.timedelta(days=LAG_HISTOGRAM_DAYS - 1), last


def change_history_range(logical_date: dt.date) -> tuple[dt.date, dt.date]:
    """Days of the change history one run pulls (Google's change_event keeps 30 days)."""
    return logical_date - dt.timedelta(days=CHANGE_HISTORY_DAYS - 1), logical_date


# Queries over a range of their own, pulled once per run (no date slices), in write order:
# the lag histogram last (the smallest write, nothing overlaps it).
OWN_RANGE_QUERIES: dict[str, Callable[[dt.date], tuple[dt.date, dt.date]]] = {
    "change_events": change_history_range,
    "conversion_lag": lag_histogram_range,
}
HISTOGRAM_QUERIES = tuple(OWN_RANGE_QUERIES)


def planned_pulls(
    window_start: dt.date, window_end: dt.date, slice_days: int = DEFAULT_SLICE_DAYS
) -> list[tuple[str, dict[str, str]]]:
    """Every (query, parameters) one ingest runs, in write order.

    Structure first (parents before children), then the daily metrics by date slice, the
    biggest query first, then the small lag histogram (one pull over its own range): the last
    write is the one nothing overlaps, so it should be small.
    """
    structure = [n for n in WRITERS if "{date_from}" not in load_query(n).text]
    facts = [n for n in WRITERS if n not in structure and n not in HISTOGRAM_QUERIES]
    pulls: list[tuple[str, dict[str, str]]] = [(name, {}) for name in structure]
    for name in sorted(facts, key=lambda n: FACT_SIZE_ORDER.get(n, 0), reverse=True):
        for first, last in date_slices(window_start, window_end, slice_days):
            pulls.append((name, {"date_from": first.isoformat(), "date_to": last.isoformat()}))
    for name, own_range in OWN_RANGE_QUERIES.items():
        first, last = own_range(window_end)
        pulls.append((name, {"date_from": first.isoformat(), "date_to": last.isoformat()}))
    return pulls


# Typical rows per account-day, relative: search terms outnumber keywords, keywords ad groups.
FACT_SIZE_ORDER = {
    "search_terms": 4,
    "keyword_performance": 3,
    "ad_group_performance": 2,
    "campaign_performance": 1,
}


def _value_micros(values: Sequence[float]) -> list[int]:
    return [int(round((v or 0.0) * MICROS)) for v in values]


class _Puller:
    """Runs the named GAQL files for one account with retries on transient errors."""

    def __init__(
        self,
        client: Any,
        creds: AdsCredentials,
        customer_id: int,
        as_of: dt.date | dt.datetime,
        retry: RetryPolicy,
        account: str = "",
    ) -> None:
        self.client, self.creds, self.customer_id, self.as_of, self.retry = (
            client,
            creds,
            customer_id,
            as_of,
            retry,
        )
        self.account = account or str(customer_id)

    def __call__(self, name: str, **params: Any) -> dict[str, list[Any]]:
        """The query's columns; :class:`IngestPullFailed` once its retries give up."""
        query = load_query(name)
        attempts = 0

        def once() -> dict[str, list[Any]]:
            nonlocal attempts
            attempts += 1
            return stream_columns(
                self.client,
                self.creds,
                customer_id=self.customer_id,
                query=query,
                as_of=self.as_of,
                summary=checks_totals(query),
                **params,
            )

        try:
            return call_with_retry(once, policy=self.retry)
        except AdsError as exc:
            raise IngestPullFailed(
                account=self.account,
                query=name,
                date_slice=slice_label(params),
                attempts=attempts,
                error=exc,
            ) from exc


class _PipelinedWriter:
    """Writes one query's rows while the next query is being pulled and decoded.

    Decoding is Python work; most of a write is the database's (PostgreSQL's server process,
    SQLite's C code with the GIL released), so overlapping them uses the second core. Queries
    are written in submission order (parents before children) on the caller's connection and
    transaction, by one thread at a time; an error on either side aborts the whole load.
    """

    _DONE = object()

    def __init__(
        self,
        conn: Connection,
        write: Callable[[Connection, str, Mapping[str, list[Any]]], dict[str, int]],
    ) -> None:
        self._conn = conn
        self._write = write
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._counts: dict[str, int] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)

    def __enter__(self) -> _PipelinedWriter:
        self._thread.start()
        return self

    def _run(self) -> None:
        while (item := self._queue.get()) is not self._DONE:
            if self._error is not None:
                continue  # drain: the load is already failed
            try:
                for table, count in self._write(self._conn, *item).items():
                    self._counts[table] = self._counts.get(table, 0) + count
            except BaseException as exc:  # handed to the caller's thread, re-raised there
                self._error = exc

    def submit(self, name: str, columns: Mapping[str, list[Any]]) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((name, columns))

    def finish(self) -> dict[str, int]:
        """Wait for every submitted write; re-raise the writer's error, if any."""
        if self._thread.is_alive():
            self._queue.put(self._DONE)
            self._thread.join()
        if self._error is not None:
            raise self._error
        return dict(self._counts)

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            self._queue.put(self._DONE)
            self._thread.join()


def account_tenant(conn: Connection, customer_id: int) -> str:
    tenant = account_owner(conn, customer_id)
    if tenant is None:
        raise IngestError(f"Google Ads account {customer_id} is not registered to any tenant")
    return tenant


def ingest_account(
    engine: Engine,
    client: Any,
    creds: AdsCredentials,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    repull_days: int = DEFAULT_REPULL_DAYS,
    retry: RetryPolicy = DEFAULT_RETRY,
    slice_days: int = DEFAULT_SLICE_DAYS,
    pulled_at: dt.datetime | None = None,
) -> IngestResult:
    """Pull one account's structure and daily metrics for the window, and upsert them.

    ``pulled_at`` is the clock (a UTC instant; default: now). Dates are the account's own
    days: the run records the newest one complete at ``pulled_at`` (``complete_through``),
    so a newest day still partial in the account's time zone is not judged until a later
    run re-pulls it complete. With the sandbox's clock and no instant, the clock is the
    logical date's next day (every account's day complete: replays and tests).

    Daily metrics are pulled in date slices of ``slice_days``: each slice is written while the
    next one streams in, and a slice's keys (which include the date) never meet another's, so
    each is screened and upserted on its own.
    """
    started = time.perf_counter()
    window_start, window_end, as_of = ingest_window(logical_date, repull_days)
    # Reads only: on SQLite they take no write lock (the writes take it once the pulls are in).
    with reader(engine).connect() as conn:
        owner = account_tenant(conn, customer_id)
    if owner != tenant_id:
        raise IngestError(f"account {customer_id} belongs to tenant {owner!r}, not {tenant_id!r}")

    if pulled_at is None and not creds.sandbox_clock:
        pulled_at = dt.datetime.now(dt.UTC)
    pull = _Puller(
        client, creds, customer_id, pulled_at or as_of, retry, f"{tenant_id}/{customer_id}"
    )
    result = IngestResult(tenant_id, customer_id, logical_date, window_start, window_end, as_of)
    bounds: Bounds | None = None  # set once the account's own row is pulled (its currency)

    rejected: list[Rejected] = []  # by every slice; recorded once, after the last

    def write(
        conn: Connection,
        name: str,
        columns: Mapping[str, list[Any]],
        stage: StagedUpserts | None = None,
    ) -> dict[str, int]:
        return write_pulled(
            conn,
            {name: columns},
            tenant_id=tenant_id,
            customer_id=customer_id,
            as_of=as_of,
            logical_date=logical_date,
            rejected=rejected,
            bounds=bounds,
            stage=stage,
        )

    try:
        # The account's row first: an account not pinned yet is screened in its own currency.
        first = {"accounts": pull("accounts")}
        reported = first["accounts"].get("customer.currency_code") or [None]
        with reader(engine).connect() as conn:
            # from what the warehouse held before this pull: a pull cannot move its own bounds
            bounds = account_bounds(
                conn,
                tenant_id=tenant_id,
                customer_id=customer_id,
                logical_date=logical_date,
                reported_currency=reported[0],
            )
        _load(engine, pull, write, result, rejected, pulled_at, slice_days, first)
    except IngestPullFailed as failure:
        _record_failed_run(engine, result, failure, pulled_at)
        log.error("ingest failed: %s", failure)
        raise
    result.seconds = time.perf_counter() - started
    log.info("ingested %s", result.as_dict())
    return result


def _record_failed_run(
    engine: Engine, result: IngestResult, failure: IngestPullFailed, pulled_at: dt.datetime | None
) -> None:
    """The run's own row says it failed, where and why (the load itself rolled back)."""
    with engine.begin() as conn:
        record_ingest_run(
            conn,
            {
                "tenant_id": result.tenant_id,
                "customer_id": result.customer_id,
                "logical_date": result.logical_date,
                "window_start": result.window_start,
                "window_end": result.window_end,
                "rows_by_table": {},
                "pulled_at": pulled_at,
                "status": "failed",
                "failed_query": failure.query,
                "failed_slice": failure.date_slice,
                "attempts": failure.attempts,
                "error": failure.error,
                "finished_at": m.utcnow(),
            },
        )


class _Write(Protocol):
    def __call__(
        self,
        conn: Connection,
        name: str,
        columns: Mapping[str, list[Any]],
        stage: StagedUpserts | None = None,
    ) -> dict[str, int]: ...


# The big fact queries: on SQLite their rows are staged while the next pull decodes.
STAGED_QUERIES = frozenset(
    {"campaign_performance", "ad_group_performance", "keyword_performance", "search_terms"}
)


def _load(
    engine: Engine,
    pull: _Puller,
    write: _Write,
    result: IngestResult,
    rejected: list[Rejected],
    pulled_at: dt.datetime | None,
    slice_days: int,
    first: dict[str, dict[str, list[Any]]],
) -> None:
    """Every pull, screen and write of one run; the writes in one transaction (``first``:
    pulls made already, by query name).

    On PostgreSQL the transaction is open while the pulls stream in, and each query is written
    while the next one is pulled (:class:`_PipelinedWriter`): its row locks hold back no other
    account. SQLite has one write lock for the whole file, which ``BEGIN IMMEDIATE`` takes at
    once: held across network pulls, it would make every other writer (a second ingest, a
    validate) wait for this account's slowest stream, and give up after the busy timeout. So
    on SQLite the big fact queries are screened and staged into temp tables of the load's
    connection while the next pull decodes (:class:`StagedUpserts`: no lock on the file), and
    the lock is taken for the writes only: the structure, then one merge per staged query.
    """
    window_start, window_end = result.window_start, result.window_end
    campaign_days: set[tuple[Any, Any]] = set()  # (campaign id, date) the re-pull sent

    def pulled() -> Iterator[tuple[str, dict[str, list[Any]]]]:
        for name, params in planned_pulls(window_start, window_end, slice_days):
            cols = first.pop(name) if name in first else pull(name, **params)
            if name == "campaign_performance":
                campaign_days.update(zip(cols["campaign.id"], cols["segments.date"], strict=True))
            yield name, cols

    if engine.dialect.name == "sqlite":
        _load_sqlite(engine, pulled(), write, result, rejected, campaign_days, pulled_at)
        return
    with engine.begin() as conn, _PipelinedWriter(conn, write) as writer:
        for name, cols in pulled():
            writer.submit(name, cols)
        result.rows = writer.finish()
        _finish_load(conn, result, rejected, campaign_days, pulled_at)


def _load_sqlite(
    engine: Engine,
    pulls: Iterator[tuple[str, dict[str, list[Any]]]],
    write: _Write,
    result: IngestResult,
    rejected: list[Rejected],
    campaign_days: set[tuple[Any, Any]],
    pulled_at: dt.datetime | None,
) -> None:
    """SQLite's load: fact queries staged during the pulls, every write under one lock."""
    with engine.connect() as conn:
        stage = StagedUpserts(conn)
        later: list[tuple[str, dict[str, list[Any]]]] = []  # written under the lock, in order

        def stage_or_keep(
            conn: Connection, name: str, cols: Mapping[str, list[Any]]
        ) -> dict[str, int]:
            if name in STAGED_QUERIES:
                return write(conn, name, cols, stage=stage)
            later.append((name, dict(cols)))
            return {}

        try:
            with _PipelinedWriter(conn, stage_or_keep) as writer:
                for name, cols in pulls:
                    writer.submit(name, cols)
                staged_rows = writer.finish()
            with conn.begin():
                result.rows = {}
                for name, cols in later:
                    for table, count in write(conn, name, cols).items():
                        result.rows[table] = result.rows.get(table, 0) + count
                stage.merge()
                for table, count in staged_rows.items():
                    result.rows[table] = result.rows.get(table, 0) + count
                _finish_load(conn, result, rejected, campaign_days, pulled_at)
        finally:
            stage.discard()


def _finish_load(
    conn: Connection,
    result: IngestResult,
    rejected: list[Rejected],
    campaign_days: set[tuple[Any, Any]],
    pulled_at: dt.datetime | None,
) -> None:
    """After the writes, in their transaction: the lost campaign days, the quarantine and
    the run's own row."""
    tenant_id, customer_id = result.tenant_id, result.customer_id
    logical_date, as_of = result.logical_date, result.as_of
    window_start, window_end = result.window_start, result.window_end
    rejected.extend(lost_campaign_days(conn, result, campaign_days))
    held = hold_back(
        conn,
        rejected,
        tenant_id=tenant_id,
        customer_id=customer_id,
        as_of=as_of,
        logical_date=logical_date,
    )
    for name, count in held.items():
        result.rows[f"quality_quarantine.{name}"] = count
    zone = account_time_zone(conn, tenant_id=tenant_id, customer_id=customer_id) or "UTC"
    # the date clock of replays says the logical date is over everywhere
    result.complete_through = (
        min(logical_date, complete_through(pulled_at, zone)) if pulled_at else logical_date
    )
    record_ingest_run(
        conn,
        {
            "tenant_id": tenant_id,
            "customer_id": customer_id,
            "logical_date": logical_date,
            "window_start": window_start,
            "window_end": window_end,
            "rows_by_table": result.rows,
            "pulled_at": pulled_at,
            "complete_through": result.complete_through,
            "status": "success",
            "failed_query": None,
            "failed_slice": None,
            "attempts": None,
            "error": None,
            "finished_at": m.utcnow(),
        },
    )


def hold_back(
    conn: Connection,
    rejected: Sequence[Rejected],
    *,
    tenant_id: str,
    customer_id: int,
    as_of: dt.date,
    logical_date: dt.date,
) -> dict[str, int]:
    """Record a run's rejected rows in quarantine, once, after its writes: held rows per query.

    Every query an ingest screens is named as screened, so an entry of an earlier run of the
    day that this run no longer finds (the API fixed itself) is resolved, whatever its query.
    """
    return record_ingest_quarantine(
        conn,
        list(rejected),
        screened_queries=[name for name in WRITERS if name in SCREENED_QUERIES],
        tenant_id=tenant_id,
        customer_id=customer_id,
        as_of=as_of,
        logical_date=logical_date,
    )


def lost_campaign_days(
    conn: Connection, result: IngestResult, pulled: set[tuple[Any, Any]]
) -> list[Rejected]:
    """Campaign-days the warehouse holds with impressions that this re-pull did not send.

    Google sends no row for a day without impressions, so a stored day *with* impressions
    that an enabled campaign's re-pull lacks is a loss, not a quiet day. The stored numbers
    are kept (nothing deletes them) and each such day is recorded (``perf.repull_complete``,
    warn) naming the campaign and the day, so the gate reports it.
    """
    stored = served_campaign_days(
        conn,
        tenant_id=result.tenant_id,
        customer_id=result.customer_id,
        first=result.window_start,
        last=result.window_end,
    )
    lost = []
    for row in stored:
        day = row.date.isoformat()
        if (row.entity_id, day) in pulled:
            continue
        payload = {
            "campaign.id": row.entity_id,
            "segments.date": day,
            "metrics.impressions": row.impressions,
            "metrics.clicks": row.clicks,
            "metrics.cost_micros": row.cost_micros,
            "metrics.conversions": row.conversions,
            "metrics.conversions_value": row.conversions_value_micros / MICROS,
        }
        reason = (
            f"campaign {row.entity_id} has no row for {day} in this re-pull, but the warehouse "
            f"holds {row.impressions} impressions and {row.cost_micros} cost_micros for it "
            f"(reported as of {row.reported_as_of}): the stored numbers are kept"
        )
        lost.append(
            Rejected("campaign_performance", -1, payload, [("perf.repull_complete", reason)])
        )
    return lost


@dataclass(frozen=True)
class _Target:
    conn: Connection
    tenant_id: str
    customer_id: int
    as_of: dt.date
    logical_date: dt.date
    stage: StagedUpserts | None = None

    @property
    def upsert(self) -> Callable[..., int]:
        """How fact rows are written: ``bulk_upsert``, or staged for a later merge."""
        return self.stage.upsert if self.stage is not None else bulk_upsert

    def rows(self, columns: Mapping[str, Sequence[Any]], **const: Any) -> Columns:
        """Column lists plus the tenant, the account and constant columns, for bulk_upsert."""
        fixed = {"tenant_id": self.tenant_id, "customer_id": self.customer_id, **const}
        return Columns(columns, constants=fixed)


def _write_account(t: _Target, cols: Mapping[str, list[Any]]) -> dict[str, int]:
    if not cols.get("customer.id"):
        return {}
    relabel_account(
        t.conn,
        tenant_id=t.tenant_id,
        customer_id=t.customer_id,
        descriptive_name=cols["customer.descriptive_name"][0],
        currency_code=cols["customer.currency_code"][0],
        time_zone=cols["customer.time_zone"][0],
    )
    return {"ad_accounts": 1}


def _write_campaigns(t: _Target, cols: Mapping[str, list[Any]]) -> dict[str, int]:
    existing = campaign_lifecycles(t.conn, tenant_id=t.tenant_id, customer_id=t.customer_id)
    # The lifecycle state is Spectra's own: set once when first seen, never by ingest after.
    lifecycle = [
        existing.get(cid) or _LIFECYCLE_FOR_NEW.get(serving, CampaignState.ACTIVE).value
        for cid, serving in zip(cols["campaign.id"], cols["campaign.status"], strict=True)
    ]
    targets = [
        dict(zip(TARGET_CPA_FIELDS + TARGET_ROAS_FIELDS, values, strict=True))
        for values in zip(*(cols[f] for f in TARGET_CPA_FIELDS + TARGET_ROAS_FIELDS), strict=True)
    ]
    rows = t.rows(
        {
            "campaign_id": cols["campaign.id"],
            "name": cols["campaign.name"],
            "serving_status": cols["campaign.status"],
            "advertising_channel_type": cols["campaign.advertising_channel_type"],
            "bidding_strategy_type": cols["campaign.bidding_strategy_type"],
            "target_cpa_micros": [bidding_target(r, TARGET_CPA_FIELDS) for r in targets],
            "target_roas": [bidding_target(r, TARGET_ROAS_FIELDS) for r in targets],
            "budget_micros": cols["campaign_budget.amount_micros"],
            "status": lifecycle,
        }
    )
    return {"campaigns": bulk_upsert(t.conn, m.Campaign.__table__, rows, keys=_KEYS[m.Campaign])}


def _write_ad_groups(t: _Target, cols: Mapping[str, list[Any]]) -> dict[str, int]:
    rows = t.rows(
        {
            "campaign_id": cols["campaign.id"],
            "ad_group_id": cols["ad_group.id"],
            "name": cols["ad_group.name"],
            "serving_status": cols["ad_group.status"],
            "cpc_bid_micros": cols["ad_group.cpc_bid_micros"],
        }
    )
    return {"ad_groups": bulk_upsert(t.conn, m.AdGroup.__table__, rows, keys=_KEYS[m.AdGroup])}


def _write_keywords(t: _Target, cols: Mapping[str, list[Any]]) -> dict[str, int]:
    rows = t.rows(
        {
            "campaign_id": cols["campaign.id"],
            "ad_group_id": cols["ad_group.id"],
            "criterion_id": cols["ad_group_criterion.criterion_id"],
            "text": cols["ad_group_criterion.keyword.text"],
            "match_type": cols["ad_group_criterion.keyword.match_type"],
            "serving_status": cols["ad_group_criterion.status"],
            "negative": cols["ad_group_criterion.negative"],
            "cpc_bid_micros": cols["ad_group_criterion.cpc_bid_micros"],
            # 0 means "no score yet" on the wire: store unknown, not a score of 0.
            "quality_score": [
                q or None for q in cols["ad_group_criterion.quality_info.quality_score"]
            ],
        }
    )
    return {"keywords": bulk_upsert(t.conn, m.Keyword.__table__, rows, keys=_KEYS[m.Keyword])}


def _write_ads(t: _Target, cols: Mapping[str, list[Any]]) -> dict[str, int]:
    rsa = "ad_group_ad.ad.responsive_search_ad"
    rows = t.rows(
        {
            "campaign_id": cols["campaign.id"],
            "ad_group_id": cols["ad_group.id"],
            "ad_id": cols["ad_group_ad.ad.id"],
            "ad_type": cols["ad_group_ad.ad.type"],
            "serving_status": cols["ad_group_ad.status"],
            "approval_status": cols["ad_group_ad.policy_summary.approval_status"],
            "headlines": [[h.get("text", "") for h in hs] for hs in cols[f"{rsa}.headlines"]],
            "descriptions": [[d.get("text", "") for d in ds] for ds in cols[f"{rsa}.descriptions"]],
        }
    )
    return {"ads": bulk_upsert(t.conn, m.Ad.__table__, rows, keys=_KEYS[m.Ad])}


def _metric_columns(cols: Mapping[str, list[Any]]) -> dict[str, Sequence[Any]]:
    out: dict[str, Sequence[Any]] = {
        # ISO strings as the API sent them: the screen has parsed each one, and the upsert
        # writes them as they are instead of parsing and re-formatting 10^5-10^6 dates.
        "date": cols["segments.date"],
    }
    for name, column in METRIC_COLUMNS.items():
        out[column] = _value_micros(cols[name]) if name in VALUE_FIELDS else cols[name]
    return out


def _performance_writer(level: str, entity: str, with_ad_group: bool) -> Writer:
    def write(t: _Target, cols: Mapping[str, list[Any]]) -> dict[str, int]:
        columns: dict[str, Sequence[Any]] = {
            "entity_id": cols[entity],
            "campaign_id": cols["campaign.id"],
            **_metric_columns(cols),
        }
        if with_ad_group:
            columns["ad_group_id"] = cols["ad_group.id"]
        const: dict[str, Any] = {} if with_ad_group else {"ad_group_id": 0}  # campaign rows
        for share in SHARE_FIELDS:
            if share in cols:
                columns[share_column(share)] = cols[share]
        rows = t.rows(columns, level=level, reported_as_of=t.as_of, **const)
        t.upsert(
            t.conn,
            m.PerformanceDaily.__table__,
            rows,
            keys=_KEYS[m.PerformanceDaily],
            freshness_column="reported_as_of",
        )
        return {f"performance_daily.{level}": len(rows)}

    return write


def _write_search_terms(t: _Target, cols: Mapping[str, list[Any]]) -> dict[str, int]:
    rows = t.rows(
        {
            "campaign_id": cols["campaign.id"],
            "ad_group_id": cols["ad_group.id"],
            "search_term": cols["search_term_view.search_term"],
            "term_status": cols["search_term_view.status"],
            **_metric_columns(cols),
        },
        reported_as_of=t.as_of,
    )
    t.upsert(
        t.conn,
        m.SearchTermDaily.__table__,
        rows,
        keys=_KEYS[m.SearchTermDaily],
        freshness_column="reported_as_of",
    )
    return {"search_terms_daily": len(rows)}


def _write_lag_buckets(t: _Target, cols: Mapping[str, list[Any]]) -> dict[str, int]:
    """The run's histogram replaces whatever an earlier run of the same day stored.

    Upserted by key, so a re-run that pulls the same numbers writes nothing; a (campaign,
    bucket) the re-run no longer returns is deleted, so the day holds one histogram, not a mix.
    ``cols`` is already screened: a cell the screen held back (NaN, negative, no campaign,
    UNSPECIFIED or unknown bucket) is in quarantine, and counts as not returned, so an older
    value of it from an earlier run of the day leaves too instead of standing in for it.
    """
    date_from, date_to = lag_histogram_range(t.logical_date)
    pulled = set(
        zip(
            cols.get("campaign.id", []), cols.get("segments.conversion_lag_bucket", []), strict=True
        )
    )
    drop_lag_cells(
        t.conn,
        tenant_id=t.tenant_id,
        customer_id=t.customer_id,
        pulled_for=t.logical_date,
        keep=pulled,
    )
    if not pulled:
        return {"conversion_lag_buckets": 0}
    rows = t.rows(
        {
            "campaign_id": cols["campaign.id"],
            "conversion_lag_bucket": cols["segments.conversion_lag_bucket"],
            "conversions": cols["metrics.conversions"],
            "conversions_value_micros": _value_micros(cols["metrics.conversions_value"]),
        },
        pulled_for=t.logical_date,
        date_from=date_from,
        date_to=date_to,
        reported_as_of=t.as_of,
    )
    bulk_upsert(t.conn, m.ConversionLagBucket.__table__, rows, keys=_KEYS[m.ConversionLagBucket])
    return {"conversion_lag_buckets": len(rows)}


_MINUTES = {"ZERO": 0, "FIFTEEN": 15, "THIRTY": 30, "FORTY_FIVE": 45}


def _write_ad_schedules(t: _Target, cols: Mapping[str, list[Any]]) -> dict[str, int]:
    """The account's ad schedules replace the stored ones (a removed schedule leaves)."""
    clear_ad_schedules(t.conn, tenant_id=t.tenant_id, customer_id=t.customer_id)
    if not cols.get("campaign.id"):
        return {"campaign_ad_schedules": 0}
    prefix = "campaign_criterion.ad_schedule"
    rows = t.rows(
        {
            "campaign_id": cols["campaign.id"],
            "criterion_id": cols["campaign_criterion.criterion_id"],
            "day_of_week": cols[f"{prefix}.day_of_week"],
            "start_hour": cols[f"{prefix}.start_hour"],
            "start_minute": [_MINUTES.get(v, 0) for v in cols[f"{prefix}.start_minute"]],
            "end_hour": cols[f"{prefix}.end_hour"],
            "end_minute": [_MINUTES.get(v, 0) for v in cols[f"{prefix}.end_minute"]],
        }
    )
    table = m.CampaignAdSchedule.__table__
    keys = _KEYS[m.CampaignAdSchedule]
    return {"campaign_ad_schedules": bulk_upsert(t.conn, table, rows, keys=keys)}


def _id_in(resource_name: str, collection: str) -> int | None:
    """The id in ``customers/1/campaigns/22`` (None when empty or another collection)."""
    parts = (resource_name or "").split("/")
    if len(parts) >= 4 and parts[2] == collection:
        return int(parts[3].split("~")[0])
    return None


def _write_change_events(t: _Target, cols: Mapping[str, list[Any]]) -> dict[str, int]:
    """Upsert the pulled change history; times become UTC from the account's time zone."""
    if not cols.get("change_event.resource_name"):
        return {"change_events": 0}
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(
        account_time_zone(t.conn, tenant_id=t.tenant_id, customer_id=t.customer_id) or "UTC"
    )
    ce = "change_event"
    rows = t.rows(
        {
            "resource_name": cols[f"{ce}.resource_name"],
            "changed_at": [
                dt.datetime.fromisoformat(v).replace(tzinfo=zone).astimezone(dt.UTC)
                for v in cols[f"{ce}.change_date_time"]
            ],
            "resource_type": cols[f"{ce}.change_resource_type"],
            "change_resource_name": cols[f"{ce}.change_resource_name"],
            "operation": cols[f"{ce}.resource_change_operation"],
            "client_type": cols[f"{ce}.client_type"],
            "user_email": cols[f"{ce}.user_email"],
            "campaign_id": [_id_in(v, "campaigns") for v in cols[f"{ce}.campaign"]],
            "ad_group_id": [_id_in(v, "adGroups") for v in cols[f"{ce}.ad_group"]],
            "changed_fields": [
                list(getattr(v, "paths", v) or []) for v in cols[f"{ce}.changed_fields"]
            ],
            "old_values": [{} for _ in cols[f"{ce}.resource_name"]],
            "new_values": [{} for _ in cols[f"{ce}.resource_name"]],
        }
    )
    keys = _KEYS[m.ChangeEvent]
    return {"change_events": bulk_upsert(t.conn, m.ChangeEvent.__table__, rows, keys=keys)}


Writer = Callable[[_Target, Mapping[str, list[Any]]], dict[str, int]]

# Query name (sql/gaql/<name>.gaql) → writer, in write order (parents before children).
WRITERS: dict[str, Writer] = {
    "accounts": _write_account,
    "campaigns": _write_campaigns,
    "ad_groups": _write_ad_groups,
    "keywords": _write_keywords,
    "ads": _write_ads,
    "ad_schedules": _write_ad_schedules,
    "campaign_performance": _performance_writer("campaign", "campaign.id", False),
    "ad_group_performance": _performance_writer("ad_group", "ad_group.id", True),
    "keyword_performance": _performance_writer("keyword", "ad_group_criterion.criterion_id", True),
    "search_terms": _write_search_terms,
    "change_events": _write_change_events,
    "conversion_lag": _write_lag_buckets,
}


def write_pulled(
    conn: Connection,
    pulled: Mapping[str, Mapping[str, list[Any]]],
    *,
    tenant_id: str,
    customer_id: int,
    as_of: dt.date,
    rejected: list[Rejected],
    logical_date: dt.date | None = None,
    bounds: Bounds | None = None,
    stage: StagedUpserts | None = None,
) -> dict[str, int]:
    """Upsert pulled query results (any subset of WRITERS); returns rows per warehouse table.

    With ``stage`` (SQLite), fact rows are staged for ``stage.merge()``, not written yet.

    Fact rows the API got wrong (malformed, NaN, negative, duplicated key, a lag bucket unset
    or unknown) are not written: they are collected in ``rejected``, for the caller to hold
    back once for all of a run's pulls (:func:`hold_back`, in the same transaction), instead
    of crashing the load or vanishing in the upsert (spectra.quality.screen).
    """
    unknown = set(pulled) - set(WRITERS)
    if unknown:
        raise IngestError(f"no writer for queries {sorted(unknown)}")
    if bounds is None:
        bounds = account_bounds(
            conn,
            tenant_id=tenant_id,
            customer_id=customer_id,
            logical_date=logical_date or as_of - dt.timedelta(days=1),
        )
    screened = screen_pulled(pulled, bounds)
    rejected.extend(screened.rejected)
    target = _Target(
        conn, tenant_id, customer_id, as_of, logical_date or as_of - dt.timedelta(days=1), stage
    )
    counts: dict[str, int] = {}
    for name, writer in WRITERS.items():
        if name in screened.pulled:
            counts.update(writer(target, screened.pulled[name]))
    return counts
