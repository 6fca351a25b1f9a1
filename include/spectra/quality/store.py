"""Writing the gate's findings to the warehouse, idempotently per (account, logical day).

A re-run of the same day converges to the same rows: results and the run verdict are
upserted by their natural keys (stale results of that day are removed), quarantine entries
and data exclusions are upserted and those the re-run no longer finds are marked inactive,
never deleted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, tuple_, update

from spectra.quality.screen import QUARANTINE_KEYS
from spectra.warehouse import models as m
from spectra.warehouse.upsert import bulk_upsert

RESULT_KEYS = ["tenant_id", "customer_id", "logical_date", "suite", "expectation"]
EXCLUSION_KEYS = ["tenant_id", "customer_id", "kind", "date", "logical_date"]
RUN_KEYS = ["tenant_id", "customer_id", "logical_date"]


def write_results(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
) -> None:
    """Upsert one validation's expectation results and drop the day's results it lacks."""
    r = m.QualityResult
    if rows:
        bulk_upsert(conn, r.__table__, rows, keys=RESULT_KEYS)
    current = [(row["suite"], row["expectation"]) for row in rows]
    stale = delete(r).where(
        r.tenant_id == tenant_id, r.customer_id == customer_id, r.logical_date == logical_date
    )
    if current:
        stale = stale.where(tuple_(r.suite, r.expectation).not_in(current))
    conn.execute(stale)


def write_quarantine(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
) -> None:
    """Upsert the validate stage's entries for the day; deactivate the ones no longer found."""
    q = m.QualityQuarantine
    if rows:
        bulk_upsert(conn, q.__table__, rows, keys=QUARANTINE_KEYS)
    current = {(row["source_table"], row["row_fingerprint"], row["check_name"]) for row in rows}
    found = conn.execute(
        select(q.id, q.source_table, q.row_fingerprint, q.check_name).where(
            q.tenant_id == tenant_id,
            q.customer_id == customer_id,
            q.stage == "validate",
            q.logical_date == logical_date,
            q.active.is_(True),
        )
    )
    stale = [entry_id for entry_id, *key in found if tuple(key) not in current]
    if stale:
        conn.execute(update(q).where(q.id.in_(stale)).values(active=False, resolved_at=m.utcnow()))


def write_exclusions(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
) -> None:
    """Upsert the day's data exclusions; deactivate the ones this run no longer finds."""
    e = m.DataExclusion
    if rows:
        bulk_upsert(conn, e.__table__, rows, keys=EXCLUSION_KEYS)
    current = {(row["kind"], row["date"]) for row in rows}
    found = conn.execute(
        select(e.id, e.kind, e.date).where(
            e.tenant_id == tenant_id,
            e.customer_id == customer_id,
            e.logical_date == logical_date,
            e.active.is_(True),
        )
    )
    stale = [entry_id for entry_id, kind, day in found if (kind, day) not in current]
    if stale:
        conn.execute(update(e).where(e.id.in_(stale)).values(active=False, resolved_at=m.utcnow()))


def pin_account_settings(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    currency_code: str,
    time_zone: str,
    logical_date: dt.date,
) -> None:
    """Remember the account's currency and time zone the first time it is validated."""
    e = m.AccountExpectation
    exists = conn.execute(
        select(e.id).where(e.tenant_id == tenant_id, e.customer_id == customer_id)
    ).first()
    if exists is None:
        conn.execute(
            insert(e).values(
                tenant_id=tenant_id,
                customer_id=customer_id,
                currency_code=currency_code,
                time_zone=time_zone,
                source="pinned",
                pinned_on=logical_date,
            )
        )


def write_run(conn: Connection, row: dict[str, Any]) -> None:
    bulk_upsert(conn, m.QualityRun.__table__, [row], keys=RUN_KEYS)


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

    q, a, e = m.QualityQuarantine, m.AdAccount, m.AccountExpectation
    held = conn.execute(
        select(q.id, q.payload, q.logical_date)
        .where(
            q.tenant_id == tenant_id,
            q.customer_id == customer_id,
            q.stage == "ingest",
            q.source_table == "ad_accounts",
            q.active.is_(True),
        )
        .order_by(q.logical_date.desc(), q.id)
    ).all()
    if not held:
        raise NoHeldSettings(f"{tenant_id}/{customer_id}: no settings change is held")
    row = json.loads(held[0].payload)["row"]
    before = conn.execute(
        select(a.currency_code, a.time_zone).where(
            a.tenant_id == tenant_id, a.customer_id == customer_id
        )
    ).one()
    after = {
        "currency_code": row.get("customer.currency_code", before.currency_code),
        "time_zone": row.get("customer.time_zone", before.time_zone),
    }
    conn.execute(
        update(a).where(a.tenant_id == tenant_id, a.customer_id == customer_id).values(**after)
    )
    conn.execute(
        update(e)
        .where(e.tenant_id == tenant_id, e.customer_id == customer_id)
        .values(**after, source="accepted", pinned_on=today)
    )
    conn.execute(
        update(q).where(q.id.in_([h.id for h in held])).values(active=False, resolved_at=m.utcnow())
    )
    change = {
        "before": {"currency_code": before.currency_code, "time_zone": before.time_zone},
        "after": after,
    }
    record(
        conn,
        tenant_id=tenant_id,
        action="account_settings_accepted",
        actor=actor,
        entity=f"customer:{customer_id}",
        before=change["before"],
        after=after,
        reasoning="a person accepted the currency / time zone Google Ads reports",
    )
    return change
