"""Apply tests mutate the market: each module gets its own sandbox (tiny scenario) and client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.sandbox_campaigns import sandbox_creds

from spectra.ads.client import AdsCredentials, build_client
from spectra.sandbox.market import Market
from spectra.sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def apply_market() -> Market:
    return Market.from_scenario("tiny")


@pytest.fixture(scope="module")
def apply_sandbox(apply_market: Market) -> Iterator[SandboxServer]:
    with SandboxServer(apply_market, clock=apply_market.reference_date) as server:
        yield server


@pytest.fixture(scope="module")
def apply_creds(apply_sandbox: SandboxServer) -> AdsCredentials:
    return sandbox_creds(apply_sandbox, clock=False)


@pytest.fixture(scope="module")
def apply_client(apply_creds: AdsCredentials) -> Any:
    return build_client(apply_creds)
