"""Launch tests run against a sandbox of their own (they create campaigns) and the LLM /
Imagen stand-in, through the real google-ads and google-genai clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.sandbox_campaigns import sandbox_creds

from spectra.ads.client import AdsCredentials, build_client
from spectra.agent.client import GeminiClient
from spectra.agent.imagen import ImagenClient
from spectra.agent.settings import GeminiSettings
from spectra.sandbox.llm import LlmStandIn
from spectra.sandbox.market import Market
from spectra.sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def launch_market() -> Market:
    return Market.from_scenario("tiny")


@pytest.fixture(scope="module")
def launch_sandbox(launch_market: Market) -> Iterator[SandboxServer]:
    with SandboxServer(launch_market, clock=launch_market.reference_date) as server:
        yield server


@pytest.fixture(scope="module")
def launch_creds(launch_sandbox: SandboxServer) -> AdsCredentials:
    return sandbox_creds(launch_sandbox, clock=False)


@pytest.fixture(scope="module")
def launch_client(launch_creds: AdsCredentials) -> Any:
    return build_client(launch_creds)


@pytest.fixture(scope="module")
def standin() -> Iterator[LlmStandIn]:
    with LlmStandIn() as server:
        yield server


@pytest.fixture
def models(standin: LlmStandIn) -> Iterator[tuple[GeminiClient, ImagenClient]]:
    standin.mode = "sound"
    standin.image_mode = "sound"
    settings = GeminiSettings(
        project="p", base_url=standin.base_url, access_token="t", timeout_seconds=5
    )
    fast = {"retry_total_seconds": 5.0, "retry_max_wait_seconds": 0.02}
    yield GeminiClient(settings, **fast), ImagenClient(settings, retry_attempts=3, **fast)
    standin.mode = "sound"
    standin.image_mode = "sound"
