"""Alert delivery from the outbox (``alert_events``) to the configured channels.

A channel is a name and a function that sends one :class:`Notification` (the Airflow adapter
wraps Airflow notifiers: a log notifier by default, a webhook, e-mail through Airflow's SMTP
provider). Each event records the channels it reached; it counts as delivered once every
channel has it, so a channel that fails is retried on the next run without re-sending to the
others, and nothing is lost while one is down.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from spectra.warehouse import monitor_store as store

log = logging.getLogger("spectra.monitors.alerts")


@dataclass(frozen=True)
class Notification:
    """One alert event as channels send it."""

    event_id: int
    tenant_id: str
    customer_id: int
    campaign_id: int | None
    monitor: str
    kind: str
    event: str  # opened | escalated | deescalated | resolved
    severity: str
    title: str
    evidence: dict[str, Any]
    at: dt.datetime

    @property
    def subject(self) -> str:
        verb = {"opened": "", "resolved": "RESOLVED: "}.get(self.event, f"{self.event.upper()}: ")
        return f"[spectra {self.severity}] {verb}{self.title}"

    def payload(self) -> dict[str, Any]:
        """The JSON body a webhook receives."""
        return {
            "event_id": self.event_id,
            "tenant_id": self.tenant_id,
            "customer_id": self.customer_id,
            "campaign_id": self.campaign_id,
            "monitor": self.monitor,
            "kind": self.kind,
            "event": self.event,
            "severity": self.severity,
            "title": self.title,
            "evidence": self.evidence,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class Channel:
    name: str
    send: Callable[[Notification], None]


def log_channel() -> Channel:
    """The default channel: one log record per event (WARNING; ERROR when critical)."""

    def send(n: Notification) -> None:
        level = (
            logging.ERROR if n.severity == "critical" and n.event != "resolved" else logging.WARNING
        )
        log.log(level, "%s (%s/%s, %s)", n.subject, n.tenant_id, n.customer_id, n.kind)

    return Channel("log", send)


@dataclass
class DeliveryReport:
    delivered: int = 0
    pending: int = 0
    failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"delivered": self.delivered, "pending": self.pending, "failures": self.failures}


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def deliver_pending(
    engine: Engine,
    channels: Sequence[Channel],
    *,
    tenant_id: str | None = None,
    now: dt.datetime | None = None,
) -> DeliveryReport:
    """Send every undelivered event to the channels it has not reached yet."""
    if not channels:
        raise ValueError("no alert channel configured: alerts would never leave the outbox")
    report = DeliveryReport()
    with engine.connect() as conn:
        events = store.alert_events(conn, tenant_id=tenant_id, pending=True)
    for e in events:
        n = Notification(
            event_id=int(e["id"]),
            tenant_id=e["tenant_id"],
            customer_id=int(e["customer_id"]),
            campaign_id=e["campaign_id"],
            monitor=e["monitor"],
            kind=e["kind"],
            event=e["event"],
            severity=e["severity"],
            title=e["title"],
            evidence=dict(e["evidence"] or {}),
            at=_aware(e["created_at"]),
        )
        reached = list(e.get("channels") or [])
        for channel in channels:
            if channel.name in reached:
                continue
            try:
                channel.send(n)
            except Exception:  # one broken channel must not silence the others
                log.exception("alert channel %s failed for event %s", channel.name, n.event_id)
                report.failures += 1
                continue
            reached.append(channel.name)
        done = all(c.name in reached for c in channels)
        with engine.begin() as conn:
            store.record_delivery(
                conn,
                tenant_id=n.tenant_id,
                event_id=n.event_id,
                channels=reached,
                delivered_at=(now or dt.datetime.now(dt.UTC)) if done else None,
            )
        if done:
            report.delivered += 1
        else:
            report.pending += 1
    return report


__all__ = ["Channel", "DeliveryReport", "Notification", "deliver_pending", "log_channel"]
