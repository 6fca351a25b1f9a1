"""The statistical gate reads analytics' own rows: an envelope or verdict only counts when its
day's lag curve was usable and a seasonal profile was fitted, and it is about this entity."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from spectra.analytics.search_terms import term_key
from spectra.domain.campaign_state import CampaignState
from spectra.domain.changes import EntityKind, EntityRef, Origin, OriginKind
from spectra.guardrails import service
from spectra.guardrails.candidate import CandidateChange
from spectra.warehouse.models import AnalyticsRun, Envelope, Verdict
from spectra.warehouse.repositories import add_campaign, register_account, register_tenant

TENANT, CID = "acme", 1234567890
DAY = dt.date(2026, 11, 20)
OLD_DAY = dt.date(2026, 11, 10)


def _setup(engine: Engine) -> None:
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_account(conn, tenant_id=TENANT, customer_id=CID)
        add_campaign(
            conn,
            tenant_id=TENANT,
            customer_id=CID,
            campaign_id=11,
            name="c11",
            status=CampaignState.ACTIVE,
        )
        runs = AnalyticsRun.__table__
        conn.execute(
            runs.insert().values(
                tenant_id=TENANT,
                customer_id=CID,
                logical_date=DAY,
                lag_usable=True,
                conversions_until=DAY - dt.timedelta(days=3),
                seasonality=[{"weekday": 1.0}],
                analyzed_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
            )
        )
        conn.execute(  # an older day whose lag curve was not usable yet
            runs.insert().values(
                tenant_id=TENANT,
                customer_id=CID,
                logical_date=OLD_DAY,
                lag_usable=False,
                seasonality=[{"weekday": 1.0}],
                analyzed_at=dt.datetime(2026, 11, 10, tzinfo=dt.UTC),
            )
        )
        env: dict[str, Any] = {
            "tenant_id": TENANT,
            "customer_id": CID,
            "kind": "budget",
            "entity_id": 11,
            "campaign_id": 11,
            "current_micros": 100_000_000,
            "next_micros": 120_000_000,
            "direction": "increase",
            "max_change_pct": 0.2,
        }
        conn.execute(Envelope.__table__.insert().values(id=1, logical_date=DAY, **env))
        conn.execute(Envelope.__table__.insert().values(id=2, logical_date=OLD_DAY, **env))
        verdict: dict[str, Any] = {
            "tenant_id": TENANT,
            "customer_id": CID,
            "logical_date": DAY,
            "level": "campaign",
            "entity_id": 11,
            "campaign_id": 11,
            "metric": "cpa",
            "test": "delta_ratio",
            "baseline_start": DAY - dt.timedelta(days=28),
            "baseline_end": DAY - dt.timedelta(days=15),
            "test_start": DAY - dt.timedelta(days=14),
            "effect_kind": "relative",
            "p_value": 0.001,
            "p_adjusted": 0.01,
        }
        conn.execute(
            Verdict.__table__.insert().values(
                id=1, test_end=DAY - dt.timedelta(days=3), verdict="significant_decrease", **verdict
            )
        )
        conn.execute(  # its test window ends after the day conversions are complete through
            Verdict.__table__.insert().values(
                id=2, test_end=DAY, verdict="significant_decrease", **{**verdict, "metric": "cvr"}
            )
        )


def _budget(evidence: str) -> CandidateChange:
    return CandidateChange(
        tenant_id=TENANT,
        customer_id=CID,
        ref=f"p-{evidence}",
        entity=EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=11),
        field="budget_micros",
        current=100_000_000,
        proposed=115_000_000,
        evidence_ids=(evidence,),
        origin=Origin(kind=OriginKind.PROPOSAL, ref="p"),
    )


def _gate(engine: Engine, evidence: str) -> Any:
    decision = service.check(engine, _budget(evidence), as_of=DAY)
    return next(r for r in decision.results if r.rule == "statistical_gate")


def test_gate_reads_envelopes_and_verdicts_with_their_days_lag_status(engine: Engine) -> None:
    _setup(engine)
    assert _gate(engine, "envelope:1").accepted
    assert "lag not complete" in _gate(engine, "envelope:2").reason
    assert _gate(engine, "verdict:1").accepted
    assert "lag not complete" in _gate(engine, "verdict:2").reason
    assert "not found: envelope:99" in _gate(engine, "envelope:99").reason
    # another tenant's id is not evidence for this one
    with engine.begin() as conn:
        register_tenant(conn, tenant_id="other", name="Other")
    other = _budget("envelope:1").model_copy(update={"tenant_id": "other", "ref": "o"})
    decision = service.check(engine, other, as_of=DAY)
    gate = next(r for r in decision.results if r.rule == "statistical_gate")
    assert not gate.accepted and "not found" in gate.reason


def _terms(engine: Engine, rows: list[tuple[str, int, int, float]]) -> None:
    """Search terms of campaign 11 spread over the ten days up to DAY: (term, clicks, cost
    micros, conversions) in total per term."""
    from spectra.warehouse.models import Campaign, SearchTermDaily

    days = 10
    with engine.begin() as conn:
        conn.execute(  # Google serves it (ingest writes what Google reports)
            Campaign.__table__.update()
            .where(Campaign.tenant_id == TENANT, Campaign.campaign_id == 11)
            .values(serving_status="ENABLED")
        )
        for term, clicks, cost, conversions in rows:
            for i in range(days):
                conn.execute(
                    SearchTermDaily.__table__.insert().values(
                        tenant_id=TENANT,
                        customer_id=CID,
                        ad_group_id=111,
                        search_term=term,
                        date=DAY - dt.timedelta(days=i),
                        campaign_id=11,
                        term_status="NONE",
                        impressions=clicks * 10 // days,
                        clicks=clicks // days,
                        cost_micros=cost // days,
                        conversions=conversions / days,
                        conversions_value_micros=0,
                        reported_as_of=DAY,
                    )  # fmt: skip
                )


def _negative(text: str, evidence: tuple[str, ...]) -> CandidateChange:
    return CandidateChange(
        tenant_id=TENANT,
        customer_id=CID,
        ref=f"neg-{text}",
        entity=EntityRef(
            kind=EntityKind.NEGATIVE_KEYWORD, campaign_id=11, text=text, match_type="EXACT"
        ),
        field="status",
        kind="negative_keyword",
        current="REMOVED",
        proposed="ENABLED",
        evidence_ids=evidence,
        origin=Origin(kind=OriginKind.PROPOSAL, ref="p"),
    )


def test_negative_keyword_options_pass_the_gate_on_their_own_search_term_evidence(
    engine: Engine,
) -> None:
    """The agent's negative-keyword option cites a search-term test; the gate re-runs it from
    the warehouse (before: every negative was refused, "evidence not found")."""
    from spectra.agent.options import build_options
    from spectra.agent.schema import ProposalKind
    from spectra.agent.settings import AgentSettings
    from spectra.warehouse.agent_store import read_day_inputs

    _setup(engine)
    # the campaign converts 10 % of its clicks: 200 clicks of "free shoes" were due ~20
    _terms(
        engine,
        [
            ("buy shoes", 1000, 500_000_000, 100.0),
            ("free shoes", 200, 100_000_000, 0.0),
            ("shoe laces", 20, 10_000_000, 0.0),  # due ~2: zero is not unlikely
        ],
    )
    with engine.connect() as conn:
        inputs = read_day_inputs(conn, tenant_id=TENANT, customer_id=CID, logical_date=DAY)
    settings = AgentSettings()
    negatives = [
        o
        for o in build_options(inputs, settings)
        if o.kind == ProposalKind.NEGATIVE_KEYWORD and o.campaign_id == 11
    ]
    assert [o.negative_text for o in negatives] == ["free shoes"]
    evidence = negatives[0].evidence_ids
    decision = service.check(engine, _negative("free shoes", evidence), as_of=DAY)
    gate = next(r for r in decision.results if r.rule == "statistical_gate")
    assert gate.accepted, gate.reason
    # the same evidence cannot carry another term
    decision = service.check(engine, _negative("buy shoes", evidence), as_of=DAY)
    gate = next(r for r in decision.results if r.rule == "statistical_gate")
    assert not gate.accepted and "another search term" in gate.reason
    # the gate judges the warehouse, not the id: a term due too few conversions fails it
    laces = evidence[0].replace(evidence[0].split(":")[2], term_key(11, "shoe laces"))
    decision = service.check(engine, _negative("shoe laces", (laces,)), as_of=DAY)
    gate = next(r for r in decision.results if r.rule == "statistical_gate")
    assert not gate.accepted and "not significant" in gate.reason
    # a term the window does not have is not found
    ghost = laces.replace(laces.split(":")[2], "0" * 12)
    decision = service.check(engine, _negative("ghost", (ghost,)), as_of=DAY)
    gate = next(r for r in decision.results if r.rule == "statistical_gate")
    assert not gate.accepted and "not found" in gate.reason
