"""
### spectra_daily — pull, validate and analyse every Google Ads account, once a day

The run for logical date **D** pulls day D and the trailing re-pull window (default 30 days;
Google restates conversions for weeks) exactly as Google reported them the morning after D,
and upserts by natural keys. Re-running a day or backfilling a range converges to the same
warehouse state; re-running an old day never overwrites fresher numbers.

* `list_accounts` — active accounts of every tenant (or of `params.tenant_id`).
* `ingest` — one mapped task per account: GAQL from `sql/gaql/*.gaql`, SearchStream decoded as
  raw protobuf, bulk upserts.

Google Ads credentials: Airflow connection `google_ads_default`.
Backfill: `airflow backfill create --dag-id spectra_daily --from-date … --to-date …`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

GOOGLE_ADS_CONN_ID = "google_ads_default"


@dag(
    dag_id="spectra_daily",
    # 06:00 UTC: the interval [D 06:00, D+1 06:00) has logical date D, so "D" is a whole day
    # that has ended when the run starts.
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["spectra", "google-ads", "ingest"],
    default_args={
        "owner": "spectra",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    params={
        "repull_days": Param(
            30,
            type="integer",
            minimum=1,
            maximum=90,
            description="Trailing days re-pulled for restated conversions",
        ),
        "tenant_id": Param(None, type=["null", "string"], description="Only this tenant"),
    },
    doc_md=__doc__,
)
def spectra_daily() -> None:
    @task
    def list_accounts() -> list[dict[str, Any]]:
        """Accounts to ingest today (ids only)."""
        from spectra.airflow import tasks

        params = get_current_context()["params"]
        return tasks.list_accounts(params.get("tenant_id"))

    @task(pool="google_ads_api", map_index_template="{{ account_label }}")
    def ingest(account: dict[str, Any]) -> dict[str, Any]:
        """Pull the account's window from Google Ads and upsert it."""
        from spectra.airflow import tasks

        context = get_current_context()
        context["account_label"] = f"{account['tenant_id']}/{account['customer_id']}"  # type: ignore[typeddict-unknown-key]
        return tasks.ingest(
            account,
            day=tasks.report_day(context),
            repull_days=int(context["params"]["repull_days"]),
            conn_id=GOOGLE_ADS_CONN_ID,
        )

    ingest.expand(account=list_accounts())


spectra_daily()
