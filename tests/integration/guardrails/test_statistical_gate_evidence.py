"""The statistical gate reads analytics' own rows: an envelope or verdict only counts when its
day's lag curve was usable and a seasonal profile was fitted, and it is about this entity."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

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
