"""The gate's alert hook: every warn or block is logged and handed to the registered sinks.

Today an alert is a log line, nothing more. No task process registers a sink: each Airflow
task is a fresh process, so a sink registered anywhere else never runs where alerts are
emitted, and none ships with Spectra yet. A warn or block therefore reaches people only as an
ERROR / WARNING record of the ``spectra.quality.alerts`` logger in the task's log (and the
verdict in ``quality_runs`` and the quality report). Delivery to Slack, e-mail or a pager is the
monitors issue's work: it will register sinks where tasks start. Until then, do not count on
being notified.

The verdict itself is stored in ``quality_runs`` before any alert goes out, so an alert that
cannot be delivered loses nothing; a failing sink is logged with its traceback and the next
sink still runs."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("spectra.quality.alerts")


@dataclass(frozen=True)
class QualityAlert:
    tenant_id: str
    customer_id: int
    logical_date: dt.date
    status: str  # warn | block
    reasons: list[str] = field(default_factory=list)
    data_docs_path: str = ""

    def summary(self) -> str:
        verdict = "BLOCKED" if self.status == "block" else "WARNING"
        effect = (
            "downstream steps skip this account today"
            if self.status == "block"
            else "run continues without the quarantined rows / excluded days"
        )
        lines = [
            f"data quality {verdict} for {self.tenant_id}/{self.customer_id} on "
            f"{self.logical_date.isoformat()}: {effect}",
            *(f"  - {reason}" for reason in self.reasons),
        ]
        if self.data_docs_path:
            lines.append(f"  report: {self.data_docs_path}")
        return "\n".join(lines)


AlertSink = Callable[[QualityAlert], None]
_SINKS: list[AlertSink] = []


def register_alert_sink(sink: AlertSink) -> Callable[[], None]:
    """Add a sink; returns a function that removes it again."""
    _SINKS.append(sink)
    return lambda: _SINKS.remove(sink) if sink in _SINKS else None


def emit(alert: QualityAlert) -> None:
    """Deliver the alert to every registered sink; without sinks, log it in full."""
    level = logging.ERROR if alert.status == "block" else logging.WARNING
    if _SINKS:
        log.log(level, "alert sent to %d sink(s): %s", len(_SINKS), alert.summary().splitlines()[0])
    else:
        log.log(level, "%s", alert.summary())
    for sink in list(_SINKS):
        try:
            sink(alert)
        except Exception:  # one broken channel must not silence the others
            log.exception("alert sink %r failed", sink)
