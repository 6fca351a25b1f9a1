"""Two ingests on one SQLite file while the API is slow: both succeed, neither waits on the
other's network.

SQLite has one write lock per file (``BEGIN IMMEDIATE`` takes it up front). An ingest that
held it across its pulls would make the other account's ingest (the daily DAG runs two at once:
the ``google_ads_api`` pool) wait for every one of its slow streams and give up at the busy
timeout. Here every SearchStream call is delayed so one run's pulls last several times the
busy timeout the engines are given; an ingest that held the lock across them fails the other
with "database is locked". The warehouse they leave must be the one two calm runs leave.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from support.ingest_chaos import INGESTED_TABLES, register_accounts

from spectra.ads.client import AdsCredentials, build_client
from spectra.ingest.daily import IngestResult, ingest_account, planned_pulls
from spectra.sandbox.chaos import Chaos
from spectra.warehouse import models as m
from spectra.warehouse.checksums import table_checksums
from spectra.warehouse.db import make_engine

TENANT = "acme"
REPULL = 14  # two 7-day slices per fact query
# Each SearchStream call sleeps SLOW_SECONDS: a run's pulls take at least
# calls x SLOW_SECONDS (about 8 s), over twice the busy timeout. A held lock cannot hide.
SLOW_SECONDS = 0.6
BUSY_TIMEOUT_MS = 3_000


def _warehouse(template: Path, path: Path, customer_ids: list[int]) -> str:
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    register_accounts(make_engine(url), TENANT, customer_ids).dispose()
    return url


def _ingest(engine: Engine, chaos_creds: AdsCredentials, cid: int, day: dt.date) -> IngestResult:
    return ingest_account(
        engine,
        build_client(chaos_creds),  # a client per run, as each Airflow task has its own
        chaos_creds,
        tenant_id=TENANT,
        customer_id=cid,
        logical_date=day,
        repull_days=REPULL,
    )


def _stored(engine: Engine) -> tuple[dict[str, str], dict[int, str]]:
    with engine.connect() as conn:
        sums = table_checksums(conn, INGESTED_TABLES, tenant_id=TENANT)
        runs = {
            int(cid): status
            for cid, status in conn.execute(select(m.IngestRun.customer_id, m.IngestRun.status))
        }
    return sums, runs


def test_two_sqlite_ingests_with_slow_pulls_both_succeed(
    _sqlite_template: Path,
    tmp_path: Path,
    market: Any,
    chaos_creds: AdsCredentials,
    chaos: Chaos,
    ref_day: dt.date,
) -> None:
    cids = market.customer_ids()[:2]
    assert len(cids) == 2, "the tiny scenario has two accounts"
    # What the two runs leave one after the other, the API at full speed.
    chaos.off()
    calm = make_engine(_warehouse(_sqlite_template, tmp_path / "calm.db", cids))
    for cid in cids:
        _ingest(calm, chaos_creds, cid, ref_day)
    expected = _stored(calm)
    calm.dispose()

    url = _warehouse(_sqlite_template, tmp_path / "shared.db", cids)
    engines = [make_engine(url, sqlite_busy_timeout_ms=BUSY_TIMEOUT_MS) for _ in cids]
    chaos.configure(slow=1.0, slow_seconds=SLOW_SECONDS, methods=["GoogleAdsService/SearchStream"])
    spans: dict[int, tuple[float, float]] = {}

    def timed(engine: Engine, cid: int) -> IngestResult:
        started = time.monotonic()
        try:
            return _ingest(engine, chaos_creds, cid, ref_day)
        finally:
            spans[cid] = (started, time.monotonic())

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = [pool.submit(timed, e, cid) for e, cid in zip(engines, cids, strict=True)]
            results = [run.result() for run in runs]  # re-raises "database is locked"
    finally:
        chaos.off()
        for engine in engines:
            engine.dispose()
    # The premise: each run's pulls alone outlast the busy timeout, and the runs overlapped.
    start, end = results[0].window_start, results[0].window_end
    pull_seconds = sum(1 for _ in planned_pulls(start, end)) * SLOW_SECONDS
    assert pull_seconds > 2 * BUSY_TIMEOUT_MS / 1000
    assert max(s for s, _ in spans.values()) < min(e for _, e in spans.values()), spans
    assert [r.customer_id for r in results] == cids
    shared = make_engine(url)
    assert _stored(shared) == expected
    assert expected[1] == {cid: "success" for cid in cids}
    shared.dispose()


HOLD_SECONDS = 2 * BUSY_TIMEOUT_MS / 1000  # the other writer's lock outlasts the busy timeout


def test_an_ingest_reads_beside_another_writers_lock(
    _sqlite_template: Path,
    tmp_path: Path,
    market: Any,
    chaos_creds: AdsCredentials,
    chaos: Chaos,
    ref_day: dt.date,
) -> None:
    """Ingest's reads (the account's owner, its screening bounds) take no write lock.

    Another connection holds the write lock for twice the busy timeout from before the run
    starts. A read that began IMMEDIATE would give up with "database is locked" after the
    busy timeout; the run must read, pull (longer than the hold: every stream is slowed) and
    write once the lock is free.
    """
    cid = market.customer_ids()[0]
    url = _warehouse(_sqlite_template, tmp_path / "held.db", [cid])
    engine = make_engine(url, sqlite_busy_timeout_ms=BUSY_TIMEOUT_MS)
    other = make_engine(url)
    impatient = make_engine(url, sqlite_busy_timeout_ms=100)
    chaos.configure(slow=1.0, slow_seconds=SLOW_SECONDS, methods=["GoogleAdsService/SearchStream"])
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            with other.begin():  # BEGIN IMMEDIATE: the file's write lock, until the block ends
                started = time.monotonic()
                run = pool.submit(_ingest, engine, chaos_creds, cid, ref_day)
                # the premise: the lock is held (a writer cannot get it)
                with pytest.raises(OperationalError, match="database is locked"):
                    with impatient.begin():
                        pass
                time.sleep(HOLD_SECONDS)
                if run.done():
                    run.result()  # a read that waited for the lock gave up: "database is locked"
                    pytest.fail("the run must still be pulling when the lock is freed")
            result = run.result()  # re-raises "database is locked"
    finally:
        chaos.off()
        for e in (engine, other, impatient):
            e.dispose()
    assert time.monotonic() - started > HOLD_SECONDS
    assert result.rows.get("performance_daily.campaign", 0) > 0
    check = make_engine(url)
    with check.connect() as conn:
        status = conn.execute(select(m.IngestRun.status)).scalar_one()
    check.dispose()
    assert status == "success"
