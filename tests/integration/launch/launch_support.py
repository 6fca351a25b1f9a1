"""Launch test helpers: briefs for sandbox accounts, a registered tenant."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine

from spectra.launch.brief import Brief, parse_brief
from spectra.warehouse.repositories import register_account, register_tenant

EXAMPLE = Path(__file__).parents[3] / "examples" / "briefs" / "northwind-trail-running.yaml"
TENANT = "acme"


def make_brief(customer_id: int, name: str, **over: Any) -> Brief:
    """The shipped example brief, for a sandbox account and a campaign name of the test's own."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data.update(tenant=TENANT, account=str(customer_id), campaign_name=name, **over)
    return parse_brief(data, today=dt.date(2026, 12, 1))


def register(engine: Engine, *customer_ids: int) -> None:
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        for cid in customer_ids:
            register_account(conn, tenant_id=TENANT, customer_id=cid)
