"""A realistic, seeded Google Ads market for the sandbox (and the truth behind it).

``Market.from_scenario("tiny")`` builds accounts → campaigns → ad groups → keywords → search terms
and RSAs from a scenario YAML; ``Market.rows(...)`` serves GAQL-shaped rows as of a clock date.
See model.py (response curves), simulate.py (noise and conversion lag), calendar.py (seasonality).
"""

from __future__ import annotations

from spectra.sandbox.market.market import Market, Snapshot
from spectra.sandbox.market.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    packaged_scenarios,
)

__all__ = ["Market", "Scenario", "ScenarioError", "Snapshot", "load_scenario", "packaged_scenarios"]
