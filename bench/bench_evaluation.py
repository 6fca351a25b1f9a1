"""The closed-loop evaluation: the whole shipped suite (every scenario, its seeds, every
policy) by the same code as ``spectra evaluate --scenario all``, timed.

Figures (added to ``results``):
- ``evaluation: campaign-days per second (spectra loop)``: simulated campaign-days the spectra
  policy's loop (ingest, gate, analyze, propose, guardrails, approvals, apply, monitors) gets
  through per second; baseline = the greedy bot's loop (ingest and its rules only);
- ``evaluation: seconds per simulated day (spectra, small account)``: the loop's cost of one
  day on the small (4-campaign) scenarios; the portfolio's days are separate;
- ``evaluation: CPU seconds per simulated day by policy``: each policy's loop, on the small
  scenarios and on the portfolio (``small`` / ``portfolio_200``): what a longer horizon costs;
- ``evaluation: whole suite``: minutes for the suite in ``JOBS`` processes (target: under 20
  on 2 cores);
- ``evaluation: spectra uplift share``, ``... A/A changes per 10 campaign-weeks``, ``... cuts
  during the tracking outage``: the scoreboard's headline numbers (targets >= 0.6, <= 1, 0).

``SPECTRA_BENCH_EVALUATION=quick`` runs two scenarios (steady, aa_null), 2 seeds, 3 days.
The report lands in ``var/bench/evaluation/`` (``reports/evaluation/`` is the committed one).
"""

from __future__ import annotations

import os
import time
from typing import Any

JOBS = 2  # one process per core of the 2-core target machine


def run(results: dict[str, Any]) -> None:
    from spectra.evaluation import report, scenarios
    from spectra.evaluation.policies import policies
    from spectra.evaluation.run import evaluate
    from spectra.settings import spectra_home

    quick = os.environ.get("SPECTRA_BENCH_EVALUATION", "") == "quick"
    names = ["steady", "aa_null"] if quick else list(scenarios.SHIPPED)
    started = time.perf_counter()
    runs = evaluate(
        [scenarios.load(n) for n in names],
        policies(None),
        seeds=2 if quick else None,
        days=3 if quick else None,
        jobs=JOBS,
        progress=lambda line: print("   " + line, flush=True),
    )
    minutes = (time.perf_counter() - started) / 60
    out = spectra_home() / "var" / "bench" / "evaluation"
    command = "make bench (bench_evaluation" + (", quick)" if quick else ")")
    report.write(runs, out, command=command)
    figures(results, runs, minutes=minutes, quick=quick)


def figures(results: dict[str, Any], runs: list[Any], *, minutes: float, quick: bool) -> None:
    """The bench's figures from a suite's runs (also from a journal: ``spectra evaluate``'s
    ``runs.jsonl``, read with ``spectra.evaluation.run.read_journal``)."""
    from spectra.evaluation import report

    summary = report.summary(report.table(runs), runs)

    def rate(chosen: list[Any]) -> float:
        return sum(r.campaign_days for r in chosen) / max(sum(r.seconds for r in chosen), 1e-9)

    def cpu(r: Any) -> float:
        return float(r.step_seconds.get("cpu", r.seconds))

    small = [r for r in runs if r.policy == "spectra" and r.scenario != "portfolio_200"]
    small_days = max(sum(r.campaign_days / 4 for r in small), 1)
    per_day = sum(r.seconds for r in small) / small_days
    cpu_per_day = sum(cpu(r) for r in small) / small_days
    spectra_rate = rate([r for r in runs if r.policy == "spectra"])
    greedy_rate = rate([r for r in runs if r.policy == "greedy"])
    horizons = sorted({(r.scenario, r.campaign_days) for r in runs})
    results["evaluation: campaign-days per second (spectra loop)"] = {
        "value": spectra_rate, "unit": "campaign-days/s", "baseline": greedy_rate,
        "ratio": spectra_rate / greedy_rate if greedy_rate else None,
    }  # fmt: skip
    results["evaluation: campaign-days per second (whole suite, every policy)"] = {
        "value": sum(r.campaign_days for r in runs) / max(minutes * 60, 1e-9),
        "unit": "campaign-days/s", "baseline": None, "ratio": None,
    }  # fmt: skip
    results["evaluation: seconds per simulated day (spectra, small account)"] = {
        "value": per_day, "unit": "s/day", "baseline": None, "ratio": None,
    }  # fmt: skip
    results["evaluation: CPU seconds per simulated day (spectra, small account)"] = {
        "value": cpu_per_day, "unit": "cpu-s/day", "baseline": None, "ratio": None,
    }  # fmt: skip
    steps_small: dict[str, float] = {}
    for r in small:
        for step, seconds in r.step_seconds.items():
            steps_small[step] = steps_small.get(step, 0.0) + seconds / small_days
    results["evaluation: seconds per simulated day (spectra, small account)"]["steps"] = {
        k: round(v, 3) for k, v in sorted(steps_small.items())
    }  # wall seconds per step of the loop, and "cpu": the process's CPU seconds
    results["evaluation: CPU seconds per simulated day by policy"] = {
        "value": cpu_per_day, "unit": "cpu-s/day", "baseline": None, "ratio": None,
        **cpu_by_policy(runs),
    }  # fmt: skip
    results["evaluation: whole suite" + (" (quick)" if quick else "")] = {
        "value": minutes, "unit": "min", "baseline": 20.0, "ratio": minutes / 20.0,
        "runs": len(runs), "jobs": JOBS,
        # the runs' own CPU (loop + set-up) over JOBS cores: the suite's minutes on an idle
        # machine (the wall figure above counts whatever else shares it)
        "cpu_minutes_per_job": sum(
            float(r.step_seconds.get("cpu", 0.0)) + float(getattr(r, "setup_cpu_seconds", 0.0))
            for r in runs
        ) / JOBS / 60,
        "horizon_days": {
            name: max(cd for n, cd in horizons if n == name)
            // max(1, _campaigns(runs, name))
            for name in sorted({n for n, _ in horizons})
        },
    }  # fmt: skip
    for key, figure, target in (
        ("uplift_share_mean", "evaluation: spectra uplift share", 0.6),
        ("aa_changes_per_10_campaign_weeks", "evaluation: A/A changes per 10 campaign-weeks", 1.0),
        ("cuts_during_outage", "evaluation: cuts during the tracking outage", 0.0),
    ):
        value = summary.get(key)
        if value is not None:
            results[figure] = {"value": value, "unit": "", "baseline": target, "ratio": None}


def cpu_by_policy(runs: list[Any]) -> dict[str, dict[str, float]]:
    """CPU seconds per simulated day of each policy's loop, on the small (4-campaign)
    scenarios and on the portfolio: what a horizon costs (the suite's minutes are about
    sum(days x CPU s/day) / JOBS, plus each run's set-up)."""
    out: dict[str, dict[str, float]] = {"small": {}, "portfolio_200": {}}
    for group, chosen in (
        ("small", [r for r in runs if r.scenario != "portfolio_200"]),
        ("portfolio_200", [r for r in runs if r.scenario == "portfolio_200"]),
    ):
        for policy in sorted({r.policy for r in chosen}):
            mine = [r for r in chosen if r.policy == policy]
            days = sum(len(r.daily_spend) for r in mine)
            cpu = sum(float(r.step_seconds.get("cpu", r.seconds)) for r in mine)
            out[group][policy] = round(cpu / max(days, 1), 3)
    return out


def _campaigns(runs: list[Any], scenario: str) -> int:
    """Campaigns of a scenario's account (campaign-days / days of its runs)."""
    for r in runs:
        if r.scenario == scenario and r.daily_spend:
            return max(1, r.campaign_days // len(r.daily_spend))
    return 1
