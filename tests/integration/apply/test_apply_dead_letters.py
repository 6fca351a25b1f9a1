"""Dead letters: a change whose responses keep getting lost is dead-lettered although it landed;
retrying it from the queue finds it at its target and cannot apply it twice. Discard needs a
reason; a job is resolved once."""

from __future__ import annotations

from typing import Any

import pytest
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
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.apply.dlq import (
    DeadLetterNotOpen,
    discard_dead_letter,
    list_dead_letters,
    retry_dead_letter,
    show_dead_letter,
)
from spectra.apply.executor import apply_changes, google_ads_breaker, resume_pending
from spectra.observability.audit import verify
from spectra.reliability.breaker import BreakerConfig
from spectra.sandbox.chaos import Chaos


def test_dead_letter_retry_cannot_double_apply(
    engine: Engine,
    apply_market: Any,
    apply_sandbox: Any,
    apply_client: Any,
    apply_creds: AdsCredentials,
) -> None:
    cid = apply_market.customer_ids()[0]
    campaigns = register_campaigns(engine, apply_client, apply_creds, cid)
    changes = random_changes(
        apply_client,
        apply_creds,
        cid,
        campaigns[:1],
        2,
        seed=5 + len(engine.dialect.name),
        ref=f"dlq-{engine.dialect.name}",
    )
    chaos = getattr(apply_sandbox.state, "chaos", None) or Chaos().install(apply_sandbox.state)
    seq = last_seq(apply_market)
    # every mutate is applied but its response lost, and every read-back stream is cut
    chaos.configure(lost_response=1.0, methods=["GoogleAdsService/Mutate"])
    config = fast_config(max_attempts=2)
    patient = google_ads_breaker(engine, BreakerConfig(fail_max=10_000))  # DLQ, not the breaker
    try:
        report = apply_changes(
            engine,
            apply_client,
            changes[:1],
            creds=apply_creds,
            config=config,
            breaker=quick_breaker(engine),
        )
    finally:
        chaos.off()
    (outcome,) = report.outcomes.values()
    assert outcome.outcome in ("dead_lettered", "applied")
    # the first lost response was followed by a read: it found the change landed, no resend
    key = expected_mutation(changes[0], None)
    assert mutation_counts(apply_market, cid, seq)[key] == 1

    # a change that never lands (every read-before-send cut) ends dead-lettered, then retried
    chaos.configure(stream_cut=1.0, cut_after_batches=0, methods=["GoogleAdsService/SearchStream"])
    try:
        report = apply_changes(
            engine, apply_client, changes[1:], creds=apply_creds, config=config, breaker=patient
        )
    finally:
        chaos.off()
    assert report.counts() == {"dead_lettered": 1}
    (job,) = [
        j
        for j in list_dead_letters(engine, tenant_id=TENANT)
        if j["idempotency_key"] == changes[1].idempotency_key
    ]
    shown = show_dead_letter(engine, tenant_id=TENANT, job_id=job["id"])
    assert shown["change"]["phase"] == "dead_lettered" and job["attempts"] >= 1 and job["error"]
    assert shown["payload"] == changes[1].payload()
    assert (
        retry_dead_letter(
            engine,
            apply_client,
            tenant_id=TENANT,
            job_id=job["id"],
            actor="bob",
            creds=apply_creds,
            config=config,
        )
        == "applied"
    )
    with pytest.raises(DeadLetterNotOpen):
        retry_dead_letter(
            engine,
            apply_client,
            tenant_id=TENANT,
            job_id=job["id"],
            actor="bob",
            creds=apply_creds,
            config=config,
        )
    log = mutation_counts(apply_market, cid, seq)
    assert log[expected_mutation(changes[1], None)] <= 1 or changes[1].field == "budget_micros"
    assert sum(log.values()) == 2  # one mutation per change, whatever happened in between

    # discard: a reason is required, it is audited, and the change ends rejected
    more = random_changes(
        apply_client,
        apply_creds,
        cid,
        campaigns[:1],
        1,
        seed=77 + len(engine.dialect.name),
        ref=f"dlq2-{engine.dialect.name}",
    )
    chaos.configure(stream_cut=1.0, cut_after_batches=0, methods=["GoogleAdsService/SearchStream"])
    try:
        apply_changes(engine, apply_client, more, creds=apply_creds, config=config, breaker=patient)
    finally:
        chaos.off()
    (job,) = list_dead_letters(engine, tenant_id=TENANT)
    with pytest.raises(ValueError, match="reason"):
        discard_dead_letter(engine, tenant_id=TENANT, job_id=job["id"], actor="bob", reason=" ")
    discard_dead_letter(
        engine, tenant_id=TENANT, job_id=job["id"], actor="bob", reason="superseded"
    )
    assert (
        show_dead_letter(engine, tenant_id=TENANT, job_id=job["id"])["change"]["phase"]
        == "rejected"
    )
    assert list_dead_letters(engine, tenant_id=TENANT) == []
    assert all(r.ok for r in verify(engine, tenant_id=TENANT))


def test_open_breaker_defers_and_never_drops(
    engine: Engine,
    apply_market: Any,
    apply_sandbox: Any,
    apply_client: Any,
    apply_creds: AdsCredentials,
) -> None:
    """Google Ads is down: the shared breaker opens, the change waits (deferred), and a later
    run — another process, same warehouse-backed breaker state — applies it once."""
    import time

    cid = apply_market.customer_ids()[0]
    campaigns = register_campaigns(engine, apply_client, apply_creds, cid)
    changes = random_changes(
        apply_client,
        apply_creds,
        cid,
        campaigns[1:],
        3,
        seed=41 + len(engine.dialect.name),
        ref=f"brk-{engine.dialect.name}",
    )
    chaos = getattr(apply_sandbox.state, "chaos", None) or Chaos().install(apply_sandbox.state)
    seq = last_seq(apply_market)
    chaos.configure(unavailable=1.0, methods=["*"])
    breaker = google_ads_breaker(engine, BreakerConfig(fail_max=3, reset_timeout=0.3))
    try:
        report = apply_changes(
            engine, apply_client, changes, creds=apply_creds, config=fast_config(), breaker=breaker
        )
        assert set(report.deferred) == {c.idempotency_key for c in changes}
        assert report.counts() == {"pending": 3}
        other = google_ads_breaker(engine, BreakerConfig(fail_max=3, reset_timeout=0.3))
        assert other.current_state == "open"  # shared through the warehouse, not in memory
    finally:
        chaos.off()
    assert mutation_counts(apply_market, cid, seq) == {}
    time.sleep(0.35)
    report = resume_pending(
        engine,
        apply_client,
        tenant_id=TENANT,
        creds=apply_creds,
        config=fast_config(),
        breaker=breaker,
    )
    assert report.counts() == {"applied": 3}
    assert sum(mutation_counts(apply_market, cid, seq).values()) == 3
    assert breaker.current_state == "closed"
