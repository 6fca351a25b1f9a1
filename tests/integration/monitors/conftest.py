"""Monitor tests move the sandbox's clock through hours and pause campaigns: each test gets its
own market (tiny scenario, no events) and sandbox, and a warehouse that knows its campaigns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.sandbox_campaigns import sandbox_creds

from spectra.ads.client import AdsCredentials, build_client
from spectra.sandbox.market import Market
from spectra.sandbox.server import SandboxServer


@pytest.fixture
def mon_market() -> Market:
    return Market.from_scenario("tiny", events=())


@pytest.fixture
def mon_sandbox(mon_market: Market) -> Iterator[SandboxServer]:
    with SandboxServer(mon_market, clock=mon_market.reference_date) as server:
        yield server


@pytest.fixture
def mon_creds(mon_sandbox: SandboxServer) -> AdsCredentials:
    return sandbox_creds(mon_sandbox)


@pytest.fixture
def mon_client(mon_creds: AdsCredentials) -> Any:
    return build_client(mon_creds)
