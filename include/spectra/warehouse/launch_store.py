"""SQL of the launch pipeline: briefs and their state, step outcomes, content-addressed assets.

Every function takes a Core ``Connection`` inside the caller's transaction and never commits;
every query is scoped by ``tenant_id``. A state change is a compare-and-set (``WHERE state =
<the state the caller read>``), so two writers can never both move a brief from one state.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, select, update

from spectra.warehouse.db import dialect_insert
from spectra.warehouse.models import (
    AdAccount,
    LaunchAsset,
    LaunchBrief,
    LaunchStep,
    TenantSetting,
    natural_key,
)

BRIEFS = LaunchBrief.__table__
STEPS = LaunchStep.__table__
ASSETS = LaunchAsset.__table__
ACCOUNTS = AdAccount.__table__
SETTINGS = TenantSetting.__table__


def account_owner(conn: Connection, *, customer_id: int) -> str | None:
    """The tenant a Google Ads account is registered to (None: not registered)."""
    return conn.execute(
        select(ACCOUNTS.c.tenant_id).where(ACCOUNTS.c.customer_id == customer_id)
    ).scalar_one_or_none()


def find_brief(
    conn: Connection, *, tenant_id: str, customer_id: int, campaign_name: str
) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(BRIEFS).where(
                BRIEFS.c.tenant_id == tenant_id,
                BRIEFS.c.customer_id == customer_id,
                BRIEFS.c.campaign_name == campaign_name,
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def insert_brief(conn: Connection, *, values: dict[str, Any]) -> int:
    return int(conn.execute(BRIEFS.insert().values(**values).returning(BRIEFS.c.id)).scalar_one())


def get_brief(conn: Connection, *, tenant_id: str, brief_id: int) -> dict[str, Any] | None:
    row = (
        conn.execute(select(BRIEFS).where(BRIEFS.c.tenant_id == tenant_id, BRIEFS.c.id == brief_id))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def list_briefs(
    conn: Connection, *, tenant_id: str, states: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    q = select(BRIEFS).where(BRIEFS.c.tenant_id == tenant_id)
    if states:
        q = q.where(BRIEFS.c.state.in_(states))
    return [dict(r) for r in conn.execute(q.order_by(BRIEFS.c.id)).mappings()]


def briefs_in_states(
    conn: Connection, *, tenant_id: str | None, states: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Briefs in ``states`` of one tenant, or of every tenant (the launch DAG's sweep, like
    ``resume_operations``): each row carries its tenant id."""
    q = select(BRIEFS).where(BRIEFS.c.state.in_(states))
    if tenant_id is not None:
        q = q.where(BRIEFS.c.tenant_id == tenant_id)
    return [dict(r) for r in conn.execute(q.order_by(BRIEFS.c.id)).mappings()]


def set_state(
    conn: Connection,
    *,
    tenant_id: str,
    brief_id: int,
    expected: str,
    state: str,
    reason: str,
    now: dt.datetime,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Move a brief from ``expected`` to ``state``; False if it was not in ``expected``."""
    result = conn.execute(
        update(BRIEFS)
        .where(
            BRIEFS.c.tenant_id == tenant_id,
            BRIEFS.c.id == brief_id,
            BRIEFS.c.state == expected,
        )
        .values(state=state, state_reason=reason, updated_at=now, **(extra or {}))
    )
    return result.rowcount == 1


def update_brief(
    conn: Connection, *, tenant_id: str, brief_id: int, values: dict[str, Any], now: dt.datetime
) -> None:
    """Fields other than the state (review flags, resources, operation key, campaign id)."""
    conn.execute(
        update(BRIEFS)
        .where(BRIEFS.c.tenant_id == tenant_id, BRIEFS.c.id == brief_id)
        .values(updated_at=now, **values)
    )


# --------------------------------------------------------------------------- steps


def save_step(
    conn: Connection,
    *,
    tenant_id: str,
    brief_id: int,
    step: str,
    status: str,
    detail: dict[str, Any],
    now: dt.datetime,
) -> None:
    """The step's latest outcome (its attempts counted across runs)."""
    conn.execute(
        dialect_insert(conn)(STEPS)
        .values(
            tenant_id=tenant_id,
            brief_id=brief_id,
            step=step,
            status=status,
            detail=detail,
            attempts=1,
            updated_at=now,
        )
        .on_conflict_do_update(
            index_elements=natural_key(STEPS),
            set_={
                "status": status,
                "detail": detail,
                "attempts": STEPS.c.attempts + 1,
                "updated_at": now,
            },
        )
    )


def steps_of(conn: Connection, *, tenant_id: str, brief_id: int) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        select(STEPS)
        .where(STEPS.c.tenant_id == tenant_id, STEPS.c.brief_id == brief_id)
        .order_by(STEPS.c.id)
    ).mappings()
    return {r["step"]: dict(r) for r in rows}


# --------------------------------------------------------------------------- assets


def get_asset(conn: Connection, *, tenant_id: str, request_key: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(ASSETS).where(
                ASSETS.c.tenant_id == tenant_id, ASSETS.c.request_key == request_key
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def assets_by_keys(
    conn: Connection, *, tenant_id: str, request_keys: list[str]
) -> list[dict[str, Any]]:
    """The tenant's stored assets of ``request_keys`` (those generated so far)."""
    rows = conn.execute(
        select(ASSETS).where(
            ASSETS.c.tenant_id == tenant_id, ASSETS.c.request_key.in_(request_keys)
        )
    ).mappings()
    return [dict(r) for r in rows]


def put_asset(conn: Connection, *, values: dict[str, Any]) -> None:
    """Store a generated asset once per request key (a concurrent twin keeps the first)."""
    conn.execute(
        dialect_insert(conn)(ASSETS)
        .values(**values)
        .on_conflict_do_nothing(index_elements=natural_key(ASSETS))
    )


def count_assets(conn: Connection, *, tenant_id: str) -> int:
    from sqlalchemy import func

    return int(
        conn.execute(
            select(func.count()).select_from(ASSETS).where(ASSETS.c.tenant_id == tenant_id)
        ).scalar_one()
    )


# --------------------------------------------------------------------------- settings


def launch_autopilot_of(conn: Connection, *, tenant_id: str) -> bool:
    """Whether the tenant's launches deploy without approval; off until someone turns it on."""
    value = conn.execute(
        select(SETTINGS.c.launch_autopilot).where(SETTINGS.c.tenant_id == tenant_id)
    ).scalar_one_or_none()
    return bool(value)


def set_launch_autopilot(
    conn: Connection, *, tenant_id: str, on: bool, updated_by: str, now: dt.datetime
) -> None:
    values = {"launch_autopilot": on, "updated_by": updated_by, "updated_at": now}
    conn.execute(
        dialect_insert(conn)(SETTINGS)
        .values(tenant_id=tenant_id, autopilot=False, **values)
        .on_conflict_do_update(index_elements=natural_key(SETTINGS), set_=values)
    )


__all__ = [
    "account_owner",
    "briefs_in_states",
    "count_assets",
    "find_brief",
    "get_asset",
    "get_brief",
    "insert_brief",
    "launch_autopilot_of",
    "list_briefs",
    "put_asset",
    "save_step",
    "set_launch_autopilot",
    "set_state",
    "steps_of",
    "update_brief",
]
