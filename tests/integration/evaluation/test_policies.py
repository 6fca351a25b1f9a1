"""The baseline policies do what they say, on a real world (sandbox over gRPC, warehouse):
hands-off changes nothing; greedy moves exactly the bids and budgets its rules name, from what
the API reported for the day; only the oracles read the market's truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from spectra.evaluation import policies
from spectra.evaluation.metrics import ledger_changes
from spectra.evaluation.replay import current_budgets, keyword_bids, smart_bidding_campaigns
from spectra.evaluation.run import run_policy
from spectra.evaluation.scenarios import EvalScenario
from spectra.evaluation.world import open_world, prepare
from spectra.sandbox.llm import LlmStandIn
from spectra.sandbox.market import truth
from spectra.warehouse import models as m


def _settings(world: Any, day: dt.date) -> tuple[dict[Any, int], dict[int, int]]:
    return keyword_bids(world.market, world.customer_id, day), current_budgets(
        world.market, world.customer_id, day
    )


def test_hands_off_changes_nothing(small_scenario: EvalScenario, tmp_path: Path) -> None:
    with open_world(small_scenario, 0, workdir=tmp_path / "w") as world:
        prepare(world)
        before = _settings(world, world.days[-1])
        run_policy(world, policies.POLICIES["hands_off"])
        assert _settings(world, world.days[-1]) == before
        assert ledger_changes(world.engine, world.tenant_id) == []


def test_greedy_raises_under_target_cuts_over_and_moves_budget_to_the_best(
    small_scenario: EvalScenario, tmp_path: Path
) -> None:
    one_day = small_scenario.model_copy(update={"days": 1})
    with open_world(one_day, 0, workdir=tmp_path / "w") as world:
        prepare(world)
        (day,) = world.days
        bids_before, budgets_before = _settings(world, day)
        assert not smart_bidding_campaigns(world.market, world.customer_id, day)
        run_policy(world, policies.POLICIES["greedy"])
        # in force once the day's daily run has pulled: the next day
        assert _settings(world, day) == (bids_before, budgets_before)
        bids_after, budgets_after = _settings(world, day + dt.timedelta(days=1))
        perf = pd.read_sql(
            select(m.PerformanceDaily).where(m.PerformanceDaily.date == day), world.engine
        )
    target = small_scenario.targets.cpa * 1e6
    expected_bids = dict(bids_before)
    for r in perf[perf["level"] == "keyword"].itertuples():
        key = (int(r.ad_group_id), int(r.entity_id))
        if r.conversions > 0 and r.cost_micros / r.conversions < target:
            factor = 1.2
        elif r.cost_micros > 0 and (r.conversions == 0 or r.cost_micros / r.conversions > target):
            factor = 0.8
        else:
            continue
        expected_bids[key] = max(10_000, round(bids_before[key] * factor / 10_000) * 10_000)
    assert expected_bids != bids_before  # the day gave the rules something to do
    assert bids_after == expected_bids
    camps = perf[perf["level"] == "campaign"].assign(
        roas=lambda f: f["conversions_value_micros"] / f["cost_micros"]
    )
    worst = int(camps.sort_values("roas").iloc[0]["entity_id"])
    best = int(camps.sort_values("roas").iloc[-1]["entity_id"])
    moved = budgets_before[worst] * 0.2
    assert budgets_after[worst] == round((budgets_before[worst] - moved) / 10_000) * 10_000
    assert budgets_after[best] == round((budgets_before[best] + moved) / 10_000) * 10_000


def test_only_the_oracles_read_the_truth(
    small_scenario: EvalScenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_day = small_scenario.model_copy(update={"days": 1})
    readers: list[str] = []
    current = {"policy": ""}
    real_init = truth.Truth.__init__

    def counting_init(self: Any, market: Any) -> None:
        readers.append(current["policy"])
        real_init(self, market)

    monkeypatch.setattr(truth.Truth, "__init__", counting_init)
    with LlmStandIn(mode="sound") as llm:
        for name, policy in policies.POLICIES.items():
            current["policy"] = name
            with open_world(
                one_day, 0, workdir=tmp_path / name,
                gemini_base_url=llm.base_url if name == "spectra" else None,
            ) as world:  # fmt: skip
                prepare(world)
                logs, _ = run_policy(world, policy)
                if name == "spectra":  # the loop ran for real: it proposed and judged
                    assert logs[0].proposals > 0 and sum(logs[0].guardrails.values()) > 0
    assert set(readers) == {"oracle", "oracle_unconstrained"}
    assert {n for n, p in policies.POLICIES.items() if p.reads_truth} == set(readers)
