"""Ingest tests share one warehouse set-up (the tenant and every account of the sandbox
market) and, for the runs under chaos, one sandbox with chaos installed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from support.ingest_chaos import BadRowsMarket, register_accounts
from support.sandbox_campaigns import sandbox_creds

from spectra.ads.client import AdsCredentials
from spectra.sandbox.chaos import Chaos, ChaosConfig
from spectra.sandbox.server import SandboxServer

INGEST_TENANT = "acme"


@pytest.fixture
def warehouse(engine: Engine, market: Any) -> Engine:
    """``engine`` (SQLite and PostgreSQL) with tenant ``acme`` owning the market's accounts."""
    return register_accounts(engine, INGEST_TENANT, market.customer_ids())


@pytest.fixture(scope="module")
def chaos_sandbox(market: Any, ref_day: dt.date) -> Iterator[SandboxServer]:
    """The market served on its own server, with two rows ingest must hold back three days
    before ``ref_day`` (so chaos can act on it without touching the shared sandbox)."""
    spoiled = BadRowsMarket(market, ref_day - dt.timedelta(days=3))
    with SandboxServer(spoiled, clock=market.reference_date) as server:
        yield server


@pytest.fixture(scope="module")
def chaos(chaos_sandbox: SandboxServer) -> Iterator[Chaos]:
    """Chaos installed on ``chaos_sandbox``: off until a test configures it."""
    c = Chaos(ChaosConfig(seed=5)).install(chaos_sandbox.state)
    yield c
    c.off()


@pytest.fixture(scope="module")
def chaos_creds(chaos_sandbox: SandboxServer) -> AdsCredentials:
    return sandbox_creds(chaos_sandbox)
