"""``spectra evaluate``: every policy on every seed of a scenario, day by day, then the scores.

Per (seed, policy) a fresh world (``world.open_world``): the same market, served over gRPC,
its history ingested; the policy acts once per simulated day; the run is scored from the
market's truth and the apply ledger (``metrics``).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from spectra.evaluation import metrics, steps
from spectra.evaluation.policies import Policy, needs_model
from spectra.evaluation.scenarios import EvalScenario
from spectra.evaluation.world import World, open_world, prepare

log = logging.getLogger(__name__)


def run_policy(
    world: World, policy: Policy, *, on_day: Callable[[steps.DayLog], None] | None = None
) -> tuple[list[steps.DayLog], float]:
    """The policy over the world's horizon; returns the day logs and the seconds it took."""
    started = time.perf_counter()
    logs = []
    for day in world.days:
        out = steps.DayLog(day)
        policy.act(world, day, out)
        logs.append(out)
        if on_day is not None:
            on_day(out)
    return logs, time.perf_counter() - started


def score(
    world: World, policy: Policy, logs: Sequence[steps.DayLog], seconds: float
) -> metrics.RunMetrics:
    scenario = world.scenario
    days = world.days
    money = metrics.campaign_days(world.market, world.customer_id, days)
    changes = metrics.performance_changes(metrics.ledger_changes(world.engine, world.tenant_id))
    limits = metrics.spend_limits(world.engine, world.tenant_id)
    n_campaigns = int(money["campaign_id"].nunique())
    cpa, roas = metrics.cpa_roas(money)
    by_day = money.groupby("date")
    profit_series = (by_day["value"].sum() - by_day["cost_micros"].sum() / metrics.MICROS).tolist()
    spend_series = (by_day["cost_micros"].sum() / metrics.MICROS).tolist()
    changes_per_day = Counter(c.effective_date for c in changes)
    shock = scenario.shock_days()
    react = outage_cuts = None
    if shock is not None and scenario.shock is not None:
        if scenario.shock.kind == "reaction":
            ids = None
            if scenario.shock.campaigns is not None:
                all_ids = sorted(int(c) for c in money["campaign_id"].unique())
                ids = {all_ids[i] for i in scenario.shock.campaigns}
            react = metrics.days_to_react(changes, start=shock[0], campaigns=ids, last_day=days[-1])
        else:
            outage_cuts = metrics.cuts_during(changes, start=shock[0], end=shock[1])
    step_seconds: Counter[str] = Counter()
    for out in logs:
        step_seconds.update(out.seconds)
    campaign_days = n_campaigns * len(days)
    return metrics.RunMetrics(
        scenario=scenario.name,
        seed=world.seed_index,
        policy=policy.name,
        profit=metrics.profit(money),
        cost=float(money["cost_micros"].sum() / metrics.MICROS),
        value=float(money["value"].sum()),
        cpa=cpa,
        roas=roas,
        cpa_vs_target=cpa / scenario.targets.cpa,
        roas_vs_target=roas / scenario.targets.roas,
        changes=len(changes),
        reversed=metrics.reversals(changes),
        violations=metrics.guardrail_violations(changes),
        breaches=metrics.limit_breaches(money, limits),
        aa_changes_per_10_campaign_weeks=(
            metrics.per_ten_campaign_weeks(len(changes), campaigns=n_campaigns, days=len(days))
            if scenario.aa
            else None
        ),
        days_to_react=react,
        cuts_during_outage=outage_cuts,
        ai_cost_per_campaign_day_usd=metrics.ai_cost_micros(world.engine, world.tenant_id)
        / metrics.MICROS
        / max(campaign_days, 1),
        approvals_requested=sum(o.approvals_requested for o in logs),
        seconds=seconds,
        seconds_per_day=seconds / len(days),
        campaign_days=campaign_days,
        daily_profit=[float(x) for x in profit_series],
        daily_spend=[float(x) for x in spend_series],
        daily_limit=[float(sum(limits.values()) / metrics.MICROS)] * len(days),
        daily_changes=[int(changes_per_day.get(d, 0)) for d in days],
        step_seconds=dict(step_seconds),
    )


def evaluate_scenario(
    scenario: EvalScenario,
    selected: Sequence[Policy],
    *,
    seeds: int,
    days: int | None = None,
    workdir: Path | None = None,
    keep: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[metrics.RunMetrics]:
    """Every policy on every seed; one fresh world per (seed, policy)."""
    from spectra.sandbox.llm import LlmStandIn

    scenario = scenario.model_copy(update={"days": days or scenario.days})
    own = workdir is None
    root = Path(tempfile.mkdtemp(prefix="spectra-evaluate-")) if own else workdir
    assert root is not None
    results = []
    llm = LlmStandIn(mode="sound").start() if needs_model(selected) else None
    try:
        for seed in range(seeds):
            for policy in selected:
                where = root / f"{scenario.name}-{seed}-{policy.name}"
                if where.exists():
                    shutil.rmtree(where)
                started = dt.datetime.now(dt.UTC)
                with open_world(
                    scenario, seed, workdir=where,
                    gemini_base_url=llm.base_url if llm and policy.name == "spectra" else None,
                ) as world:  # fmt: skip
                    prepare(world)
                    logs, seconds = run_policy(world, policy)
                    result = score(world, policy, logs, seconds)
                results.append(result)
                if progress:
                    progress(
                        f"{scenario.name} seed {seed} {policy.name:<20} profit {result.profit:>12,.0f}"
                        f"  changes {result.changes:>4}  {result.seconds_per_day:5.1f} s/day"
                        f"  (since {started:%H:%M:%S})"
                    )
                if not keep:
                    shutil.rmtree(where, ignore_errors=True)
    finally:
        if llm is not None:
            llm.stop()
        if own and not keep:
            shutil.rmtree(root, ignore_errors=True)
    return results
