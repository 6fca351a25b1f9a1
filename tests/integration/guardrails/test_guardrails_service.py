"""Guardrails against a real warehouse and a real sandbox: the 72-hour window counted from
changes the executor applied (across a new engine, a new process and a backfill), a person's
lock beating the agent, and a responder without the approver role refused and audited."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from typing import Any

import pytest
from guard_support import TENANT, keyword_bid, register_campaigns, result_of, snapshot
from sqlalchemy import Engine, select

from spectra.ads.client import AdsCredentials
from spectra.apply.executor import ApplyConfig, apply_changes
from spectra.cli import main as spectra_main
from spectra.domain.changes import ApprovedChange, EntityKind, EntityRef, Origin, OriginKind
from spectra.guardrails import service
from spectra.guardrails.permissions import Action, PermissionDenied
from spectra.observability.audit import verify
from spectra.warehouse.db import make_engine
from spectra.warehouse.guardrail_store import get_decision
from spectra.warehouse.models import AuditRow

RULE = "learning_rate"


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _apply_budget_change(
    engine: Engine, client: Any, creds: AdsCredentials, cid: int, campaign_id: int, day: dt.date
) -> None:
    snap = snapshot(client, creds, cid, campaign_id)
    change = ApprovedChange(
        tenant_id=TENANT,
        customer_id=cid,
        entity=EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=campaign_id),
        field="budget_micros",
        target=snap["campaign"]["budget_micros"] + 10_000_000,
        origin=Origin(kind=OriginKind.PROPOSAL, ref="p-applied", actor="spectra"),
    )
    report = apply_changes(engine, client, [change], creds=creds, config=ApplyConfig(as_of=day))
    assert report.counts() == {"applied": 1}


_CHILD = """
import datetime as dt, json, sys
from spectra.guardrails import service
from spectra.guardrails.candidate import CandidateChange
from spectra.warehouse.db import make_engine
url, candidate, day = sys.argv[1], sys.argv[2], sys.argv[3]
engine = make_engine(url)
d = service.check(engine, CandidateChange.model_validate_json(candidate),
                  as_of=dt.date.fromisoformat(day))
print(json.dumps({r.rule: r.accepted for r in d.results}))
"""


def test_72_hour_window_survives_a_restart_a_new_process_and_a_backfill(
    engine: Engine, guard_market: Any, guard_client: Any, guard_creds: AdsCredentials
) -> None:
    cid = guard_market.customer_ids()[0]
    campaign_id = register_campaigns(engine, guard_client, guard_creds, cid)[0]
    day = guard_market.reference_date - dt.timedelta(days=1)
    _apply_budget_change(engine, guard_client, guard_creds, cid, campaign_id, day)
    snap = snapshot(guard_client, guard_creds, cid, campaign_id)
    candidate = keyword_bid(snap, cid, campaign_id, factor=1.1, ref="p-bid")

    # a restart: a fresh engine, nothing in memory from the apply
    fresh = make_engine(_url(engine))
    try:
        next_day = service.check(fresh, candidate, as_of=day + dt.timedelta(days=1))
        assert not result_of(next_day, RULE).accepted
        assert "budget_micros" in result_of(next_day, RULE).reason
        stored = get_decision_row(fresh, "p-bid")
        assert stored["accepted"] is False and "learning_rate" in stored["reason"]
        # exactly 72 h after the change's day it is free again (and the stored decision follows)
        free = service.check(fresh, candidate, as_of=day + dt.timedelta(days=3))
        assert result_of(free, RULE).accepted
        assert get_decision_row(fresh, "p-bid")["results"] == [r.as_dict() for r in free.results]
        # a backfill of an older logical date must not slip a change in before the applied one
        backfill = service.check(fresh, candidate, as_of=day - dt.timedelta(days=10))
        assert not result_of(backfill, RULE).accepted
    finally:
        fresh.dispose()

    # a new process sees the same window
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, _url(engine), candidate.model_dump_json(), day.isoformat()],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1])[RULE] is False

    # another campaign of the account is not held back by this one's change
    other = register_campaigns(engine, guard_client, guard_creds, cid)[1]
    other_candidate = keyword_bid(
        snapshot(guard_client, guard_creds, cid, other), cid, other, factor=1.1, ref="p-other"
    )
    assert result_of(service.check(engine, other_candidate, as_of=day), RULE).accepted


def get_decision_row(engine: Engine, ref: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = get_decision(conn, tenant_id=TENANT, candidate_ref=ref)
    assert row is not None
    return row


def _cli(url: str, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setenv("SPECTRA_DATABASE_URL", url)
    return spectra_main(list(argv))


def test_a_persons_lock_beats_the_agent_until_lifted(
    engine: Engine,
    guard_market: Any,
    guard_client: Any,
    guard_creds: AdsCredentials,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cid = guard_market.customer_ids()[0]
    campaign_id = register_campaigns(engine, guard_client, guard_creds, cid)[0]
    day = guard_market.reference_date - dt.timedelta(days=1)
    url = _url(engine)
    assert (
        _cli(url, monkeypatch, "role", "grant", "--tenant", TENANT, "root", "admin", "--by", "root")
        == 0
    )
    assert (
        _cli(
            url, monkeypatch, "role", "grant", "--tenant", TENANT, "alice", "editor", "--by", "root"
        )
        == 0
    )
    capsys.readouterr()
    code = _cli(
        url,
        monkeypatch,
        "lock",
        str(campaign_id),
        "--tenant",
        TENANT,
        "--customer",
        str(cid),
        "--for",
        "48h",
        "--reason",
        "holiday launch",
        "--by",
        "alice",
    )
    assert code == 0
    lock_id = int(capsys.readouterr().out.split(":")[0].removeprefix("lock "))

    snap = snapshot(guard_client, guard_creds, cid, campaign_id)
    agent = keyword_bid(snap, cid, campaign_id, factor=1.1, ref="p-locked")
    blocked = service.check(engine, agent, as_of=day)
    lock_result = result_of(blocked, "user_lock")
    assert not blocked.accepted and not lock_result.accepted
    assert "locked by alice" in lock_result.reason and "holiday launch" in lock_result.reason
    person = agent.model_copy(
        update={"ref": "edit-1", "origin": Origin(kind=OriginKind.PERSON, ref="t-1", actor="bob")}
    )
    assert result_of(service.check(engine, person, as_of=day), "user_lock").accepted

    # a viewer cannot lift it (refused, audited); the editor can
    assert (
        _cli(url, monkeypatch, "role", "grant", "--tenant", TENANT, "vic", "viewer", "--by", "root")
        == 0
    )
    assert _cli(url, monkeypatch, "unlock", str(lock_id), "--tenant", TENANT, "--by", "vic") == 3
    assert result_of(service.check(engine, agent, as_of=day), "user_lock").accepted is False
    assert _cli(url, monkeypatch, "unlock", str(lock_id), "--tenant", TENANT, "--by", "alice") == 0
    assert result_of(service.check(engine, agent, as_of=day), "user_lock").accepted


def test_a_lock_expires_by_itself(
    engine: Engine, guard_market: Any, guard_client: Any, guard_creds: AdsCredentials
) -> None:
    cid = guard_market.customer_ids()[0]
    campaign_id = register_campaigns(engine, guard_client, guard_creds, cid)[0]
    service.grant(engine, tenant_id=TENANT, principal="alice", role="admin", by="alice")
    t0 = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    service.lock(
        engine,
        tenant_id=TENANT,
        customer_id=cid,
        campaign_id=campaign_id,
        field="cpc_bid_micros",
        by="alice",
        duration=dt.timedelta(hours=2),
        now=t0,
    )
    snap = snapshot(guard_client, guard_creds, cid, campaign_id)
    agent = keyword_bid(snap, cid, campaign_id, factor=1.1, ref="p-x")
    day = t0.date()
    at = t0 + dt.timedelta(hours=1, minutes=59)
    assert not result_of(service.check(engine, agent, as_of=day, now=at), "user_lock").accepted
    at = t0 + dt.timedelta(hours=2)
    assert result_of(service.check(engine, agent, as_of=day, now=at), "user_lock").accepted


def _audit_actions(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditRow.actor, AuditRow.action)
            .where(AuditRow.tenant_id == TENANT)
            .order_by(AuditRow.seq)
        ).all()
    return [(r.actor, r.action) for r in rows]


def test_a_responder_without_the_approver_role_is_refused_and_audited(engine: Engine) -> None:
    from spectra.warehouse.repositories import register_tenant

    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_tenant(conn, tenant_id="other", name="Other")
    with pytest.raises(PermissionDenied, match="first grant must make an admin"):
        service.grant(engine, tenant_id=TENANT, principal="eve", role="approver", by="eve")
    service.grant(engine, tenant_id=TENANT, principal="root", role="admin", by="root")
    service.grant(engine, tenant_id=TENANT, principal="ed", role="editor", by="root")
    service.grant(engine, tenant_id=TENANT, principal="ann", role="approver", by="root")
    service.grant(engine, tenant_id="other", principal="ed", role="admin", by="ed")

    assert (
        service.authorize(engine, tenant_id=TENANT, principal="ann", action=Action.APPROVE)
        == "approver"
    )
    for who in ("ed", "nobody"):  # an editor, and someone with no role in the tenant
        with pytest.raises(PermissionDenied, match="may not approve"):
            service.authorize(
                engine, tenant_id=TENANT, principal=who, action=Action.APPROVE, entity="p-7"
            )
    # ed is admin elsewhere: roles are per tenant
    assert service.authorize(engine, tenant_id="other", principal="ed", action="approve") == "admin"
    # an approver may not turn autopilot on, nor grant roles
    with pytest.raises(PermissionDenied):
        service.set_autopilot(engine, tenant_id=TENANT, on=True, by="ann")
    with pytest.raises(PermissionDenied):
        service.grant(engine, tenant_id=TENANT, principal="ann", role="admin", by="ann")

    denied = [a for a in _audit_actions(engine) if a[1] == "permission_denied"]
    assert denied == [
        ("ed", "permission_denied"),
        ("nobody", "permission_denied"),
        ("ann", "permission_denied"),
        ("ann", "permission_denied"),
    ]
    with engine.connect() as conn:
        row = conn.execute(
            select(AuditRow.entity, AuditRow.detail).where(
                AuditRow.tenant_id == TENANT, AuditRow.actor == "nobody"
            )
        ).one()
    assert row.entity == "p-7" and row.detail["action"] == "approve" and row.detail["role"] is None
    assert all(r.ok for r in verify(engine))
