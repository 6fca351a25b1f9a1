"""Validation of the model's answer and the deterministic fallback.

Nothing the model says can widen the envelope: a proposal is accepted only when it parses
against the schema, names one of today's options, names the same entity as that option (which
exists and belongs to the tenant and account), carries a value inside the option's range in
whole billable units, stays within the per-campaign cap and, for copy, fits Google's limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from spectra.agent.options import Option
from spectra.agent.schema import (
    KEYWORD_KINDS,
    MONEY_KINDS,
    ModelProposal,
    ProposalBatch,
    ProposalKind,
    copy_errors,
)


@dataclass(frozen=True)
class Entities:
    """The ids that exist in this tenant's account (from the warehouse)."""

    campaigns: frozenset[int]
    ad_groups: Mapping[int, int]  # ad group -> campaign
    keywords: frozenset[tuple[int, int]]  # (ad group, criterion)


@dataclass(frozen=True)
class Accepted:
    option: Option
    proposal: ModelProposal
    new_value: Any


@dataclass
class Checked:
    accepted: list[Accepted] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse(text: str) -> tuple[ProposalBatch | None, list[str]]:
    """The answer as a batch, or the schema errors (named by field path)."""
    try:
        return ProposalBatch.model_validate_json(text), []
    except ValidationError as error:
        problems = []
        for item in error.errors()[:20]:
            where = ".".join(str(p) for p in item["loc"]) or "answer"
            problems.append(f"{where}: {item['msg']}")
        return None, problems


def check(
    batch: ProposalBatch,
    options: Sequence[Option],
    entities: Entities,
    *,
    billable_unit_micros: int,
    max_per_campaign: int,
) -> Checked:
    """Every proposal of the batch against today's options; errors name the proposal."""
    by_id = {o.option_id: o for o in options}
    result = Checked()
    taken: set[str] = set()
    per_campaign: dict[int, int] = {}
    for i, p in enumerate(batch.proposals):
        where = f"proposals[{i}] ({p.option_id})"
        errors = _entity_errors(p, entities)
        option = by_id.get(p.option_id)
        if option is None:
            errors.append("is not one of today's options")
        else:
            errors += _option_errors(p, option, billable_unit_micros)
        if p.option_id in taken:
            errors.append("proposes the same option twice")
        if not errors:
            per_campaign[p.campaign_id] = per_campaign.get(p.campaign_id, 0) + 1
            if per_campaign[p.campaign_id] > max_per_campaign:
                errors.append(
                    f"is proposal {per_campaign[p.campaign_id]} for campaign {p.campaign_id} "
                    f"(at most {max_per_campaign} per campaign)"
                )
        if errors:
            result.errors += [f"{where}: {e}" for e in errors]
            continue
        assert option is not None
        taken.add(p.option_id)
        result.accepted.append(Accepted(option, p, _new_value(p, option)))
    return result


def _entity_errors(p: ModelProposal, entities: Entities) -> list[str]:
    if p.campaign_id not in entities.campaigns:
        return [f"campaign {p.campaign_id} is not a campaign of this tenant's account"]
    errors = []
    if p.ad_group_id is not None:
        owner = entities.ad_groups.get(p.ad_group_id)
        if owner is None:
            errors.append(f"ad group {p.ad_group_id} is not in this tenant's account")
        elif owner != p.campaign_id:
            errors.append(f"ad group {p.ad_group_id} is not in campaign {p.campaign_id}")
    if p.kind in KEYWORD_KINDS and (p.ad_group_id, p.criterion_id) not in entities.keywords:
        errors.append(
            f"keyword ({p.ad_group_id}, {p.criterion_id}) is not in this tenant's account"
        )
    return errors


def _option_errors(p: ModelProposal, o: Option, unit: int) -> list[str]:
    errors = []
    if p.kind != o.kind:
        errors.append(f"kind {p.kind.value} does not match the option's {o.kind.value}")
        return errors
    if (p.campaign_id, p.ad_group_id, p.criterion_id) != (
        o.campaign_id,
        o.ad_group_id,
        o.criterion_id,
    ):
        errors.append("names another entity than its option")
    if o.kind in MONEY_KINDS:
        value = p.new_value_micros
        if value is None:
            errors.append("has no new_value_micros")
        elif o.min_micros is None or o.max_micros is None:
            errors.append("the option allows no value change")
        elif not o.min_micros <= value <= o.max_micros:
            errors.append(
                f"new_value_micros {value} is outside today's envelope "
                f"[{o.min_micros}, {o.max_micros}]"
            )
        elif value % unit:
            errors.append(f"new_value_micros {value} is not a multiple of {unit} (billable unit)")
        elif value == o.current:
            errors.append("new_value_micros equals the current value (no change)")
    if o.kind == ProposalKind.TARGET_ROAS:
        roas = p.new_target_roas
        lo, hi = o.facts.get("allowed_min_roas"), o.facts.get("allowed_max_roas")
        if roas is None or lo is None or hi is None or not lo <= roas <= hi:
            errors.append(f"new_target_roas {roas} is outside today's envelope [{lo}, {hi}]")
        elif roas == o.current:
            errors.append("new_target_roas equals the current value (no change)")
    if o.kind == ProposalKind.RSA_COPY:
        errors += copy_errors(p.headlines, p.descriptions, p.path1, p.path2)
    if not p.reasoning.strip():
        errors.append("has no reasoning")
    return errors


def _new_value(p: ModelProposal, o: Option) -> Any:
    if o.kind in MONEY_KINDS:
        return p.new_value_micros
    if o.kind == ProposalKind.TARGET_ROAS:
        return p.new_target_roas
    if o.kind == ProposalKind.PAUSE_KEYWORD:
        return "PAUSED"
    if o.kind == ProposalKind.ENABLE_KEYWORD:
        return "ENABLED"
    if o.kind == ProposalKind.NEGATIVE_KEYWORD:
        return {"text": o.negative_text, "match_type": "EXACT", "level": "campaign"}
    return {
        "headlines": list(p.headlines or []),
        "descriptions": list(p.descriptions or []),
        "path1": p.path1 or "",
        "path2": p.path2 or "",
    }


def fallback(options: Sequence[Option], *, max_per_campaign: int) -> list[Accepted]:
    """The deterministic proposals: each option's envelope value, best expected value first,
    at most ``max_per_campaign`` per campaign; options without a fallback (copy, pauses) are
    left to the model."""
    ranked = sorted(
        (o for o in options if o.has_fallback),
        key=lambda o: (-(o.expected_value_delta_micros or 0), o.option_id),
    )
    out: list[Accepted] = []
    per_campaign: dict[int, int] = {}
    for o in ranked:
        if per_campaign.get(o.campaign_id, 0) >= max_per_campaign:
            continue
        per_campaign[o.campaign_id] = per_campaign.get(o.campaign_id, 0) + 1
        p = ModelProposal(
            option_id=o.option_id,
            kind=o.kind,
            campaign_id=o.campaign_id,
            ad_group_id=o.ad_group_id,
            criterion_id=o.criterion_id,
            new_value_micros=o.suggested_micros,
            new_target_roas=o.facts.get("suggested_roas"),
            rank=len(out) + 1,
            reasoning=o.reason,
            evidence_ids=list(o.evidence_ids),
        )
        out.append(Accepted(o, p, _new_value(p, o)))
    return out
