"""Fixtures for the proposal agent: an analysed warehouse (two tenants) copied per test, the
LLM stand-in on a free port, and the real google-genai client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_support import OTHER, TENANT, analysed_template, warehouse_copy
from sqlalchemy import Engine

from spectra.agent.client import GeminiClient
from spectra.agent.settings import GeminiSettings
from spectra.sandbox.llm import LlmStandIn


@pytest.fixture(scope="session")
def _analysed_template(tmp_path_factory: pytest.TempPathFactory, market: Any) -> Path:
    ids = market.customer_ids()
    return analysed_template(
        tmp_path_factory.mktemp("agent-template") / "spectra.db",
        market,
        {int(ids[0]): TENANT, int(ids[1]): OTHER},
    )


@pytest.fixture
def warehouse(_analysed_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh copy of the analysed warehouse (acme: first account; globex: second)."""
    with warehouse_copy(_analysed_template, tmp_path) as engine:
        yield engine


@pytest.fixture
def account(market: Any) -> int:
    return int(market.customer_ids()[0])


@pytest.fixture
def other_account(market: Any) -> int:
    return int(market.customer_ids()[1])


@pytest.fixture
def standin() -> Iterator[LlmStandIn]:
    with LlmStandIn() as server:
        yield server


@pytest.fixture
def gemini(standin: LlmStandIn) -> GeminiClient:
    """The real client in Vertex AI mode, to the stand-in; retries fast for tests."""
    settings = GeminiSettings(
        project="spectra-test", location="us-central1", base_url=standin.base_url,
        access_token="test-token", timeout_seconds=10,
    )  # fmt: skip
    return GeminiClient(
        settings, retry_attempts=3, retry_total_seconds=5, retry_max_wait_seconds=0.2
    )
