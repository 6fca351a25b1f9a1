"""
### spectra_monitors — spend limits, policy disapprovals and anomalies, every hour

The run at the end of each hour looks at every active account (one mapped task per account):

* `spend` — today's and lifetime spend per campaign against `max_daily_spend_micros` and
  `total_spend_limit_micros`. Google reports spend about three hours late and this DAG runs
  hourly, so the monitor projects each campaign's spend to its next run and **pauses** a
  campaign (state PAUSED, through the apply executor: locked, versioned, audited) before the
  projection reaches the limit; a projected breach by midnight **warns** earlier. A campaign
  paused for its daily limit is enabled again on the account's next day; one paused for its
  total limit stays paused until a person acts.
* `policy` — ads Google disapproved are paused (the campaign too when none of its ads may
  serve), with the policy topics stored and an alert; an approval enables them again.
* `anomalies` — the analytics engine's flagged anomalies (CPA, CTR, CPC, spend, conversions)
  become alerts with severity and evidence.
* `notify` — alert events (opened, severity changed, resolved; a persisting condition alerts
  once per change of severity) go out through Airflow notifiers: Variable
  `spectra_alert_channels` = `log` (default), `webhook` (connection `spectra_alert_webhook`),
  `email` (Airflow's SMTP provider, connection `smtp_default`, Variable `spectra_alert_email_to`).

Google Ads credentials: Airflow connection `google_ads_default`. Backfill:
`airflow backfill create --dag-id spectra_monitors --from-date … --to-date …`; every task takes
its instant from the run, and a re-run of an hour finds its changes in the apply ledger.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, TriggerRule, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

GOOGLE_ADS_CONN_ID = "google_ads_default"


@dag(
    dag_id="spectra_monitors",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=50),
    tags=["spectra", "google-ads", "monitors", "alerts"],
    default_args={
        "owner": "spectra",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
    },
    params={
        "tenant_id": Param(None, type=["null", "string"], description="Only this tenant"),
    },
    doc_md=__doc__,
)
def spectra_monitors() -> None:
    @task
    def list_accounts() -> list[dict[str, Any]]:
        """Active accounts to watch (ids only)."""
        from spectra.airflow import tasks

        return tasks.list_accounts(get_current_context()["params"].get("tenant_id"))

    @task(pool="google_ads_api", map_index_template="{{ account_label }}")
    def spend(account: dict[str, Any]) -> dict[str, Any]:
        """Pause campaigns before their spend passes a limit; re-enable daily-limit pauses."""
        from spectra.airflow import monitor_tasks

        context = get_current_context()
        context["account_label"] = f"{account['tenant_id']}/{account['customer_id']}"  # type: ignore[typeddict-unknown-key]
        return monitor_tasks.spend(
            account, clock=monitor_tasks.monitor_clock(context), conn_id=GOOGLE_ADS_CONN_ID
        )

    # all_done: one account's failed spend check must not stop the policy checks
    @task(
        pool="google_ads_api",
        trigger_rule=TriggerRule.ALL_DONE,
        map_index_template="{{ account_label }}",
    )
    def policy(account: dict[str, Any]) -> dict[str, Any]:
        """Pause disapproved ads (and campaigns left without a servable ad); undo on approval."""
        from spectra.airflow import monitor_tasks

        context = get_current_context()
        context["account_label"] = f"{account['tenant_id']}/{account['customer_id']}"  # type: ignore[typeddict-unknown-key]
        return monitor_tasks.policy(
            account, clock=monitor_tasks.monitor_clock(context), conn_id=GOOGLE_ADS_CONN_ID
        )

    @task(map_index_template="{{ account_label }}")
    def anomalies(account: dict[str, Any]) -> dict[str, Any]:
        """Alerts for the anomalies the newest analysis flagged."""
        from spectra.airflow import monitor_tasks

        context = get_current_context()
        context["account_label"] = f"{account['tenant_id']}/{account['customer_id']}"  # type: ignore[typeddict-unknown-key]
        return monitor_tasks.anomalies(account, clock=monitor_tasks.monitor_clock(context))

    # all_done: what the monitors did raise must go out even if one of them failed
    @task(trigger_rule=TriggerRule.ALL_DONE)
    def notify() -> dict[str, int]:
        """Deliver the alert outbox through the configured notifiers."""
        from spectra.airflow import monitor_tasks

        return monitor_tasks.deliver(tenant_id=get_current_context()["params"].get("tenant_id"))

    accounts = list_accounts()
    spent = spend.expand(account=accounts)
    checked = policy.expand(account=accounts)
    spent >> checked  # one writer per campaign at a time: policy after spend
    [checked, anomalies.expand(account=accounts)] >> notify()


spectra_monitors()
