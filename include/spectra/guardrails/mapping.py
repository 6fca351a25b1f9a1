"""Changes onto candidates: what a proposal, or a person's approved change, is to the rules.

A proposal row (``proposals``, written by the agent) names an option kind, the entity's ids,
its current value and the absolute new value. :func:`candidate_from_proposal` turns it into the
:class:`CandidateChange` the rules judge; :func:`change_from_proposal` into the
:class:`ApprovedChange` the executor applies once a person (or the autopilot) lets it through.
Both name the proposal ``proposal:<id>``, so its guardrail decision, its ledger entry and its
audit rows share one reference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from spectra.domain.changes import ApprovedChange, EntityKind, EntityRef, Origin, OriginKind
from spectra.domain.clock import change_effective_date
from spectra.guardrails.candidate import CandidateChange, ChangeKind, Value


class ProposalNotAppliable(ValueError):
    """A proposal the executor has no change for (new ad copy) or whose entity
    cannot be addressed (a negative keyword longer than Google's 80 characters)."""


# proposal kind -> (entity kind, field, guardrail kind or None for the field's own)
_SHAPES: dict[str, tuple[EntityKind, str, ChangeKind | None]] = {
    "keyword_bid": (EntityKind.KEYWORD, "cpc_bid_micros", None),
    "campaign_budget": (EntityKind.CAMPAIGN, "budget_micros", None),
    "target_cpa": (EntityKind.CAMPAIGN, "target_cpa_micros", None),
    "target_roas": (EntityKind.CAMPAIGN, "target_roas_micros", None),
    "pause_keyword": (EntityKind.KEYWORD, "status", None),
    "enable_keyword": (EntityKind.KEYWORD, "status", None),
    "negative_keyword": (EntityKind.NEGATIVE_KEYWORD, "status", ChangeKind.NEGATIVE_KEYWORD),
}
# kinds the guardrails can judge but the executor cannot apply (yet): they are refused with
# this reason rather than silently dropped
_NOT_APPLIABLE = {
    "rsa_copy": "the apply executor has no change that creates a responsive search ad yet",
}
# proposal values that are a ratio (the agent's tROAS) and the changes' micros of it
RATIO_KINDS = frozenset({"target_roas"})


def _as_micros(kind: str, value: Any) -> Any:
    """A target ROAS ratio (4.5) as the change's micros (4 500 000); other values as they are."""
    if kind in RATIO_KINDS and isinstance(value, int | float) and not isinstance(value, bool):
        return int(round(float(value) * 1_000_000))
    return value


def proposal_ref(proposal_id: int) -> str:
    return f"proposal:{int(proposal_id)}"


def _entity(row: Mapping[str, Any], kind: EntityKind) -> EntityRef:
    campaign = int(row["campaign_id"])
    if kind == EntityKind.CAMPAIGN:
        return EntityRef(kind=kind, campaign_id=campaign)
    if kind == EntityKind.KEYWORD:
        return EntityRef(
            kind=kind,
            campaign_id=campaign,
            ad_group_id=row["ad_group_id"],
            criterion_id=row["criterion_id"],
        )
    value = row["new_value"] or {}
    return EntityRef(
        kind=kind,
        campaign_id=campaign,
        text=str(value.get("text") or ""),
        match_type=str(value.get("match_type") or "EXACT"),
    )


def _target(row: Mapping[str, Any]) -> Value:
    kind = str(row["kind"])
    if kind == "negative_keyword":
        return "ENABLED"  # the negative is added
    value = _as_micros(kind, row["new_value"])
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ProposalNotAppliable(f"proposal {row['id']}: new value {value!r} is not absolute")
    return value


def _current(row: Mapping[str, Any]) -> Value | None:
    value = _as_micros(str(row["kind"]), row["current_value"])
    if row["kind"] == "negative_keyword":
        return "REMOVED"  # not there yet
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


def change_from_proposal(row: Mapping[str, Any], *, actor: str = "spectra_apply") -> ApprovedChange:
    """The executor's change for one proposal row (raises :class:`ProposalNotAppliable`)."""
    kind = str(row["kind"])
    if kind in _NOT_APPLIABLE:
        raise ProposalNotAppliable(f"{kind}: {_NOT_APPLIABLE[kind]}")
    if kind not in _SHAPES:
        raise ProposalNotAppliable(f"unknown proposal kind {kind!r}")
    entity_kind, field, _ = _SHAPES[kind]
    try:
        return ApprovedChange(
            tenant_id=row["tenant_id"],
            customer_id=int(row["customer_id"]),
            entity=_entity(row, entity_kind),
            field=field,
            target=_target(row),
            origin=Origin(kind=OriginKind.PROPOSAL, ref=proposal_ref(row["id"]), actor=actor),
            reasoning=str(row.get("reasoning") or ""),
            evidence_ids=tuple(str(e) for e in row.get("evidence_ids") or ()),
            prompt_version=row.get("prompt_version"),
        )
    except ValidationError as error:
        problems = "; ".join(e["msg"] for e in error.errors())
        raise ProposalNotAppliable(f"proposal {row['id']} ({kind}): {problems}") from error


def candidate_from_proposal(row: Mapping[str, Any]) -> CandidateChange:
    """The guardrails' candidate for one proposal row (raises :class:`ProposalNotAppliable`)."""
    change = change_from_proposal(row)
    _, _, kind = _SHAPES[str(row["kind"])]
    return CandidateChange(
        tenant_id=change.tenant_id,
        customer_id=change.customer_id,
        ref=proposal_ref(row["id"]),
        entity=change.entity,
        field=change.field,
        kind=kind,
        current=_current(row),
        proposed=change.target,
        evidence_ids=change.evidence_ids,
        origin=change.origin,
        created=1 if kind == ChangeKind.NEGATIVE_KEYWORD else 0,
        reasoning=change.reasoning,
        effective_at=_effective_at(row.get("logical_date")),
    )


def _effective_at(logical_date: Any) -> dt.datetime | None:
    """Midnight UTC of the day a proposal of ``logical_date`` is in force (None: no day)."""
    if isinstance(logical_date, str):
        logical_date = dt.date.fromisoformat(logical_date[:10])
    if isinstance(logical_date, dt.datetime):
        logical_date = logical_date.date()
    if not isinstance(logical_date, dt.date):
        return None
    return dt.datetime.combine(change_effective_date(logical_date), dt.time(), tzinfo=dt.UTC)


def candidate_from_change(
    change: ApprovedChange,
    *,
    current: Value | None,
    ref: str | None = None,
    evidence_ids: Sequence[str] | None = None,
    safety: bool = False,
) -> CandidateChange:
    """The candidate for ``change`` (``current`` is the entity's value before it; the change
    itself only carries its absolute target)."""
    kind = None
    created = 0
    if change.entity.kind == EntityKind.NEGATIVE_KEYWORD:
        kind = ChangeKind.NEGATIVE_KEYWORD
        created = 1 if change.target == "ENABLED" else 0
    return CandidateChange(
        tenant_id=change.tenant_id,
        customer_id=change.customer_id,
        ref=ref or change.idempotency_key,
        entity=change.entity,
        field=change.field,
        kind=kind,
        current=current,
        proposed=change.target,
        evidence_ids=tuple(evidence_ids if evidence_ids is not None else change.evidence_ids),
        origin=change.origin,
        safety=safety,
        created=created,
        reasoning=change.reasoning,
    )


__all__ = [
    "ProposalNotAppliable",
    "candidate_from_change",
    "candidate_from_proposal",
    "change_from_proposal",
    "proposal_ref",
]
