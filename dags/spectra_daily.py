"""
### spectra_daily — pull, validate and analyse every Google Ads account, once a day

The run for logical date **D** pulls day D and the trailing re-pull window (default 30 days;
Google restates conversions for weeks) exactly as Google reported them the morning after D,
and upserts by natural keys. Re-running a day or backfilling a range converges to the same
warehouse state; re-running an old day never overwrites fresher numbers.

* `list_accounts` — active accounts of every tenant (or of `params.tenant_id`).
* `ingest` — one mapped task per account: GAQL from `sql/gaql/*.gaql`, SearchStream decoded as
  raw protobuf, bulk upserts. Rows the API got wrong (malformed, NaN, negative, duplicated key)
  are held in `quality_quarantine` with their reason instead of being written.
* `validate` — the quality gate, one mapped task per ingested account: Great Expectations suites
  on the window just loaded. **pass**: downstream proceeds. **warn** (implausible rows, a
  row-count jump, a tracking outage): downstream proceeds; the rows are quarantined and the
  outage days become data exclusions, both hidden by the `*_clean` views. **block** (broken or
  duplicated keys, NaN, negative spend, a missing day, stale data, a changed currency/time
  zone): the task returns nothing for that account, so steps mapped over `validate`'s output
  skip that account only; the reasons are in the task log and the alert.
* `quality_report` — pass / warn / block per account for the day (fails the run if an account
  got no verdict). Data Docs: `var/quality/data_docs/index.html`.
* `analyze` — one mapped task per account that passed or warned at the gate (blocked accounts
  get none): reads the clean rows, stores the run's conversion-lag snapshots, completes recent
  conversions for lag, tests every entity's metrics (Benjamini–Hochberg across the batch),
  scores anomalies against seasonal expectation, estimates applied changes' effects and writes
  the budget and keyword-bid envelopes. Re-running the day replaces its results
  (`analytics_*` tables).
* `propose` — one mapped task per analysed account: turns the envelopes into proposals. Per
  campaign one Gemini call (connection `gemini_default`; the local LLM stand-in in the demo)
  ranks and explains today's options; every answer is validated (schema, entity of this tenant
  and account, value inside the envelope, per-campaign cap, Google's copy limits), gets one
  repair request when invalid, and falls back to the deterministic envelope value otherwise.
  Re-running the day replaces its pending proposals. Updates the asset `proposals`; every call
  and its cost is in `ai_calls`.

Google Ads credentials: Airflow connection `google_ads_default`.
Backfill: `airflow backfill create --dag-id spectra_daily --from-date … --to-date …`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, TriggerRule, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

GOOGLE_ADS_CONN_ID = "google_ads_default"
GEMINI_CONN_ID = "gemini_default"
PROPOSALS = Asset("proposals")


@dag(
    dag_id="spectra_daily",
    # 06:00 UTC: the interval [D 06:00, D+1 06:00) has logical date D, so "D" is a whole day
    # that has ended when the run starts.
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["spectra", "google-ads", "ingest", "quality", "analytics", "agent"],
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

    # all_done: one account's failed ingest must not stop the others' validation.
    @task(trigger_rule=TriggerRule.ALL_DONE, map_index_template="{{ gate_label }}")
    def validate(ingested: dict[str, Any]) -> dict[str, Any] | None:
        """Quality gate: the account when it passes or warns, None (skip it) when blocked."""
        from spectra.airflow import tasks

        context = get_current_context()
        verdict = tasks.validate(
            ingested,
            day=tasks.report_day(context),
            repull_days=int(context["params"]["repull_days"]),
            dag_run_id=context["run_id"],
        )
        context["gate_label"] = tasks.gate_label(verdict)  # type: ignore[typeddict-unknown-key]
        return tasks.gate(verdict)

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def quality_report(accounts: list[dict[str, Any]]) -> dict[str, int]:
        """Pass / warn / block per account for the day (the DAG-level quality report)."""
        from spectra.airflow import tasks

        return tasks.quality_report(accounts, day=tasks.report_day(get_current_context()))

    # all_done: one account's failed validation must not stop the others' analysis; a blocked
    # or failed account has no validate output, so it gets no analyze instance.
    @task(trigger_rule=TriggerRule.ALL_DONE, map_index_template="{{ analyze_label }}")
    def analyze(account: dict[str, Any]) -> dict[str, Any]:
        """Lag completion, tests with FDR, anomalies, effects and envelopes for one account."""
        from spectra.airflow import tasks

        context = get_current_context()
        context["analyze_label"] = f"{account['tenant_id']}/{account['customer_id']}"  # type: ignore[typeddict-unknown-key]
        return tasks.analyze(account, day=tasks.report_day(context), dag_run_id=context["run_id"])

    # all_done: one account's failed analysis must not stop the others' proposals.
    @task(
        trigger_rule=TriggerRule.ALL_DONE,
        map_index_template="{{ propose_label }}",
        outlets=[PROPOSALS],
    )
    def propose(analyzed: dict[str, Any]) -> dict[str, Any]:
        """Validated proposals for one account (LLM-ranked, envelope-bounded)."""
        from spectra.airflow import tasks

        context = get_current_context()
        context["propose_label"] = f"{analyzed['tenant_id']}/{analyzed['customer_id']}"  # type: ignore[typeddict-unknown-key]
        day = tasks.report_day(context)
        # the event names the account and day, so spectra_apply reads exactly these proposals
        context["outlet_events"][PROPOSALS].extra = {
            "tenant_id": analyzed["tenant_id"],
            "customer_id": int(analyzed["customer_id"]),
            "logical_date": day.isoformat(),
        }
        return tasks.propose(
            analyzed,
            day=day,
            dag_run_id=context["run_id"],
            conn_id=GEMINI_CONN_ID,
        )

    # A TaskFlow call takes the XComArg of the value its signature names; Airflow's typing
    # knows only the latter (apache/airflow#39514): hence the arg-type ignores.
    accounts = list_accounts()
    validated = validate.expand(ingested=ingest.expand(account=accounts))
    validated >> quality_report(accounts)  # type: ignore[arg-type]
    propose.expand(analyzed=analyze.expand(account=validated))


spectra_daily()
