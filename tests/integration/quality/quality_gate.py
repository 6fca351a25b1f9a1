"""The gate harness the quality tests share: ingest then validate one account and day.

A module of its own, not ``conftest``: with pytest's default (prepend) import mode every test
folder without ``__init__.py`` is on ``sys.path``, so ``from conftest import …`` gets whichever
folder's ``conftest`` was imported first (tests/integration/sandbox_market's, when both folders
run in one session). Fixtures stay in conftest.py; names tests import live here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials, build_client
from spectra.ingest.daily import IngestResult, ingest_account
from spectra.quality.checks import QualityConfig
from spectra.quality.runner import GateOutcome, validate_account
from spectra.sandbox.server import SandboxServer
from spectra.warehouse.repositories import register_account, register_tenant

TENANT = "acme"
REPULL = 30


@dataclass
class Gate:
    """Ingest then validate one account and day, like the DAG's two mapped steps."""

    engine: Engine
    client: Any
    creds: AdsCredentials
    config: QualityConfig
    sandbox: SandboxServer

    def ingest(self, customer_id: int, day: dt.date) -> IngestResult:
        self.sandbox.state.invalidate()  # defects may have changed since the last query
        return ingest_account(
            self.engine,
            self.client,
            self.creds,
            tenant_id=TENANT,
            customer_id=customer_id,
            logical_date=day,
            repull_days=REPULL,
        )

    def validate(self, customer_id: int, day: dt.date) -> GateOutcome:
        return validate_account(
            self.engine,
            tenant_id=TENANT,
            customer_id=customer_id,
            logical_date=day,
            repull_days=REPULL,
            config=self.config,
        )

    def run(self, customer_id: int, day: dt.date) -> GateOutcome:
        self.ingest(customer_id, day)
        return self.validate(customer_id, day)


def make_gate(engine: Engine, market: Any, sandbox: SandboxServer, config: QualityConfig) -> Gate:
    """A gate over ``engine`` with the market's accounts registered to ``TENANT``."""
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        for cid in market.customer_ids():
            register_account(conn, tenant_id=TENANT, customer_id=cid)
    creds = AdsCredentials(
        developer_token="test-dev-token",
        access_token="test-token",
        endpoint=sandbox.endpoint,
        ca_cert_path=str(sandbox.ca_cert),
        sandbox_clock=True,
    )
    return Gate(engine, build_client(creds), creds, config, sandbox)
