"""A private sandbox per module for market tests: they mutate the market, so they must not share
the session sandbox other integration tests read from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from spectra.ads.client import AdsCredentials, build_client
from spectra.sandbox.market import Market
from spectra.sandbox.market.scenario import Limits
from spectra.sandbox.server import SandboxServer

# small limits so "account limits exceeded" is reachable with a handful of operations
TEST_LIMITS = Limits(keywords_per_ad_group=5, negatives_per_campaign=3, enabled_rsas_per_ad_group=3)


@pytest.fixture(scope="module")
def own_market() -> Market:
    return Market.from_scenario("tiny", limits=TEST_LIMITS)


@pytest.fixture(scope="module")
def own_sandbox(own_market: Market) -> Iterator[SandboxServer]:
    with SandboxServer(own_market, clock=own_market.reference_date) as server:
        yield server


@pytest.fixture(scope="module")
def own_client(own_sandbox: SandboxServer) -> Any:
    return build_client(
        AdsCredentials(
            developer_token="test-dev-token",
            access_token="test-token",
            endpoint=own_sandbox.endpoint,
            ca_cert_path=str(own_sandbox.ca_cert),
            sandbox_clock=True,
        )
    )
