"""The policy monitor: ads Google disapproved are paused, and their campaign too when none of
its ads may serve; a later approval enables them again.

Google stops serving a disapproved ad by itself, so why pause it: the pause is Spectra's record
that the ad is out (its state, versions and audit say why, with the policy topics Google named,
``ad_group_ad.policy_summary.policy_topic_entries``), nothing re-enables it by accident while it
is disapproved, and a campaign left with no servable ad stops counting as live in the
optimiser. The approval is the trigger to undo exactly what the monitor did: only entities this
monitor paused (``monitor_pauses`` reason ``policy``) are enabled again, never an ad a person
paused.

Every pause and re-enable goes through the apply executor; every disapproval is a critical
alert that resolves when the ad is approved (or removed).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import pybreaker
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.ads.stream import load_query, stream_columns
from spectra.apply.executor import ApplyConfig
from spectra.domain.campaign_state import CampaignState
from spectra.domain.changes import ApprovedChange, EntityKind, EntityRef
from spectra.monitors.actions import (
    JsonReport,
    applied,
    apply_at,
    failure,
    publish_alerts,
    status_change,
)
from spectra.warehouse import monitor_store as store

log = logging.getLogger(__name__)

MONITOR = "policy"
REASON = "policy"
MANAGED = (CampaignState.ACTIVE.value, CampaignState.OPTIMIZING.value, CampaignState.PAUSED.value)


@dataclass
class PolicyReport(JsonReport):
    tenant_id: str
    customer_id: int
    clock: dt.datetime
    disapproved: int = 0
    paused: list[str] = field(default_factory=list)  # entity keys
    reenabled: list[str] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    alert_events: int = 0


@dataclass(frozen=True)
class _Ad:
    campaign_id: int
    campaign_status: str
    ad_group_id: int
    ad_id: int
    status: str
    approval: str
    topics: tuple[str, ...]

    @property
    def entity(self) -> EntityRef:
        return EntityRef(
            kind=EntityKind.AD,
            campaign_id=self.campaign_id,
            ad_group_id=self.ad_group_id,
            ad_id=self.ad_id,
        )

    @property
    def disapproved(self) -> bool:
        return self.approval == "DISAPPROVED"


def _ads(client: Any, creds: AdsCredentials, customer_id: int, clock: dt.datetime) -> list[_Ad]:
    cols = stream_columns(
        client, creds, customer_id=customer_id, query=load_query("monitor_ads"), as_of=clock
    )
    out = []
    for i in range(len(cols["ad_group_ad.ad.id"])):
        entries = cols["ad_group_ad.policy_summary.policy_topic_entries"][i] or []
        out.append(
            _Ad(
                campaign_id=int(cols["campaign.id"][i]),
                campaign_status=str(cols["campaign.status"][i]),
                ad_group_id=int(cols["ad_group.id"][i]),
                ad_id=int(cols["ad_group_ad.ad.id"][i]),
                status=str(cols["ad_group_ad.status"][i]),
                approval=str(cols["ad_group_ad.policy_summary.approval_status"][i]),
                topics=tuple(sorted({str(e.get("topic", "")) for e in entries} - {""})),
            )
        )
    return out


def check_policy(
    engine: Engine,
    client: Any,
    *,
    tenant_id: str,
    customer_id: int,
    clock: dt.datetime,
    creds: AdsCredentials | None = None,
    apply_config: ApplyConfig | None = None,
    breaker: pybreaker.CircuitBreaker | None = None,
) -> PolicyReport:
    """One policy-monitor run for one account at ``clock`` (a UTC instant)."""
    if clock.tzinfo is None:
        raise ValueError(f"clock {clock!r} has no time zone; the monitors' clock is a UTC instant")
    creds = creds or AdsCredentials(developer_token="-", access_token="-")
    report = PolicyReport(tenant_id, customer_id, clock)
    with engine.connect() as conn:
        managed = store.campaigns_in_states(
            conn, tenant_id=tenant_id, customer_id=customer_id, states=MANAGED
        )
        pauses = {
            p["entity_key"]: p
            for p in store.open_pauses(
                conn, tenant_id=tenant_id, customer_id=customer_id, reasons=[REASON]
            )
        }
    ads = [a for a in _ads(client, creds, customer_id, clock) if a.campaign_id in managed]
    ref = f"policy:{clock.isoformat()}"
    todo: list[tuple[ApprovedChange, str, dict[str, Any]]] = []  # change, action, detail
    alerts: list[dict[str, Any]] = []
    by_campaign: dict[int, list[_Ad]] = {}
    for ad in ads:
        if ad.status == "REMOVED":
            continue
        by_campaign.setdefault(ad.campaign_id, []).append(ad)
        key = ad.entity.key
        if ad.disapproved:
            report.disapproved += 1
            topics = ", ".join(ad.topics) or "unspecified"
            alerts.append(
                {
                    "campaign_id": ad.campaign_id,
                    "kind": "ad_disapproved",
                    "dedup_key": f"policy:{customer_id}:{key}",
                    "severity": "critical",
                    "title": f"ad {ad.ad_id} (ad group {ad.ad_group_id}) disapproved: {topics}",
                    "evidence": {"topics": list(ad.topics), "approval_status": ad.approval},
                }
            )
            if ad.status == "ENABLED":
                todo.append(
                    (
                        status_change(
                            tenant_id=tenant_id, customer_id=customer_id, entity=ad.entity,
                            target="PAUSED", ref=ref,
                            reasoning=f"Google disapproved the ad: {topics}",
                        ),
                        "pause",
                        {"topics": list(ad.topics)},
                    )
                )  # fmt: skip
        elif key in pauses and ad.status == "PAUSED":
            todo.append(
                (
                    status_change(
                        tenant_id=tenant_id, customer_id=customer_id, entity=ad.entity,
                        target="ENABLED", ref=ref,
                        reasoning="Google approved the ad again",
                    ),
                    "resume",
                    {},
                )
            )  # fmt: skip
    for campaign_id, campaign_ads in by_campaign.items():
        entity = EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=campaign_id)
        status = campaign_ads[0].campaign_status
        none_servable = all(a.disapproved for a in campaign_ads)
        if none_servable:
            alerts.append(
                {
                    "campaign_id": campaign_id,
                    "kind": "campaign_disapproved",
                    "dedup_key": f"policy:{customer_id}:{entity.key}",
                    "severity": "critical",
                    "title": f"campaign {campaign_id}: every ad is disapproved",
                    "evidence": {"ads": len(campaign_ads)},
                }
            )
            if status == "ENABLED":
                todo.append(
                    (
                        status_change(
                            tenant_id=tenant_id, customer_id=customer_id, entity=entity,
                            target="PAUSED", ref=ref, reasoning="every ad of the campaign is disapproved",
                        ),
                        "pause",
                        {"ads": len(campaign_ads)},
                    )
                )  # fmt: skip
        elif entity.key in pauses and status == "PAUSED":
            todo.append(
                (
                    status_change(
                        tenant_id=tenant_id, customer_id=customer_id, entity=entity,
                        target="ENABLED", ref=ref, reasoning="an ad of the campaign is approved again",
                    ),
                    "resume",
                    {},
                )
            )  # fmt: skip
    # pauses of ours whose entity is gone from the account (removed): over
    present = {a.entity.key for a in ads} | {
        EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=cid).key for cid in by_campaign
    }
    outcomes = apply_at(
        engine,
        client,
        [t[0] for t in todo],
        clock=clock,
        creds=creds,
        apply_config=apply_config,
        breaker=breaker,
    )
    with engine.begin() as conn:
        for change, action, detail in todo:
            key = change.entity.key
            if not applied(outcomes, change):
                report.failed.append(
                    {"entity": key, "action": action, "error": failure(outcomes, change)}
                )
                continue
            if action == "pause":
                store.record_pause(
                    conn,
                    values={
                        "tenant_id": tenant_id, "customer_id": customer_id,
                        "campaign_id": change.campaign_id, "entity_key": key, "reason": REASON,
                        "local_date": clock.date(), "paused_at": clock,
                        "change_key": change.idempotency_key, "detail": detail,
                        "resumed_at": None, "resume_change_key": None,
                    },
                )  # fmt: skip
                report.paused.append(key)
            else:
                store.mark_resumed(
                    conn, tenant_id=tenant_id, pause_id=int(pauses[key]["id"]), at=clock,
                    change_key=change.idempotency_key,
                )  # fmt: skip
                report.reenabled.append(key)
        for key, pause in pauses.items():
            if key not in present:
                store.mark_resumed(
                    conn, tenant_id=tenant_id, pause_id=int(pause["id"]), at=clock, change_key="removed"
                )  # fmt: skip
    report.alert_events = publish_alerts(
        engine, tenant_id=tenant_id, customer_id=customer_id, monitor=MONITOR, alerts=alerts,
        seen=set(), now=clock,
    )  # fmt: skip
    if report.paused or report.reenabled or report.failed:
        log.warning("policy monitor %s/%s: %s", tenant_id, customer_id, report.as_dict())
    return report


__all__ = ["PolicyReport", "check_policy"]
