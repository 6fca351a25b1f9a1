"""Re-runs, backfills, Data Docs, alerts and the report: the gate over several runs."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from quality_defects import DefectMarket, DuplicateRows, clicks_over_impressions, tracking_outage
from quality_gate import TENANT, Gate
from sqlalchemy import Engine, func, select

from spectra.quality.alerts import QualityAlert, register_alert_sink
from spectra.quality.checks import GateStatus
from spectra.quality.docs import data_docs_index, run_name, validation_page
from spectra.quality.report import gate_report, render_report
from spectra.warehouse import models as m
from spectra.warehouse.checksums import table_checksums

QUALITY_TABLES = [
    m.QualityRun.__table__,
    m.QualityResult.__table__,
    m.QualityQuarantine.__table__,
    m.DataExclusion.__table__,
    m.AccountExpectation.__table__,
]
# Wall-clock columns: when a row was (re)written, not what it says.
TIMESTAMPS = ("id", "validated_at", "quarantined_at", "created_at", "resolved_at")


def checksums(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return table_checksums(conn, QUALITY_TABLES, tenant_id=TENANT, exclude_columns=TIMESTAMPS)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in QUALITY_TABLES
        }


def test_revalidating_a_day_is_idempotent(
    gate_any_backend: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date
) -> None:
    gate = gate_any_backend
    defect_market.defects += [
        clicks_over_impressions(account, ref_day - dt.timedelta(days=5)),
        tracking_outage(account, [ref_day - dt.timedelta(days=k) for k in (12, 11)]),
    ]
    first = gate.run(account, ref_day)
    assert first.status is GateStatus.WARN and first.excluded_days and first.quarantined_rows
    before, sums = counts(gate.engine), checksums(gate.engine)
    again = gate.validate(account, ref_day)
    assert counts(gate.engine) == before and checksums(gate.engine) == sums
    assert (again.status, again.blocking, again.warnings) == (
        first.status,
        first.blocking,
        first.warnings,
    )
    gate.run(account, ref_day)  # ingest and validate again: still nothing new
    assert counts(gate.engine) == before and checksums(gate.engine) == sums


def test_a_fixed_api_clears_the_block_and_keeps_the_history(
    gate: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date
) -> None:
    defect_market.defects.append(DuplicateRows(account, (ref_day - dt.timedelta(days=4),)))
    assert gate.run(account, ref_day).status is GateStatus.BLOCK
    defect_market.defects.clear()
    fixed = gate.run(account, ref_day)
    assert fixed.status is GateStatus.PASS, fixed.blocking + fixed.warnings
    q = m.QualityQuarantine
    with gate.engine.connect() as conn:
        entries = conn.execute(select(q.active, q.resolved_at, q.check_name)).all()
    assert entries, "quarantine entries are never deleted"
    assert all(not e.active and e.resolved_at is not None for e in entries)
    assert {e.check_name for e in entries} == {"perf.keys_unique"}


def test_backfill_validates_each_day_and_reports_them(
    gate: Gate, market: Any, ref_day: dt.date
) -> None:
    days = [ref_day - dt.timedelta(days=k) for k in (2, 1, 0)]
    accounts = [int(c) for c in market.customer_ids()]
    for day in days:
        for cid in accounts:
            gate.run(cid, day)
    gate.run(accounts[0], days[0])  # re-running an old day adds nothing
    rows = gate_report(
        gate.engine, logical_dates=days, expected_accounts=[(TENANT, c) for c in accounts]
    )
    assert [(r.logical_date, r.customer_id) for r in rows] == [
        (d, c) for d in days for c in sorted(accounts)
    ]
    assert {r.status for r in rows} <= {"pass", "warn"}
    text = render_report(rows)
    assert all(d.isoformat() in text for d in days) and "totals:" in text
    with gate.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.QualityRun)).scalar_one() == 6


def test_report_lists_accounts_without_a_verdict(
    gate: Gate, account: int, ref_day: dt.date
) -> None:
    gate.run(account, ref_day)
    rows = gate_report(
        gate.engine,
        logical_dates=[ref_day],
        expected_accounts=[(TENANT, account), (TENANT, 999)],
    )
    assert [(r.customer_id, r.status) for r in rows] == [(999, "missing"), (account, "pass")]


def test_data_docs_show_the_suite_results(
    gate: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date
) -> None:
    defect_market.defects.append(clicks_over_impressions(account, ref_day - dt.timedelta(days=5)))
    outcome = gate.run(account, ref_day)
    index = data_docs_index(gate.config)
    assert outcome.data_docs_path == str(index) and index.exists()
    run = run_name(TENANT, account, ref_day)
    assert run in index.read_text()
    page = validation_page("performance_daily_rows", run, ref_day, gate.config)
    assert page is not None
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.read_text())).split())
    assert "performance_daily_rows" in text
    assert "impressions must always be greater than or equal to those in clicks" in text
    assert "Unsuccessful Expectations" in text
    for suite in ("performance_daily_coverage", "performance_daily_days", "account_settings"):
        assert validation_page(suite, run, ref_day, gate.config) is not None


def test_block_and_warn_raise_an_alert(
    gate: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date
) -> None:
    received: list[QualityAlert] = []
    unregister = register_alert_sink(received.append)
    try:
        assert gate.run(account, ref_day).status is GateStatus.PASS
        assert received == []  # a clean day is quiet
        defect_market.defects.append(DuplicateRows(account, (ref_day - dt.timedelta(days=4),)))
        gate.run(account, ref_day)
    finally:
        unregister()
    (alert,) = received
    assert alert.status == "block" and alert.customer_id == account
    assert any(r.startswith("perf.keys_unique [block]") for r in alert.reasons)
    assert "downstream steps skip this account" in alert.summary()


@pytest.mark.parametrize("broken", [True, False])
def test_a_broken_alert_sink_does_not_hide_the_verdict(
    gate: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date, broken: bool
) -> None:
    def sink(alert: QualityAlert) -> None:
        if broken:
            raise ConnectionError("pager down")

    unregister = register_alert_sink(sink)
    try:
        defect_market.defects.append(DuplicateRows(account, (ref_day - dt.timedelta(days=4),)))
        assert gate.run(account, ref_day).status is GateStatus.BLOCK
    finally:
        unregister()
    with gate.engine.connect() as conn:
        assert conn.execute(select(m.QualityRun.status)).scalar_one() == "block"


def test_an_account_without_any_data_blocks_instead_of_crashing(
    gate: Gate, account: int, ref_day: dt.date
) -> None:
    outcome = gate.validate(account, ref_day)  # registered, never ingested
    assert outcome.status is GateStatus.BLOCK
    assert outcome.blocking == [f"perf.fresh [block]: newest day is none, expected {ref_day}"]


_VALIDATE_IN_PROCESS = """
import datetime as dt, sys
from pathlib import Path
from spectra.quality.checks import QualityConfig
from spectra.quality.runner import validate_account
from spectra.warehouse.db import make_engine
url, tenant, customer_id, day, quality_dir = sys.argv[1:]
engine = make_engine(url)
try:
    outcome = validate_account(
        engine, tenant_id=tenant, customer_id=int(customer_id),
        logical_date=dt.date.fromisoformat(day), config=QualityConfig(quality_dir=Path(quality_dir)),
    )
finally:
    engine.dispose()
print(outcome.status.value)
"""


def test_parallel_validations_share_the_warehouse_and_the_docs(
    gate: Gate, market: Any, ref_day: dt.date
) -> None:
    """Mapped validate tasks run as separate processes: both verdicts land, both are listed.

    Plain subprocesses, like Airflow's task runners (a multiprocessing pool inside an xdist
    worker can lose a task to a dead worker and then wait forever)."""
    import subprocess
    import sys

    accounts = [int(c) for c in market.customer_ids()]
    for cid in accounts:
        gate.ingest(cid, ref_day)
    url = gate.engine.url.render_as_string(hide_password=False)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _VALIDATE_IN_PROCESS,
                url,
                TENANT,
                str(cid),
                ref_day.isoformat(),
                str(gate.config.quality_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cid in accounts
    ]
    statuses = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        statuses.append(out.strip().splitlines()[-1])
    assert set(statuses) <= {"pass", "warn"}
    with gate.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.QualityRun)).scalar_one() == 2
    index = data_docs_index(gate.config).read_text()
    assert all(run_name(TENANT, cid, ref_day) in index for cid in accounts)
