"""A brand-new account: its recent conversions are completed from the first pipeline run.

The pipeline as it runs for an account Spectra has never seen: ingest over gRPC (the sandbox
serving a truth-check market), then the analyze step, on two consecutive days. Lag snapshots
need a week of runs before their curve is usable; the conversion-lag histogram ingest pulls
each run completes the recent days meanwhile. The completed last week is compared with the
market's truth once every conversion has arrived (``Truth.matured``, conversions after the
30-day re-pull included).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from spectra.ads.client import AdsCredentials, build_client
from spectra.analytics.service import analyze_and_store
from spectra.evaluation import truth_checks
from spectra.evaluation.replay import matured_by_campaign
from spectra.ingest.daily import ingest_account
from spectra.sandbox.server import SandboxServer
from spectra.warehouse import models as m
from spectra.warehouse.repositories import register_account, register_tenant

TENANT = "newco"
SEED = 7
LAST = truth_checks.REFERENCE - dt.timedelta(days=1)
DAYS = (LAST - dt.timedelta(days=1), LAST)  # the account's first two pipeline runs


@pytest.fixture(scope="module")
def new_account_market() -> Any:
    """6 campaigns, ~150 conversions a day, lag: 40 % same day, median 3 days, tail to 45."""
    return truth_checks.market(SEED)


@pytest.fixture(scope="module")
def new_account_sandbox(new_account_market: Any) -> Iterator[tuple[Any, AdsCredentials]]:
    with SandboxServer(new_account_market, clock=truth_checks.REFERENCE) as server:
        creds = AdsCredentials(
            developer_token="test-dev-token",
            access_token="test-token",
            endpoint=server.endpoint,
            ca_cert_path=str(server.ca_cert),
            sandbox_clock=True,
        )
        yield build_client(creds), creds


def _run_pipeline(engine: Engine, sandbox: tuple[Any, AdsCredentials], cid: int) -> None:
    client, creds = sandbox
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="NewCo")
        register_account(conn, tenant_id=TENANT, customer_id=cid)
    for day in DAYS:
        ingest_account(engine, client, creds, tenant_id=TENANT, customer_id=cid, logical_date=day)
        analyze_and_store(engine, tenant_id=TENANT, customer_id=cid, logical_date=day)


def _last_week(engine: Engine, cid: int) -> pd.DataFrame:
    """The stored completion of the last run's 7 youngest days, beside the observed numbers."""
    n = m.Nowcast
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                n.campaign_id, n.date, n.age_days, n.maturity, n.lag_status,
                n.conversions_observed, n.conversions_nowcast,
            ).where(n.tenant_id == TENANT, n.customer_id == cid, n.logical_date == LAST)
        ).all()  # fmt: skip
    frame = pd.DataFrame(rows, columns=[c for c in rows[0]._fields]) if rows else pd.DataFrame()
    return frame[frame["date"] > LAST - dt.timedelta(days=7)] if len(frame) else frame


def test_new_account_is_completed_from_the_lag_histogram(
    sqlite_engine: Engine, new_account_market: Any, new_account_sandbox: Any
) -> None:
    cid = int(new_account_market.customer_ids()[0])
    _run_pipeline(sqlite_engine, new_account_sandbox, cid)
    with sqlite_engine.connect() as conn:
        runs = conn.execute(
            select(m.AnalyticsRun.lag_source, m.AnalyticsRun.lag_usable)
            .where(m.AnalyticsRun.tenant_id == TENANT)
            .order_by(m.AnalyticsRun.logical_date)
        ).all()
        snapshot_runs = conn.execute(
            select(m.LagSnapshot.report_date).distinct().where(m.LagSnapshot.tenant_id == TENANT)
        ).all()
    assert len(snapshot_runs) == 2  # far from the week of pulls the snapshot curve needs
    assert [tuple(r) for r in runs] == [("lag_buckets", True)] * 2

    week = _last_week(sqlite_engine, cid)
    assert len(week) == 7 * week["campaign_id"].nunique() > 0  # every young campaign-day
    assert (week["maturity"] < 1.0).all()
    assert (week["conversions_nowcast"] >= week["conversions_observed"]).all()
    assert week["conversions_nowcast"].sum() > week["conversions_observed"].sum()

    truth = matured_by_campaign(new_account_market, cid, LAST - dt.timedelta(days=6), LAST).rename(
        columns={"conversions": "truth"}
    )
    merged = week.merge(truth[["campaign_id", "date", "truth"]], on=["campaign_id", "date"])
    assert len(merged) == len(week)
    completed = merged["conversions_nowcast"].sum() / merged["truth"].sum() - 1
    observed = merged["conversions_observed"].sum() / merged["truth"].sum() - 1
    print(f"last 7 days vs matured truth: completed {completed:+.3f}, observed {observed:+.3f}")
    assert abs(completed) <= 0.10
    assert observed < -0.20  # what the account would look like without completion

    # The control: without the histogram the same run leaves the young days as observed and
    # flagged, never silently "mature" — the completion above is the buckets'.
    with sqlite_engine.begin() as conn:
        conn.execute(m.ConversionLagBucket.__table__.delete())
    analyze_and_store(sqlite_engine, tenant_id=TENANT, customer_id=cid, logical_date=LAST)
    with sqlite_engine.connect() as conn:
        source, usable = conn.execute(
            select(m.AnalyticsRun.lag_source, m.AnalyticsRun.lag_usable).where(
                m.AnalyticsRun.logical_date == LAST
            )
        ).one()
    assert (source, usable) == ("snapshots", False)
    bare = _last_week(sqlite_engine, cid)
    assert len(bare) == len(week)
    assert (bare["conversions_nowcast"] == bare["conversions_observed"]).all()
    assert (bare["lag_status"] == "too_immature").all()
