"""The context builder under a token budget: a campaign with three years of history and 500
past changes (with measured effects) never exceeds the budget, counted by the API's
``count_tokens``; the most recent changes stay itemised, older ones are summarised."""

from __future__ import annotations

import datetime as dt
import json
import re

from agent_support import DAY, TENANT, campaign_ids
from sqlalchemy import Engine, insert, select

from spectra.agent.client import GeminiClient
from spectra.agent.context import build_context
from spectra.agent.options import build_options, by_campaign
from spectra.agent.prompts import load_prompt
from spectra.agent.service import propose_account
from spectra.agent.settings import AgentSettings
from spectra.warehouse import agent_store as store
from spectra.warehouse import models as m

CHANGES = 500


def _three_years_of_changes(engine: Engine, account: int, campaign_id: int) -> None:
    start = DAY - dt.timedelta(days=3 * 365)
    versions, effects = [], []
    for i in range(CHANGES):
        day = start + dt.timedelta(days=i * 2)
        versions.append({
            "tenant_id": TENANT, "customer_id": account, "campaign_id": campaign_id,
            "version": i + 2, "snapshot": {"budget_micros": 20_000_000 + i * 10_000},
            "reason": f"change {i}", "created_by": "spectra",
            "created_at": dt.datetime.combine(day, dt.time(7), tzinfo=dt.UTC),
        })  # fmt: skip
        effects.append({
            "tenant_id": TENANT, "customer_id": account, "logical_date": DAY,
            "campaign_id": campaign_id, "change_date": day, "metric": "conversions",
            "look": "final", "did_pct": (i % 7 - 3) * 2.5, "verdict": "improved" if i % 3 else "inconclusive",
            "n_controls": 1, "reason": "", "evidence": {},
        })  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(m.CampaignVersion), versions)
        conn.execute(insert(m.ChangeEffectRow), effects)


def test_budget_holds_on_a_three_year_campaign_with_500_changes(
    warehouse: Engine, gemini: GeminiClient, account: int
) -> None:
    with warehouse.connect() as conn:
        budgets = (
            conn.execute(
                select(m.Envelope.campaign_id).where(
                    m.Envelope.tenant_id == TENANT,
                    m.Envelope.kind == "budget",
                    m.Envelope.direction != "hold",
                )
            )
            .scalars()
            .all()
        )
    campaign_id = int(budgets[0])
    assert campaign_id in campaign_ids(warehouse, TENANT)
    _three_years_of_changes(warehouse, account, campaign_id)
    with warehouse.connect() as conn:
        inputs = store.read_day_inputs(
            conn, tenant_id=TENANT, customer_id=account, logical_date=DAY
        )
    options = by_campaign(build_options(inputs, AgentSettings()))[campaign_id]
    campaign = next(c for c in inputs.campaigns if c["campaign_id"] == campaign_id)
    prompt = load_prompt("propose", "v1")

    def context(budget: int):
        return build_context(
            prompt, inputs, campaign, options, token_budget=budget,
            count_tokens=gemini.count_tokens, max_per_campaign=3,
        )  # fmt: skip

    rich, lean = context(200_000), context(1_800)
    assert rich.tokens > 1_800  # the whole history does not fit the small budget
    assert lean.tokens <= 1_800
    assert lean.tokens == gemini.count_tokens(lean.system + "\n" + lean.prompt)

    def history(ctx) -> list[dict]:
        block = re.search(r"older quarters summarised\):\n(\[.*?\])\n", ctx.prompt, re.S)
        assert block
        return json.loads(block.group(1))

    rich_items = [h for h in history(rich) if "date" in h]
    lean_items = [h for h in history(lean) if "date" in h]
    lean_summary = [h for h in history(lean) if "summary" in h]
    assert len(rich_items) == 40 and len(lean_items) < 40
    if lean_items:  # what stays itemised is the most recent
        assert lean_items[-1]["date"] == rich_items[-1]["date"]
    # summaries cover every quarter of the three years, and every change is counted once
    assert len(lean_summary) >= 12
    assert sum(h["changes"] for h in lean_summary) + len(lean_items) == CHANGES
    assert [o.option_id for o in lean.options] == [o.option_id for o in options]

    settings = AgentSettings(prompt_token_budget=1_800)
    propose_account(
        warehouse, gemini, tenant_id=TENANT, customer_id=account, logical_date=DAY,
        settings=settings, use_breaker=False,
    )  # fmt: skip
    with warehouse.connect() as conn:
        sent = (
            conn.execute(select(m.AiCall.prompt_tokens).where(m.AiCall.campaign_id == campaign_id))
            .scalars()
            .all()
        )
    assert sent and max(sent) <= 1_800
