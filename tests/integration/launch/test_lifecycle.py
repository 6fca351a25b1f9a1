"""Briefs stored in DRAFT and moved only along the state machine's edges, each move audited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from spectra.domain.campaign_state import CampaignState as S
from spectra.domain.campaign_state import IllegalTransition
from spectra.launch.brief import Brief, load_brief
from spectra.launch.lifecycle import (
    BriefConflict,
    StaleState,
    UnknownAccount,
    advance,
    create_draft,
    fail,
    load_launch,
)
from spectra.observability.audit import verify
from spectra.warehouse.models import AuditRow
from spectra.warehouse.repositories import register_account, register_tenant

EXAMPLE = Path(__file__).parents[3] / "examples" / "briefs" / "northwind-trail-running.yaml"
TODAY = dt.date(2026, 12, 2)


@pytest.fixture
def brief() -> Brief:
    return load_brief(EXAMPLE, today=TODAY)


@pytest.fixture
def registered(engine: Engine, brief: Brief) -> Engine:
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=brief.tenant, name="Demo")
        register_account(conn, tenant_id=brief.tenant, customer_id=brief.account)
    return engine


def _audit(engine: Engine, tenant: str) -> list[tuple[str, object, object, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditRow.action, AuditRow.before, AuditRow.after, AuditRow.reasoning)
            .where(AuditRow.tenant_id == tenant)
            .order_by(AuditRow.seq)
        ).all()
    return [tuple(r) for r in rows]


def test_a_brief_is_stored_in_draft_once(registered: Engine, brief: Brief) -> None:
    launch, created = create_draft(registered, brief, actor="ann")
    assert created and launch.state is S.DRAFT
    assert launch.brief == brief and launch.tenant_id == "demo"
    again, created_again = create_draft(registered, brief, actor="ann")
    assert not created_again and again.id == launch.id
    assert [a[0] for a in _audit(registered, "demo")] == ["launch_drafted"]

    other = brief.model_copy(update={"daily_budget_micros": 50_000_000})
    with pytest.raises(BriefConflict, match=f"launch {launch.id} already holds"):
        create_draft(registered, other, actor="ann")


def test_an_account_of_another_tenant_is_refused(registered: Engine, brief: Brief) -> None:
    with registered.begin() as conn:
        register_tenant(conn, tenant_id="acme", name="Acme")
    stranger = brief.model_copy(update={"tenant": "acme"})
    with pytest.raises(UnknownAccount, match="not registered to tenant 'acme'"):
        create_draft(registered, stranger, actor="ann")
    unknown = brief.model_copy(update={"account": 1234567890})
    with pytest.raises(UnknownAccount, match="spectra tenant"):
        create_draft(registered, unknown, actor="ann")


def test_the_happy_path_is_audited_move_by_move(registered: Engine, brief: Brief) -> None:
    launch, _ = create_draft(registered, brief, actor="ann")
    for target, reason in [
        (S.GENERATING_ASSETS, "generating"),
        (S.PENDING_DEPLOYMENT, "assets ready"),
        (S.DEPLOYING, "approved"),
        (S.ACTIVE, "deployed"),
    ]:
        launch = advance(registered, launch, target, reason=reason, actor="spectra")
        assert launch.state is target and launch.state_reason == reason
    moves = [(b["state"], a["state"], r) for act, b, a, r in _audit(registered, "demo")[1:]]
    assert moves == [
        ("DRAFT", "GENERATING_ASSETS", "generating"),
        ("GENERATING_ASSETS", "PENDING_DEPLOYMENT", "assets ready"),
        ("PENDING_DEPLOYMENT", "DEPLOYING", "approved"),
        ("DEPLOYING", "ACTIVE", "deployed"),
    ]
    assert all(r.ok for r in verify(registered, tenant_id="demo"))


def test_an_illegal_move_changes_nothing(registered: Engine, brief: Brief) -> None:
    launch, _ = create_draft(registered, brief, actor="ann")
    with pytest.raises(IllegalTransition, match="DRAFT -> ACTIVE"):
        advance(registered, launch, S.ACTIVE, reason="skip everything", actor="spectra")
    stored = load_launch(registered, tenant_id="demo", launch_id=launch.id)
    assert stored.state is S.DRAFT
    assert [a[0] for a in _audit(registered, "demo")] == ["launch_drafted"]


def test_a_writer_working_from_a_stale_read_is_refused(registered: Engine, brief: Brief) -> None:
    launch, _ = create_draft(registered, brief, actor="ann")
    advance(registered, launch, S.GENERATING_ASSETS, reason="first", actor="a")
    with pytest.raises(StaleState, match="no longer DRAFT"):
        advance(registered, launch, S.GENERATING_ASSETS, reason="second", actor="b")
    assert len(_audit(registered, "demo")) == 2


def test_failed_keeps_the_reason_and_the_resources_created_so_far(
    registered: Engine, brief: Brief
) -> None:
    launch, _ = create_draft(registered, brief, actor="ann")
    for target in (S.GENERATING_ASSETS, S.PENDING_DEPLOYMENT, S.DEPLOYING):
        launch = advance(registered, launch, target, reason="go", actor="spectra")
    made = ["customers/1607371462/campaignBudgets/1", "customers/1607371462/campaigns/2"]
    launch = fail(registered, launch, reason="ad group refused", actor="spectra", resources=made)
    assert launch.state is S.FAILED and launch.resources == made
    action, before, after, reason = _audit(registered, "demo")[-1]
    assert (action, before, reason) == ("launch_state", {"state": "DEPLOYING"}, "ad group refused")
    assert after == {"state": "FAILED", "resources": made}
