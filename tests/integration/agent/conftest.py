"""Fixtures for the proposal agent: an analysed warehouse (two tenants) copied per test, the
LLM stand-in on a free port, and the real google-genai client pointed at it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_support import OTHER, TENANT, analysed_account
from sqlalchemy import Engine

from spectra.agent.client import GeminiClient
from spectra.agent.settings import GeminiSettings
from spectra.sandbox.llm import LlmStandIn
from spectra.warehouse.db import make_engine, migrate


@pytest.fixture(scope="session")
def _analysed_template(tmp_path_factory: pytest.TempPathFactory, market: Any) -> Path:
    path = tmp_path_factory.mktemp("agent-template") / "spectra.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    ids = market.customer_ids()
    analysed_account(engine, market, int(ids[0]), tenant_id=TENANT)
    analysed_account(engine, market, int(ids[1]), tenant_id=OTHER)
    with engine.connect() as conn:
        conn.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def warehouse(_analysed_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh copy of the analysed warehouse (acme: first account; globex: second)."""
    path = tmp_path / "spectra.db"
    shutil.copyfile(_analysed_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


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
