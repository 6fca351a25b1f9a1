"""Bodies of the DAG tasks: each takes primitives, calls one service, returns ids and counts.

Nothing here is imported at DAG parse time; the DAG files import it inside task bodies.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from spectra.airflow.hooks import GoogleAdsHook


def report_day(context: Any) -> dt.date:
    """The day a run is about: its logical date (dag.test and backfills collapse the interval)."""
    logical = context.get("logical_date") or context.get("data_interval_start")
    if logical is None:
        raise ValueError("this run has no logical date; trigger it with one")
    return dt.date(logical.year, logical.month, logical.day)


def list_accounts(tenant_id: str | None = None) -> list[dict[str, Any]]:
    """Active accounts to ingest, optionally for one tenant; XCom carries ids only."""
    from spectra.warehouse.db import make_engine
    from spectra.warehouse.repositories import list_active_accounts

    engine = make_engine()
    try:
        with engine.connect() as conn:
            accounts = list_active_accounts(conn, tenant_id=tenant_id)
    finally:
        engine.dispose()
    return [{"tenant_id": a.tenant_id, "customer_id": int(a.customer_id)} for a in accounts]


def ingest(
    account: dict[str, Any], *, day: dt.date, repull_days: int, conn_id: str
) -> dict[str, Any]:
    from spectra.domain.clock import daily_pull_instant
    from spectra.ingest.daily import ingest_account
    from spectra.warehouse.db import make_engine

    client, creds = GoogleAdsHook(conn_id).get_conn()
    engine = make_engine()
    try:
        result = ingest_account(
            engine,
            client,
            creds,
            tenant_id=account["tenant_id"],
            customer_id=int(account["customer_id"]),
            logical_date=day,
            repull_days=repull_days,
            # the sandbox is told the instant the daily run pulls at (06:00 UTC the next
            # day), so a backfill sees each day as that run did; Google's clock is now
            pulled_at=daily_pull_instant(day) if creds.sandbox_clock else None,
        )
    finally:
        engine.dispose()
    return result.as_dict()


# --------------------------------------------------------------------------- quality gate


class QualityReportIncomplete(RuntimeError):
    """Some accounts have no quality verdict for the day (their ingest or validate failed)."""


def validate(
    ingested: dict[str, Any], *, day: dt.date, repull_days: int, dag_run_id: str | None = None
) -> dict[str, Any]:
    """Run the quality gate on the window ingest just loaded; returns the verdict (ids, counts).

    Bad data never raises here: it is what the verdict is for. The reasons go to the task log
    (ERROR for block, WARNING for warn) and to the alert sinks (spectra.quality.alerts).
    """
    import logging

    from spectra.quality.runner import validate_account
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        outcome = validate_account(
            engine,
            tenant_id=ingested["tenant_id"],
            customer_id=int(ingested["customer_id"]),
            logical_date=day,
            repull_days=repull_days,
            dag_run_id=dag_run_id,
        )
    finally:
        engine.dispose()
    verdict = outcome.as_dict()
    log = logging.getLogger("spectra.quality.gate")
    level = {"pass": logging.INFO, "warn": logging.WARNING}.get(verdict["status"], logging.ERROR)
    log.log(level, "%s", gate_explanation(verdict, docs_url=day_docs_url(day)))
    return verdict


def day_docs_url(day: dt.date) -> str:
    """The day's Data Docs page in the Airflow UI (the Spectra plugin serves it)."""
    from spectra.airflow.local import base_url
    from spectra.quality.docs import UI_DOCS_PATH, day_page_route

    return f"{base_url()}{UI_DOCS_PATH}/{day_page_route(day)}"


def gate_explanation(verdict: dict[str, Any], *, docs_url: str = "") -> str:
    """What the gate decided for one account, and what that means for the run.

    The first line is a banner (verdict, account, day) so the log says it at a glance.
    """
    account = f"{verdict['tenant_id']}/{verdict['customer_id']}"
    effect = {
        "pass": "downstream steps read this account's data",
        "warn": "downstream steps continue; quarantined rows and excluded days stay hidden",
        "block": "downstream steps SKIP this account today (its data cannot be trusted)",
    }[verdict["status"]]
    banner = f" QUALITY GATE {verdict['status'].upper()}: {account} on {verdict['logical_date']} "
    lines = [f"{banner:=^78}", f"{effect}"]
    lines += [f"  block: {r}" for r in verdict["blocking"]]
    lines += [f"  warn:  {r}" for r in verdict["warnings"]]
    lines.append(
        f"  {verdict['rows_validated']} rows validated, {verdict['quarantined_rows']} "
        f"quarantined, excluded days {verdict['excluded_days'] or 'none'}; "
        f"Data Docs {docs_url or verdict['data_docs_path'] or '(off)'}"
    )
    return "\n".join(lines)


def gate(verdict: dict[str, Any]) -> dict[str, Any] | None:
    """The account for downstream steps when it passed or warned; None when blocked.

    Airflow does not push a None return value, so a task mapped over validate's output gets
    one instance per account that may proceed: a blocked account stops only itself.
    """
    if verdict["status"] == "block":
        return None
    return {
        "tenant_id": verdict["tenant_id"],
        "customer_id": verdict["customer_id"],
        "gate": verdict["status"],
        "quality_run_id": verdict["run_id"],
    }


def gate_label(verdict: dict[str, Any]) -> str:
    """The mapped task's label: the verdict first, in capitals unless it passed."""
    status = verdict["status"]
    return f"{status if status == 'pass' else status.upper()} {verdict['tenant_id']}/{verdict['customer_id']}"


def quality_report(accounts: list[dict[str, Any]], *, day: dt.date) -> dict[str, int]:
    """The DAG-level report: pass / warn / block per account for the day, in the task log.

    Raises QualityReportIncomplete (after logging the table) when an account has no verdict,
    so a failed ingest or validate still fails the run.
    """
    import logging

    from spectra.quality.report import MISSING, gate_report, render_report
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        rows = gate_report(
            engine,
            logical_dates=[day],
            expected_accounts=[(a["tenant_id"], int(a["customer_id"])) for a in accounts],
            only_expected=True,  # the run's tenant / accounts only, never everyone's
        )
    finally:
        engine.dispose()
    logging.getLogger("spectra.quality.report").info(
        "data quality, %s:\n%s", day.isoformat(), render_report(rows)
    )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    missing = [f"{r.tenant_id}/{r.customer_id}" for r in rows if r.status == MISSING]
    if missing:
        raise QualityReportIncomplete(f"no quality verdict on {day} for {', '.join(missing)}")
    return counts


# --------------------------------------------------------------------------- analytics


def analyze(
    account: dict[str, Any], *, day: dt.date, dag_run_id: str | None = None
) -> dict[str, Any]:
    """Analyze one account that passed (or warned at) the quality gate; returns counts.

    Reads the account's clean rows, stores its lag snapshots and replaces the day's results
    (lag curve, nowcasts, verdicts, anomalies, change effects, envelopes) in the warehouse.
    """
    from spectra.analytics.service import analyze_and_store
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        outcome = analyze_and_store(
            engine,
            tenant_id=account["tenant_id"],
            customer_id=int(account["customer_id"]),
            logical_date=day,
            gate=str(account.get("gate", "")),
            dag_run_id=dag_run_id,
        )
        log_findings(engine, account["tenant_id"], int(account["customer_id"]), day)
    finally:
        engine.dispose()
    return outcome.as_dict()


def log_findings(engine: Any, tenant_id: str, customer_id: int, day: dt.date) -> None:
    """What analyze found for the account, in the words of `spectra report` (task log)."""
    import logging

    from spectra.report import build_report
    from spectra.report.render import account_screen

    report = build_report(engine, day=day, tenant_id=tenant_id, customer_id=customer_id)
    for account in report.accounts:
        logging.getLogger("spectra.analytics").info("%s", account_screen(account, report))


# --------------------------------------------------------------------------- proposals


def propose(
    analyzed: dict[str, Any],
    *,
    day: dt.date,
    dag_run_id: str | None = None,
    conn_id: str = "gemini_default",
) -> dict[str, Any]:
    """Propose the day's changes for one analysed account; returns counts and the cost.

    Without the Gemini connection the step still runs: every campaign gets the deterministic
    proposals from its envelope, recorded as fallback with the reason (and a warning here).
    """
    import logging

    from airflow.exceptions import AirflowNotFoundException

    from spectra.agent.report import account_lines
    from spectra.agent.service import propose_account
    from spectra.airflow.hooks import GeminiHook
    from spectra.warehouse.db import make_engine

    log = logging.getLogger("spectra.agent")
    try:
        model = GeminiHook(conn_id).get_conn()
    except AirflowNotFoundException:
        log.warning("no Airflow connection %r: proposals come from the envelope only", conn_id)
        model = None
    engine = make_engine()
    try:
        outcome = propose_account(
            engine,
            model,
            tenant_id=analyzed["tenant_id"],
            customer_id=int(analyzed["customer_id"]),
            logical_date=day,
            dag_run_id=dag_run_id,
        )
        lines = account_lines(
            engine,
            tenant_id=analyzed["tenant_id"],
            customer_id=int(analyzed["customer_id"]),
            day=day,
        )
    finally:
        engine.dispose()
    log.info(
        "proposals for %s/%s on %s:\n%s",
        analyzed["tenant_id"],
        analyzed["customer_id"],
        day,
        "\n".join(lines),
    )
    return outcome.as_dict()
