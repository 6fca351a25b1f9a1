"""The spend monitor: no campaign spends past ``max_daily_spend_micros`` or
``total_spend_limit_micros`` because Spectra was looking away.

One run per account and clock instant (hourly). It reads from Google Ads each campaign's status
and budget, the recent days' spend (today partial: reported up to ``now - reporting_delay``) and
the lifetime spend; it projects each campaign's spend to the run's *next chance to act*
(``now + period + action_latency``, see :mod:`spectra.monitors.config` for why) and pauses a
campaign whose projection reaches a limit. Pauses and re-enables are approved changes of origin
``monitor`` and go through the apply executor (locked, versioned, audited; Spectra's state moves
ACTIVE -> PAUSED -> ACTIVE through the state machine). Spend-limit pauses are safety actions:
they do not pass the statistical gate, which judges optimisations.

A campaign paused for its daily limit is enabled again on the account's next day (its daily
spend starts from zero there); one paused for its total limit stays paused until a person acts.
Every pause opens a critical alert that stays open while the pause lasts; a projected breach
later in the day (today's pace to midnight) opens a warning first.

The change's idempotency key includes the run's instant, so a re-run of the same hour (an
Airflow retry, a backfill) finds its change in the ledger and sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

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
from spectra.monitors.config import SpendMonitorConfig
from spectra.warehouse import monitor_store as store

log = logging.getLogger(__name__)

MONITOR = "spend"
DAILY, TOTAL = "daily_limit", "total_limit"
DEFAULT_CONFIG = SpendMonitorConfig()


@dataclass(frozen=True)
class Projection:
    """One campaign's spend as reported and as projected to the next chance to act."""

    campaign_id: int
    budget_micros: int
    today: dt.date  # the account's day at the run's instant
    today_reported_micros: int
    today_projected_micros: int  # by the next chance to act
    today_day_end_micros: int  # today's pace to midnight (the early warning)
    lifetime_reported_micros: int
    lifetime_projected_micros: int

    def evidence(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in vars(self).items()}


@dataclass
class SpendReport(JsonReport):
    tenant_id: str
    customer_id: int
    clock: dt.datetime
    checked: int = 0
    paused: list[dict[str, Any]] = field(default_factory=list)
    reenabled: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[int] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    alert_events: int = 0


class SpendProfile:
    """The cumulative hourly profile F(local time) the projections use."""

    def __init__(self, weights: tuple[float, ...]) -> None:
        if len(weights) != 24 or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"an hourly profile needs 24 non-negative weights, got {weights!r}")
        total = sum(weights)
        self.weights = [w / total for w in weights]
        self.edges = [0.0]
        for w in self.weights:
            self.edges.append(self.edges[-1] + w)

    def share(self, local: dt.datetime) -> float:
        """The share of the local day's traffic before ``local``."""
        hours = local.hour + local.minute / 60 + local.second / 3600
        h = min(int(hours), 23)
        return min(1.0, self.edges[h] + self.weights[h] * (hours - h))


def _columns(
    client: Any,
    creds: AdsCredentials,
    customer_id: int,
    name: str,
    clock: dt.datetime,
    **params: Any,
) -> dict[str, list[Any]]:
    return stream_columns(
        client, creds, customer_id=customer_id, query=load_query(name), as_of=clock, **params
    )


def project(
    *,
    config: SpendMonitorConfig,
    clock: dt.datetime,
    time_zone: str,
    budget_micros: int,
    reported_by_day: dict[dt.date, int],
    lifetime_reported_micros: int,
    campaign_id: int = 0,
) -> Projection:
    """Project one campaign's spend to the next chance to act (pure: the tests and the bench
    check it against the market's truth)."""
    profile = SpendProfile(config.hourly_profile)
    zone = ZoneInfo(time_zone or "UTC")
    now = clock.astimezone(zone)
    seen = (clock - config.reporting_delay).astimezone(zone)
    act = (clock + config.period + config.action_latency).astimezone(zone)
    cap = int(config.max_daily_budgets * budget_micros)
    today = now.date()
    projected: dict[dt.date, int] = {}
    day_end: dict[dt.date, int] = {}
    unseen_total = 0
    day = seen.date()
    while day <= act.date():
        spent = int(reported_by_day.get(day, 0))
        f_seen = profile.share(seen) if day == seen.date() else (1.0 if day < seen.date() else 0.0)
        f_act = profile.share(act) if day == act.date() else 1.0
        if f_seen >= config.min_share_for_pace:
            pace = min(cap, spent / f_seen * config.pace_safety)
        else:
            pace = cap
        ceiling = max(spent, cap)
        add = max(0.0, pace * (f_act - f_seen))
        projected[day] = int(min(spent + add, ceiling))
        day_end[day] = int(min(spent + pace / config.pace_safety * (1.0 - f_seen), ceiling))
        unseen_total += projected[day] - spent
        day += dt.timedelta(days=1)
    today_reported = int(reported_by_day.get(today, 0))
    if not config.project:  # the naive monitor: what is reported, nothing more
        return Projection(
            campaign_id, budget_micros, today, today_reported, today_reported,
            day_end.get(today, today_reported), lifetime_reported_micros, lifetime_reported_micros,
        )  # fmt: skip
    return Projection(
        campaign_id,
        budget_micros,
        today,
        today_reported,
        projected.get(today, today_reported),
        day_end.get(today, today_reported),
        lifetime_reported_micros,
        lifetime_reported_micros + unseen_total,
    )


def _limited_campaigns(
    engine: Engine, tenant_id: str, customer_id: int
) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        rows = store.campaign_limits(conn, tenant_id=tenant_id, customer_id=customer_id)
    return {int(r["campaign_id"]): r for r in rows}


def _change(
    tenant_id: str, customer_id: int, campaign_id: int, target: str, ref: str, reasoning: str
) -> ApprovedChange:
    return status_change(
        tenant_id=tenant_id,
        customer_id=customer_id,
        entity=EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=campaign_id),
        target=target,
        ref=ref,
        reasoning=reasoning,
    )


def check_spend(
    engine: Engine,
    client: Any,
    *,
    tenant_id: str,
    customer_id: int,
    clock: dt.datetime,
    creds: AdsCredentials | None = None,
    config: SpendMonitorConfig = DEFAULT_CONFIG,
    apply_config: ApplyConfig | None = None,
    breaker: pybreaker.CircuitBreaker | None = None,
) -> SpendReport:
    """One spend-monitor run for one account at ``clock`` (a UTC instant)."""
    if clock.tzinfo is None:
        raise ValueError(f"clock {clock!r} has no time zone; the monitors' clock is a UTC instant")
    creds = creds or AdsCredentials(developer_token="-", access_token="-")
    report = SpendReport(tenant_id, customer_id, clock)
    limits = _limited_campaigns(engine, tenant_id, customer_id)
    with engine.connect() as conn:
        paused_open = store.open_pauses(conn, tenant_id=tenant_id, customer_id=customer_id)
    open_by_campaign: dict[int, list[dict[str, Any]]] = {}
    for p in paused_open:
        open_by_campaign.setdefault(int(p["campaign_id"]), []).append(p)
    watched = {
        cid
        for cid, row in limits.items()
        if row["max_daily_spend_micros"] is not None or row["total_spend_limit_micros"] is not None
    }
    watched |= {
        cid
        for cid, ps in open_by_campaign.items()
        if any(p["reason"] in (DAILY, TOTAL) for p in ps)
    }
    if not watched:
        return report
    camps = _columns(client, creds, customer_id, "monitor_campaigns", clock)
    status = dict(zip(map(int, camps["campaign.id"]), camps["campaign.status"], strict=True))
    budget = dict(
        zip(
            map(int, camps["campaign.id"]),
            map(int, camps["campaign_budget.amount_micros"]),
            strict=True,
        )
    )
    zones = camps["customer.time_zone"]
    zone_name = str(zones[0]) if zones else _time_zone(engine, tenant_id, customer_id)
    zone = ZoneInfo(zone_name)
    seen_day = (clock - config.reporting_delay).astimezone(zone).date()
    recent = _columns(
        client, creds, customer_id, "monitor_spend_days", clock,
        date_from=(seen_day - dt.timedelta(days=1)).isoformat(), date_to=seen_day.isoformat(),
    )  # fmt: skip
    by_day: dict[int, dict[dt.date, int]] = {}
    for cid, day, cost in zip(
        recent["campaign.id"], recent["segments.date"], recent["metrics.cost_micros"], strict=True
    ):
        by_day.setdefault(int(cid), {})[dt.date.fromisoformat(day)] = int(cost)
    lifetime: dict[int, int] = {}
    if any(limits.get(c, {}).get("total_spend_limit_micros") is not None for c in watched):
        tot = _columns(
            client, creds, customer_id, "monitor_spend_total", clock,
            date_from=config.lifetime_from.isoformat(), date_to=seen_day.isoformat(),
        )  # fmt: skip
        lifetime = {
            int(c): int(v)
            for c, v in zip(tot["campaign.id"], tot["metrics.cost_micros"], strict=True)
        }

    now_day = clock.astimezone(zone).date()
    to_pause: list[tuple[int, str, Projection, int]] = []
    to_enable: list[tuple[int, list[dict[str, Any]]]] = []
    seen_keys: set[str] = set()
    alerts: list[dict[str, Any]] = []
    for cid in sorted(watched):
        if cid not in status:
            continue  # removed from the account: nothing spends
        report.checked += 1
        row = limits.get(cid, {})
        proj = project(
            config=config,
            clock=clock,
            time_zone=zone_name,
            budget_micros=budget.get(cid, 0),
            reported_by_day=by_day.get(cid, {}),
            lifetime_reported_micros=lifetime.get(cid, 0),
            campaign_id=cid,
        )
        daily, total = row.get("max_daily_spend_micros"), row.get("total_spend_limit_micros")
        breach = ""
        limit = 0
        if total is not None and proj.lifetime_projected_micros >= total:
            breach, limit = TOTAL, int(total)
        elif daily is not None and proj.today_projected_micros >= daily:
            breach, limit = DAILY, int(daily)
        pauses = open_by_campaign.get(cid, [])
        if status[cid] == "ENABLED":
            if breach and row.get("status") in (
                CampaignState.ACTIVE.value,
                CampaignState.OPTIMIZING.value,
                CampaignState.PAUSED.value,
            ):
                to_pause.append((cid, breach, proj, limit))
            elif daily is not None and proj.today_day_end_micros >= config.warn_ratio * daily:
                key = f"spend:projection:{customer_id}:{cid}"
                seen_keys.add(key)
                report.warnings.append(cid)
                alerts.append(
                    dict(
                        campaign_id=cid, kind="spend_projection", dedup_key=key, severity="warning",
                        title=f"campaign {cid} is on pace to spend {proj.today_day_end_micros / 1e6:,.2f} "
                        f"today, past its daily limit of {daily / 1e6:,.2f}",
                        evidence={**proj.evidence(), "max_daily_spend_micros": daily},
                    )
                )  # fmt: skip
            for p in pauses:  # someone enabled it again: that pause is over
                if p["reason"] in (DAILY, TOTAL):
                    with engine.begin() as conn:
                        store.mark_resumed(
                            conn,
                            tenant_id=tenant_id,
                            pause_id=int(p["id"]),
                            at=clock,
                            change_key="external",
                        )
            continue
        # paused in Google: keep the alerts of our own pauses open, re-enable on the next day
        mine = [p for p in pauses if p["reason"] in (DAILY, TOTAL)]
        for p in mine:
            seen_keys.add(f"spend:{p['reason']}:{customer_id}:{cid}")
        if (
            mine
            and all(p["reason"] == DAILY and p["local_date"] < now_day for p in pauses)
            and not breach
        ):
            to_enable.append((cid, mine))

    changes = [
        _change(
            tenant_id, customer_id, cid, "PAUSED", f"spend:{reason}:{clock.isoformat()}",
            f"{reason.replace('_', ' ')}: projected spend {(proj.lifetime_projected_micros if reason == TOTAL else proj.today_projected_micros) / 1e6:,.2f} "
            f"by {(clock + config.period).isoformat()} reaches the limit {limit / 1e6:,.2f}",
        )
        for cid, reason, proj, limit in to_pause
    ]  # fmt: skip
    changes += [
        _change(
            tenant_id, customer_id, cid, "ENABLED", f"spend:resume:{clock.isoformat()}",
            f"daily limit reset: a new account day ({now_day.isoformat()}) began",
        )
        for cid, _ in to_enable
    ]  # fmt: skip
    outcomes = apply_at(
        engine,
        client,
        changes,
        clock=clock,
        creds=creds,
        apply_config=apply_config,
        breaker=breaker,
    )
    for change, (cid, reason, proj, limit) in zip(changes, to_pause, strict=False):
        key = f"spend:{reason}:{customer_id}:{cid}"
        seen_keys.add(key)
        item = {
            "campaign_id": cid,
            "reason": reason,
            "limit_micros": limit,
            "change_key": change.idempotency_key,
        }
        if applied(outcomes, change):
            with engine.begin() as conn:
                store.record_pause(
                    conn,
                    values={
                        "tenant_id": tenant_id, "customer_id": customer_id, "campaign_id": cid,
                        "entity_key": change.entity.key, "reason": reason, "local_date": now_day,
                        "paused_at": clock, "change_key": change.idempotency_key,
                        "detail": {**proj.evidence(), "limit_micros": limit},
                        "resumed_at": None, "resume_change_key": None,
                    },
                )  # fmt: skip
            report.paused.append(item)
            title = (
                f"campaign {cid} paused: {reason.replace('_', ' ')} of {limit / 1e6:,.2f} reached"
            )
        else:
            item["error"] = failure(outcomes, change)
            report.failed.append(item)
            title = f"campaign {cid} reached its {reason.replace('_', ' ')} but could not be paused: {item['error']}"
        alerts.append(
            dict(
                campaign_id=cid, kind=reason, dedup_key=key, severity="critical", title=title,
                evidence={**proj.evidence(), "limit_micros": limit, "change_key": change.idempotency_key},
            )
        )  # fmt: skip
    for change, (cid, pauses) in zip(changes[len(to_pause) :], to_enable, strict=True):
        if applied(outcomes, change):
            with engine.begin() as conn:
                for p in pauses:
                    store.mark_resumed(
                        conn,
                        tenant_id=tenant_id,
                        pause_id=int(p["id"]),
                        at=clock,
                        change_key=change.idempotency_key,
                    )
            report.reenabled.append({"campaign_id": cid, "change_key": change.idempotency_key})
            seen_keys.discard(f"spend:{DAILY}:{customer_id}:{cid}")
        else:
            report.failed.append(
                {
                    "campaign_id": cid,
                    "reason": "resume",
                    "error": failure(outcomes, change),
                }
            )
    report.alert_events = publish_alerts(
        engine, tenant_id=tenant_id, customer_id=customer_id, monitor=MONITOR, alerts=alerts,
        seen=seen_keys, now=clock,
    )  # fmt: skip
    if report.paused or report.failed:
        log.warning(
            "spend monitor %s/%s at %s: %s",
            tenant_id,
            customer_id,
            clock.isoformat(),
            report.as_dict(),
        )
    return report


def _time_zone(engine: Engine, tenant_id: str, customer_id: int) -> str:
    from spectra.warehouse.repositories import get_account

    with engine.connect() as conn:
        return get_account(conn, tenant_id=tenant_id, customer_id=customer_id).time_zone or "UTC"


__all__ = ["Projection", "SpendProfile", "SpendReport", "check_spend", "project"]
