"""
### spectra_launch — from a brief to a live campaign

Takes the launches stored by `spectra campaign create --brief FILE` (params: `tenant_id`,
`launch_id`; default every open launch) through the lifecycle
DRAFT → GENERATING_ASSETS → PENDING_DEPLOYMENT → DEPLOYING → ACTIVE (or FAILED with the reason
and the resources created so far), every move through the domain state machine, audited:

* **assets** — responsive-search-ad copy and keyword ideas from Gemini within Google's limits
  and through brand safety; square images from Imagen. Images that still fail after their
  retries launch **text-only** and flag the launch for review (flag, alert, audit row).
  Generated assets are content-addressed: a retry reuses them.
* **prepare** — before anything is created: an enabled conversion action for the goal
  (created if missing; if Google refuses, the launch is flagged and stays PENDING_DEPLOYMENT),
  and Google's account structure limits (over a limit → FAILED, nothing created).
* **approve** — Airflow's HITL operator, one Required Action per launch, unless the tenant's
  launch autopilot is on (`spectra campaign autopilot on`); unanswered, it expires to Reject.
* **deploy** — budget → campaign → ad groups → keywords → ads → images through the apply
  executor's recorded multi-step operation: a crash resumes from the last completed step and
  never duplicates a resource. The ACTIVE campaign is then ingested by `spectra_daily`.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, TriggerRule, dag, get_current_context, task

GOOGLE_ADS_CONN_ID = "google_ads_default"
GEMINI_CONN_ID = "gemini_default"
APPROVAL_TIMEOUT = timedelta(hours=float(os.environ.get("SPECTRA_APPROVAL_TIMEOUT_HOURS", "24")))


@dag(
    dag_id="spectra_launch",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["spectra", "google-ads", "launch", "approval"],
    default_args={"owner": "spectra", "retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "tenant_id": Param(None, type=["null", "string"], description="Only this tenant"),
        "launch_id": Param(None, type=["null", "integer"], description="Only this launch"),
    },
    doc_md=__doc__,
)
def spectra_launch() -> None:
    @task
    def select_launches() -> list[dict[str, Any]]:
        """The open launches to work on."""
        from spectra.airflow import launch_tasks

        return launch_tasks.select_launches(get_current_context()["params"])

    @task
    def assets(item: dict[str, Any]) -> dict[str, Any]:
        """Copy, keywords and images (text-only and flagged when images keep failing)."""
        from spectra.airflow import launch_tasks

        run_id = get_current_context()["run_id"]
        return launch_tasks.assets(item, conn_id=GEMINI_CONN_ID, dag_run_id=run_id)

    @task
    def prepare(item: dict[str, Any]) -> dict[str, Any]:
        """Conversion tracking and account limits, before anything is created."""
        from spectra.airflow import launch_tasks

        return launch_tasks.prepare(item, conn_id=GOOGLE_ADS_CONN_ID)

    @task
    def approval_bodies(items: list[dict[str, Any]]) -> list[str]:
        """The Required Actions to open: one per ready launch that needs a person."""
        from spectra.airflow import launch_tasks

        return launch_tasks.approval_bodies(items)

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def record_answers(
        items: list[dict[str, Any]], responses: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]]:
        """Who answered; approvers' approvals and launches needing nobody go on."""
        from spectra.airflow import launch_tasks

        return launch_tasks.approved(items, responses)

    @task
    def deploy(item: dict[str, Any]) -> dict[str, Any]:
        """Budget → campaign → ad groups → keywords → ads → images (resumable)."""
        from spectra.airflow import launch_tasks

        return launch_tasks.deploy(item, conn_id=GOOGLE_ADS_CONN_ID)

    # A TaskFlow call takes the XComArg of the value its signature names; Airflow's typing
    # knows only the latter (apache/airflow#39514): hence the arg-type ignores.
    prepared = prepare.expand(item=assets.expand(item=select_launches()))
    approvals = HITLOperator.partial(
        task_id="approve",
        subject="Spectra: approve a campaign launch",
        options=["Approve", "Reject"],
        defaults=["Reject"],
        response_timeout=APPROVAL_TIMEOUT,
    ).expand(body=approval_bodies(prepared))  # type: ignore[arg-type]
    deploy.expand(item=record_answers(prepared, approvals.output))  # type: ignore[arg-type]


spectra_launch()
