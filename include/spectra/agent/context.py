"""The context builder: one campaign's evidence, options and history in a prompt that never
exceeds the token budget.

Trusted numbers (ours) and untrusted text (customers' and searchers' words) never mix: every
string that came from outside — campaign, ad group and keyword names, search terms, ad copy —
is JSON-quoted inside an ``<untrusted_data>`` block, with ``<``, ``>`` and ``&`` escaped as
``\\u003c`` etc., so no text can close the block, open a fake turn or inject markup. The
options, which alone can become proposals, carry no untrusted text at all.

Under the budget (counted with the API's ``count_tokens``), the builder gives up detail in
this order: older change history is summarised per quarter (deterministically) while the most
recent changes stay itemised (fewer and fewer of them), then evidence rows beyond the strongest
are dropped, then the lowest-value options. Levels are tried from richest to leanest; the
first that fits wins.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spectra.agent.options import Option
from spectra.agent.prompts import Prompt
from spectra.warehouse.agent_store import DayInputs

HISTORY_DETAIL_LEVELS = (40, 20, 10, 5, 0)
EVIDENCE_LEVELS = (30, 10, 3)


class ContextTooLarge(ValueError):
    """Even the leanest context (one option, no history) exceeds the token budget."""


def quote_untrusted(value: Any) -> str:
    """JSON that cannot close its delimiters: angle brackets and ampersands escaped."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class Context:
    system: str
    prompt: str
    tokens: int
    level: str
    options: tuple[Option, ...]


def _quarter(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def history_lines(
    versions: Sequence[Mapping[str, Any]],
    effects: Sequence[Mapping[str, Any]],
    *,
    detailed: int,
) -> list[dict[str, Any]]:
    """Changes newest last: the last ``detailed`` itemised with their measured effect, the
    rest summarised per quarter (count, and how the measured ones turned out)."""
    effect_by_day: dict[dt.date, list[Mapping[str, Any]]] = {}
    for e in effects:
        effect_by_day.setdefault(e["change_date"], []).append(e)
    changes = sorted(versions, key=lambda v: (v["created_at"], v["version"]))
    cut = max(0, len(changes) - detailed)
    older, recent = changes[:cut], changes[cut:]
    out: list[dict[str, Any]] = []
    quarters: dict[str, dict[str, int]] = {}
    for v in older:
        day = (
            v["created_at"].date() if isinstance(v["created_at"], dt.datetime) else v["created_at"]
        )
        q = quarters.setdefault(_quarter(day), {"changes": 0, "improved": 0, "worsened": 0})
        q["changes"] += 1
        for e in effect_by_day.get(day, []):
            if e["verdict"] in ("improved", "increase", "positive"):
                q["improved"] += 1
            elif e["verdict"] in ("worsened", "decrease", "negative", "harm"):
                q["worsened"] += 1
    for quarter, counts in sorted(quarters.items()):
        out.append({"summary": quarter, **counts})
    for v in recent:
        day = (
            v["created_at"].date() if isinstance(v["created_at"], dt.datetime) else v["created_at"]
        )
        snap = v.get("snapshot") or {}
        out.append(
            {
                "date": day.isoformat(),
                "version": v["version"],
                "by": v.get("created_by"),
                "budget_micros": snap.get("budget_micros"),
                "effects": [
                    {"metric": e["metric"], "did_pct": e["did_pct"], "verdict": e["verdict"]}
                    for e in effect_by_day.get(day, [])
                ],
            }
        )
    return out


def render(
    prompt: Prompt,
    inputs: DayInputs,
    campaign: Mapping[str, Any],
    options: Sequence[Option],
    *,
    max_per_campaign: int,
    detailed_history: int,
    evidence_rows: int,
    errors: Sequence[str] = (),
) -> tuple[str, str]:
    """(system instruction, user prompt) for one campaign."""
    cid = int(campaign["campaign_id"])
    system = prompt.section("system", max_per_campaign=max_per_campaign)
    verdicts = [v for v in inputs.verdicts if v["campaign_id"] == cid]
    verdicts.sort(key=lambda v: v["p_adjusted"] if v["p_adjusted"] is not None else 1.0)
    anomalies = [
        a for a in inputs.anomalies if a["entity_level"] == "campaign" and a["entity_id"] == cid
    ]
    facts = {
        "tenant_id": inputs.tenant_id,
        "customer_id": inputs.customer_id,
        "campaign_id": cid,
        "logical_date": inputs.logical_date.isoformat(),
        "currency": inputs.currency_code,
        "billable_unit_micros": inputs.billable_unit_micros,
        "bidding_strategy_type": campaign["bidding_strategy_type"],
        "budget_micros": campaign["budget_micros"],
        "max_proposals_per_campaign": max_per_campaign,
    }
    history = history_lines(
        [v for v in inputs.versions if v["campaign_id"] == cid],
        [e for e in inputs.change_effects if e["campaign_id"] == cid],
        detailed=detailed_history,
    )
    labels = {o.option_id: o.label for o in options if o.label}
    ads = [
        {"ad_id": a["ad_id"], "headlines": a["headlines"], "descriptions": a["descriptions"]}
        for a in inputs.ads
        if a["campaign_id"] == cid
    ][:5]
    parts = [
        f"Campaign facts (computed by Spectra):\n{_json(facts)}",
        "Today's options (the only changes allowed; at most "
        f"{max_per_campaign} proposals per campaign):\n<options>\n"
        f"{_json([o.for_prompt() for o in options])}\n</options>",
        f"Significance verdicts (BH-adjusted):\n{_json(verdicts[:evidence_rows])}",
        f"Flagged anomalies:\n{_json(anomalies[:evidence_rows])}",
        f"Change history with measured outcomes (older quarters summarised):\n{_json(history)}",
        '<untrusted_data source="campaign_name">\n'
        f"{quote_untrusted(campaign['name'])}\n</untrusted_data>",
        '<untrusted_data source="option_labels (keyword texts, search terms, ad group names)">\n'
        f"{quote_untrusted(labels)}\n</untrusted_data>",
        f'<untrusted_data source="current_ad_copy">\n{quote_untrusted(ads)}\n</untrusted_data>',
    ]
    if errors:
        parts.append(prompt.section("repair"))
        parts.append("<validation_errors>\n" + _json(list(errors)) + "\n</validation_errors>")
    return system, "\n\n".join(parts)


def build_context(
    prompt: Prompt,
    inputs: DayInputs,
    campaign: Mapping[str, Any],
    options: Sequence[Option],
    *,
    token_budget: int,
    count_tokens: Callable[[str], int],
    max_per_campaign: int,
    errors: Sequence[str] = (),
) -> Context:
    """The richest rendering whose system + prompt fits ``token_budget`` tokens."""
    ranked = sorted(options, key=lambda o: (-(o.expected_value_delta_micros or 0), o.option_id))
    option_levels = [len(ranked)]
    while option_levels[-1] > 1:
        option_levels.append(max(1, option_levels[-1] // 2))
    levels = [(d, EVIDENCE_LEVELS[0], len(ranked)) for d in HISTORY_DETAIL_LEVELS]
    levels += [(0, e, len(ranked)) for e in EVIDENCE_LEVELS[1:]]
    levels += [(0, EVIDENCE_LEVELS[-1], n) for n in option_levels[1:]]
    last = 0
    for detailed, evidence, n_options in levels:
        chosen = tuple(ranked[:n_options])
        system, text = render(
            prompt, inputs, campaign, chosen,
            max_per_campaign=max_per_campaign, detailed_history=detailed,
            evidence_rows=evidence, errors=errors,
        )  # fmt: skip
        last = count_tokens(system + "\n" + text)
        if last <= token_budget:
            level = f"history {detailed}, evidence {evidence}, options {n_options}/{len(ranked)}"
            return Context(system, text, last, level, chosen)
    raise ContextTooLarge(
        f"campaign {campaign['campaign_id']}: {last} tokens with one option and no history "
        f"exceed the budget of {token_budget}"
    )
