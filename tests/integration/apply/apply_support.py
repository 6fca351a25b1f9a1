"""Support for the apply tests: a warehouse that knows the sandbox's campaigns, approved changes
built from what the sandbox serves, and the sandbox's own mutation log read back per change."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

from sqlalchemy import Engine
from support.executor_config import fast_config, quick_breaker
from support.sandbox_campaigns import TENANT, register_campaigns, snapshot

from spectra.ads.client import AdsCredentials
from spectra.ads.entities import read_campaign
from spectra.domain.changes import ApprovedChange, EntityKind, EntityRef, Origin, OriginKind

__all__ = [  # re-exported for the apply tests
    "TENANT",
    "fast_config",
    "quick_breaker",
    "register_campaigns",
    "snapshot",
]


def random_changes(
    client: Any,
    creds: AdsCredentials,
    customer_id: int,
    campaign_ids: list[int],
    n: int,
    *,
    seed: int,
    ref: str = "chaos",
) -> list[ApprovedChange]:
    """``n`` changes spread over the campaigns: keyword bids and statuses, ad group bids,
    budgets, ad statuses and negatives, each target different from the value it replaces."""
    rng = random.Random(seed)
    out: list[ApprovedChange] = []
    used: set[tuple[str, str]] = set()
    snaps = {c: snapshot(client, creds, customer_id, c) for c in campaign_ids}
    origin = Origin(kind=OriginKind.PROPOSAL, ref=ref, actor="tester")
    attempts = 0
    while len(out) < n and attempts < n * 50:
        attempts += 1
        campaign_id = rng.choice(campaign_ids)
        snap = snaps[campaign_id]
        target: int | str  # a bid or budget in micros, or a status
        kind = rng.choice(
            [
                "keyword_bid",
                "keyword_bid",
                "keyword_status",
                "ad_group_bid",
                "budget",
                "ad",
                "negative",
            ]
        )
        if kind.startswith("keyword"):
            keys = [
                k
                for k, v in snap["keywords"].items()
                if not v["negative"] and v["status"] != "REMOVED"
            ]
            if not keys:
                continue
            key = rng.choice(keys)
            group, crit = (int(x) for x in key.split("~"))
            entity = EntityRef(
                kind=EntityKind.KEYWORD,
                campaign_id=campaign_id,
                ad_group_id=group,
                criterion_id=crit,
            )
            if kind == "keyword_bid":
                field, target = "cpc_bid_micros", rng.randrange(10, 500) * 10_000
            else:
                field = "status"
                target = "PAUSED" if snap["keywords"][key]["status"] == "ENABLED" else "ENABLED"
        elif kind == "ad_group_bid":
            group = int(rng.choice(list(snap["ad_groups"])))
            entity = EntityRef(kind=EntityKind.AD_GROUP, campaign_id=campaign_id, ad_group_id=group)
            field, target = "cpc_bid_micros", rng.randrange(10, 500) * 10_000
        elif kind == "budget":
            entity = EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=campaign_id)
            field, target = "budget_micros", rng.randrange(10, 900) * 1_000_000
        elif kind == "ad":
            key = rng.choice(list(snap["ads"]))
            group, ad = (int(x) for x in key.split("~"))
            entity = EntityRef(
                kind=EntityKind.AD, campaign_id=campaign_id, ad_group_id=group, ad_id=ad
            )
            field = "status"
            target = "PAUSED" if snap["ads"][key]["status"] == "ENABLED" else "ENABLED"
        else:
            entity = EntityRef(
                kind=EntityKind.NEGATIVE_KEYWORD,
                campaign_id=campaign_id,
                text=f"cheap free {rng.randrange(10**6)}",
                match_type=rng.choice(["EXACT", "PHRASE"]),
            )
            field, target = "status", "ENABLED"
        if (entity.key, field) in used or target == _current(snap, entity, field):
            continue  # a target equal to the stored value is a no-op: nothing would be sent
        used.add((entity.key, field))
        out.append(
            ApprovedChange(
                tenant_id=TENANT,
                customer_id=customer_id,
                entity=entity,
                field=field,
                target=target,
                origin=origin,
                reasoning=f"test change {len(out)}",
                evidence_ids=(f"ev-{len(out)}",),
            )
        )
    return out


def _stored(row: dict[str, Any] | None) -> dict[str, Any]:
    """A change's ledger row, which every change run_chaos sent has."""
    assert row is not None, "a sent change has no ledger row"
    return row


def _current(snap: dict[str, Any], entity: EntityRef, field: str) -> Any:
    """The value a change would replace, from the campaign's snapshot (None if not in it)."""
    if entity.kind == EntityKind.CAMPAIGN:
        return snap["campaign"].get(field)
    if entity.kind == EntityKind.AD_GROUP:
        return snap["ad_groups"].get(str(entity.ad_group_id), {}).get(field)
    if entity.kind == EntityKind.KEYWORD:
        key = f"{entity.ad_group_id}~{entity.criterion_id}"
        return snap["keywords"].get(key, {}).get(field)
    return None


def mutation_counts(market: Any, customer_id: int, since_seq: int) -> Counter[tuple[str, str, str]]:
    """How often the sandbox applied each (resource name, field, new value) since ``since_seq``:
    the sandbox's own log, not ours."""
    out: Counter[tuple[str, str, str]] = Counter()
    for ch in market.changes(customer_id):
        if ch.seq <= since_seq:
            continue
        if ch.operation == "CREATE" and ch.resource == "campaign_criterion":
            key = f"{ch.new['keyword.match_type']}:{ch.new['keyword.text']}"
            out[(f"negative:{ch.campaign_rn}", key, "ENABLED")] += 1
            continue
        for name in ch.changed_fields:
            out[(ch.resource_name, name, str(ch.new.get(name)))] += 1
    return out


def expected_mutation(change: ApprovedChange, budget_rn: str | None = None) -> tuple[str, str, str]:
    """The sandbox log entry an applied change must have produced (exactly once)."""
    e, c = change.entity, change.customer_id
    if e.kind == EntityKind.CAMPAIGN and change.field == "budget_micros":
        return (str(budget_rn), "amount_micros", str(change.target))
    if e.kind == EntityKind.CAMPAIGN:
        return (f"customers/{c}/campaigns/{e.campaign_id}", change.field, str(change.target))
    if e.kind == EntityKind.AD_GROUP:
        return (f"customers/{c}/adGroups/{e.ad_group_id}", change.field, str(change.target))
    if e.kind == EntityKind.KEYWORD:
        return (
            f"customers/{c}/adGroupCriteria/{e.ad_group_id}~{e.criterion_id}",
            change.field,
            str(change.target),
        )
    if e.kind == EntityKind.AD:
        return (
            f"customers/{c}/adGroupAds/{e.ad_group_id}~{e.ad_id}",
            change.field,
            str(change.target),
        )
    key = f"{e.match_type}:{' '.join(str(e.text).lower().split())}"
    return (f"negative:customers/{c}/campaigns/{e.campaign_id}", key, "ENABLED")


def last_seq(market: Any) -> int:
    changes = market.changes()
    return changes[-1].seq if changes else 0


TODAY = dt.date.today()


# --------------------------------------------------------------------------- the chaos run

CHAOS = {
    # per call (they add up to 0.25 of all calls), plus per-operation and after-mutate faults
    "unavailable": 0.05,
    "deadline_exceeded": 0.04,
    "resource_exhausted": 0.04,
    "internal": 0.04,
    "stream_cut": 0.08,
    "partial_failure": 0.08,
    "lost_response": 0.2,
    "retry_delay_seconds": 0.02,
    "cut_after_batches": 0,  # our reads are one batch: cut before it, on read-back too
}


def run_chaos(
    engine: Engine,
    market: Any,
    server: Any,
    client: Any,
    creds: AdsCredentials,
    customer_id: int,
    campaign_ids: list[int],
    n_changes: int,
    *,
    seed: int,
) -> dict[str, Any]:
    """Apply ``n_changes`` under CHAOS until nothing is pending; then, chaos off, retry the dead
    letters. Returns what a test or the bench checks: outcomes, the sandbox log, final state."""
    import time

    from spectra.apply.dlq import list_dead_letters, retry_dead_letter
    from spectra.apply.executor import apply_changes, resume_pending
    from spectra.sandbox.chaos import Chaos

    changes = random_changes(
        client, creds, customer_id, campaign_ids, n_changes, seed=seed, ref=f"chaos-{seed}"
    )
    budget_rns = {
        c: read_campaign(client, creds, customer_id=customer_id, campaign_id=c).budget_resource_name
        for c in campaign_ids
    }
    chaos = getattr(server.state, "chaos", None) or Chaos().install(server.state)
    seq = last_seq(market)
    chaos.configure(**CHAOS, seed=seed)
    injected_before = len(chaos.injected)
    calls_before = sum(chaos.calls.values())
    config, breaker = fast_config(), quick_breaker(engine)
    started = time.perf_counter()
    report = apply_changes(engine, client, changes, creds=creds, config=config, breaker=breaker)
    sweeps = 0
    while report.deferred or report.busy_campaigns:
        sweeps += 1
        assert sweeps < 200, "deferred changes never drained"
        time.sleep(0.2)
        report = resume_pending(
            engine, client, tenant_id=TENANT, creds=creds, config=config, breaker=breaker
        )
    seconds = time.perf_counter() - started
    summary = chaos.summary()
    faults = len(chaos.injected) - injected_before
    calls = sum(chaos.calls.values()) - calls_before
    from spectra.warehouse.apply_store import get_change_by_key

    def phases() -> dict[str, str]:
        with engine.connect() as conn:
            return {
                c.idempotency_key: _stored(
                    get_change_by_key(conn, tenant_id=TENANT, idempotency_key=c.idempotency_key)
                )["phase"]
                for c in changes
            }

    after_chaos = phases()
    log_after_chaos = mutation_counts(market, customer_id, seq)
    chaos.off()
    dead = list_dead_letters(engine, tenant_id=TENANT)
    for job in dead:
        retry_dead_letter(
            engine,
            client,
            tenant_id=TENANT,
            job_id=job["id"],
            actor="tester",
            creds=creds,
            config=config,
            breaker=breaker,
        )
    return {
        "changes": changes,
        "budget_rns": budget_rns,
        "after_chaos": after_chaos,
        "final": phases(),
        "log_after_chaos": log_after_chaos,
        "log": mutation_counts(market, customer_id, seq),
        "faults": faults,
        "calls": calls,
        "injected": summary["injected"],
        "dead_letters": len(dead),
        "seconds": seconds,
    }
