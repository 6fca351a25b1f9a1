"""The quality gate end to end: a defect-injecting market behind a real sandbox per test,
the real client and ingest, a fresh warehouse, and Data Docs in the test's own folder.

Fixtures only: what tests import by name (``TENANT``, ``Gate``) is in quality_gate.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from quality_defects import DefectMarket
from quality_gate import Gate, make_gate
from sqlalchemy import Engine

from spectra.quality.checks import QualityConfig
from spectra.sandbox.server import SandboxServer


@pytest.fixture
def defect_market(market: Any) -> DefectMarket:
    return DefectMarket(market)


@pytest.fixture
def defect_sandbox(defect_market: DefectMarket, market: Any) -> Iterator[SandboxServer]:
    with SandboxServer(defect_market, clock=market.reference_date) as server:
        yield server


@pytest.fixture
def quality_config(tmp_path: Any) -> QualityConfig:
    return QualityConfig(quality_dir=tmp_path / "quality")


@pytest.fixture
def gate(
    sqlite_engine: Engine,
    market: Any,
    defect_sandbox: SandboxServer,
    quality_config: QualityConfig,
) -> Gate:
    """The gate on SQLite (the defect matrix runs here; idempotency runs on both backends)."""
    return make_gate(sqlite_engine, market, defect_sandbox, quality_config)


@pytest.fixture
def gate_any_backend(
    engine: Engine,
    market: Any,
    defect_sandbox: SandboxServer,
    quality_config: QualityConfig,
) -> Gate:
    return make_gate(engine, market, defect_sandbox, quality_config)


@pytest.fixture
def account(market: Any) -> int:
    """Northwind Outdoor: the tiny market's busier account (~12 conversions a day)."""
    return int(market.customer_ids()[0])
