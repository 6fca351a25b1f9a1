"""The spend monitor against the sandbox: hourly runs through one account day.

Each test picks the account's biggest spender and sets its limit so that, left alone, the
campaign's spend would cross it at 14:00 local. The sandbox reports spend three hours late and
the monitor runs hourly, so a monitor that paused only once the *reported* spend passed the
limit would let the campaign run on for hours; ours projects the spend to its next run and
pauses before the crossing. What the campaign really spent is read from the market afterwards.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from monitor_support import TENANT, local_instant, register, spend
from sqlalchemy import Engine, select

from spectra.ads.client import AdsCredentials
from spectra.domain.campaign_state import CampaignState
from spectra.monitors.config import SpendMonitorConfig
from spectra.monitors.spend import DEFAULT_CONFIG, SpendReport, check_spend
from spectra.sandbox.market import Market
from spectra.sandbox.market.intraday import cumulative
from spectra.warehouse import monitor_store
from spectra.warehouse.models import AuditRow
from spectra.warehouse.repositories import get_campaign

DAY = dt.date(2026, 12, 1)
LATER = DAY + dt.timedelta(days=3)  # a clock at which DAY and the next day are fully reported


def _undisturbed() -> Market:
    return Market.from_scenario("tiny", events=())


def _crossing_at_14(truth: Market, customer_id: int) -> tuple[int, int, float]:
    """(campaign, its whole-day spend on DAY, the spend by 14:00 local) when left alone."""
    full = spend(truth, customer_id, DAY, DAY, as_of=LATER)
    campaign = max(full, key=lambda c: full[c])
    by_14 = full[campaign] * float(cumulative(truth.hourly_profile, 14 / 24))
    return campaign, full[campaign], by_14


def _run_hours(
    engine: Engine,
    client: Any,
    creds: AdsCredentials,
    market: Market,
    customer_id: int,
    day: dt.date,
    hours: range,
    config: SpendMonitorConfig = DEFAULT_CONFIG,
) -> list[tuple[int, SpendReport]]:
    return [
        (
            hour,
            check_spend(
                engine,
                client,
                tenant_id=TENANT,
                customer_id=customer_id,
                clock=local_instant(market, customer_id, day, hour),
                creds=creds,
                config=config,
            ),
        )
        for hour in hours
    ]


def _state(engine: Engine, customer_id: int, campaign_id: int) -> str:
    with engine.connect() as conn:
        return get_campaign(
            conn, tenant_id=TENANT, customer_id=customer_id, campaign_id=campaign_id
        ).status


def _alerts(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return monitor_store.list_alerts(conn, tenant_id=TENANT, monitor="spend")


def test_daily_limit_pauses_in_time_and_the_campaign_is_enabled_again_the_next_day(
    sqlite_engine: Engine, mon_market: Market, mon_client: Any, mon_creds: AdsCredentials
) -> None:
    m = mon_market
    cid = m.customer_ids()[0]
    truth = _undisturbed()
    camp, whole_day, by_14 = _crossing_at_14(truth, cid)
    limit = int(by_14)
    register(sqlite_engine, m, cid, {camp: {"max_daily_spend_micros": limit}})

    runs = _run_hours(sqlite_engine, mon_client, mon_creds, m, cid, DAY, range(24))
    paused = [h for h, r in runs if r.paused]
    assert len(paused) == 1 and paused[0] <= 14, [(h, r.as_dict()) for h, r in runs]
    assert all(not r.failed for _, r in runs)
    warned = [h for h, r in runs if camp in r.warnings]
    assert warned and min(warned) < paused[0]  # the pace to midnight warned earlier
    hour = paused[0]
    day_spend = spend(m, cid, DAY, DAY, as_of=LATER)[camp]
    print(
        f"limit {limit / 1e6:.2f}, paused at {hour:02d}:00, spent {day_spend / 1e6:.2f} "
        f"(left alone: {whole_day / 1e6:.2f})"
    )
    assert day_spend <= limit  # no overshoot
    # and nothing after the pause: the day is the undisturbed day up to the pause hour
    assert day_spend == pytest.approx(
        whole_day * float(cumulative(truth.hourly_profile, hour / 24)), rel=0.01
    )
    assert _state(sqlite_engine, cid, camp) == CampaignState.PAUSED.value
    (alert,) = [a for a in _alerts(sqlite_engine) if a["kind"] == "daily_limit"]
    assert alert["status"] == "open" and alert["severity"] == "critical"
    with sqlite_engine.connect() as conn:
        actions = {
            r.action
            for r in conn.execute(select(AuditRow).where(AuditRow.tenant_id == TENANT)).all()
        }
        events = monitor_store.alert_events(conn, tenant_id=TENANT)
    assert {"approved", "recorded"} <= actions  # through the executor: audited
    # one "opened" per alert, however many hourly runs saw the condition persist
    assert [e["event"] for e in events if e["alert_id"] == alert["id"]] == ["opened"]

    # the next account day: the daily limit starts from zero, the campaign serves again
    nxt = DAY + dt.timedelta(days=1)
    (_, first), *_ = _run_hours(sqlite_engine, mon_client, mon_creds, m, cid, nxt, range(1))
    assert [r["campaign_id"] for r in first.reenabled] == [camp]
    assert _state(sqlite_engine, cid, camp) == CampaignState.ACTIVE.value
    (alert,) = [a for a in _alerts(sqlite_engine) if a["kind"] == "daily_limit"]
    assert alert["status"] == "resolved"
    assert spend(m, cid, nxt, nxt, as_of=LATER)[camp] > 0
    # a replay of the same hour finds its change in the ledger: nothing new
    (_, again), *_ = _run_hours(sqlite_engine, mon_client, mon_creds, m, cid, nxt, range(1))
    assert again.reenabled == [] and again.paused == []


def test_total_limit_pauses_in_time_and_stays_paused(
    sqlite_engine: Engine, mon_market: Market, mon_client: Any, mon_creds: AdsCredentials
) -> None:
    m = mon_market
    cid = m.customer_ids()[0]
    truth = _undisturbed()
    camp, _, by_14 = _crossing_at_14(truth, cid)
    before = spend(truth, cid, truth.history_start, DAY - dt.timedelta(days=1), as_of=LATER)[camp]
    total = int(before + by_14)
    register(sqlite_engine, m, cid, {camp: {"total_spend_limit_micros": total}})

    runs = _run_hours(sqlite_engine, mon_client, mon_creds, m, cid, DAY, range(24))
    paused = [h for h, r in runs if r.paused]
    assert len(paused) == 1 and paused[0] <= 14
    lifetime = spend(m, cid, m.history_start, DAY, as_of=LATER)[camp]
    assert lifetime <= total
    nxt = DAY + dt.timedelta(days=1)
    runs = _run_hours(sqlite_engine, mon_client, mon_creds, m, cid, nxt, range(3))
    assert all(not r.reenabled for _, r in runs)
    assert _state(sqlite_engine, cid, camp) == CampaignState.PAUSED.value
    assert spend(m, cid, nxt, nxt, as_of=LATER).get(camp, 0) == 0
    (alert,) = [a for a in _alerts(sqlite_engine) if a["kind"] == "total_limit"]
    assert alert["status"] == "open"


def test_a_monitor_that_waits_for_reported_spend_overshoots(
    sqlite_engine: Engine, mon_market: Market, mon_client: Any, mon_creds: AdsCredentials
) -> None:
    """The baseline the projection exists for: pausing on reported spend alone lets the
    campaign spend on through the reporting delay and the monitor's period."""
    m = mon_market
    cid = m.customer_ids()[0]
    camp, _, by_14 = _crossing_at_14(_undisturbed(), cid)
    limit = int(by_14)
    register(sqlite_engine, m, cid, {camp: {"max_daily_spend_micros": limit}})
    naive = SpendMonitorConfig(project=False)
    runs = _run_hours(sqlite_engine, mon_client, mon_creds, m, cid, DAY, range(24), naive)
    (hour,) = [h for h, r in runs if r.paused]
    overshoot = spend(m, cid, DAY, DAY, as_of=LATER)[camp] - limit
    print(f"naive monitor paused at {hour:02d}:00, {overshoot / 1e6:.2f} past the limit")
    assert hour >= 17  # 14:00 + the three-hour delay
    assert overshoot > 0.05 * limit
