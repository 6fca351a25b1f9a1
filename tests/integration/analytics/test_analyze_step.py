"""The analyze step against a real warehouse: what it reads, what it stores, re-runs, tenants.

The warehouse is filled as the daily pipeline would have left it (``spectra.evaluation.replay``
replays the ingest through ``Market.rows``, the function the sandbox serves); one test runs the
real chain — ingest over gRPC, the quality gate, analyze — for a day.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from spectra.analytics.service import analyze_and_store
from spectra.evaluation.replay import (
    ReplayedAccount,
    as_records,
    pull,
    replay_account,
    structure_rows,
)
from spectra.warehouse import models as m
from spectra.warehouse.analytics_store import DAY_TABLES
from spectra.warehouse.checksums import table_checksums
from spectra.warehouse.repositories import register_account, register_tenant
from spectra.warehouse.upsert import bulk_upsert

TENANT = "acme"
OTHER = "globex"
DAY = dt.date(2026, 11, 20)  # tiny market: history from 2025-10-07, reference 2026-12-01
PERF_KEYS = list(m.PERFORMANCE_DAILY_KEY)
SNAP_KEYS = ["tenant_id", "customer_id", "campaign_id", "click_date", "report_date"]
RESULT_TABLES = [t.__table__ for t in DAY_TABLES]


def _count(engine: Engine, model: Any, **where: Any) -> int:
    stmt = select(func.count()).select_from(model)
    for column, value in where.items():
        stmt = stmt.where(getattr(model, column) == value)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def load_history(
    engine: Engine,
    market: Any,
    customer_id: int,
    *,
    tenant_id: str,
    last_day: dt.date,
    snapshot_runs: int = 40,
) -> None:
    """The warehouse after daily runs up to ``last_day``: facts, structure, lag snapshots."""
    acc = _replayed(market, customer_id, last_day, snapshot_runs, tenant_id)
    structure = structure_rows(
        market, customer_id, as_of=last_day + dt.timedelta(days=1), tenant_id=tenant_id
    )
    with engine.begin() as conn:
        bulk_upsert(conn, m.Campaign.__table__, structure["campaigns"], keys=m.natural_key(m.Campaign))  # fmt: skip
        bulk_upsert(conn, m.AdGroup.__table__, structure["ad_groups"], keys=m.natural_key(m.AdGroup))  # fmt: skip
        bulk_upsert(
            conn, m.Keyword.__table__, structure["keywords"],
            keys=m.natural_key(m.Keyword),
        )  # fmt: skip
        bulk_upsert(
            conn, m.PerformanceDaily.__table__, as_records(acc.perf), keys=PERF_KEYS,
            freshness_column="reported_as_of",
        )  # fmt: skip
        snaps = acc.snapshots.assign(tenant_id=tenant_id, customer_id=customer_id)
        if not snaps.empty:
            bulk_upsert(conn, m.LagSnapshot.__table__, as_records(snaps), keys=SNAP_KEYS)


@functools.lru_cache(maxsize=16)
def _replayed(
    market: Any, customer_id: int, last_day: dt.date, snapshot_runs: int, tenant_id: str
) -> ReplayedAccount:
    """Replays are pure functions of the (session-wide, never mutated) market: reuse them."""
    return replay_account(
        market, customer_id, last_day=last_day, first_day=last_day - dt.timedelta(days=400),
        detail_days=90, snapshot_runs=snapshot_runs, tenant_id=tenant_id,
    )  # fmt: skip


def ingest_like(
    engine: Engine, market: Any, customer_id: int, *, tenant_id: str, day: dt.date
) -> None:
    """What the ingest of ``day`` upserts: the 30-day window as reported on day + 1."""
    frames = [
        pull(
            market,
            customer_id,
            level=level,
            date_from=day - dt.timedelta(days=29),
            date_to=day,
            as_of=day + dt.timedelta(days=1),
            tenant_id=tenant_id,
        )  # fmt: skip
        for level in ("campaign", "ad_group", "keyword")
    ]
    with engine.begin() as conn:
        for frame in frames:
            bulk_upsert(
                conn, m.PerformanceDaily.__table__, as_records(frame), keys=PERF_KEYS,
                freshness_column="reported_as_of",
            )  # fmt: skip


def _register(engine: Engine, pairs: Iterable[tuple[str, int]]) -> None:
    with engine.begin() as conn:
        for tenant in {t for t, _ in pairs}:
            register_tenant(conn, tenant_id=tenant, name=tenant.title())
        for tenant, cid in pairs:
            register_account(conn, tenant_id=tenant, customer_id=cid)


def _checksums(engine: Engine, tenant_id: str) -> dict[str, str]:
    with engine.connect() as conn:
        return table_checksums(conn, RESULT_TABLES, tenant_id=tenant_id)


@pytest.fixture
def account(market: Any) -> int:
    return int(market.customer_ids()[0])


def test_day_is_stored_and_a_rerun_replaces_it(engine: Engine, market: Any, account: int) -> None:
    _register(engine, [(TENANT, account)])
    load_history(engine, market, account, tenant_id=TENANT, last_day=DAY)
    first = analyze_and_store(engine, tenant_id=TENANT, customer_id=account, logical_date=DAY)
    counts = first.counts
    assert counts["rows_read"] > 0 and counts["tests"] > 0
    with Session(engine) as session:
        run = session.scalars(select(m.AnalyticsRun)).one()
    assert run.lag_source == "snapshots" and run.lag_usable
    assert run.counts == counts
    assert _count(engine, m.LagCurveRow, logical_date=DAY) == 31
    assert _count(engine, m.Verdict, logical_date=DAY) == counts["tests"]
    budgets = _count(engine, m.Envelope, kind="budget")
    enabled = _count(engine, m.Campaign, serving_status="ENABLED")
    assert budgets == enabled > 0
    assert _count(engine, m.Nowcast) == counts["nowcast_days"] > 0
    before = _checksums(engine, TENANT)
    again = analyze_and_store(engine, tenant_id=TENANT, customer_id=account, logical_date=DAY)
    assert again.counts == counts
    assert _checksums(engine, TENANT) == before
    assert _count(engine, m.AnalyticsRun) == 1
    # The next day adds its own results beside the first day's.
    ingest_like(engine, market, account, tenant_id=TENANT, day=DAY + dt.timedelta(days=1))
    analyze_and_store(
        engine, tenant_id=TENANT, customer_id=account, logical_date=DAY + dt.timedelta(days=1)
    )
    assert _count(engine, m.LagCurveRow) == 62
    assert _checksums(engine, TENANT) != before


def test_money_is_integer_micros_and_envelopes_are_absolute_targets(
    sqlite_engine: Engine, market: Any, account: int
) -> None:
    _register(sqlite_engine, [(TENANT, account)])
    load_history(sqlite_engine, market, account, tenant_id=TENANT, last_day=DAY)
    analyze_and_store(sqlite_engine, tenant_id=TENANT, customer_id=account, logical_date=DAY)
    with Session(sqlite_engine) as session:
        envelopes = session.scalars(select(m.Envelope)).all()
        nowcasts = session.scalars(select(m.Nowcast)).all()
    for env in envelopes:
        assert isinstance(env.current_micros, int) and isinstance(env.next_micros, int)
        if env.direction == "hold":
            assert env.next_micros == env.current_micros and env.max_change_pct == 0
        else:
            assert 0 < abs(env.next_micros / env.current_micros - 1) <= 0.2 + 1e-9
    assert all(isinstance(n.conversions_value_nowcast_micros, int) for n in nowcasts)


def test_quarantined_rows_and_excluded_days_are_not_evidence(
    sqlite_engine: Engine, market: Any, account: int
) -> None:
    _register(sqlite_engine, [(TENANT, account)])
    load_history(sqlite_engine, market, account, tenant_id=TENANT, last_day=DAY, snapshot_runs=0)
    outage = DAY - dt.timedelta(days=3)
    with sqlite_engine.connect() as conn:
        campaign, reported = conn.execute(
            select(m.PerformanceDaily.entity_id, m.PerformanceDaily.reported_as_of).where(
                m.PerformanceDaily.level == "campaign", m.PerformanceDaily.date == DAY
            )
        ).first()  # type: ignore[misc]
    with sqlite_engine.begin() as conn:
        conn.execute(
            m.DataExclusion.__table__.insert(),
            [
                {
                    "tenant_id": TENANT, "customer_id": account, "kind": "tracking_outage",
                    "date": outage, "logical_date": DAY, "reason": "test outage",
                    "clicks": 100, "conversions": 0.0, "expected_conversions": 9.0,
                    "active": True, "created_at": m.utcnow(),
                }
            ],
        )  # fmt: skip
        conn.execute(
            m.QualityQuarantine.__table__.insert(),
            [
                {
                    "tenant_id": TENANT, "customer_id": account,
                    "source_table": "performance_daily", "source_query": "campaign_performance",
                    "stage": "validate", "logical_date": DAY, "reported_as_of": reported,
                    "check_name": "perf.test", "severity": "warn", "reason": "test",
                    "date": DAY, "level": "campaign", "entity_id": campaign,
                    "row_fingerprint": "f" * 40, "payload": "{}", "active": True,
                    "quarantined_at": m.utcnow(),
                }
            ],
        )  # fmt: skip
    analyze_and_store(sqlite_engine, tenant_id=TENANT, customer_id=account, logical_date=DAY)
    with sqlite_engine.connect() as conn:
        snap_days = set(conn.execute(select(m.LagSnapshot.click_date)).scalars())
        quarantined = conn.execute(
            select(func.count())
            .select_from(m.LagSnapshot)
            .where(m.LagSnapshot.campaign_id == campaign, m.LagSnapshot.click_date == DAY)
        ).scalar_one()
        nowcast_days = set(conn.execute(select(m.Nowcast.date)).scalars())
    assert outage not in snap_days and outage not in nowcast_days
    assert DAY - dt.timedelta(days=4) in snap_days
    assert quarantined == 0


def test_tenants_and_accounts_stay_apart(engine: Engine, market: Any) -> None:
    a, b = (int(c) for c in market.customer_ids())
    _register(engine, [(TENANT, a), (OTHER, b)])
    load_history(engine, market, a, tenant_id=TENANT, last_day=DAY)
    load_history(engine, market, b, tenant_id=OTHER, last_day=DAY)
    analyze_and_store(engine, tenant_id=OTHER, customer_id=b, logical_date=DAY)
    other = _checksums(engine, OTHER)
    analyze_and_store(engine, tenant_id=TENANT, customer_id=a, logical_date=DAY)
    analyze_and_store(engine, tenant_id=TENANT, customer_id=a, logical_date=DAY)
    assert _checksums(engine, OTHER) == other
    with engine.connect() as conn:
        owners = set(conn.execute(select(m.Verdict.tenant_id, m.Verdict.customer_id)).all())
    assert owners == {(TENANT, a), (OTHER, b)}


def test_snapshots_accumulate_until_the_lag_curve_is_usable(
    sqlite_engine: Engine, market: Any, account: int
) -> None:
    """A new account: no snapshots at first, so recent conversions are neither completed nor
    judged; each daily run adds one diagonal, and a week of runs makes completion possible."""
    _register(sqlite_engine, [(TENANT, account)])
    start = DAY - dt.timedelta(days=7)
    load_history(sqlite_engine, market, account, tenant_id=TENANT, last_day=start, snapshot_runs=0)
    usable = []
    for k in range(8):
        day = start + dt.timedelta(days=k)
        if k:
            ingest_like(sqlite_engine, market, account, tenant_id=TENANT, day=day)
        out = analyze_and_store(
            sqlite_engine, tenant_id=TENANT, customer_id=account, logical_date=day
        )
        with sqlite_engine.connect() as conn:
            usable.append(
                conn.execute(
                    select(m.AnalyticsRun.lag_usable).where(m.AnalyticsRun.logical_date == day)
                ).scalar_one()
            )
        assert out.counts["snapshots_stored"] > 0
    assert usable[:6] == [False] * 6 and usable[-1] is True
    with sqlite_engine.connect() as conn:
        reports = conn.execute(
            select(func.count(func.distinct(m.LagSnapshot.report_date)))
        ).scalar()
    assert reports >= 8


def test_real_chain_ingest_gate_analyze(
    sqlite_engine: Engine, market: Any, ads_client: Any, ads_creds: Any, tmp_path: Any
) -> None:
    """The day as the DAG runs it: ingest over gRPC, the quality gate, then analyze only if
    the gate let the account through. The dental account's tracking outage (Nov 10-12) is in
    the window: whatever days the gate excludes never become lag snapshots or nowcasts."""
    from spectra.airflow.tasks import gate
    from spectra.ingest.daily import ingest_account
    from spectra.quality.checks import QualityConfig
    from spectra.quality.runner import validate_account

    dental = int(market.customer_ids()[1])
    _register(sqlite_engine, [(TENANT, dental)])
    load_history(
        sqlite_engine, market, dental, tenant_id=TENANT, last_day=DAY - dt.timedelta(days=1)
    )
    ingest_account(
        sqlite_engine, ads_client, ads_creds, tenant_id=TENANT, customer_id=dental,
        logical_date=DAY, repull_days=30,
    )  # fmt: skip
    outcome = validate_account(
        sqlite_engine, tenant_id=TENANT, customer_id=dental, logical_date=DAY, repull_days=30,
        config=QualityConfig(quality_dir=tmp_path / "quality"), data_docs=False,
    )  # fmt: skip
    passed = gate(outcome.as_dict())
    assert passed is not None, outcome.as_dict()
    result = analyze_and_store(
        sqlite_engine, tenant_id=TENANT, customer_id=dental, logical_date=DAY,
        gate=passed["gate"],
    )  # fmt: skip
    assert result.counts["rows_read"] > 0
    with sqlite_engine.connect() as conn:
        excluded = set(
            conn.execute(
                select(m.DataExclusion.date).where(
                    m.DataExclusion.customer_id == dental, m.DataExclusion.active
                )
            ).scalars()
        )
        fresh = set(
            conn.execute(
                select(m.LagSnapshot.click_date).where(
                    m.LagSnapshot.report_date == DAY + dt.timedelta(days=1)
                )
            ).scalars()
        )
        nowcast_days = set(conn.execute(select(m.Nowcast.date)).scalars())
        run_gate = conn.execute(select(m.AnalyticsRun.gate)).scalar_one()
    assert run_gate == passed["gate"]
    assert fresh, "this run stored its diagonal of the lag triangle"
    outage = {dt.date(2026, 11, 10), dt.date(2026, 11, 11), dt.date(2026, 11, 12)}
    assert excluded == outage  # the gate found the tiny market's outage
    assert not (excluded & fresh) and not (excluded & nowcast_days)


def test_cpc_shock_on_black_friday_is_judged_at_fixed_keyword_mix(engine: Engine) -> None:
    """The step reads keyword rows of last year's holiday window besides the recent ones, so
    a Smart Bidding campaign's competitor shock on Black Friday is found at a fixed keyword mix
    (seed 0: on raw campaign CPC its +55 % hides in the mix noise; truth_checks.black_friday)."""
    from spectra.analytics.seasonality import HolidayCalendar
    from spectra.evaluation import truth_checks as tc

    day = tc.BLACK_FRIDAY
    shock = {"type": "competitor_entry", "start": day.isoformat(), "end": day.isoformat()}
    market = tc.market(
        0, reference_date=dt.date(2026, 12, 1), history_days=420,
        events=[{**shock, "campaigns": [2], "cpc_multiplier": 3.0}],
        campaigns=5, ad_groups=3, keywords=8,
    )  # fmt: skip
    cid = int(market.customer_ids()[0])
    acc = replay_account(
        market, cid, last_day=day, levels=("campaign",), snapshot_runs=40, tenant_id=TENANT
    )
    keywords = tc.keyword_detail(
        market, cid, as_of=day, first_day=market.history_start,
        calendar=HolidayCalendar.for_market("US"),
    ).assign(tenant_id=TENANT)  # fmt: skip
    keywords["date"] = keywords["date"].dt.date
    _register(engine, [(TENANT, cid)])
    with engine.begin() as conn:
        for frame in (acc.perf, keywords):
            bulk_upsert(
                conn, m.PerformanceDaily.__table__, as_records(frame), keys=PERF_KEYS,
                freshness_column="reported_as_of",
            )  # fmt: skip
    out = analyze_and_store(engine, tenant_id=TENANT, customer_id=cid, logical_date=day)
    # Last year's BFCM with its lead-in: 2025-10-16 .. 2026-01-08 (less the recent window).
    assert out.counts["cpc_index_rows_read"] > 60 * 100
    a = m.AnomalyRow
    with engine.connect() as conn:
        rows = conn.execute(
            select(a.entity_id, a.flagged, a.score, a.reason).where(
                a.tenant_id == TENANT, a.customer_id == cid, a.logical_date == day,
                a.entity_level == "campaign", a.metric == "cpc",
            )
        ).all()  # fmt: skip
    shocked = int(market.struct.campaign_id[2])
    flagged = {r.entity_id for r in rows if r.flagged}
    assert shocked in flagged, rows
    assert flagged == {shocked}  # the holiday lifts the others' CPC as it did last year
    assert all("keyword mix" in r.reason for r in rows)
