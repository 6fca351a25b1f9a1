"""Account time zones and partial days, through the real client, the sandbox, ingest, the gate
and analyze (both backends).

``segments.date`` is the account's own day, and today is partial until the day has ended in
the account's time zone plus Google's reporting delay. The daily run pulls at 06:00 UTC: in
America/Los_Angeles that is 22:00 the evening before, so the logical date is still partial
(reported up to ~19:00); in Asia/Tokyo it is mid-afternoon of the next day, so the logical
date is complete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from quality_defects import DefectMarket, DropCampaignDay
from quality_gate import REPULL, TENANT, Gate, make_gate
from sqlalchemy import Engine, func, select

from spectra.analytics.service import analyze_and_store
from spectra.domain.clock import daily_pull_instant
from spectra.ingest.daily import ingest_account
from spectra.quality.checks import GateStatus, QualityConfig
from spectra.quality.runner import validate_account
from spectra.sandbox.market import Market
from spectra.sandbox.market.scenario import AccountSpec, load_scenario
from spectra.sandbox.server import SandboxServer
from spectra.warehouse import models as m

ZONES = (
    AccountSpec(name="Northwind Outdoor", vertical="outdoor", time_zone="America/Los_Angeles"),
    AccountSpec(name="Brightsmile Dental", vertical="dental", time_zone="Asia/Tokyo"),
)


@pytest.fixture(scope="module")
def tz_market() -> Market:
    scenario = load_scenario("tiny", accounts=ZONES)
    # a weekday-only campaign in each account (Google leaves its weekends out)
    return Market(replace(scenario, structure=replace(scenario.structure, weekday_only_share=1.0)))


@pytest.fixture(scope="module")
def tz_defects(tz_market: Market) -> DefectMarket:
    return DefectMarket(tz_market)


@pytest.fixture(scope="module")
def tz_sandbox(tz_defects: DefectMarket, tz_market: Market) -> Iterator[SandboxServer]:
    with SandboxServer(tz_defects, clock=tz_market.reference_date) as server:
        yield server


@pytest.fixture
def tz_gate(
    engine: Engine, tz_market: Market, tz_defects: DefectMarket, tz_sandbox: SandboxServer,
    tmp_path: Any,
) -> Iterator[Gate]:  # fmt: skip
    tz_defects.defects = []
    yield make_gate(engine, tz_market, tz_sandbox, QualityConfig(quality_dir=tmp_path / "q"))
    tz_defects.defects = []


def _pull(gate: Gate, customer_id: int, day: dt.date) -> Any:
    """Ingest ``day`` at the instant the daily run pulls it (06:00 UTC the next day)."""
    gate.sandbox.state.invalidate()
    return ingest_account(
        gate.engine, gate.client, gate.creds, tenant_id=TENANT, customer_id=customer_id,
        logical_date=day, repull_days=REPULL, pulled_at=daily_pull_instant(day),
    )  # fmt: skip


def _validate(gate: Gate, customer_id: int, day: dt.date) -> Any:
    return validate_account(
        gate.engine, tenant_id=TENANT, customer_id=customer_id, logical_date=day,
        repull_days=REPULL, config=gate.config, data_docs=False,
    )  # fmt: skip


def _clicks(engine: Engine, customer_id: int, day: dt.date) -> int:
    p = m.PerformanceDaily
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.sum(p.clicks)).where(
                    p.customer_id == customer_id, p.level == "campaign", p.date == day
                )
            ).scalar_one()
            or 0
        )


def _complete_clicks(market: Market, customer_id: int, day: dt.date) -> int:
    rows = market.rows(
        "campaign", customer_id=customer_id, date_from=day, date_to=day,
        as_of=day + dt.timedelta(days=5), fields=frozenset({"metrics.clicks", "segments.date"}),
    )  # fmt: skip
    return sum(int(r["metrics.clicks"]) for r in rows)


def test_the_newest_day_is_partial_until_its_time_zone_has_finished_it(
    tz_gate: Gate, tz_market: Market
) -> None:
    """Los Angeles at 06:00 UTC: the logical date is stored partial, marked so, and the next
    run stores it complete; Tokyo's logical date is complete on the first pull."""
    la, tokyo = tz_market.customer_ids()
    day = tz_market.reference_date - dt.timedelta(days=2)

    first = _pull(tz_gate, la, day)
    assert first.complete_through == day - dt.timedelta(days=1)
    partial = _clicks(tz_gate.engine, la, day)
    whole = _complete_clicks(tz_market, la, day)
    assert 0.6 * whole < partial < 0.9 * whole  # reported up to ~19:00 of 24 hours
    assert _clicks(tz_gate.engine, la, day - dt.timedelta(days=1)) == _complete_clicks(
        tz_market, la, day - dt.timedelta(days=1)
    )
    following = _pull(tz_gate, la, day + dt.timedelta(days=1))
    assert following.complete_through == day
    assert _clicks(tz_gate.engine, la, day) == whole  # re-pulled complete

    assert _pull(tz_gate, tokyo, day).complete_through == day
    assert _clicks(tz_gate.engine, tokyo, day) == _complete_clicks(tz_market, tokyo, day)
    with tz_gate.engine.connect() as conn:
        runs = conn.execute(
            select(m.IngestRun.logical_date, m.IngestRun.pulled_at).where(
                m.IngestRun.customer_id == la
            )
        ).all()
    assert {r.logical_date: r.pulled_at.replace(tzinfo=dt.UTC).hour for r in runs} == {
        day: 6,
        day + dt.timedelta(days=1): 6,
    }


def test_a_partial_day_is_not_judged_a_complete_one_is(
    tz_gate: Gate, tz_defects: DefectMarket, tz_market: Market
) -> None:
    """A campaign with no rows yet on Los Angeles' partial newest day is not a finding; the
    same gap on a complete day is. Analyze judges the account as of its last complete day."""
    la, _ = tz_market.customer_ids()
    day = tz_market.reference_date - dt.timedelta(days=4)  # a Friday: the weekday-only serves
    assert day.weekday() == 4
    st = tz_market.struct
    every_day = int(
        next(
            st.campaign_id[c]
            for c in range(st.n_campaigns)
            if st.campaign_account[c] == 0 and st.campaign_weekdays[c].all()
        )
    )
    tz_defects.defects = [DropCampaignDay(la, (day,), campaign_id=every_day)]
    _pull(tz_gate, la, day)
    outcome = _validate(tz_gate, la, day)
    assert outcome.blocking == [], outcome.blocking

    result = analyze_and_store(tz_gate.engine, tenant_id=TENANT, customer_id=la, logical_date=day)
    with tz_gate.engine.connect() as conn:
        newest = conn.execute(
            select(func.max(m.Nowcast.date)).where(m.Nowcast.customer_id == la)
        ).scalar_one()
    assert result.counts["rows_read"] > 0
    assert newest == day - dt.timedelta(days=1)  # the partial day is not nowcast or scored

    # the next run: the day is complete and still has no rows for the campaign: a finding
    _pull(tz_gate, la, day + dt.timedelta(days=1))
    outcome = _validate(tz_gate, la, day + dt.timedelta(days=1))
    assert outcome.status is GateStatus.BLOCK
    assert f"campaign {every_day} has no rows on {day.isoformat()}" in " ".join(outcome.blocking)
