"""Shared market fixtures: built once per test session (building is the slow part)."""

from __future__ import annotations

import pytest

from spectra.sandbox.market import Market


@pytest.fixture(scope="session")
def tiny() -> Market:
    return Market.from_scenario("tiny")
