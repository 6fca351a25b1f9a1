"""Multi-step operations (budget → campaign → ad groups → keywords → ads): each step recorded,
resumed from the last one, resources found again by their stable names instead of created twice.
The sandbox's own CREATE log is the judge."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from apply_support import CHAOS, fast_config, quick_breaker
from operation_support import (
    TENANT,
    campaign_build,
    created_for,
    created_since,
    expected_counts,
    last_seq,
)
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.ads.stream import load_query, stream_columns
from spectra.apply.operations import (
    EXHAUSTED,
    STEPS,
    CampaignBuild,
    build_campaign,
    operation_report,
    resume_operations,
    retry_operation,
)
from spectra.observability.audit import verify
from spectra.warehouse.repositories import register_account, register_tenant


def _tenant(engine: Engine, customer_id: int) -> None:
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_account(conn, tenant_id=TENANT, customer_id=customer_id)


def _served(client: Any, creds: AdsCredentials, customer_id: int, campaign_id: int) -> Counter[str]:
    """What GAQL serves for the campaign (not the log): its ad groups, keywords and ads."""
    out: Counter[str] = Counter()
    for name, key in (
        ("apply_ad_groups", "ad_group"),
        ("apply_keywords", "ad_group_criterion"),
        ("operation_ads", "ad_group_ad"),
    ):
        cols = stream_columns(
            client, creds, customer_id=customer_id, query=load_query(name), campaign_id=campaign_id
        )
        out[key] = len(cols["ad_group.id"])
    return out


def test_build_creates_each_resource_once_and_a_replay_sends_nothing(
    engine: Engine, apply_market: Any, apply_client: Any, apply_creds: AdsCredentials
) -> None:
    cid = apply_market.customer_ids()[0]
    _tenant(engine, cid)
    build = campaign_build(cid, f"Launch once {engine.dialect.name}")
    seq = last_seq(apply_market)
    report = build_campaign(
        engine,
        apply_client,
        build,
        creds=apply_creds,
        config=fast_config(),
        breaker=quick_breaker(engine),
    )
    assert report.status == "done", report
    assert list(report.steps) == list(STEPS)
    assert report.found_existing == []
    assert Counter(ch.resource for ch in created_since(apply_market, cid, seq)) == expected_counts(
        build
    )
    campaign_rn = report.campaign_resource_name
    assert campaign_rn is not None
    budget_rn = report.steps["budget"]["resource_name"]
    assert created_for(apply_market, cid, seq, campaign_rn, budget_rn) == expected_counts(build)
    served = _served(apply_client, apply_creds, cid, int(report.steps["campaign"]["id"]))
    assert served == Counter(
        {k: v for k, v in expected_counts(build).items() if k.startswith("ad_group")}
    )
    # the campaign serves on the budget the operation created
    cols = stream_columns(
        apply_client, apply_creds, customer_id=cid, query=load_query("operation_campaigns")
    )
    mine = [
        b
        for n, b in zip(cols["campaign.name"], cols["campaign.campaign_budget"], strict=True)
        if n == build.campaign_name
    ]
    assert mine == [budget_rn]

    # the same build again: found by its key, done, nothing sent
    seq = last_seq(apply_market)
    again = build_campaign(
        engine,
        apply_client,
        build,
        creds=apply_creds,
        config=fast_config(),
        breaker=quick_breaker(engine),
    )
    assert again.status == "done" and again.steps == report.steps
    assert created_since(apply_market, cid, seq) == []
    (chain,) = verify(engine, tenant_id=TENANT)
    assert chain.ok and chain.rows > 0, chain.problems


def test_a_lost_step_record_is_found_by_name_not_created_again(
    engine: Engine,
    apply_market: Any,
    apply_sandbox: Any,
    apply_client: Any,
    apply_creds: AdsCredentials,
) -> None:
    """Every create's response lost: each step lands once and is adopted by the next read."""
    from spectra.sandbox.chaos import Chaos

    cid = apply_market.customer_ids()[0]
    _tenant(engine, cid)
    build = campaign_build(cid, f"Launch lost {engine.dialect.name}", groups=1)
    chaos = getattr(apply_sandbox.state, "chaos", None) or Chaos().install(apply_sandbox.state)
    seq = last_seq(apply_market)
    chaos.configure(lost_response=1.0, seed=3)
    try:
        report = build_campaign(
            engine,
            apply_client,
            build,
            creds=apply_creds,
            config=fast_config(),
            breaker=quick_breaker(engine),
        )
    finally:
        chaos.off()
    assert report.status == "done", report
    assert set(report.found_existing) == set(STEPS)
    assert report.sends == dict.fromkeys(STEPS, 1)
    assert Counter(ch.resource for ch in created_since(apply_market, cid, seq)) == expected_counts(
        build
    )


def test_a_name_someone_else_uses_fails_cleanly_before_creating_anything(
    engine: Engine, apply_market: Any, apply_client: Any, apply_creds: AdsCredentials
) -> None:
    cid = apply_market.customer_ids()[0]
    _tenant(engine, cid)
    cols = stream_columns(
        apply_client, apply_creds, customer_id=cid, query=load_query("operation_campaigns")
    )
    taken = cols["campaign.name"][0]
    build = campaign_build(cid, taken, groups=1)
    seq = last_seq(apply_market)
    report = build_campaign(
        engine,
        apply_client,
        build,
        creds=apply_creds,
        config=fast_config(),
        breaker=quick_breaker(engine),
    )
    # the budget name Google derives from a campaign of that name is taken too: refused first
    assert report.status == "failed"
    assert "already in use" in report.error and "never created it" in report.error, report.error
    assert report.created() == []
    assert created_since(apply_market, cid, seq) == []


def test_chaos_never_creates_a_duplicate(
    engine: Engine,
    apply_market: Any,
    apply_sandbox: Any,
    apply_client: Any,
    apply_creds: AdsCredentials,
) -> None:
    """≥ 20 % faults of every kind, lost responses included, over several builds."""
    from spectra.sandbox.chaos import Chaos

    cid = apply_market.customer_ids()[0]
    _tenant(engine, cid)
    builds = [campaign_build(cid, f"Chaos {engine.dialect.name} {i}", groups=3) for i in range(4)]
    chaos = getattr(apply_sandbox.state, "chaos", None) or Chaos().install(apply_sandbox.state)
    seq = last_seq(apply_market)
    injected_before = len(chaos.injected)
    calls_before = sum(chaos.calls.values())
    config, breaker = fast_config(), quick_breaker(engine)
    chaos.configure(**CHAOS, seed=11 if engine.dialect.name == "sqlite" else 12)
    try:
        reports = [
            build_campaign(
                engine, apply_client, b, creds=apply_creds, config=config, breaker=breaker
            )
            for b in builds
        ]
        sweeps = 0
        while any(r.status == "running" for r in reports):
            sweeps += 1
            assert sweeps < 100, [r.error for r in reports]
            time.sleep(0.2)
            resume_operations(
                engine,
                apply_client,
                tenant_id=TENANT,
                creds=apply_creds,
                config=config,
                breaker=breaker,
            )
            reports = [
                operation_report(engine, tenant_id=TENANT, operation_key=b.operation_key)
                for b in builds
            ]
    finally:
        faults = len(chaos.injected) - injected_before
        calls = sum(chaos.calls.values()) - calls_before
        summary = chaos.summary()
        chaos.off()
    # nothing in between: done, or failed with its attempts exhausted (a dead letter), which a
    # retry re-enters without creating anything twice
    for r in reports:
        assert r.status == "done" or r.error.startswith(EXHAUSTED), r
    reports = [
        r
        if r.status == "done"
        else retry_operation(
            engine,
            apply_client,
            tenant_id=TENANT,
            operation_key=r.operation_key,
            actor="tester",
            creds=apply_creds,
            config=config,
            breaker=breaker,
        )
        for r in reports
    ]
    assert [r.status for r in reports] == ["done"] * len(builds), [r.error for r in reports]
    assert faults >= 0.2 * calls, (faults, calls)
    assert summary["injected"].get("lost_response", 0) > 0, summary
    total: Counter[str] = Counter()
    for b in builds:
        total += expected_counts(b)
    assert Counter(ch.resource for ch in created_since(apply_market, cid, seq)) == total
    for b, r in zip(builds, reports, strict=True):
        assert r.campaign_resource_name is not None
        assert created_for(
            apply_market, cid, seq, r.campaign_resource_name, r.steps["budget"]["resource_name"]
        ) == expected_counts(b)
    (chain,) = verify(engine, tenant_id=TENANT)
    assert chain.ok and chain.rows > 0, chain.problems


def test_the_same_key_with_another_build_is_refused(
    engine: Engine, apply_market: Any, apply_client: Any, apply_creds: AdsCredentials
) -> None:
    from spectra.warehouse.apply_store import IdempotencyKeyReused, get_or_create_operation

    cid = apply_market.customer_ids()[0]
    _tenant(engine, cid)
    a = campaign_build(cid, "Key A", groups=1)
    b = campaign_build(cid, "Key B", groups=1)
    assert a.operation_key != b.operation_key
    assert CampaignBuild.model_validate(a.spec()).operation_key == a.operation_key
    import datetime as dt

    with engine.begin() as conn:
        get_or_create_operation(
            conn,
            tenant_id=TENANT,
            customer_id=cid,
            operation_key=a.operation_key,
            kind="build_campaign",
            spec=a.spec(),
            now=dt.datetime.now(dt.UTC),
        )
        with pytest.raises(IdempotencyKeyReused):
            get_or_create_operation(
                conn,
                tenant_id=TENANT,
                customer_id=cid,
                operation_key=a.operation_key,
                kind="build_campaign",
                spec=b.spec(),
                now=dt.datetime.now(dt.UTC),
            )
