"""``spectra evaluate``: every policy on every seed of a scenario, day by day, then the scores.

Per (seed, policy) a fresh world (``world.open_world``): the same market, served over gRPC,
its history ingested; the policy acts once per simulated day; the run is scored from the
market's truth and the apply ledger (``metrics``).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spectra.evaluation import metrics, steps
from spectra.evaluation.policies import Policy, needs_model
from spectra.evaluation.scenarios import EvalScenario
from spectra.evaluation.world import World, migrated_template, open_world, prepare

log = logging.getLogger(__name__)


def run_policy(
    world: World, policy: Policy, *, on_day: Callable[[steps.DayLog], None] | None = None
) -> tuple[list[steps.DayLog], float]:
    """The policy over the world's horizon; returns the day logs and the seconds it took."""
    started = time.perf_counter()
    logs = []
    for day in world.days:
        out = steps.DayLog(day)
        cpu = time.process_time()
        policy.act(world, day, out)
        # the process's CPU (the loop and the sandbox server it hosts): on a shared machine
        # the wall clock measures the neighbours too
        out.seconds["cpu"] += time.process_time() - cpu
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
    step_seconds: defaultdict[str, float] = defaultdict(float)
    for out in logs:
        for step, step_time in out.seconds.items():
            step_seconds[step] += step_time
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
        expected_profit=metrics.expected_profit(world.market, world.customer_id, days),
    )


_LLM: Any = None  # this process's Gemini stand-in (started by the first spectra run)


def _stand_in() -> Any:
    """The process's LLM stand-in, started once and reused by every spectra run it takes
    (a stand-in per run cost a server start each time); stopped when the process exits."""
    global _LLM
    if _LLM is None:
        import atexit

        from spectra.sandbox.llm import LlmStandIn

        _LLM = LlmStandIn(mode="sound").start()
        atexit.register(_stop_stand_in)
    return _LLM


def _stop_stand_in() -> None:
    global _LLM
    if _LLM is not None:
        _LLM.stop()
        _LLM = None


def run_one(
    scenario: EvalScenario, seed: int, policy_name: str, root: Path, *, keep: bool
) -> metrics.RunMetrics:
    """One policy on one seed of a scenario: a unit of work any process can take (its own
    world: market, sandbox server and warehouse)."""
    from spectra.evaluation.policies import policies

    (policy,) = policies([policy_name])
    where = root / f"{scenario.name}-{seed}-{policy.name}"
    if where.exists():
        shutil.rmtree(where)
    llm = _stand_in() if needs_model([policy]) else None
    cpu = time.process_time()
    try:
        with open_world(
            scenario, seed, workdir=where, gemini_base_url=llm.base_url if llm else None
        ) as world:
            prepare(world, history=policy.needs_history)
            logs, seconds = run_policy(world, policy)
            scored = score(world, policy, logs, seconds)
        scored.setup_cpu_seconds = time.process_time() - cpu - scored.step_seconds.get("cpu", 0.0)
        return scored
    finally:
        if not keep:
            shutil.rmtree(where, ignore_errors=True)


# Relative cost of a policy's simulated day (measured: the spectra loop runs every step; greedy
# and the oracles send tens of changes a day through the executor; hands-off does nothing).
_POLICY_COST = {"spectra": 6.0, "greedy": 2.0, "oracle_unconstrained": 1.5, "oracle": 1.0}


def unit_cost(scenario: EvalScenario, policy_name: str) -> float:
    """A unit's expected cost, to hand a seed's largest units out first (so the last unit a
    process takes is a small one and no process idles while another finishes a large one)."""
    size = 1
    structure = scenario.market.get("structure", {})
    for key in ("accounts", "campaigns_per_account"):
        size *= int(structure.get(key, 1) or 1)
    return _POLICY_COST.get(policy_name, 0.1) * size * scenario.days


def _warm() -> None:
    """A worker's one-time imports (Great Expectations alone takes seconds)."""
    import great_expectations  # noqa: F401


def evaluate(
    scenarios: Sequence[EvalScenario],
    selected: Sequence[Policy],
    *,
    seeds: int | None = None,
    days: int | None = None,
    workdir: Path | None = None,
    keep: bool = False,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
    journal: Path | None = None,
) -> list[metrics.RunMetrics]:
    """Every policy on every seed of every scenario; one fresh world per (seed, policy).

    ``journal``: each finished run is appended there as a JSON line as soon as it ends, so
    an interrupted suite keeps what it measured (``spectra evaluate --from-runs`` reports it).

    ``jobs`` > 1 runs (scenario, seed, policy) units in that many processes (each its own
    sandbox, stand-in and warehouses), seed by seed and the costliest first within a seed;
    the results are the same as one process's, in the same order (scenario, seed, policy).
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed

    own = workdir is None
    root = Path(tempfile.mkdtemp(prefix="spectra-evaluate-")) if own else workdir
    assert root is not None
    migrated_template(root / "_template")
    names = [p.name for p in selected]
    units: list[tuple[EvalScenario, int, str]] = []
    for scenario in scenarios:
        sc = scenario.model_copy(update={"days": days or scenario.days})
        units += [(sc, seed, name) for seed in range(seeds or scenario.seeds) for name in names]
    done: dict[int, metrics.RunMetrics] = {}

    def report(index: int, r: metrics.RunMetrics) -> None:
        done[index] = r
        if journal is not None:
            journal.parent.mkdir(parents=True, exist_ok=True)
            with journal.open("a") as out:
                out.write(json.dumps(r.as_dict(), default=str) + "\n")
        if progress:
            progress(
                f"{r.scenario} seed {r.seed} {r.policy:<20} profit {r.profit:>12,.0f}"
                f"  changes {r.changes:>4}  {r.seconds_per_day:5.1f} s/day"
                f"  [{len(done)}/{len(units)}]"
            )

    try:
        if jobs <= 1:
            for i, (sc, seed, name) in enumerate(units):
                report(i, run_one(sc, seed, name, root, keep=keep))
        else:
            # seed by seed (an interrupted suite has whole seeds of every scenario), the
            # costliest units of a seed first (its cheap ones fill the processes' tails)
            order = sorted(
                range(len(units)), key=lambda i: (units[i][1], -unit_cost(units[i][0], units[i][2]))
            )
            with ProcessPoolExecutor(max_workers=jobs, initializer=_warm) as pool:
                futures = {pool.submit(run_one, *units[i][:3], root, keep=keep): i for i in order}
                for future in as_completed(futures):
                    report(futures[future], future.result())
    finally:
        _stop_stand_in()  # this process's (the workers stop theirs as they exit)
        if own and not keep:
            shutil.rmtree(root, ignore_errors=True)
    return [done[i] for i in range(len(units))]


def read_journal(path: Path) -> list[metrics.RunMetrics]:
    """The runs a journal holds (see :func:`evaluate`)."""
    runs = []
    for line in path.read_text().splitlines():
        if line.strip():
            runs.append(metrics.RunMetrics(**json.loads(line)))
    return runs
