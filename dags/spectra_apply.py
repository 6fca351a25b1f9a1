"""
### spectra_apply — guardrails, approval in Airflow's UI, rate limit, apply

Per change: **guard** (every guardrail; rejected changes stop here, their reasons stored in
`guardrail_decisions`) → **approve** (Airflow's own HITL `ApprovalOperator`, one Required
Action per change that needs a person; unanswered approvals expire to *Reject*, never to
approve) → **wait_rate_limit** (a sensor in reschedule mode: it holds no worker slot while
the campaign's 72-hour learning window or the account's daily API operations keep it
waiting) → **apply** (the apply executor: lock, read-before-send, mutate, versions, audit).
Changes that pass every guardrail and need no approval apply without a person when the
tenant's autopilot is on.

Skeleton: today the changes come from the run's `changes` param (a list of
`{"change": <ApprovedChange payload>, "current": <value before>, "ref": "...", "safety": false}`).
Scheduling on the agent's `proposals` asset comes with the proposals table (issue 17).

Approve in the UI (Browse → Required Actions), by REST
(`PATCH /api/v2/dags/spectra_apply/dagRuns/{run}/taskInstances/approve/{map_index}/hitlDetails`
with `{"chosen_options": ["Approve"]}`); the responder needs the approver role in the
tenant (`spectra role grant --tenant T USER approver`), or the approval is refused and audited.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param, PokeReturnValue, TriggerRule, dag, get_current_context, task

GOOGLE_ADS_CONN_ID = "google_ads_default"
APPROVAL_TIMEOUT = timedelta(hours=24)


def _day() -> Any:
    from spectra.airflow.tasks import report_day

    return report_day(get_current_context())


@dag(
    dag_id="spectra_apply",
    schedule=None,
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
        "changes": Param([], type="array", description="Approved changes to guard and apply"),
    },
    doc_md=__doc__,
)
def spectra_apply() -> None:
    @task
    def guard() -> list[dict[str, Any]]:
        """Every guardrail on every change; decisions stored and audited."""
        from spectra.airflow import apply_tasks

        return apply_tasks.guard(get_current_context()["params"]["changes"], day=_day())

    @task
    def approval_bodies(guarded: list[dict[str, Any]]) -> list[str]:
        """The Required Actions to open: one per change that needs a person."""
        from spectra.airflow import apply_tasks

        return apply_tasks.needing_approval(guarded)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def approved(
        guarded: list[dict[str, Any]], responses: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]]:
        """Autopilot changes, and those an approver of the tenant approved."""
        from spectra.airflow import apply_tasks

        return apply_tasks.approved(guarded, list(responses or []))

    @task.sensor(
        mode="reschedule", poke_interval=300, timeout=int(timedelta(days=4).total_seconds())
    )
    def wait_rate_limit(item: dict[str, Any]) -> PokeReturnValue:
        """Wait (no worker slot) for the learning window and the API operation budget."""
        from spectra.airflow import apply_tasks

        return PokeReturnValue(is_done=apply_tasks.rate_limit_ready(item), xcom_value=item)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def apply(ready: list[dict[str, Any]] | None) -> dict[str, int]:
        """The executor applies what passed, in one run per campaign."""
        from spectra.airflow import apply_tasks

        return apply_tasks.apply(list(ready or []), conn_id=GOOGLE_ADS_CONN_ID, day=_day())

    guarded = guard()
    approvals = ApprovalOperator.partial(
        task_id="approve",
        subject="Spectra: approve a change to Google Ads",
        defaults="Reject",
        response_timeout=APPROVAL_TIMEOUT,
    ).expand(body=approval_bodies(guarded))
    go = approved(guarded, approvals.output)
    apply(wait_rate_limit.expand(item=go))


spectra_apply()
