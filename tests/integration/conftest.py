"""A real sandbox (tiny scenario) over gRPC + TLS, and credentials for the real client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from support.sandbox_campaigns import sandbox_creds

from spectra.ads.client import AdsCredentials, build_client
from spectra.sandbox.server import SandboxServer

SCENARIO = "tiny"


@pytest.fixture(scope="session")
def market() -> Any:
    from spectra.sandbox.market import Market

    return Market.from_scenario(SCENARIO)


@pytest.fixture(scope="session")
def sandbox(market: Any) -> Iterator[SandboxServer]:
    server = SandboxServer(market, clock=market.reference_date)
    with server:
        yield server


@pytest.fixture(scope="session")
def ads_creds(sandbox: SandboxServer) -> AdsCredentials:
    return sandbox_creds(sandbox)


@pytest.fixture(scope="session")
def ads_client(ads_creds: AdsCredentials) -> Any:
    return build_client(ads_creds)


@pytest.fixture(scope="session")
def ref_day(market: Any) -> dt.date:
    """A logical date inside the market's history (the day before its reference date)."""
    return market.reference_date - dt.timedelta(days=1)
