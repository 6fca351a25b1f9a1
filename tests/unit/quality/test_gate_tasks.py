"""The task-level gate contract the DAG relies on: None for block, the account otherwise."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine

from spectra.airflow import tasks
from spectra.warehouse import quality_store as store
from spectra.warehouse.repositories import register_account, register_tenant

DAY = dt.date(2026, 11, 20)


def verdict(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": "acme",
        "customer_id": 42,
        "logical_date": DAY.isoformat(),
        "run_id": "acme-42-2026-11-20",
        "status": status,
        "blocking": ["perf.day_present [block]: 1 of 30 rows: account 42 has no rows on …"]
        if status == "block"
        else [],
        "warnings": ["perf.tracking_ok [warn]: …"] if status == "warn" else [],
        "rows_validated": 1000,
        "quarantined_rows": 0,
        "excluded_days": [],
        "data_docs_path": "/x/index.html",
        **extra,
    }


def test_block_returns_nothing_so_mapped_downstream_skips_the_account() -> None:
    assert tasks.gate(verdict("block")) is None


@pytest.mark.parametrize("status", ["pass", "warn"])
def test_pass_and_warn_hand_the_account_on(status: str) -> None:
    assert tasks.gate(verdict(status)) == {
        "tenant_id": "acme",
        "customer_id": 42,
        "gate": status,
        "quality_run_id": "acme-42-2026-11-20",
    }


def test_the_log_explains_the_decision() -> None:
    text = tasks.gate_explanation(verdict("block"), docs_url="http://ui/spectra/docs/d.html")
    banner, effect = text.splitlines()[:2]
    assert banner.strip("=") == " QUALITY GATE BLOCK: acme/42 on 2026-11-20 "
    assert effect.startswith("downstream steps SKIP")
    assert text.endswith("Data Docs http://ui/spectra/docs/d.html")
    assert "perf.day_present [block]" in text
    assert tasks.gate_label(verdict("warn")) == "WARN acme/42"
    assert tasks.gate_label(verdict("pass")) == "pass acme/42"


def _verdict_row(customer_id: int, status: str) -> dict[str, Any]:
    return {
        "tenant_id": "acme",
        "customer_id": customer_id,
        "logical_date": DAY,
        "run_id": f"acme-{customer_id}-{DAY}",
        "status": status,
        "blocking": [],
        "warnings": [],
        "rows_validated": 1,
        "quarantined_rows": 0,
        "excluded_days": [],
        "data_docs_path": "",
        "dag_run_id": None,
    }


def test_report_counts_verdicts_and_fails_when_an_account_has_none(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPECTRA_DATABASE_URL", str(sqlite_engine.url))
    with sqlite_engine.begin() as conn:
        register_tenant(conn, tenant_id="acme", name="Acme")
        for cid in (1, 2, 3):
            register_account(conn, tenant_id="acme", customer_id=cid)
        store.write_run(conn, _verdict_row(1, "pass"))
        store.write_run(conn, _verdict_row(2, "block"))
    accounts = [{"tenant_id": "acme", "customer_id": c} for c in (1, 2)]
    assert tasks.quality_report(accounts, day=DAY) == {"pass": 1, "block": 1}
    with pytest.raises(tasks.QualityReportIncomplete, match="acme/3"):
        tasks.quality_report([*accounts, {"tenant_id": "acme", "customer_id": 3}], day=DAY)


def test_report_of_a_run_shows_only_its_own_accounts(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run limited to tenant acme must not count (or log) globex's verdicts of the same day,
    # nor acme's accounts the run did not take.
    monkeypatch.setenv("SPECTRA_DATABASE_URL", str(sqlite_engine.url))
    with sqlite_engine.begin() as conn:
        register_tenant(conn, tenant_id="acme", name="Acme")
        register_tenant(conn, tenant_id="globex", name="Globex")
        for cid in (1, 2):
            register_account(conn, tenant_id="acme", customer_id=cid)
        register_account(conn, tenant_id="globex", customer_id=7)
        store.write_run(conn, _verdict_row(1, "pass"))
        store.write_run(conn, _verdict_row(2, "warn"))
        store.write_run(
            conn, {**_verdict_row(7, "block"), "tenant_id": "globex", "run_id": "globex-7"}
        )
    assert tasks.quality_report([{"tenant_id": "acme", "customer_id": 1}], day=DAY) == {"pass": 1}
    # a run over two tenants reports both
    mixed = [{"tenant_id": "acme", "customer_id": 1}, {"tenant_id": "globex", "customer_id": 7}]
    assert tasks.quality_report(mixed, day=DAY) == {"pass": 1, "block": 1}
