"""Changes onto candidates: what a person's or a proposal's approved change is to the rules."""

from __future__ import annotations

from collections.abc import Sequence

from spectra.domain.changes import ApprovedChange, EntityKind
from spectra.guardrails.candidate import CandidateChange, ChangeKind, Value


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
    if change.entity.kind == EntityKind.NEGATIVE_KEYWORD:
        kind = ChangeKind.NEGATIVE_KEYWORD
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
        reasoning=change.reasoning,
    )


__all__ = ["candidate_from_change"]
