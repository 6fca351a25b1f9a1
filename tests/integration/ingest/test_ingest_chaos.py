"""Ingest under sandbox chaos, through the real client: every row written or quarantined once.

The accounting invariant, per query: the rows the sandbox served (counted here through the real
client with chaos off) equal the rows in the warehouse plus the rows in quarantine. A row lost
to a cut stream breaks the equality one way, a row written twice by a retried pull (or both
written and quarantined) the other. The served rows are counted, never derived from the
market's size, so rows Google omits (zero-impression days) change nothing here. On top, the
warehouse after a chaotic run must be the one a calm run leaves (same checksums), and a run
whose retries give up must leave no trace.

Every fault a read can meet is covered (``CALL_FAULTS``, and ``stream_truncate``: a stream
that ends OK after a partial answer, which only the summary row's totals give away);
``partial_failure`` and ``lost_response`` act on mutates only, and ingest sends none.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from support.ingest_chaos import INGESTED_TABLES, register_accounts

from spectra.ads.client import AdsCredentials, build_client
from spectra.ads.errors import AdsIncompleteStream, AdsUnavailable
from spectra.ads.retry import RetryPolicy
from spectra.ads.stream import load_query, stream_columns
from spectra.ingest.daily import IngestPullFailed, ingest_account, ingest_window, planned_pulls
from spectra.sandbox import server as server_module
from spectra.sandbox.chaos import CALL_FAULTS, Chaos
from spectra.warehouse import models as m
from spectra.warehouse.checksums import table_checksums
from spectra.warehouse.db import make_engine

TENANT = "acme"
REPULL = 14  # two 7-day slices per fact query: 14 SearchStream calls a run
# Per-call fault rate: with 14 calls a run, P(no fault of the kind at all) = 0.6^14 < 0.1 %,
# and the run asserts it met some. Retries are many and fast so the test waits on nothing:
# P(10 faults in a row on one call) = 0.4^10 = 1e-4.
RATE = 0.4
RETRY = RetryPolicy(attempts=10, base_delay=0.01, max_delay=0.05, total_timeout=30.0)
BATCH_ROWS = 40  # small SearchStream batches, so a cut stream has delivered rows before it breaks


@pytest.fixture(scope="module")
def client(chaos_creds: AdsCredentials) -> Any:
    return build_client(chaos_creds)


@pytest.fixture(scope="module")
def customer_id(market: Any) -> int:
    return market.customer_ids()[0]


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "STREAM_BATCH_ROWS", BATCH_ROWS)


@pytest.fixture(scope="module")
def served(
    client: Any, chaos_creds: AdsCredentials, customer_id: int, ref_day: dt.date, chaos: Chaos
) -> Counter[str]:
    """Rows the sandbox serves for each query of the run, counted with chaos off."""
    chaos.off()
    start, end, as_of = ingest_window(ref_day, REPULL)
    counts: Counter[str] = Counter()
    for name, params in planned_pulls(start, end):
        columns = stream_columns(
            client,
            chaos_creds,
            customer_id=customer_id,
            query=load_query(name),
            as_of=as_of,
            **params,
        )
        counts[name] += len(next(iter(columns.values())))
    # The account's own row updates the registered account (name, currency, time zone): it is
    # one row whatever happens, so it is not counted here; the checksums cover the rest.
    del counts["accounts"]
    return counts


def _ingest(
    engine: Engine, client: Any, chaos_creds: AdsCredentials, cid: int, day: dt.date
) -> Any:
    return ingest_account(
        engine,
        client,
        chaos_creds,
        tenant_id=TENANT,
        customer_id=cid,
        logical_date=day,
        repull_days=REPULL,
        retry=RETRY,
    )


@pytest.fixture(scope="module")
def calm_checksums(
    _sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    client: Any,
    chaos_creds: AdsCredentials,
    customer_id: int,
    ref_day: dt.date,
    chaos: Chaos,
    served: Counter[str],
) -> dict[str, str]:
    """What a run without faults leaves in the warehouse (a migrated SQLite file of its own)."""
    path = tmp_path_factory.mktemp("calm") / "spectra.db"
    shutil.copyfile(_sqlite_template, path)
    engine = register_accounts(make_engine(f"sqlite:///{path}"), TENANT, [customer_id])
    chaos.off()
    _ingest(engine, client, chaos_creds, customer_id, ref_day)
    with engine.connect() as conn:
        sums = table_checksums(conn, INGESTED_TABLES, tenant_id=TENANT)
    engine.dispose()
    return sums


# Where each query's rows land: (table, level) by the warehouse's own columns.
def _stored(conn: Any, name: str, customer_id: int) -> int:
    perf = {
        "campaign_performance": "campaign",
        "ad_group_performance": "ad_group",
        "keyword_performance": "keyword",
    }
    if name in perf:
        table, where = m.PerformanceDaily, [m.PerformanceDaily.level == perf[name]]
    else:
        table = {
            "search_terms": m.SearchTermDaily,
            "campaigns": m.Campaign,
            "ad_groups": m.AdGroup,
            "keywords": m.Keyword,
            "ads": m.Ad,
            "ad_schedules": m.CampaignAdSchedule,
            "change_events": m.ChangeEvent,
            "conversion_lag": m.ConversionLagBucket,
        }.get(name)
        assert table is not None, f"ingest pulls {name!r}: say where its rows are stored"
        where = []
    return conn.scalar(
        select(func.count())
        .select_from(table)
        .where(table.tenant_id == TENANT, table.customer_id == customer_id, *where)
    )


def _quarantined(conn: Any, customer_id: int) -> Counter[str]:
    """Distinct rows held back at ingest, by query (a row failing two checks is one row)."""
    rows = conn.execute(
        select(m.QualityQuarantine.source_query, m.QualityQuarantine.row_fingerprint)
        .where(
            m.QualityQuarantine.tenant_id == TENANT,
            m.QualityQuarantine.customer_id == customer_id,
            m.QualityQuarantine.stage == "ingest",
            m.QualityQuarantine.active.is_(True),
        )
        .distinct()
    ).all()
    return Counter(query for query, _ in rows)


@pytest.mark.parametrize("fault", [*CALL_FAULTS, "stream_truncate", "all"])
def test_every_served_row_is_written_or_quarantined_once(
    fault: str,
    sqlite_engine: Engine,
    client: Any,
    chaos_creds: AdsCredentials,
    customer_id: int,
    ref_day: dt.date,
    chaos: Chaos,
    served: Counter[str],
    calm_checksums: dict[str, str],
) -> None:
    engine = register_accounts(sqlite_engine, TENANT, [customer_id])
    rates = {f: RATE / len(CALL_FAULTS) for f in CALL_FAULTS} if fault == "all" else {fault: RATE}
    before = Counter(i.fault for i in chaos.injected)
    chaos.configure(
        methods=["GoogleAdsService/SearchStream"],
        retry_delay_seconds=0.01,
        slow_seconds=0.01,
        cut_after_batches=1,
        **rates,
    )
    try:
        _ingest(engine, client, chaos_creds, customer_id, ref_day)
    finally:
        chaos.off()
    injected = Counter(i.fault for i in chaos.injected) - before
    assert all(injected[f] > 0 for f in rates) if fault != "all" else sum(injected.values()) > 0
    assert set(injected) <= set(rates), injected

    with engine.connect() as conn:
        held = _quarantined(conn, customer_id)
        accounted = {name: _stored(conn, name, customer_id) + held[name] for name in served}
        checksums = table_checksums(conn, INGESTED_TABLES, tenant_id=TENANT)
    assert accounted == dict(served)
    # the planted bad rows, and only they, are held back
    assert held == Counter({"keyword_performance": 2, "search_terms": 2})
    assert checksums == calm_checksums


@pytest.mark.parametrize(
    ("backend", "fault", "cause"),
    [
        ("sqlite", "stream_cut", AdsUnavailable),
        pytest.param("postgres", "stream_cut", AdsUnavailable, marks=pytest.mark.postgres),
        ("sqlite", "stream_truncate", AdsIncompleteStream),
        pytest.param(
            "postgres", "stream_truncate", AdsIncompleteStream, marks=pytest.mark.postgres
        ),
    ],
)
def test_a_pull_that_fails_on_every_attempt_is_recorded_and_keeps_the_earlier_days(
    backend: str,
    fault: str,
    cause: type[Exception],
    request: pytest.FixtureRequest,
    client: Any,
    chaos_creds: AdsCredentials,
    customer_id: int,
    ref_day: dt.date,
    chaos: Chaos,
) -> None:
    """Every stream longer than one batch is cut (``stream_cut``), or ends OK with its middle
    batches missing (``stream_truncate``: caught by the rows' totals against the summary row),
    on every attempt. Over a warehouse that holds the day before: the exception names the
    account, the query and the date slice; the run's ``ingest_runs`` row says failed with the
    query, slice, attempts and error; nothing the run pulled is kept and every earlier row
    is as it was. The next run that gets through records success and clears the failure."""
    engine = request.getfixturevalue(f"{backend.replace('postgres', 'pg')}_engine")
    engine = register_accounts(engine, TENANT, [customer_id])
    earlier = ref_day - dt.timedelta(days=1)
    _ingest(engine, client, chaos_creds, customer_id, earlier)
    with engine.connect() as conn:
        before = table_checksums(conn, INGESTED_TABLES, tenant_id=TENANT)
    chaos.configure(methods=["GoogleAdsService/SearchStream"], cut_after_batches=1, **{fault: 1.0})
    try:
        with pytest.raises(IngestPullFailed) as failure:
            _ingest(engine, client, chaos_creds, customer_id, ref_day)
    finally:
        chaos.off()
    error = failure.value
    assert isinstance(error.__cause__, cause), error.__cause__
    assert error.attempts == RETRY.attempts
    start, end, _ = ingest_window(ref_day, REPULL)
    first, last = error.date_slice.split("..")
    assert start <= dt.date.fromisoformat(first) <= dt.date.fromisoformat(last) <= end
    assert f"query {error.query} for {error.date_slice}" in str(error)
    assert f"{TENANT}/{customer_id}" in str(error) and f"{RETRY.attempts} attempts" in str(error)
    with engine.connect() as conn:
        assert table_checksums(conn, INGESTED_TABLES, tenant_id=TENANT) == before
        runs = {r.logical_date: r for r in conn.execute(select(m.IngestRun))}
    assert runs[earlier].status == "success"
    run = runs[ref_day]
    assert run.status == "failed" and run.rows_by_table == {}
    assert (run.failed_query, run.failed_slice, run.attempts) == (
        error.query,
        error.date_slice,
        RETRY.attempts,
    )
    assert run.error.startswith(cause.__name__)

    _ingest(engine, client, chaos_creds, customer_id, ref_day)
    with engine.connect() as conn:
        run = conn.execute(select(m.IngestRun).where(m.IngestRun.logical_date == ref_day)).one()
    assert run.status == "success" and run.failed_query is None and run.error is None
