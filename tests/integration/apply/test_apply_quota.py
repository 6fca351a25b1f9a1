"""The daily operations cap (Basic access: 15,000 a day; RESOURCE_EXHAUSTED until the window
ends): the executor and multi-step operations defer on it — nothing sent twice, nothing lost,
no dead letter — and finish once the window has passed."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from apply_support import (
    TENANT,
    expected_mutation,
    fast_config,
    last_seq,
    mutation_counts,
    quick_breaker,
    random_changes,
    register_campaigns,
)
from operation_support import campaign_build, created_since, expected_counts
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.ads.entities import read_campaign
from spectra.apply.executor import apply_changes, resume_pending
from spectra.apply.operations import build_campaign, resume_operations
from spectra.sandbox.quota import DailyQuota
from spectra.warehouse.apply_store import get_change_by_key, get_operation

WINDOW_S = 3.0


class Clock:
    """The quota's wall clock, moved by the test (the executor's own clock stays real)."""

    def __init__(self) -> None:
        self.now = 1_000 * WINDOW_S  # the start of a window

    def __call__(self) -> float:
        return self.now


def _burn(client: Any, creds: AdsCredentials, cid: int, campaign_id: int, n: int) -> None:
    """Spend ``n`` operations of the day with one validate_only mutate (it counts too)."""
    from spectra.ads.mutate import mutate

    ops = []
    for _ in range(n):
        mop = client.get_type("MutateOperation")
        mop.campaign_operation.update.resource_name = f"customers/{cid}/campaigns/{campaign_id}"
        mop.campaign_operation.update.status = client.enums.CampaignStatusEnum.ENABLED
        mop.campaign_operation.update_mask.paths.append("status")
        ops.append(mop)
    mutate(client, creds, customer_id=cid, operations=ops, validate_only=True)


def test_a_spent_daily_quota_defers_changes_until_the_window_ends(
    engine: Engine,
    apply_market: Any,
    apply_sandbox: Any,
    apply_client: Any,
    apply_creds: AdsCredentials,
) -> None:
    cid = apply_market.customer_ids()[0]
    campaigns = register_campaigns(engine, apply_client, apply_creds, cid)[:2]
    changes = random_changes(
        apply_client,
        apply_creds,
        cid,
        campaigns,
        6,
        seed=5 + len(engine.dialect.name),  # the market is shared by both backends
        ref=f"quota-{engine.dialect.name}",
    )
    budget_rns = {
        c: read_campaign(
            apply_client, apply_creds, customer_id=cid, campaign_id=c
        ).budget_resource_name
        for c in campaigns
    }
    clock = Clock()
    quota = DailyQuota(limit=400, window_seconds=WINDOW_S, clock=clock).install(apply_sandbox.state)
    try:
        _burn(apply_client, apply_creds, cid, campaigns[0], 400)
        assert quota.remaining("test-dev-token") == 0
        seq = last_seq(apply_market)
        config, breaker = fast_config(), quick_breaker(engine)
        report = apply_changes(
            engine, apply_client, changes, creds=apply_creds, config=config, breaker=breaker
        )
        # deferred, with Google's reason, for the rest of the window: nothing sent, nothing lost
        assert set(report.deferred) == {c.idempotency_key for c in changes}, report
        assert all("daily quota" in why for why in report.deferred.values()), report.deferred
        assert sum(mutation_counts(apply_market, cid, seq).values()) == 0
        with engine.connect() as conn:
            rows = [
                get_change_by_key(conn, tenant_id=TENANT, idempotency_key=c.idempotency_key)
                for c in changes
            ]
        assert {r["phase"] for r in rows} <= {"approved", "locked"}, rows
        for r in rows:
            wait = r["deferred_until"].replace(tzinfo=dt.UTC) - r["updated_at"].replace(
                tzinfo=dt.UTC
            )
            assert abs(wait.total_seconds() - WINDOW_S) < 1.0, wait  # Google's retry_delay
        # a sweep inside the window leaves them alone (no request spent on a refusal)
        refused = quota.refused
        again = resume_pending(
            engine,
            apply_client,
            tenant_id=TENANT,
            creds=apply_creds,
            config=config,
            breaker=breaker,
        )
        assert again.outcomes == {} and quota.refused == refused
        # the next window: every change lands, exactly once
        clock.now += WINDOW_S
        time.sleep(WINDOW_S + 0.2)
        done = resume_pending(
            engine,
            apply_client,
            tenant_id=TENANT,
            creds=apply_creds,
            config=config,
            breaker=breaker,
        )
        assert done.counts() == {"applied": len(changes)}, done
        log = mutation_counts(apply_market, cid, seq)
        for change in changes:
            assert log[expected_mutation(change, budget_rns[change.campaign_id])] == 1, change
        assert sum(log.values()) == len(changes)
    finally:
        apply_sandbox.state.before_call.remove(quota.before_call)
        apply_sandbox.state.quota = None


def test_a_spent_daily_quota_defers_a_campaign_build(
    engine: Engine,
    apply_market: Any,
    apply_sandbox: Any,
    apply_client: Any,
    apply_creds: AdsCredentials,
) -> None:
    cid = apply_market.customer_ids()[0]
    register_campaigns(engine, apply_client, apply_creds, cid)
    build = campaign_build(cid, f"Quota launch {engine.dialect.name}", groups=1)
    clock = Clock()
    # enough for the budget step (a read and one create), not for the campaign's read
    quota = DailyQuota(limit=2, window_seconds=WINDOW_S, clock=clock).install(apply_sandbox.state)
    try:
        seq = last_seq(apply_market)
        config, breaker = fast_config(), quick_breaker(engine)
        report = build_campaign(
            engine, apply_client, build, creds=apply_creds, config=config, breaker=breaker
        )
        assert report.status == "running" and "daily quota" in report.error, report
        assert list(report.steps) == ["budget"]
        with engine.connect() as conn:
            op = get_operation(conn, tenant_id=TENANT, operation_key=build.operation_key)
        assert op is not None and op["deferred_until"] is not None
        wait = op["deferred_until"].replace(tzinfo=dt.UTC) - op["updated_at"].replace(tzinfo=dt.UTC)
        assert abs(wait.total_seconds() - WINDOW_S) < 1.0, wait  # Google's retry_delay
        # a sweep inside the window leaves it alone (no request spent on a refusal)
        refused = quota.refused
        assert (
            resume_operations(
                engine,
                apply_client,
                tenant_id=TENANT,
                creds=apply_creds,
                config=config,
                breaker=breaker,
            )
            == []
        )
        assert quota.refused == refused
        clock.now += WINDOW_S
        quota.limit = 100
        time.sleep(WINDOW_S + 0.2)
        (final,) = resume_operations(
            engine,
            apply_client,
            tenant_id=TENANT,
            creds=apply_creds,
            config=config,
            breaker=breaker,
        )
        assert final.status == "done", final
        created = [ch.resource for ch in created_since(apply_market, cid, seq)]
        assert sorted(created) == sorted(expected_counts(build).elements())
    finally:
        apply_sandbox.state.before_call.remove(quota.before_call)
        apply_sandbox.state.quota = None
