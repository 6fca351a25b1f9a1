"""Rollback: put a campaign back to an earlier version by inverse mutations (Google has no undo).

A rollback reads the campaign as it is now, diffs it field by field against the stored version
and applies the difference as ordinary approved changes (origin ``rollback``) through the
executor: lease, phases, read-before-send, audit. Their idempotency keys are derived from the
target version and the state rolled back *from*, so a replay finds the same changes, and a
second rollback to the same version finds nothing left to change.

What cannot be restored through the API is reported, not faked: an entity removed since the
version (Google cannot un-remove) and entities created after it (they are paused instead).

Automatic rollbacks: the executor calls :func:`rollback` when a read-back differs from its
target; :func:`rollback_harmful_changes` does when the analytics engine's change-effect estimate
finds significant harm (``verdict = worsened``) at its final look.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pybreaker
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.domain.changes import ApprovedChange, EntityKind, EntityRef, Origin, OriginKind
from spectra.observability import audit
from spectra.warehouse import apply_store as store
from spectra.warehouse import repositories as repo


@dataclass
class RollbackResult:
    tenant_id: str
    customer_id: int
    campaign_id: int
    to_version: int
    planned: list[str] = field(default_factory=list)  # idempotency keys of the inverse changes
    outcomes: dict[str, str] = field(default_factory=dict)
    unrestorable: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not self.planned

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ref(kind: EntityKind, campaign_id: int, key: str = "") -> EntityRef:
    if kind == EntityKind.CAMPAIGN:
        return EntityRef(kind=kind, campaign_id=campaign_id)
    if kind == EntityKind.AD_GROUP:
        return EntityRef(kind=kind, campaign_id=campaign_id, ad_group_id=int(key))
    if kind == EntityKind.NEGATIVE_KEYWORD:
        match, text = key.split(":", 1)
        return EntityRef(kind=kind, campaign_id=campaign_id, text=text, match_type=match)
    group, other = (int(x) for x in key.split("~"))
    if kind == EntityKind.KEYWORD:
        return EntityRef(kind=kind, campaign_id=campaign_id, ad_group_id=group, criterion_id=other)
    return EntityRef(kind=kind, campaign_id=campaign_id, ad_group_id=group, ad_id=other)


def plan_rollback(
    current: dict[str, Any], target: dict[str, Any], *, campaign_id: int
) -> tuple[list[tuple[EntityRef, str, Any]], list[str]]:
    """(entity, field, value) settings that turn ``current`` into ``target``, and what cannot."""
    plan: list[tuple[EntityRef, str, Any]] = []
    unrestorable: list[str] = []
    cur_c, tgt_c = current["campaign"], target["campaign"]
    camp = _ref(EntityKind.CAMPAIGN, campaign_id)
    for name in ("status", "budget_micros", "target_cpa_micros", "target_roas_micros"):
        want = tgt_c.get(name)
        if want is not None and cur_c.get(name) != want:
            if name == "status" and want == "REMOVED":
                unrestorable.append("campaign: was REMOVED in the version")
                continue
            plan.append((camp, name, want))
    sections = (
        ("ad_groups", EntityKind.AD_GROUP, ("status", "cpc_bid_micros")),
        ("keywords", EntityKind.KEYWORD, ("status", "cpc_bid_micros")),
        ("ads", EntityKind.AD, ("status",)),
    )
    for section, kind, fields in sections:
        for key, now in sorted(current.get(section, {}).items()):
            if now.get("negative"):
                continue  # ad-group negatives are not changes of ours
            then = target.get(section, {}).get(key)
            ref = _ref(kind, campaign_id, key)
            if now.get("status") == "REMOVED":
                if then is not None and then.get("status") != "REMOVED":
                    unrestorable.append(f"{ref.key}: removed since the version")
                continue
            if then is None:
                if now.get("status") == "ENABLED":
                    plan.append((ref, "status", "PAUSED"))  # created after the version
                continue
            for name in fields:
                if then.get(name) != now.get(name):
                    if name == "status" and then.get(name) == "REMOVED":
                        unrestorable.append(f"{ref.key}: REMOVED in the version")
                        continue
                    plan.append((ref, name, then.get(name)))
    cur_n, tgt_n = current.get("negatives", {}), target.get("negatives", {})
    for key in sorted(set(cur_n) | set(tgt_n)):
        if (key in cur_n) != (key in tgt_n):
            ref = _ref(EntityKind.NEGATIVE_KEYWORD, campaign_id, key)
            plan.append((ref, "status", "ENABLED" if key in tgt_n else "REMOVED"))
    return plan, unrestorable


def _fingerprint(snapshot: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True).encode()).hexdigest()[:16]


def rollback(
    engine: Engine,
    client: Any,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    to_version: int,
    actor: str,
    reason: str,
    creds: AdsCredentials | None = None,
    config: Any = None,
    breaker: pybreaker.CircuitBreaker | None = None,
) -> RollbackResult:
    """Revert the campaign to ``to_version`` (itself a change: keyed, phased, audited)."""
    from spectra.apply.executor import ApplyConfig, Executor

    ex = Executor(engine, client, creds=creds, config=config or ApplyConfig(), breaker=breaker)
    with engine.connect() as conn:
        version = repo.get_campaign_version(
            conn,
            tenant_id=tenant_id,
            customer_id=customer_id,
            campaign_id=campaign_id,
            version=to_version,
        )
        target = dict(version.snapshot)
    current = ex._read(customer_id, campaign_id)
    plan, unrestorable = plan_rollback(current.snapshot, target, campaign_id=campaign_id)
    ref = f"to-v{to_version}-from-{_fingerprint(current.snapshot)}"
    origin = Origin(kind=OriginKind.ROLLBACK, ref=ref, actor=actor)
    changes = [
        ApprovedChange(
            tenant_id=tenant_id,
            customer_id=customer_id,
            entity=entity,
            field=name,
            target=value,
            origin=origin,
            reasoning=reason,
        )
        for entity, name, value in plan
    ]
    result = RollbackResult(
        tenant_id,
        customer_id,
        campaign_id,
        to_version,
        [c.idempotency_key for c in changes],
        {},
        unrestorable,
    )
    with engine.begin() as conn:
        audit.record(
            conn,
            tenant_id=tenant_id,
            action="rollback_requested",
            actor=actor,
            entity=f"campaign:{campaign_id}",
            reasoning=reason,
            before=_fingerprint(current.snapshot),
            after={"to_version": to_version},
            detail={"planned": len(changes), "unrestorable": unrestorable},
        )
    if changes:
        ex.record_approved(changes)
        report = ex.run_campaign(tenant_id, customer_id, campaign_id)
        result.outcomes = {k: o.outcome for k, o in report.outcomes.items() if k in result.planned}
    return result


def rollback_harmful_changes(
    engine: Engine,
    client: Any,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    creds: AdsCredentials | None = None,
    config: Any = None,
    breaker: pybreaker.CircuitBreaker | None = None,
) -> list[RollbackResult]:
    """Roll back each campaign whose applied change the analytics engine judged harmful
    (``analytics_change_effects``: final look, verdict ``worsened``) on ``logical_date``:
    to the version from before the first change applied on that change day."""
    results = []
    with engine.connect() as conn:
        harmful = store.harmful_final_effects(
            conn, tenant_id=tenant_id, customer_id=customer_id, logical_date=logical_date
        )
        targets = []
        for campaign_id, change_date, metric, did_pct in harmful:
            applied = store.recorded_changes_on(
                conn,
                tenant_id=tenant_id,
                customer_id=customer_id,
                campaign_id=campaign_id,
                day=change_date,
            )
            versions = [int(r["version_before"]) for r in applied if r["version_before"]]
            if versions:
                targets.append((campaign_id, change_date, metric, did_pct, min(versions)))
    for campaign_id, change_date, metric, did_pct, version in targets:
        results.append(
            rollback(
                engine,
                client,
                tenant_id=tenant_id,
                customer_id=customer_id,
                campaign_id=campaign_id,
                to_version=version,
                actor="spectra-change-effects",
                reason=(
                    f"change of {change_date} judged harmful at its final look on "
                    f"{logical_date}: {metric} {did_pct:+.1f}%"
                ),
                creds=creds,
                config=config,
                breaker=breaker,
            )
        )
    return results


__all__ = ["RollbackResult", "plan_rollback", "rollback", "rollback_harmful_changes"]
