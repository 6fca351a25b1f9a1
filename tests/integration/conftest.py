"""A real sandbox (tiny scenario) over gRPC + TLS, and credentials for the real client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

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
    return AdsCredentials(
        developer_token="test-dev-token",
        access_token="test-token",
        endpoint=sandbox.endpoint,
        ca_cert_path=str(sandbox.ca_cert),
        sandbox_clock=True,
    )


@pytest.fixture(scope="session")
def ads_client(ads_creds: AdsCredentials) -> Any:
    return build_client(ads_creds)


@pytest.fixture(scope="session")
def ref_day(market: Any) -> dt.date:
    """A logical date inside the market's history (the day before its reference date)."""
    return market.reference_date - dt.timedelta(days=1)
