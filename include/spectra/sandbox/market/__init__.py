"""A realistic, seeded Google Ads market for the sandbox, and the truth behind it.

Read side (served by the sandbox's SearchStream/Search)::

    m = Market.from_scenario("tiny")          # scenarios/<name>.yaml or a path; overrides: seed=…
    m.customer_ids()
    m.rows("keyword_view", customer_id=…, date_from=…, date_to=…, as_of=…, fields=frozenset({…}))

Write side (served by spectra.sandbox.mutate)::

    m.mutate(customer_id, [Mutation("campaign_budget", "update", rn, {"amount_micros": …})],
             as_of=clock, validate_only=False, partial_failure=False)   # → resource names / errors

Truth (Python only): ``Truth(m).keywords(day, bids=…, budgets=…)``, ``.matured(...)``,
``.oracle(day)``. Model pieces: model.py (response curves), simulate.py (noise, conversion lag,
outages), calendar.py (seasonality), scenario.py (YAML), mutations.py/editing.py (writes).
"""

from __future__ import annotations

from spectra.sandbox.market.market import Market, Snapshot
from spectra.sandbox.market.mutations import Mutation, MutationError, Problem
from spectra.sandbox.market.scenario import (
    Limits,
    Scenario,
    ScenarioError,
    load_scenario,
    packaged_scenarios,
)
from spectra.sandbox.market.truth import Oracle, Truth

__all__ = [
    "Limits",
    "Market",
    "Mutation",
    "MutationError",
    "Oracle",
    "Problem",
    "Scenario",
    "ScenarioError",
    "Snapshot",
    "Truth",
    "load_scenario",
    "packaged_scenarios",
]
