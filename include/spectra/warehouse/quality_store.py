"""SQL of the quality gate's writes, idempotent per (account, logical day).

A re-run of the same day converges to the same rows: results and the run verdict are
upserted by their natural keys (stale results of that day are removed), quarantine entries
(ingest's and the validate stage's) and data exclusions are upserted and those the re-run no
longer finds are marked inactive, never deleted. Accepting a held settings change moves the
account, its pin and the held entries together. Every function takes a Core ``Connection``
in the caller's transaction, never commits, and is scoped by tenant and account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, tuple_, update

from spectra.warehouse import models as m
from spectra.warehouse.upsert import bulk_upsert

QUARANTINE_KEYS = m.natural_key(m.QualityQuarantine)
RESULT_KEYS = m.natural_key(m.QualityResult)
EXCLUSION_KEYS = m.natural_key(m.DataExclusion)
RUN_KEYS = m.natural_key(m.QualityRun)


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


def write_ingest_quarantine(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    *,
    screened_queries: Sequence[str],
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
) -> None:
    """Upsert ingest's entries for the day; deactivate (never delete) the day's older entries
    of ``screened_queries`` this run no longer finds (other queries' entries are left)."""
    q = m.QualityQuarantine
    if rows:
        bulk_upsert(conn, q.__table__, rows, keys=QUARANTINE_KEYS)
    scope = (
        q.tenant_id == tenant_id,
        q.customer_id == customer_id,
        q.stage == "ingest",
        q.logical_date == logical_date,
        q.source_query.in_(list(screened_queries)),
        q.active.is_(True),
    )
    current = {(r["row_fingerprint"], r["check_name"]) for r in rows}
    stale = [
        entry_id
        for entry_id, fingerprint, check_name in conn.execute(
            select(q.id, q.row_fingerprint, q.check_name).where(*scope)
        )
        if (fingerprint, check_name) not in current
    ]
    if stale:
        conn.execute(update(q).where(q.id.in_(stale)).values(active=False, resolved_at=m.utcnow()))


@dataclass(frozen=True)
class HeldSettings:
    """A settings change ingest holds for an account: the newest held row's payload, and
    every held entry's id (accepting resolves them all)."""

    payload: str
    entry_ids: list[int]


def held_settings(conn: Connection, *, tenant_id: str, customer_id: int) -> HeldSettings | None:
    """The account's held settings change (None: nothing is held)."""
    q = m.QualityQuarantine
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
        return None
    return HeldSettings(held[0].payload, [h.id for h in held])


def accept_settings(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    held: HeldSettings,
    currency_code: str,
    time_zone: str,
    today: dt.date,
) -> None:
    """The account takes ``currency_code`` and ``time_zone``, its pin moves to them (source
    ``accepted``, pinned ``today``) and the held entries are resolved."""
    a, e, q = m.AdAccount, m.AccountExpectation, m.QualityQuarantine
    after = {"currency_code": currency_code, "time_zone": time_zone}
    conn.execute(
        update(a).where(a.tenant_id == tenant_id, a.customer_id == customer_id).values(**after)
    )
    conn.execute(
        update(e)
        .where(e.tenant_id == tenant_id, e.customer_id == customer_id)
        .values(**after, source="accepted", pinned_on=today)
    )
    conn.execute(
        update(q).where(q.id.in_(held.entry_ids)).values(active=False, resolved_at=m.utcnow())
    )
