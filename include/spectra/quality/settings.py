"""A person accepts the currency or time zone change ingest holds for an account.

Google never changes an account's currency or time zone, so a change the API reports is held
(the account keeps its pinned settings) until a person says it is real; accepting it is
audited.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection

from spectra.warehouse.quality_reads import account_settings
from spectra.warehouse.quality_store import accept_settings, held_settings


class NoHeldSettings(LookupError):
    """The account has no settings change waiting to be accepted."""


def accept_account_settings(
    conn: Connection, *, tenant_id: str, customer_id: int, actor: str, today: dt.date
) -> dict[str, Any]:
    """Accept the settings change ingest holds for an account (a person's decision, audited).

    The account takes the reported currency and time zone, the pin moves to them (source
    ``accepted``, pinned ``today``), and the held entries are resolved, so the next run of
    any day passes the settings checks. Returns the before and after settings.
    """
    from spectra.observability.audit import record

    held = held_settings(conn, tenant_id=tenant_id, customer_id=customer_id)
    if held is None:
        raise NoHeldSettings(f"{tenant_id}/{customer_id}: no settings change is held")
    row = json.loads(held.payload)["row"]
    currency, time_zone = account_settings(conn, tenant_id=tenant_id, customer_id=customer_id)
    before = {"currency_code": currency, "time_zone": time_zone}
    after = {
        "currency_code": row.get("customer.currency_code", currency),
        "time_zone": row.get("customer.time_zone", time_zone),
    }
    accept_settings(
        conn, tenant_id=tenant_id, customer_id=customer_id, held=held, **after, today=today
    )
    record(
        conn,
        tenant_id=tenant_id,
        action="account_settings_accepted",
        actor=actor,
        entity=f"customer:{customer_id}",
        before=before,
        after=after,
        reasoning="a person accepted the currency / time zone Google Ads reports",
    )
    return {"before": before, "after": after}
