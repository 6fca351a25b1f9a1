"""What the demo and the task log print for the day's proposals, and the prompt A/B readout."""

from __future__ import annotations

import datetime as dt

from agent_support import DAY, TENANT, proposals
from sqlalchemy import Engine, insert, update

from spectra.agent.client import GeminiClient
from spectra.agent.report import prompt_ab_report, proposals_text
from spectra.agent.service import propose_account
from spectra.warehouse import models as m


def test_the_day_text_names_kind_change_effect_reason_prompt_and_cost(
    warehouse: Engine, gemini: GeminiClient, account: int
) -> None:
    propose_account(
        warehouse,
        gemini,
        tenant_id=TENANT,
        customer_id=account,
        logical_date=DAY,
        use_breaker=False,
    )
    text = proposals_text(warehouse, [DAY], [(TENANT, account)])
    rows = proposals(warehouse)
    assert f"{TENANT}/{account} on {DAY}: {len(rows)} proposals" in text
    budget = next(r for r in rows if r["kind"] == "campaign_budget")
    before, after = budget["current_value"] / 1e6, budget["new_value"] / 1e6
    assert (
        f"campaign_budget  campaign {budget['campaign_id']}: {before:,.2f} USD → {after:,.2f} USD"
        in text
    )
    assert f"value {budget['expected_value_delta_micros'] / 1e6:+,.2f} USD/day" in text
    assert "why: " + " ".join(budget["reasoning"].split())[:40] in text
    assert (
        f"propose {budget['prompt_version']} · gemini-2.5-flash · llm · campaign AI cost $0.00"
        in text
    )
    assert "AI: 2 calls (ok)" in text


def test_prompt_ab_report_compares_versions_by_measured_effect(
    warehouse: Engine, account: int
) -> None:
    rows = []
    for i, version in enumerate(["v1", "v1", "v2"]):
        rows.append({
            "tenant_id": TENANT, "customer_id": account, "logical_date": DAY, "option_key": f"o{i}",
            "kind": "campaign_budget", "campaign_id": 100 + i, "new_value": 1, "source": "llm",
            "prompt_id": "propose", "prompt_version": version, "prompt_hash": "h", "model": "m",
            "status": "applied",
        })  # fmt: skip
    effects = [(100, 8.0, "improved"), (101, 2.0, "inconclusive"), (102, -4.0, "worsened")]
    with warehouse.begin() as conn:
        conn.execute(insert(m.Proposal), rows)
        for campaign, did, verdict in effects:
            for look_day, value in (
                (DAY + dt.timedelta(days=7), did / 2),
                (DAY + dt.timedelta(days=14), did),
            ):
                conn.execute(insert(m.ChangeEffectRow).values(
                    tenant_id=TENANT, customer_id=account, logical_date=look_day, campaign_id=campaign,
                    change_date=DAY + dt.timedelta(days=1), metric="conversions_value", look="final",
                    did_pct=value, verdict=verdict, n_controls=3,
                ))  # fmt: skip
        conn.execute(
            update(m.Proposal).where(m.Proposal.option_key == "o2").values(status="applied")
        )
    report = {r["prompt_version"]: r for r in prompt_ab_report(warehouse, tenant_id=TENANT)}
    assert report["v1"]["proposals"] == 2 and report["v1"]["measured"] == 2
    assert report["v1"]["mean_did_pct"] == 5.0  # the latest look (8 and 2), not the interim halves
    assert report["v1"]["improved"] == 1
    assert report["v2"]["mean_did_pct"] == -4.0
