"""While the quality gate has a tracking outage on record for the account's last week, the
agent may not cut: a bid, budget or target lowered (a target ROAS raised) or a pause is held;
raises, people's own changes and changes after the hold pass."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from spectra.domain.campaign_state import CampaignState
from spectra.domain.changes import EntityKind, EntityRef, Origin, OriginKind
from spectra.guardrails import service
from spectra.guardrails.candidate import CandidateChange
from spectra.warehouse.models import DataExclusion
from spectra.warehouse.repositories import add_campaign, register_account, register_tenant

TENANT, CID = "acme", 1234567890
DAY = dt.date(2026, 6, 25)


def _setup(engine: Engine, exclusions: list[tuple[dt.date, dt.date, bool]]) -> None:
    """``exclusions``: (excluded day, the validation's logical date that found it, active)."""
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_account(conn, tenant_id=TENANT, customer_id=CID)
        add_campaign(
            conn, tenant_id=TENANT, customer_id=CID, campaign_id=11, name="c11",
            status=CampaignState.ACTIVE,
        )  # fmt: skip
        for day, found, active in exclusions:
            conn.execute(
                DataExclusion.__table__.insert().values(
                    tenant_id=TENANT,
                    customer_id=CID,
                    kind="tracking_outage",
                    date=day,
                    logical_date=found,
                    reason="0 conversions where 17 were due",
                    clicks=900,
                    conversions=0.0,
                    expected_conversions=17.0,
                    active=active,
                )  # fmt: skip
            )


def _change(field: str, current: int, proposed: int, *, origin: OriginKind) -> CandidateChange:
    return CandidateChange(
        tenant_id=TENANT,
        customer_id=CID,
        ref=f"{field}-{proposed}-{origin.value}",
        entity=EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=11),
        field=field,
        current=current,
        proposed=proposed,
        origin=Origin(kind=origin, ref="p"),
    )


def _hold(engine: Engine, candidate: CandidateChange, day: dt.date = DAY) -> tuple[bool, str]:
    decision = service.check(engine, candidate, as_of=day)
    result = next(r for r in decision.results if r.rule == "outage_hold")
    return result.accepted, result.reason


def test_agent_cuts_are_held_while_an_outage_is_on_record(engine: Engine) -> None:
    _setup(engine, [(DAY - dt.timedelta(days=1), DAY, True)])  # found today, on its first look
    agent = OriginKind.PROPOSAL
    ok, reason = _hold(engine, _change("budget_micros", 100_000_000, 85_000_000, origin=agent))
    assert not ok and "2026-06-24" in reason and "after 2026-07-01" in reason
    assert not _hold(engine, _change("target_cpa_micros", 20_000_000, 18_000_000, origin=agent))[0]
    # a higher target ROAS makes Smart Bidding bid less: a cut too
    assert not _hold(engine, _change("target_roas_micros", 4_000_000, 4_400_000, origin=agent))[0]
    assert _hold(engine, _change("target_roas_micros", 4_000_000, 3_600_000, origin=agent))[0]
    assert _hold(engine, _change("budget_micros", 100_000_000, 115_000_000, origin=agent))[0]
    # a person decides for themselves
    person = OriginKind.PERSON
    assert _hold(engine, _change("budget_micros", 100_000_000, 85_000_000, origin=person))[0]
    # a week after the outage's last day the agent may cut again
    later = DAY + dt.timedelta(days=7)
    assert _hold(engine, _change("budget_micros", 100_000_000, 85_000_000, origin=agent), later)[0]


def test_only_findings_of_the_day_or_before_and_still_active_hold(engine: Engine) -> None:
    _setup(
        engine,
        [
            (DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1), True),  # found tomorrow
            (DAY - dt.timedelta(days=2), DAY, False),  # a re-run no longer finds it
        ],
    )
    cut = _change("budget_micros", 100_000_000, 85_000_000, origin=OriginKind.PROPOSAL)
    assert _hold(engine, cut)[0]  # re-running DAY gives today's answer, not tomorrow's
    assert not _hold(engine, cut, DAY + dt.timedelta(days=1))[0]
