"""Guardrail tests mutate the market: each module gets its own sandbox (tiny) and client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.sandbox_campaigns import sandbox_creds

from spectra.ads.client import AdsCredentials, build_client
from spectra.sandbox.market import Market
from spectra.sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def guard_market() -> Market:
    return Market.from_scenario("tiny")


@pytest.fixture(scope="module")
def guard_sandbox(guard_market: Market) -> Iterator[SandboxServer]:
    with SandboxServer(guard_market, clock=guard_market.reference_date) as server:
        yield server


@pytest.fixture(scope="module")
def guard_creds(guard_sandbox: SandboxServer) -> AdsCredentials:
    return sandbox_creds(guard_sandbox)


@pytest.fixture(scope="module")
def guard_client(guard_creds: AdsCredentials) -> Any:
    return build_client(guard_creds)
