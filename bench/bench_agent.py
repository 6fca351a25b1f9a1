"""Propose for a 200-campaign account: time per account with the LLM stand-in, the stand-in's
own serving time subtracted (it runs in this process; its handler time is measured), against
the fallback-only path (no model) as baseline; and prompt tokens per campaign vs the budget.

The account is synthetic but shaped as analytics leaves it: 200 enabled campaigns (a quarter
on Target CPA), 5 keywords each, a budget envelope per campaign and bid envelopes for two
keywords of every manual campaign, 8 search terms per campaign (spend without conversions).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any

from bench_common import warehouses

TENANT, CUSTOMER = "bench", 9_000_000_001
DAY = dt.date(2026, 11, 20)
CAMPAIGNS = 200


def _fig(
    results: dict[str, Any], name: str, value: float, unit: str, baseline: float | None
) -> None:
    ratio = value / baseline if baseline else None
    results[name] = {"value": value, "unit": unit, "baseline": baseline, "ratio": ratio}
    print(f"   {name}: {value:,.3f} {unit} (baseline {baseline}, ratio {ratio})", flush=True)


def _fill(engine: Any) -> None:
    from sqlalchemy import insert

    from spectra.warehouse import models as m

    camps, groups, kws, envs, terms = [], [], [], [], []
    for i in range(CAMPAIGNS):
        cid = 10_000 + i
        smart = i % 4 == 0
        budget = 20_000_000 + i * 100_000
        camps.append({
            "tenant_id": TENANT, "customer_id": CUSTOMER, "campaign_id": cid,
            "name": f"Search | Product line {i}", "status": "ACTIVE", "serving_status": "ENABLED",
            "bidding_strategy_type": "TARGET_CPA" if smart else "MANUAL_CPC", "budget_micros": budget,
        })  # fmt: skip
        ag = 500_000 + i
        groups.append({
            "tenant_id": TENANT, "customer_id": CUSTOMER, "campaign_id": cid, "ad_group_id": ag,
            "name": f"Group {i}", "serving_status": "ENABLED", "cpc_bid_micros": 1_000_000,
        })  # fmt: skip
        nxt = budget + (budget // 5) // 10_000 * 10_000
        envs.append({
            "tenant_id": TENANT, "customer_id": CUSTOMER, "logical_date": DAY, "kind": "budget",
            "entity_id": cid, "campaign_id": cid, "ad_group_id": None, "current_micros": budget,
            "target_micros": nxt * 2, "next_micros": nxt, "direction": "increase",
            "max_change_pct": 20.0, "expected_value_delta_micros": 1_000_000 + i,
            "reason": "budget-limited: impression share lost to budget", "evidence": {"curve_rel_se": 0.2},
        })  # fmt: skip
        for k in range(5):
            crit = 7_000_000 + i * 10 + k
            kws.append({
                "tenant_id": TENANT, "customer_id": CUSTOMER, "campaign_id": cid, "ad_group_id": ag,
                "criterion_id": crit, "text": f"product {i} variant {k}", "match_type": "PHRASE",
                "serving_status": "ENABLED", "negative": False, "cpc_bid_micros": 1_000_000,
            })  # fmt: skip
            if not smart and k < 2:
                envs.append({
                    "tenant_id": TENANT, "customer_id": CUSTOMER, "logical_date": DAY, "kind": "bid",
                    "entity_id": crit, "campaign_id": cid, "ad_group_id": ag, "current_micros": 1_000_000,
                    "target_micros": None, "next_micros": 1_200_000 if k == 0 else 800_000,
                    "direction": "increase" if k == 0 else "decrease", "max_change_pct": 20.0,
                    "expected_value_delta_micros": None, "reason": "conversions vs break-even",
                    "evidence": {"clicks": 120, "conversions": 4 if k == 0 else 0},
                })  # fmt: skip
        for t in range(8):
            terms.append({
                "tenant_id": TENANT, "customer_id": CUSTOMER, "ad_group_id": ag, "date": DAY,
                "search_term": f"free product {i} {t}", "campaign_id": cid, "term_status": "NONE",
                "impressions": 500, "clicks": 25, "cost_micros": 40_000_000, "conversions": 0.0,
                "conversions_value_micros": 0, "reported_as_of": DAY,
            })  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(m.Campaign), camps)
        conn.execute(insert(m.AdGroup), groups)
        conn.execute(insert(m.Keyword), kws)
        conn.execute(insert(m.Envelope), envs)
        conn.execute(insert(m.SearchTermDaily), terms)


def run(results: dict[str, Any]) -> None:
    from sqlalchemy import select

    from spectra.agent.client import GeminiClient
    from spectra.agent.service import propose_account
    from spectra.agent.settings import AgentSettings, GeminiSettings
    from spectra.sandbox.llm import LlmStandIn
    from spectra.warehouse import models as m

    settings = AgentSettings(daily_ai_budget_micros=10**12)
    for backend, engine in warehouses(
        tenant_id=TENANT, customer_id=CUSTOMER, prefix="bench-agent-"
    ):
        _fill(engine)
        started = time.perf_counter()
        propose_account(
            engine,
            None,
            tenant_id=TENANT,
            customer_id=CUSTOMER,
            logical_date=DAY,
            settings=settings,
        )
        fallback_s = time.perf_counter() - started
        with LlmStandIn() as llm:
            client = GeminiClient(
                GeminiSettings(project="bench", base_url=llm.base_url, access_token="t")
            )
            started = time.perf_counter()
            outcome = propose_account(
                engine, client, tenant_id=TENANT, customer_id=CUSTOMER, logical_date=DAY,
                settings=settings, use_breaker=backend == "sqlite",
            )  # fmt: skip
            total_s = time.perf_counter() - started
            served_s = llm.state.served_seconds
        assert outcome.campaigns == CAMPAIGNS and outcome.by_source.get("llm"), outcome.as_dict()
        ours = total_s - served_s
        _fig(
            results,
            f"agent propose 200 campaigns excl. stand-in, {backend}",
            ours,
            "s/account",
            fallback_s,
        )
        _fig(
            results,
            f"agent propose 200 campaigns stand-in serving, {backend}",
            served_s,
            "s/account",
            total_s,
        )
        with engine.connect() as conn:
            tokens = (
                conn.execute(
                    select(m.AiCall.prompt_tokens).where(
                        m.AiCall.tenant_id == TENANT, m.AiCall.outcome == "ok"
                    )
                )
                .scalars()
                .all()
            )
        if backend == "sqlite":
            budget = settings.prompt_token_budget
            _fig(
                results,
                "agent prompt tokens per campaign (median)",
                float(statistics.median(tokens)),
                "tokens",
                budget,
            )
            _fig(
                results,
                "agent prompt tokens per campaign (max)",
                float(max(tokens)),
                "tokens",
                budget,
            )
