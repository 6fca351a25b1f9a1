"""Alert delivery through the Airflow notifiers: the webhook notifier POSTs each event's JSON to
a real HTTP server, an answer of 500 keeps the event in the outbox, and e-mail goes through
Airflow's SMTP provider to a real SMTP server."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine

from spectra.airflow.notifiers import channels
from spectra.monitors.notify import deliver_pending
from spectra.warehouse import monitor_store
from spectra.warehouse.repositories import register_account, register_tenant

TENANT, CUSTOMER = "acme", 1234567890
NOW = dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC)


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Receiver]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hooks/spectra"
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPECTRA_ALERT_WEBHOOK", json.dumps({"conn_type": "http", "host": url})
    )
    yield handler
    server.shutdown()


def _alert(engine: Engine, key: str, severity: str = "critical") -> None:
    with engine.begin() as conn:
        monitor_store.raise_alert(
            conn, tenant_id=TENANT, customer_id=CUSTOMER, campaign_id=7, monitor="spend",
            kind="daily_limit", dedup_key=key, severity=severity,
            title="campaign 7 paused: daily limit of 100.00 reached", evidence={"limit": 100},
            now=NOW,
        )  # fmt: skip


@pytest.fixture
def account(sqlite_engine: Engine) -> Engine:
    with sqlite_engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_account(conn, tenant_id=TENANT, customer_id=CUSTOMER)
    return sqlite_engine


def test_the_webhook_gets_each_event_once_and_a_500_is_retried(
    account: Engine, webhook: type[_Receiver]
) -> None:
    _alert(account, "k1")
    webhook.status = 500
    first = deliver_pending(account, channels("log,webhook"), tenant_id=TENANT)
    assert first.pending == 1 and first.failures == 1
    webhook.status = 200
    second = deliver_pending(account, channels("log,webhook"), tenant_id=TENANT)
    assert second.delivered == 1
    assert len(webhook.received) == 2  # the failed POST and its retry, nothing more
    payload = webhook.received[-1]
    assert payload["event"] == "opened" and payload["severity"] == "critical"
    assert payload["tenant_id"] == TENANT and payload["campaign_id"] == 7
    assert payload["evidence"] == {"limit": 100}
    assert deliver_pending(account, channels("log,webhook"), tenant_id=TENANT).delivered == 0


def test_unknown_channel_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown alert channel 'pager'"):
        channels("log,pager")


def test_email_goes_through_airflows_smtp_provider(
    account: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import asyncore  # Python 3.11's own SMTP server (smtpd) runs on it
        import smtpd

    messages: list[Any] = []

    class Server(smtpd.SMTPServer):
        def process_message(
            self, peer: Any, mailfrom: str, rcpttos: list[str], data: Any, **kw: Any
        ) -> None:
            messages.append(
                (rcpttos, message_from_bytes(data if isinstance(data, bytes) else data.encode()))
            )

    server = Server(("127.0.0.1", 0), None, decode_data=False)
    port = server.socket.getsockname()[1]
    loop = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1}, daemon=True)
    loop.start()
    try:
        monkeypatch.setenv(
            "AIRFLOW_CONN_SMTP_DEFAULT",
            json.dumps(
                {
                    "conn_type": "smtp",
                    "host": "127.0.0.1",
                    "port": port,
                    "extra": {
                        "from_email": "spectra@test",
                        "disable_tls": True,
                        "disable_ssl": True,
                    },
                }
            ),
        )
        monkeypatch.setenv("AIRFLOW_VAR_SPECTRA_ALERT_EMAIL_TO", "ops@test")
        _alert(account, "k2")
        report = deliver_pending(account, channels("email"), tenant_id=TENANT)
    finally:
        server.close()
        loop.join(timeout=5)
    assert report.delivered == 1
    ((to, msg),) = messages
    assert to == ["ops@test"]
    assert msg["Subject"].startswith("[spectra critical]") and "daily limit" in msg["Subject"]
