"""`spectra report` and the demo's findings: what the warehouse holds, told per account.

A warehouse seeded the way validate and analyze write it: one account clean, one with a
two-day tracking outage that the gate excluded first on a later run. The report must say
when the outage was caught and why then, the flagged anomaly and its reason, the significant
verdict, the budget moves with their expected value and the lag completion; scoped to the
account asked for, in Markdown and in JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from spectra.cli import main
from spectra.report import build_report, newest_day, render_json, render_markdown
from spectra.report.render import account_screen
from spectra.warehouse import models as m
from spectra.warehouse.repositories import register_account, register_tenant

TENANT = "acme"
CLEAN, OUTAGE = 111, 222
DAY = dt.date(2026, 11, 30)
OUT1, OUT2 = dt.date(2026, 11, 25), dt.date(2026, 11, 26)


def _quality_run(customer_id: int, day: dt.date, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": TENANT, "customer_id": customer_id, "logical_date": day,
        "run_id": f"{TENANT}-{customer_id}-{day}", "status": status, "blocking": [],
        "warnings": [], "rows_validated": 100, "quarantined_rows": 0, "excluded_days": [],
        "data_docs_path": "", "dag_run_id": None, **extra,
    }  # fmt: skip


def _exclusion(day: dt.date, found_on: dt.date, expected: float) -> dict[str, Any]:
    return {
        "tenant_id": TENANT, "customer_id": OUTAGE, "kind": "tracking_outage", "date": day,
        "logical_date": found_on, "reason": "0.0 conversions where due", "clicks": 200,
        "conversions": 0.0, "expected_conversions": expected, "active": True,
    }  # fmt: skip


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    warn = "perf.tracking_ok [warn]: 2 of 7 days judged: 2026-11-25; 2026-11-26"
    key = {"tenant_id": TENANT, "customer_id": OUTAGE, "logical_date": DAY}
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        for cid in (CLEAN, OUTAGE):
            register_account(conn, tenant_id=TENANT, customer_id=cid)
            conn.execute(insert(m.AccountExpectation), [{
                "tenant_id": TENANT, "customer_id": cid, "currency_code": "EUR",
                "time_zone": "Europe/Berlin", "pinned_on": DAY,
            }])  # fmt: skip
        days = [DAY - dt.timedelta(days=i) for i in (3, 2, 1, 0)]
        conn.execute(insert(m.QualityRun), [_quality_run(CLEAN, d, "pass") for d in days])
        conn.execute(insert(m.QualityRun), [
            _quality_run(OUTAGE, d, "pass") if d < dt.date(2026, 11, 28)
            else _quality_run(OUTAGE, d, "warn", warnings=[warn],
                              excluded_days=[OUT1.isoformat(), OUT2.isoformat()])
            for d in days
        ])  # fmt: skip
        # Found by the run for 11-28 (due 3.1 + 2.4 then), still excluded on 11-30.
        conn.execute(insert(m.DataExclusion), [
            _exclusion(OUT1, dt.date(2026, 11, 28), 3.1), _exclusion(OUT2, dt.date(2026, 11, 28), 2.4),
            _exclusion(OUT1, DAY, 4.0), _exclusion(OUT2, DAY, 3.2),
        ])  # fmt: skip
        conn.execute(insert(m.AnalyticsRun), [{
            **key, "gate": "warn", "counts": {"tests": 40}, "warnings": ["lag tail measured"],
        }])  # fmt: skip
        conn.execute(insert(m.AnomalyRow), [{
            **key, "entity_level": "campaign", "entity_id": 7, "metric": "spend", "date": DAY,
            "observed": 9e7, "expected": 3e7, "score": 5.0, "severity": "high",
            "direction": "up", "adverse": True, "flagged": True, "method": "seasonal",
            "reason": "spend 3x the seasonal expectation", "evidence": {},
        }])  # fmt: skip
        conn.execute(insert(m.Verdict), [{
            **key, "level": "campaign", "entity_id": 7, "campaign_id": 7, "metric": "cvr",
            "test": "two_proportion", "baseline_start": DAY, "baseline_end": DAY,
            "test_start": DAY, "test_end": DAY, "effect_kind": "ratio",
            "relative_effect": -0.4, "p_value": 0.001, "p_adjusted": 0.004,
            "verdict": "decrease",
        }, {
            **key, "level": "campaign", "entity_id": 8, "campaign_id": 8, "metric": "ctr",
            "test": "two_proportion", "baseline_start": DAY, "baseline_end": DAY,
            "test_start": DAY, "test_end": DAY, "effect_kind": "ratio",
            "relative_effect": 0.01, "p_value": 0.5, "p_adjusted": 0.9,
            "verdict": "not_significant",
        }])  # fmt: skip
        conn.execute(insert(m.Envelope), [{
            **key, "kind": "budget", "entity_id": 7, "campaign_id": 7,
            "current_micros": 100_000_000, "target_micros": 150_000_000,
            "next_micros": 120_000_000, "direction": "increase", "max_change_pct": 0.2,
            "expected_value_delta_micros": 12_340_000, "reason": "toward target",
        }, {
            **key, "kind": "bid", "entity_id": 900, "campaign_id": 7,
            "current_micros": 1_000_000, "target_micros": None, "next_micros": 1_200_000,
            "direction": "increase", "max_change_pct": 0.2,
            "expected_value_delta_micros": None, "reason": "conversions above break-even",
        }])  # fmt: skip
        conn.execute(insert(m.Nowcast), [{
            **key, "campaign_id": 7, "date": DAY - dt.timedelta(days=age), "age_days": age,
            "maturity": 0.5, "lag_status": "completing", "conversions_observed": 5.0,
            "conversions_nowcast": 10.0, "conversions_nowcast_se": 1.0,
            "conversions_value_observed_micros": 0, "conversions_value_nowcast_micros": 0,
            "conversions_value_nowcast_se_micros": 0,
        } for age in range(10)])  # fmt: skip
    return engine


def test_report_tells_the_outage_anomaly_verdict_envelopes_and_lag(seeded: Engine) -> None:
    days = [DAY - dt.timedelta(days=i) for i in (3, 2, 1, 0)]
    report = build_report(seeded, day=DAY, days=days)
    clean, outage = report.accounts
    assert (clean.customer_id, outage.customer_id) == (CLEAN, OUTAGE)
    assert [g.status for g in outage.gate] == ["pass", "warn", "warn", "warn"]
    assert [(o.date, o.first_caught) for o in outage.outages] == [
        (OUT1, dt.date(2026, 11, 28)),
        (OUT2, dt.date(2026, 11, 28)),
    ]
    assert [o.expected_conversions for o in outage.outages] == [4.0, 3.2]  # as of the day
    assert len(outage.lag) == 7  # the last 7 days, newest first
    assert outage.lag[0]["date"] == DAY and outage.lag[0]["reported_share"] == 0.5

    screen = account_screen(outage, report)
    assert len(screen.splitlines()) <= 30
    assert "Quality gate, 4 day(s): 3 WARN (2026-11-28, 2026-11-29, 2026-11-30), 1 pass" in screen
    assert "Tracking outage: 2026-11-25, 2026-11-26 excluded" in screen
    # Caught three days after it began, when 3.1 + 2.4 = 5.5 conversions were due (rule: 5).
    assert "Caught by the run for 2026-11-28, 3 day(s) after it began" in screen
    assert "due 5.5, past the 5 the gate needs" in screen
    assert "Anomalies on 2026-11-30: 1 flagged" in screen
    assert "spend 3x the seasonal expectation" in screen
    assert "Significant changes: 1 of 40 tests" in screen
    assert "campaign 7 cvr decrease -40%" in screen
    assert "campaign 7: 100.00 → 120.00 EUR (target 150.00), +12.34 EUR/day" in screen
    assert "Bid envelope: 1 keyword(s) may go up, 0 down" in screen
    assert "11-30 5→10" in screen
    assert "(2026-11-25, 2026-11-26 excluded: tracking outage" in screen

    assert "Tracking outages: none." in account_screen(clean, report)
    assert "no results for 2026-11-30" in account_screen(clean, report)


def test_report_scoped_to_one_account_in_markdown_and_json(seeded: Engine) -> None:
    assert newest_day(seeded) == DAY
    report = build_report(seeded, day=DAY, customer_id=OUTAGE)
    assert [a.customer_id for a in report.accounts] == [OUTAGE]
    text = render_markdown(report)
    assert f"## {TENANT}/{OUTAGE} (EUR)" in text and f"{TENANT}/{CLEAN}" not in text
    for title in ("Quality gate", "Tracking outages", "Anomalies", "Tests (2; significant first)",
                  "Budget envelopes", "Bid envelopes", "Lag completion"):  # fmt: skip
        assert f"### {title}" in text
    tests_table = text.split("### Tests")[1].split("###")[0]
    assert tests_table.index("decrease") < tests_table.index("not_significant")
    parsed = json.loads(render_json(report))
    (account,) = parsed["accounts"]
    assert account["label"] == f"{TENANT}/{OUTAGE}"
    assert [b["next_micros"] for b in account["budgets"]] == [120_000_000]
    assert len(account["verdicts"]) == 2 and account["outages"][0]["first_caught"] == "2026-11-28"


def test_cli_report_prints_the_day(
    seeded: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SPECTRA_DATABASE_URL", seeded.url.render_as_string(hide_password=False))
    assert main(["report", "--account", str(OUTAGE), "--format", "json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["day"] == DAY.isoformat()  # the newest validated day by default
    assert main(["report", "--day", "2026-01-01"]) == 0
    assert "No account has a quality verdict for this day." in capsys.readouterr().out
