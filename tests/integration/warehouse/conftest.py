"""Fixtures for warehouse integration tests (row factories live in warehouse_factories)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from warehouse_factories import CUSTOMER_A, CUSTOMER_B, TENANT_A, TENANT_B

from spectra.warehouse.db import unit_of_work
from spectra.warehouse.repositories import register_account, register_tenant


@pytest.fixture
def tenants(engine: Engine) -> Engine:
    """Two tenants with one account each; returns the engine for convenience."""
    with unit_of_work(engine) as uow:
        register_tenant(uow.session, tenant_id=TENANT_A, name="Acme")
        register_tenant(uow.session, tenant_id=TENANT_B, name="Globex")
        register_account(uow.session, tenant_id=TENANT_A, customer_id=CUSTOMER_A)
        register_account(uow.session, tenant_id=TENANT_B, customer_id=CUSTOMER_B)
        uow.commit()
    return engine
