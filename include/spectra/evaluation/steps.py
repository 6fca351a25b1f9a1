"""The optimisation loop of one simulated day, by the same package services the DAG tasks call
(``spectra.airflow.tasks`` / ``apply_tasks`` / ``monitor_tasks``), without Airflow scheduling:

``spectra_daily``: ingest -> validate (quality gate) -> analyze -> propose (the LLM stand-in);
``spectra_apply``: guardrails -> approval (the run's policy approves what a person would be
asked, and counts it) -> rate limit -> the apply executor; ``spectra_monitors``: the spend and
policy monitors at the day's hours. ``tests/integration/evaluation`` proves this is the DAGs'
loop: the same warehouse state and the same applied changes as ``dag.test``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from spectra.evaluation.world import APPROVER, World

log = logging.getLogger(__name__)

REPULL_DAYS = 30  # spectra_daily's default param


@dataclass
class DayLog:
    """What one day of the loop did (counts), and how long each step took."""

    day: dt.date
    gate: dict[int, str] = field(default_factory=dict)
    proposals: int = 0
    guardrails: Counter[str] = field(default_factory=Counter)
    approvals_requested: int = 0
    applied: int = 0
    rate_limited: int = 0
    monitor_actions: int = 0
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))


class _Timer:
    def __init__(self, log_: DayLog, step: str) -> None:
        self.log, self.step = log_, step

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.log.seconds[self.step] += time.perf_counter() - self.started


def run_id(kind: str, day: dt.date) -> str:
    return f"evaluate__{kind}__{day.isoformat()}"


def daily(world: World, day: dt.date, out: DayLog, *, data_docs: bool = False) -> None:
    """``spectra_daily`` for one report day, every account (a blocked account stops itself)."""
    from spectra.agent.service import propose_account
    from spectra.analytics.service import NothingToAnalyze, analyze_and_store
    from spectra.domain.clock import daily_pull_instant
    from spectra.ingest.daily import ingest_account
    from spectra.quality.runner import validate_account

    daily_run = run_id("daily", day)
    for cid in world.customer_ids:
        with _Timer(out, "ingest"):
            ingest_account(
                world.engine, world.client, world.creds, tenant_id=world.tenant_id,
                customer_id=cid, logical_date=day, repull_days=REPULL_DAYS,
                pulled_at=daily_pull_instant(day),
            )  # fmt: skip
        with _Timer(out, "validate"):
            verdict = validate_account(
                world.engine, tenant_id=world.tenant_id, customer_id=cid, logical_date=day,
                repull_days=REPULL_DAYS, dag_run_id=daily_run, data_docs=data_docs,
            )  # fmt: skip
        out.gate[cid] = str(verdict.status)
        if verdict.status == "block":
            continue
        with _Timer(out, "analyze"):
            try:
                analyze_and_store(
                    world.engine, tenant_id=world.tenant_id, customer_id=cid, logical_date=day,
                    gate=str(verdict.status), dag_run_id=daily_run,
                )  # fmt: skip
            except NothingToAnalyze:
                continue
        with _Timer(out, "propose"):
            outcome = propose_account(
                world.engine, world.model, tenant_id=world.tenant_id, customer_id=cid,
                logical_date=day, dag_run_id=daily_run,
            )  # fmt: skip
        out.proposals += outcome.proposals


def approve_all(bodies: list[str], *, at: dt.datetime) -> list[dict[str, Any]]:
    """The run's approval policy: a person asked would approve; answers shaped like the HITL
    operator's XCom (one per Required Action, in map-index order)."""
    return [
        {
            "chosen_options": ["Approve"],
            "params_input": {},
            "responded_at": at.isoformat(),
            "responded_by_user": {"id": APPROVER, "name": APPROVER},
        }
        for _ in bodies
    ]


def apply(world: World, day: dt.date, out: DayLog) -> None:
    """``spectra_apply`` over the day's proposals of every account."""
    from spectra.apply.executor import ApplyConfig, apply_changes
    from spectra.domain.clock import daily_pull_instant
    from spectra.guardrails import proposals, service
    from spectra.guardrails.config import load_config

    config = load_config()
    apply_run = run_id("apply", day)
    scopes = [proposals.Scope(world.tenant_id, cid, day) for cid in world.customer_ids]
    with _Timer(out, "guardrails"):
        items = proposals.guard_proposals(world.engine, scopes, run_id=apply_run, config=config)
    out.guardrails.update(i["guardrail_status"] for i in items)
    auto = [dict(i) for i in items if i["guardrail_status"] == "accepted"]
    with _Timer(out, "approvals"):
        bodies = proposals.request_approvals(world.engine, items)
        out.approvals_requested += len(bodies)
        answered = proposals.record_answers(
            world.engine, items, approve_all(bodies, at=daily_pull_instant(day))
        )
    with _Timer(out, "apply"):
        for item in auto + answered:
            tenant, pid = item["tenant_id"], int(item["proposal_id"])
            candidate = proposals.candidate_of(world.engine, tenant_id=tenant, proposal_id=pid)
            # the simulated instant the apply runs at (the DAG's sensor reads the wall clock,
            # which a simulated day is not)
            wait = service.rate_limit_status(
                world.engine, candidate, config=config, now=daily_pull_instant(day)
            )
            if not wait.ready:  # the DAG's sensor would wait; the loop moves on to the next day
                out.rate_limited += 1
                continue
            change, proposal_day = proposals.change_of(
                world.engine, tenant_id=tenant, proposal_id=pid
            )
            report = apply_changes(
                world.engine, world.client, [change], creds=world.creds,
                config=ApplyConfig(as_of=daily_pull_instant(proposal_day)),
            )  # fmt: skip
            result = report.outcomes.get(change.idempotency_key)
            outcome = result.outcome if result else "deferred"
            detail = result.error if result else report.deferred.get(change.idempotency_key, "")
            proposals.record_applied(
                world.engine, tenant_id=tenant, proposal_id=pid, outcome=outcome, detail=detail
            )
            out.applied += outcome == "applied"


def monitors(world: World, day: dt.date, out: DayLog, *, every_hours: int = 1) -> None:
    """``spectra_monitors`` (spend and policy) at the end of each ``every_hours`` of ``day``
    in each account's own time zone (the day a daily spend limit counts; ``spectra_monitors``
    runs every hour of every day, so a simulated day must watch all of its own hours)."""
    from zoneinfo import ZoneInfo

    from spectra.monitors.policy import check_policy
    from spectra.monitors.spend import check_spend
    from spectra.warehouse.repositories import account_time_zones

    with world.engine.connect() as conn:
        zones = account_time_zones(conn, tenant_id=world.tenant_id)
    with _Timer(out, "monitors"):
        for cid in world.customer_ids:
            zone = ZoneInfo(zones.get(cid) or "UTC")
            start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
            for hour in range(every_hours, 25, every_hours):
                clock = (start + dt.timedelta(hours=hour)).astimezone(dt.UTC)
                for check in (check_spend, check_policy):
                    report = check(
                        world.engine, world.client, tenant_id=world.tenant_id, customer_id=cid,
                        clock=clock, creds=world.creds,
                    )  # fmt: skip
                    out.monitor_actions += _actions(report.as_dict())


def _actions(report: dict[str, Any]) -> int:
    return sum(
        len(v) for k, v in report.items() if k in ("paused", "reenabled") and isinstance(v, list)
    )
