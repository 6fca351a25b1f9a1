"""The quality gate end to end: a defect-injecting market behind a real sandbox per test,
the real client and ingest, a fresh warehouse, and Data Docs in the test's own folder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from quality_defects import DefectMarket
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials, build_client
from spectra.ingest.daily import IngestResult, ingest_account
from spectra.quality.checks import QualityConfig
from spectra.quality.runner import GateOutcome, validate_account
from spectra.sandbox.server import SandboxServer
from spectra.warehouse.repositories import register_account, register_tenant

TENANT = "acme"
REPULL = 30


@pytest.fixture
def defect_market(market: Any) -> DefectMarket:
    return DefectMarket(market)


@pytest.fixture
def defect_sandbox(defect_market: DefectMarket, market: Any) -> Iterator[SandboxServer]:
    with SandboxServer(defect_market, clock=market.reference_date) as server:
        yield server


@pytest.fixture
def quality_config(tmp_path: Any) -> QualityConfig:
    return QualityConfig(quality_dir=tmp_path / "quality")


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


def _gate(engine: Engine, market: Any, sandbox: SandboxServer, config: QualityConfig) -> Gate:
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


@pytest.fixture
def gate(
    sqlite_engine: Engine,
    market: Any,
    defect_sandbox: SandboxServer,
    quality_config: QualityConfig,
) -> Gate:
    """The gate on SQLite (the defect matrix runs here; idempotency runs on both backends)."""
    return _gate(sqlite_engine, market, defect_sandbox, quality_config)


@pytest.fixture
def gate_any_backend(
    engine: Engine,
    market: Any,
    defect_sandbox: SandboxServer,
    quality_config: QualityConfig,
) -> Gate:
    return _gate(engine, market, defect_sandbox, quality_config)


@pytest.fixture
def account(market: Any) -> int:
    """Northwind Outdoor: the tiny market's busier account (~12 conversions a day)."""
    return int(market.customer_ids()[0])


GateFactory = Callable[..., Gate]
