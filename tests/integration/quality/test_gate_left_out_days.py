"""Days Google leaves out, through the real client, the sandbox, ingest and the gate (both
backends).

Google sends no row for an entity on a day it had no impressions: a campaign paused for two
days (by the advertiser, in the change history), a campaign whose ad schedule is Monday to
Friday (no weekend rows), a tiny keyword on most days. Those days are zeros, not losses; a
day a steady campaign should have served and has no rows is still a finding (BLOCK).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from quality_defects import DefectMarket, DropCampaignDay
from quality_gate import TENANT, Gate, make_gate
from sqlalchemy import Engine, select

from spectra.ads.mutate import mutate
from spectra.quality.checks import GateStatus, QualityConfig
from spectra.sandbox.market import Market
from spectra.sandbox.market.scenario import load_scenario
from spectra.sandbox.server import SandboxServer
from spectra.warehouse import models as m

PAUSED_FROM, ENABLED_ON = 10, 8  # days before the logical date: paused two days


@pytest.fixture(scope="module")
def lo_market() -> Market:
    """tiny, with every account's first campaign on a Monday-to-Friday ad schedule (share 1:
    all but one campaign per account)."""
    scenario = load_scenario("tiny")
    return Market(replace(scenario, structure=replace(scenario.structure, weekday_only_share=1.0)))


@pytest.fixture(scope="module")
def lo_defects(lo_market: Market) -> DefectMarket:
    return DefectMarket(lo_market)


@pytest.fixture(scope="module")
def lo_sandbox(lo_defects: DefectMarket, lo_market: Market) -> Iterator[SandboxServer]:
    with SandboxServer(lo_defects, clock=lo_market.reference_date) as server:
        yield server


def _day(market: Market) -> dt.date:
    return market.reference_date - dt.timedelta(days=1)


def _campaigns(market: Market) -> tuple[int, int]:
    """Account 0's (weekday-only campaign, every-day campaign) ids."""
    st = market.struct
    mine = [c for c in range(st.n_campaigns) if st.campaign_account[c] == 0]
    weekday_only = [c for c in mine if not st.campaign_weekdays[c].all()]
    every_day = [c for c in mine if st.campaign_weekdays[c].all()]
    assert weekday_only and every_day, "tiny's first account has both kinds"
    return int(st.campaign_id[weekday_only[0]]), int(st.campaign_id[every_day[0]])


@pytest.fixture(scope="module")
def paused(lo_market: Market, lo_sandbox: SandboxServer) -> int:
    """The advertiser pauses account 0's every-day campaign for two days, through the real
    client (the change lands in Google's change history); returns its id."""
    probe = make_gate.__globals__["build_client"]
    from spectra.ads.client import AdsCredentials

    creds = AdsCredentials(
        developer_token="t", access_token="t", endpoint=lo_sandbox.endpoint,
        ca_cert_path=str(lo_sandbox.ca_cert), sandbox_clock=True,
    )  # fmt: skip
    client = probe(creds)
    cid = lo_market.customer_ids()[0]
    _, campaign = _campaigns(lo_market)
    day = _day(lo_market)
    for back, status in ((PAUSED_FROM, "PAUSED"), (ENABLED_ON, "ENABLED")):
        op = client.get_type("MutateOperation")
        op.campaign_operation.update.resource_name = f"customers/{cid}/campaigns/{campaign}"
        op.campaign_operation.update.status = getattr(client.enums.CampaignStatusEnum, status)
        op.campaign_operation.update_mask.paths.append("status")
        out = mutate(
            client, creds, customer_id=cid, operations=[op], as_of=day - dt.timedelta(days=back)
        )
        assert all(r.ok for r in out.results), out
    return campaign


@pytest.fixture
def lo_gate(
    engine: Engine, lo_market: Market, lo_defects: DefectMarket, lo_sandbox: SandboxServer,
    paused: int, tmp_path: Any,
) -> Iterator[Gate]:  # fmt: skip
    lo_defects.defects = []
    yield make_gate(engine, lo_market, lo_sandbox, QualityConfig(quality_dir=tmp_path / "q"))
    lo_defects.defects = []


def _campaign_days(engine: Engine, campaign_id: int) -> set[dt.date]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(m.PerformanceDaily.date).where(
                    m.PerformanceDaily.level == "campaign",
                    m.PerformanceDaily.entity_id == campaign_id,
                )
            ).scalars()
        )


def test_days_google_leaves_out_are_not_findings(
    lo_gate: Gate, lo_market: Market, paused: int
) -> None:
    """Two paused days of a steady campaign, a weekday-only campaign's weekends and the tiny
    keywords' quiet days have no rows, and the account passes the gate."""
    cid = lo_market.customer_ids()[0]
    day = _day(lo_market)
    outcome = lo_gate.run(cid, day)
    assert outcome.status is GateStatus.PASS, outcome.blocking + outcome.warnings

    weekday_only, every_day = _campaigns(lo_market)
    window = {day - dt.timedelta(days=i) for i in range(30)}
    pause = {day - dt.timedelta(days=i) for i in range(ENABLED_ON + 1, PAUSED_FROM + 1)}
    assert window - _campaign_days(lo_gate.engine, every_day) == pause
    weekends = {d for d in window if d.weekday() >= 5}
    assert window - _campaign_days(lo_gate.engine, weekday_only) == weekends
    with lo_gate.engine.connect() as conn:
        events = conn.execute(
            select(m.ChangeEvent.changed_fields, m.ChangeEvent.campaign_id).where(
                m.ChangeEvent.tenant_id == TENANT, m.ChangeEvent.customer_id == cid
            )
        ).all()
        schedules = conn.execute(
            select(m.CampaignAdSchedule.campaign_id, m.CampaignAdSchedule.day_of_week)
        ).all()
        keyword_rows = conn.execute(
            select(m.PerformanceDaily.date).where(
                m.PerformanceDaily.level == "keyword", m.PerformanceDaily.customer_id == cid
            )
        ).all()
    assert [(["status"], paused)] * 2 == [(list(f), c) for f, c in events]
    assert sorted(d for c, d in schedules if c == weekday_only) == sorted(
        ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
    )
    keywords = int((lo_market.struct.keyword_account == 0).sum())
    assert len(keyword_rows) < 0.8 * 30 * keywords  # many keyword-days left out


@pytest.mark.parametrize("which", ["every_day", "weekday_only"])
def test_a_day_the_pull_lost_is_still_a_finding(
    lo_gate: Gate, lo_defects: DefectMarket, lo_market: Market, which: str
) -> None:
    """A steady campaign's day with no rows that nothing explains blocks the account: for the
    weekday-only campaign too (its weekends count as served, so it is steady)."""
    cid = lo_market.customer_ids()[0]
    day = _day(lo_market)
    weekday_only, every_day = _campaigns(lo_market)
    campaign = every_day if which == "every_day" else weekday_only
    lost = next(
        day - dt.timedelta(days=i)
        for i in range(3, 20)
        if (day - dt.timedelta(days=i)).weekday() < 5
    )
    lo_defects.defects = [DropCampaignDay(cid, (lost,), campaign_id=campaign)]
    outcome = lo_gate.run(cid, day)
    assert outcome.status is GateStatus.BLOCK
    assert [b.split(" ", 1)[0] for b in outcome.blocking] == ["perf.day_present"], outcome.blocking
    assert f"campaign {campaign} has no rows on {lost.isoformat()}" in outcome.blocking[0]
