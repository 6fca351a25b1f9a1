"""
### spectra_apply — guardrails, approval in Airflow's UI, rate limit, apply

Scheduled on the asset `proposals` (updated by `spectra_daily`'s `propose`, one event per
account and day), so the daily pull never waits for a person. Per proposal of the triggering
accounts' newest day:

* **guard** — every guardrail (magnitude caps, 72-hour learning rate, spend limits, structure
  limits, statistical gate, people's locks, manual edits in Google Ads); the verdict and its
  reasons are stored on the proposal (`proposals.guardrail_status`, `guardrail_reason`), in
  `guardrail_decisions` and the audit log. Rejected proposals stop here.
* **approve** — Airflow's own HITL operator, one Required Action per proposal that needs a
  person (a budget increase over 10 %, a pause of a converting entity, new copy, a large spend
  change, anything while the tenant's autopilot is off). The body shows the change, the
  agent's reasoning, the evidence and the expected effect. Unanswered, it expires to *Reject*
  (`defaults`), never to approve. **record_answers** checks the responder's role in the
  tenant (approver or admin), records who and when on the proposal and in the audit log; a
  responder without the role is refused (audited) and the proposal rejected.
* **wait_rate_limit** — a sensor in reschedule mode (no worker slot while it waits) until the
  campaign's 72-hour learning window and the account's daily Google Ads API operations allow
  the change.
* **apply** — the apply executor (lock, read-before-send, mutate, versions, audit), per
  proposal; the outcome lands on the proposal (`applied`).

Each proposal's `wait_rate_limit` → `apply` runs in a mapped task group of its own
(`autopilot_apply` for proposals that need nobody, `approved_apply` after the answers), so a
proposal waiting on its campaign's window, or on a person, never holds back another one.

**Approve** in the UI (*Browse → Required Actions*), by REST
(`PATCH /api/v2/dags/spectra_apply/dagRuns/{run_id}/taskInstances/approve/{map_index}/hitlDetails`
with `{"chosen_options": ["Approve"]}`), or `spectra approve PROPOSAL --tenant T`.
Triggered by hand: params `tenant_id` and optionally `day` (default: the logical date).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import (
    Asset,
    Param,
    PokeReturnValue,
    TriggerRule,
    dag,
    get_current_context,
    task,
    task_group,
)

GOOGLE_ADS_CONN_ID = "google_ads_default"
PROPOSALS = Asset("proposals")
# how long a Required Action waits before it expires to "Reject" (hours; environment, read at
# parse time without I/O)
APPROVAL_TIMEOUT = timedelta(hours=float(os.environ.get("SPECTRA_APPROVAL_TIMEOUT_HOURS", "24")))
RATE_LIMIT_POKE = timedelta(minutes=5)


def _day() -> Any:
    """The run's logical date as a day, or None (asset-triggered runs have none)."""
    from spectra.airflow.tasks import report_day

    context = get_current_context()
    return report_day(context) if context.get("logical_date") else None


@dag(
    dag_id="spectra_apply",
    schedule=[PROPOSALS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["spectra", "google-ads", "apply", "guardrails", "approval"],
    default_args={
        "owner": "spectra",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
    },
    params={
        "tenant_id": Param(None, type=["null", "string"], description="By hand: this tenant"),
        "day": Param(None, type=["null", "string"], description="By hand: proposals of this day"),
    },
    doc_md=__doc__,
)
def spectra_apply() -> None:
    @task
    def select_proposals() -> list[dict[str, Any]]:
        """Which accounts' proposals of which day (the triggering asset events, or params)."""
        from spectra.airflow import apply_tasks

        context = get_current_context()
        events = [e for evs in context["triggering_asset_events"].values() for e in evs]
        return apply_tasks.scopes_of_run(events, context["params"], day=_day())

    @task
    def guard(scopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every guardrail on every proposal; verdicts on the proposals, audited."""
        from spectra.airflow import apply_tasks

        return apply_tasks.guard(scopes, run_id=get_current_context()["run_id"])

    @task
    def autopilot(guarded: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Proposals that passed every guardrail and need nobody."""
        from spectra.airflow import apply_tasks

        return apply_tasks.autopilot(guarded)

    @task
    def approval_bodies(guarded: list[dict[str, Any]]) -> list[str]:
        """The Required Actions to open: one per proposal that needs a person."""
        from spectra.airflow import apply_tasks

        return apply_tasks.approval_bodies(guarded)

    # all_done: a failed approval instance must not keep the others' answers unrecorded
    @task(trigger_rule=TriggerRule.ALL_DONE)
    def record_answers(
        guarded: list[dict[str, Any]], responses: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]]:
        """Who answered, when; approvers' approvals go on, everything else is rejected."""
        from spectra.airflow import apply_tasks

        return apply_tasks.approved(guarded, responses)

    @task.sensor(
        mode="reschedule",
        poke_interval=RATE_LIMIT_POKE.total_seconds(),
        timeout=timedelta(days=4).total_seconds(),
    )
    def wait_rate_limit(item: dict[str, Any]) -> PokeReturnValue:
        """Wait (no worker slot) for the learning window and the API operation budget."""
        from spectra.airflow import apply_tasks

        return PokeReturnValue(is_done=apply_tasks.rate_limit_ready(item), xcom_value=item)

    @task
    def apply(item: dict[str, Any]) -> dict[str, Any]:
        """The executor applies one proposal."""
        from spectra.airflow import apply_tasks

        return apply_tasks.apply(item, conn_id=GOOGLE_ADS_CONN_ID)

    def deliver(group_id: str) -> Any:
        """Rate limit, then apply, per proposal: a mapped group runs each proposal's pair on
        its own, so one waiting proposal never holds back another's apply."""

        @task_group(group_id=group_id)
        def per_proposal(item: dict[str, Any]) -> None:
            apply(wait_rate_limit(item))  # type: ignore[arg-type]

        return per_proposal

    # A TaskFlow call takes the XComArg of the value its signature names; Airflow's typing
    # knows only the latter (apache/airflow#39514): hence the arg-type ignores.
    guarded = guard(select_proposals())  # type: ignore[arg-type]
    deliver("autopilot_apply").expand(item=autopilot(guarded))  # type: ignore[arg-type]
    approvals = HITLOperator.partial(
        task_id="approve",
        subject="Spectra: approve a change to Google Ads",
        options=["Approve", "Reject"],
        defaults=["Reject"],
        response_timeout=APPROVAL_TIMEOUT,
    ).expand(body=approval_bodies(guarded))  # type: ignore[arg-type]
    go = record_answers(guarded, approvals.output)  # type: ignore[arg-type]
    deliver("approved_apply").expand(item=go)


spectra_apply()
