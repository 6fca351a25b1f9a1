"""Accounts that are not in dollars, through the real client, the sandbox, ingest, the gate and
analyze (both backends).

Google keeps money in micros of the account's own currency and accepts only whole billable
units of it (one yen, one won: ``currency_constant.billable_unit_micros``); a budget or bid in
between is refused (``campaign_budget_error.NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT``,
``currency_error.VALUE_NOT_MULTIPLE_OF_BILLABLE_UNIT``). A won account's normal CPC is ~1 700
won, so a bound written as "500 per click" would quarantine its whole day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from quality_gate import TENANT, Gate, make_gate
from sqlalchemy import Engine, select

from spectra.ads.mutate import mutate
from spectra.analytics.service import analyze_and_store
from spectra.quality.checks import GateStatus, QualityConfig
from spectra.sandbox.market import Market
from spectra.sandbox.market.scenario import AccountSpec, load_scenario
from spectra.sandbox.server import SandboxServer
from spectra.warehouse import models as m

YEN = 1_000_000  # one yen (or won) in micros: the billable unit of both
ACCOUNTS = (
    AccountSpec(name="Hokuto Outdoor", vertical="outdoor", currency_code="JPY"),
    AccountSpec(name="Hangang Dental", vertical="dental", currency_code="KRW"),
)


@pytest.fixture(scope="module")
def market_fx() -> Market:
    """The tiny market with a yen and a won account (everything else as in ``tiny``)."""
    return Market(load_scenario("tiny", accounts=ACCOUNTS))


@pytest.fixture(scope="module")
def sandbox_fx(market_fx: Market) -> Iterator[SandboxServer]:
    with SandboxServer(market_fx, clock=market_fx.reference_date) as server:
        yield server


@pytest.fixture
def gate_fx(engine: Engine, market_fx: Market, sandbox_fx: SandboxServer, tmp_path: Any) -> Gate:
    return make_gate(engine, market_fx, sandbox_fx, QualityConfig(quality_dir=tmp_path / "q"))


def _day(market: Market) -> dt.date:
    return market.reference_date - dt.timedelta(days=1)


@pytest.mark.parametrize("index,code", [(0, "JPY"), (1, "KRW")])
def test_yen_and_won_days_pass_the_gate_whole(
    gate_fx: Gate, market_fx: Market, index: int, code: str
) -> None:
    """Every row of a yen or won account is validated and kept: none is quarantined as an
    implausible CPC, and the account passes (the won account warns only of the tiny
    market's tracking outage, Nov 10-12)."""
    cid = market_fx.customer_ids()[index]
    day = _day(market_fx)
    outcome = gate_fx.run(cid, day)
    assert outcome.blocking == []
    assert [w.split(" ", 1)[0] for w in outcome.warnings] == (
        [] if index == 0 else ["perf.tracking_ok"]
    ), outcome.warnings
    with gate_fx.engine.connect() as conn:
        held = conn.execute(
            select(m.QualityQuarantine.check_name).where(m.QualityQuarantine.customer_id == cid)
        ).all()
        currency = conn.execute(
            select(m.AdAccount.currency_code).where(m.AdAccount.customer_id == cid)
        ).scalar_one()
        cpc = conn.execute(
            select(m.PerformanceDaily.cost_micros, m.PerformanceDaily.clicks).where(
                m.PerformanceDaily.customer_id == cid, m.PerformanceDaily.level == "campaign"
            )
        ).all()
    assert currency == code and held == []
    mean_cpc = sum(c for c, _ in cpc) / max(sum(k for _, k in cpc), 1)
    # yen-sized prices (tens to thousands of units a click), not dollar-sized ones
    assert mean_cpc > 50 * YEN


def test_envelopes_are_whole_yen_and_google_refuses_fractions(
    gate_fx: Gate, market_fx: Market
) -> None:
    """Analyze sizes a won account's next budgets and bids in whole won; the sandbox accepts
    them through the real client and refuses half a won, with Google's error codes."""
    cid = market_fx.customer_ids()[1]
    day = _day(market_fx)
    assert gate_fx.run(cid, day).status is not GateStatus.BLOCK
    analyze_and_store(gate_fx.engine, tenant_id=TENANT, customer_id=cid, logical_date=day)
    with gate_fx.engine.connect() as conn:
        e = m.Envelope
        rows = [
            tuple(r)
            for r in conn.execute(
                select(
                    e.kind, e.entity_id, e.ad_group_id, e.current_micros, e.next_micros,
                    e.direction,
                ).where(e.customer_id == cid, e.tenant_id == TENANT)
            ).all()
        ]  # fmt: skip
    budgets = [r for r in rows if r[0] == "budget"]
    assert budgets
    assert all(r[4] % YEN == 0 for r in rows), [r for r in rows if r[4] % YEN]
    moved = [r for r in rows if r[5] != "hold"]
    assert moved, "the won account has at least one budget or bid to move"

    client, creds = gate_fx.client, gate_fx.creds
    st = market_fx.struct
    budget_ids = dict(zip(st.campaign_id.tolist(), st.campaign_budget_id.tolist(), strict=True))

    def budget_op(campaign_id: int, micros: int) -> Any:
        op = client.get_type("MutateOperation")
        upd = op.campaign_budget_operation
        upd.update.resource_name = f"customers/{cid}/campaignBudgets/{budget_ids[campaign_id]}"
        upd.update.amount_micros = micros
        upd.update_mask.paths.append("amount_micros")
        return op

    def bid_op(ad_group_id: int, criterion_id: int, micros: int) -> Any:
        op = client.get_type("MutateOperation")
        upd = op.ad_group_criterion_operation
        upd.update.resource_name = f"customers/{cid}/adGroupCriteria/{ad_group_id}~{criterion_id}"
        upd.update.cpc_bid_micros = micros
        upd.update_mask.paths.append("cpc_bid_micros")
        return op

    _, campaign, _, _, next_budget, _ = budgets[0]
    ag = int(st.ad_group_id[st.keyword_ad_group[st.keyword_account == 1][0]])
    kw = int(st.keyword_id[st.keyword_account == 1][0])
    out = mutate(
        client,
        creds,
        customer_id=cid,
        operations=[
            budget_op(campaign, next_budget),
            budget_op(campaign, next_budget + YEN // 2),
            bid_op(ag, kw, 1_500 * YEN),
            bid_op(ag, kw, 1_500 * YEN + 10_000),  # one "cent" of a won: not billable
        ],
        validate_only=True,
        as_of=day + dt.timedelta(days=1),
    )
    codes = [tuple(f"{e.category}.{e.code}" for e in r.errors) for r in out.results]
    assert codes == [
        (),
        ("campaign_budget_error.NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT",),
        (),
        ("currency_error.VALUE_NOT_MULTIPLE_OF_BILLABLE_UNIT",),
    ], codes
