"""Exactly once under chaos: ≥ 20 % injected faults of every kind (lost responses, stream cuts
on read-back, CONCURRENT_MODIFICATION, quota with retry_delay, UNAVAILABLE, DEADLINE_EXCEEDED,
INTERNAL). The sandbox's own mutation log and final state are compared with the approved set.
The big version (≥ 500 changes) is in bench/bench_apply.py."""

from __future__ import annotations

from typing import Any

from apply_support import (
    TENANT,
    expected_mutation,
    register_campaigns,
    run_chaos,
    snapshot,
)
from sqlalchemy import Engine, select

from spectra.ads.client import AdsCredentials
from spectra.ads.entities import CampaignRead
from spectra.observability.audit import verify
from spectra.warehouse.models import Campaign


def test_every_change_lands_exactly_once_under_chaos(
    engine: Engine,
    apply_market: Any,
    apply_sandbox: Any,
    apply_client: Any,
    apply_creds: AdsCredentials,
) -> None:
    cid = apply_market.customer_ids()[0]
    campaigns = register_campaigns(engine, apply_client, apply_creds, cid)
    assert len(campaigns) >= 2
    seed = 7 if engine.dialect.name == "sqlite" else 8
    out = run_chaos(
        engine,
        apply_market,
        apply_sandbox,
        apply_client,
        apply_creds,
        cid,
        campaigns,
        100,
        seed=seed,
    )
    changes = out["changes"]
    assert len(changes) == 100
    # at least 20 % of calls faulted, and every kind of fault happened
    print(
        {
            k: v
            for k, v in out.items()
            if k in ("faults", "calls", "injected", "dead_letters", "seconds")
        }
    )
    assert out["faults"] >= 0.2 * out["calls"], out
    for kind in (
        "unavailable",
        "deadline_exceeded",
        "resource_exhausted",
        "internal",
        "stream_cut",
        "partial_failure",
        "lost_response",
    ):
        assert out["injected"].get(kind, 0) > 0, (kind, out["injected"])
    # nothing in between: every change ended applied (recorded), rejected or dead-lettered
    assert set(out["after_chaos"].values()) <= {"recorded", "rejected", "dead_lettered"}, out[
        "after_chaos"
    ]
    assert list(out["final"].values()).count("recorded") == len(changes), out["final"]
    # exactly once, by the sandbox's own log
    for change in changes:
        key = expected_mutation(change, out["budget_rns"][change.campaign_id])
        assert out["log"][key] == 1, (change, key, out["log"][key])
        if out["after_chaos"][change.idempotency_key] == "recorded":
            assert out["log_after_chaos"][key] == 1
    assert sum(out["log"].values()) == len(changes), "a mutation the approved set does not explain"
    # final state equals the targets
    for campaign_id in campaigns:
        snap = snapshot(apply_client, apply_creds, cid, campaign_id)
        read = CampaignRead(cid, campaign_id, snap)
        for change in changes:
            if change.campaign_id == campaign_id:
                assert read.value(change.entity, change.field) == change.target, change
    with engine.connect() as conn:
        states = set(
            conn.execute(select(Campaign.status).where(Campaign.tenant_id == TENANT)).scalars()
        )
    assert "OPTIMIZING" not in states and states == {"ACTIVE"}
    (report,) = verify(engine, tenant_id=TENANT)
    assert report.ok and report.rows > 6 * len(changes)
