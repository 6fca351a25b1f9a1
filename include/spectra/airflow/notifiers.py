"""Airflow notifiers that deliver Spectra's alerts, and the channels built from them.

Which channels run is the Airflow Variable ``spectra_alert_channels`` (comma-separated:
``log``, ``webhook``, ``email``; default ``log``), set in ``airflow_settings.yaml``:

- ``log``: :class:`SpectraLogNotifier`, a record in the task log (always safe);
- ``webhook``: :class:`SpectraWebhookNotifier`, a JSON POST to the HTTP connection
  ``spectra_alert_webhook`` (its host is the URL; extra ``headers`` are sent too);
- ``email``: Airflow's own ``SmtpNotifier`` (the SMTP provider) through connection
  ``smtp_default``, to the addresses in Variable ``spectra_alert_email_to``.

The notifiers are ordinary ``BaseNotifier``s, so they also work as a DAG's
``on_failure_callback``; here :func:`channels` wraps them for the alert outbox
(``spectra.monitors.notify``), which calls each once per alert event.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

from spectra.monitors.notify import Channel, Notification

log = logging.getLogger("spectra.monitors.alerts")

WEBHOOK_CONN_ID = "spectra_alert_webhook"
SMTP_CONN_ID = "smtp_default"
CHANNELS_VARIABLE = "spectra_alert_channels"
EMAIL_TO_VARIABLE = "spectra_alert_email_to"


def _notification(context: Any) -> Notification:
    n = context.get("spectra_alert")
    if not isinstance(n, Notification):
        raise ValueError("a Spectra alert notifier needs context['spectra_alert']")
    return n


class SpectraLogNotifier(BaseNotifier):
    """Writes the alert to the task log (the default channel)."""

    def notify(self, context: Any) -> None:
        n = _notification(context)
        level = (
            logging.ERROR if n.severity == "critical" and n.event != "resolved" else logging.WARNING
        )
        log.log(level, "%s (%s/%s, %s)", n.subject, n.tenant_id, n.customer_id, n.kind)


class SpectraWebhookNotifier(BaseNotifier):
    """POSTs the alert as JSON to the URL of an HTTP connection; a non-2xx answer raises, so
    the event stays in the outbox for the next run."""

    template_fields = ("http_conn_id",)

    def __init__(self, *, http_conn_id: str = WEBHOOK_CONN_ID, timeout_s: float = 10.0) -> None:
        super().__init__()
        self.http_conn_id = http_conn_id
        self.timeout_s = timeout_s

    def notify(self, context: Any) -> None:
        import requests
        from airflow.sdk import BaseHook

        n = _notification(context)
        conn = BaseHook.get_connection(self.http_conn_id)
        url = conn.host or ""
        if conn.port and "://" in url and url.count(":") < 2:
            url = f"{url}:{conn.port}"
        if conn.schema:
            url = f"{url.rstrip('/')}/{conn.schema.lstrip('/')}"
        headers = {"Content-Type": "application/json", **dict(conn.extra_dejson.get("headers", {}))}
        response = requests.post(url, json=n.payload(), headers=headers, timeout=self.timeout_s)
        response.raise_for_status()


def _email(to: list[str]) -> Any:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    class _AlertEmail(SmtpNotifier):  # subject and body from the alert of this call
        def notify(self, context: Any) -> None:
            n = _notification(context)
            self.subject = n.subject
            self.html_content = (
                f"<p>{n.title}</p><p>{n.tenant_id} / {n.customer_id} · {n.monitor} · "
                f"{n.event} · {n.at.isoformat()}</p><pre>{n.evidence}</pre>"
            )
            super().notify(context)

    return _AlertEmail(to=to, smtp_conn_id=SMTP_CONN_ID, subject="-", html_content="-")


def _wrap(name: str, notifier: BaseNotifier) -> Channel:
    # Airflow's Context TypedDict names only Airflow's own keys; a notifier called outside a
    # task gets the alert under a key of ours (read back by _notification).
    return Channel(name, lambda n: notifier.notify({"spectra_alert": n}))  # type: ignore[typeddict-unknown-key]


def channels(names: str | None = None) -> list[Channel]:
    """The configured channels (Variable ``spectra_alert_channels``; default: the log)."""
    if names is None:
        from airflow.sdk import Variable

        names = str(Variable.get(CHANNELS_VARIABLE, default="log"))
    out = []
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        if name == "log":
            out.append(_wrap(name, SpectraLogNotifier()))
        elif name == "webhook":
            out.append(_wrap(name, SpectraWebhookNotifier()))
        elif name == "email":
            from airflow.sdk import Variable

            to = [a.strip() for a in str(Variable.get(EMAIL_TO_VARIABLE)).split(",") if a.strip()]
            out.append(_wrap(name, _email(to)))
        else:
            raise ValueError(f"unknown alert channel {name!r}: choose from log, webhook, email")
    return out
