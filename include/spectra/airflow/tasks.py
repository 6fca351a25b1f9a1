"""Bodies of the DAG tasks: each takes primitives, calls one service, returns ids and counts.

Nothing here is imported at DAG parse time; the DAG files import it inside task bodies.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from spectra.airflow.hooks import GoogleAdsHook


def report_day(context: Any) -> dt.date:
    """The day a run is about: its logical date (dag.test and backfills collapse the interval)."""
    logical = context.get("logical_date") or context.get("data_interval_start")
    if logical is None:
        raise ValueError("this run has no logical date; trigger it with one")
    return dt.date(logical.year, logical.month, logical.day)


def list_accounts(tenant_id: str | None = None) -> list[dict[str, Any]]:
    """Active accounts to ingest, optionally for one tenant; XCom carries ids only."""
    from spectra.warehouse.db import make_engine
    from spectra.warehouse.repositories import list_active_accounts

    engine = make_engine()
    try:
        with engine.connect() as conn:
            accounts = list_active_accounts(conn, tenant_id=tenant_id)
    finally:
        engine.dispose()
    return [{"tenant_id": a.tenant_id, "customer_id": int(a.customer_id)} for a in accounts]


def ingest(
    account: dict[str, Any], *, day: dt.date, repull_days: int, conn_id: str
) -> dict[str, Any]:
    from spectra.ingest.daily import ingest_account
    from spectra.warehouse.db import make_engine

    client, creds = GoogleAdsHook(conn_id).get_conn()
    engine = make_engine()
    try:
        result = ingest_account(
            engine,
            client,
            creds,
            tenant_id=account["tenant_id"],
            customer_id=int(account["customer_id"]),
            logical_date=day,
            repull_days=repull_days,
        )
    finally:
        engine.dispose()
    return result.as_dict()
