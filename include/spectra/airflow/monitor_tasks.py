"""Bodies of ``spectra_monitors``' tasks: each calls one monitor service for one account at the
run's instant and returns its small report (ids and counts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from spectra.airflow.hooks import GoogleAdsHook


def monitor_clock(context: Any) -> dt.datetime:
    """The instant a run looks at: the end of its hour (the run starts then); a ``dag.test`` or
    backfill run of one logical date collapses the interval, so its logical date."""
    end = context.get("data_interval_end") or context.get("logical_date")
    if end is None:
        raise ValueError("this run has no logical date; trigger it with one")
    return dt.datetime.fromtimestamp(end.timestamp(), tz=dt.UTC)


def _with_client(
    check: Any, account: dict[str, Any], *, clock: dt.datetime, conn_id: str
) -> dict[str, Any]:
    """One monitor that reads Google Ads for one account: the connection's client, an engine
    for the run, the report as a dict."""
    from spectra.warehouse.db import make_engine

    client, creds = GoogleAdsHook(conn_id).get_conn()
    engine = make_engine()
    try:
        report = check(
            engine,
            client,
            tenant_id=account["tenant_id"],
            customer_id=int(account["customer_id"]),
            clock=clock,
            creds=creds,
        )
    finally:
        engine.dispose()
    return report.as_dict()


def spend(account: dict[str, Any], *, clock: dt.datetime, conn_id: str) -> dict[str, Any]:
    from spectra.monitors.spend import check_spend

    return _with_client(check_spend, account, clock=clock, conn_id=conn_id)


def policy(account: dict[str, Any], *, clock: dt.datetime, conn_id: str) -> dict[str, Any]:
    from spectra.monitors.policy import check_policy

    return _with_client(check_policy, account, clock=clock, conn_id=conn_id)


def anomalies(account: dict[str, Any], *, clock: dt.datetime) -> dict[str, Any]:
    from spectra.monitors.anomaly import check_anomalies
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        report = check_anomalies(
            engine,
            tenant_id=account["tenant_id"],
            customer_id=int(account["customer_id"]),
            clock=clock,
        )
    finally:
        engine.dispose()
    return report.as_dict()


def deliver(*, tenant_id: str | None, channel_names: str | None = None) -> dict[str, int]:
    """Send the alert outbox through the configured Airflow notifiers."""
    from spectra.airflow.notifiers import channels
    from spectra.monitors.notify import deliver_pending
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        return deliver_pending(engine, channels(channel_names), tenant_id=tenant_id).as_dict()
    finally:
        engine.dispose()
