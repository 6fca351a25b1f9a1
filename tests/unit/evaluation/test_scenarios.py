"""Evaluation scenario files: the shipped suite loads; a bad file names what is wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from spectra.evaluation import scenarios
from spectra.sandbox.market.scenario import scenario_from_dict


def test_every_shipped_scenario_loads_and_builds_a_market_scenario() -> None:
    for name in scenarios.SHIPPED:
        sc = scenarios.load(name)
        assert sc.name == name
        days = sc.horizon()
        assert days[-1] == sc.last_day and len(days) == sc.days
        built = scenario_from_dict(sc.market_dict(2))
        assert built.seed == int(sc.market.get("seed", 1)) + 2000


def test_shipped_scenarios_plant_what_they_are_named_for() -> None:
    lag = scenario_from_dict(scenarios.load("slow_lag").market_dict(0)).lag
    assert lag.median_days >= 7
    assert scenarios.load("aa_null").aa
    outage = scenarios.load("tracking_outage")
    assert outage.shock is not None and outage.shock.kind == "outage"
    start, end = outage.shock_days() or (None, None)
    events = scenario_from_dict(outage.market_dict(0)).events
    assert [(e.type, e.start, e.end) for e in events] == [("tracking_outage", start, end)]
    portfolio = scenario_from_dict(scenarios.load("portfolio_200").market_dict(0))
    assert portfolio.structure.campaigns_per_account == 200
    bfcm = scenarios.load("seasonal_bfcm")
    assert dt.date(2026, 11, 27) in bfcm.horizon() and dt.date(2026, 11, 30) in bfcm.horizon()


def test_a_bad_file_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("days: 0\nmarket: {reference_date: 2026-06-30}\n")
    with pytest.raises(scenarios.ScenarioFileError, match="days"):
        scenarios.load(path)
    path.write_text("market: {reference_date: 2026-06-30, structure: {nope: 1}}\n")
    with pytest.raises(scenarios.ScenarioFileError, match="nope"):
        scenarios.load(path)
    path.write_text("market: {reference_date: today}\n")
    with pytest.raises(scenarios.ScenarioFileError, match="fixed date"):
        scenarios.load(path)
    with pytest.raises(scenarios.ScenarioFileError, match="no shipped evaluation scenario"):
        scenarios.load("nonexistent")
