"""Ingest tests share one warehouse set-up: the tenant and every account of the sandbox market."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from spectra.warehouse.repositories import register_account, register_tenant

INGEST_TENANT = "acme"


@pytest.fixture
def warehouse(engine: Engine, market: Any) -> Engine:
    """``engine`` (SQLite and PostgreSQL) with tenant ``acme`` owning the market's accounts."""
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=INGEST_TENANT, name="Acme")
        for cid in market.customer_ids():
            register_account(conn, tenant_id=INGEST_TENANT, customer_id=cid)
    return engine
