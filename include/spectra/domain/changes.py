"""Approved changes and the phases they move through on their way to Google Ads.

An :class:`ApprovedChange` is the apply executor's only input: one entity, one field, one
*absolute* target value ("budget = 120 000 000 micros", never "+10 %"), so replaying it is
harmless, and an idempotency key that names the logical operation, so it lands at most once.
Its origin says who wanted it: a proposal, a rollback, a monitor action or a person.

Phases follow Stripe's recovery points (brandur.org, "Implementing Stripe-like Idempotency Keys
in Postgres"): each is written before the next step starts, and a crash resumes from the last
one written. ``PHASE_TRANSITIONS`` is the whole table; :func:`advance` refuses anything else.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EntityKind(StrEnum):
    """What a change addresses. Keywords and ads are (ad group, id): criterion ids are shared
    across ad groups (``adGroupCriteria/{ad_group_id}~{criterion_id}``)."""

    CAMPAIGN = "campaign"
    AD_GROUP = "ad_group"
    KEYWORD = "keyword"
    AD = "ad"
    NEGATIVE_KEYWORD = "negative_keyword"  # campaign level, by (text, match type)


# field -> the kind of value it takes, per entity kind
FIELDS: dict[EntityKind, dict[str, str]] = {
    EntityKind.CAMPAIGN: {
        "status": "status",
        "budget_micros": "micros",
        "target_cpa_micros": "micros",
        # a target ROAS ratio in micros (4.0 = 4 000 000): integer like every other target,
        # so idempotency keys and comparisons never meet a binary fraction
        "target_roas_micros": "micros",
    },
    EntityKind.AD_GROUP: {"status": "status", "cpc_bid_micros": "micros"},
    EntityKind.KEYWORD: {"status": "status", "cpc_bid_micros": "micros"},
    EntityKind.AD: {"status": "status"},
    EntityKind.NEGATIVE_KEYWORD: {"status": "presence"},
}
# Removing a campaign, ad group, keyword or ad cannot be undone through the API, so an approved
# change may only pause or enable them; negatives are added (ENABLED) or removed (REMOVED).
STATUS_TARGETS = frozenset({"ENABLED", "PAUSED"})
PRESENCE_TARGETS = frozenset({"ENABLED", "REMOVED"})
MATCH_TYPES = frozenset({"EXACT", "PHRASE", "BROAD"})


class OriginKind(StrEnum):
    PROPOSAL = "proposal"
    ROLLBACK = "rollback"
    MONITOR = "monitor"
    PERSON = "person"
    OPERATION = "operation"  # a step of a multi-step operation (launch)


class Origin(BaseModel):
    """Who wanted the change: ``ref`` is the proposal id, the rollback's target version, the
    monitor's name or the person's own reference; ``actor`` is who approved or triggered it."""

    model_config = ConfigDict(frozen=True)

    kind: OriginKind
    ref: str = Field(min_length=1, max_length=200)
    actor: str = Field(default="system", min_length=1, max_length=128)


class EntityRef(BaseModel):
    """The entity inside one campaign: ids for Google's resource names, text for negatives."""

    model_config = ConfigDict(frozen=True)

    kind: EntityKind
    campaign_id: int = Field(gt=0)
    ad_group_id: int | None = Field(default=None, gt=0)
    criterion_id: int | None = Field(default=None, gt=0)
    ad_id: int | None = Field(default=None, gt=0)
    text: str | None = Field(default=None, max_length=80)
    match_type: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> EntityRef:
        need: dict[EntityKind, tuple[str, ...]] = {
            EntityKind.CAMPAIGN: (),
            EntityKind.AD_GROUP: ("ad_group_id",),
            EntityKind.KEYWORD: ("ad_group_id", "criterion_id"),
            EntityKind.AD: ("ad_group_id", "ad_id"),
            EntityKind.NEGATIVE_KEYWORD: ("text", "match_type"),
        }
        missing = [f for f in need[self.kind] if getattr(self, f) in (None, "")]
        if missing:
            raise ValueError(f"a {self.kind.value} change needs {', '.join(missing)}")
        if self.kind == EntityKind.NEGATIVE_KEYWORD and self.match_type not in MATCH_TYPES:
            raise ValueError(f"match_type {self.match_type!r} is not one of {sorted(MATCH_TYPES)}")
        return self

    @property
    def key(self) -> str:
        """A stable text key: ``keyword:123/456~789`` (campaign/ad group~criterion)."""
        k = self.kind
        if k == EntityKind.CAMPAIGN:
            return f"campaign:{self.campaign_id}"
        if k == EntityKind.AD_GROUP:
            return f"ad_group:{self.campaign_id}/{self.ad_group_id}"
        if k == EntityKind.KEYWORD:
            return f"keyword:{self.campaign_id}/{self.ad_group_id}~{self.criterion_id}"
        if k == EntityKind.AD:
            return f"ad:{self.campaign_id}/{self.ad_group_id}~{self.ad_id}"
        text = " ".join(str(self.text).lower().split())
        return f"negative_keyword:{self.campaign_id}/{self.match_type}:{text}"


Target = int | str


class ApprovedChange(BaseModel):
    """One approved change: set ``entity.field`` to ``target`` (absolute), exactly once."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str = Field(min_length=1, max_length=64)
    customer_id: int = Field(gt=0)
    entity: EntityRef
    field: str
    target: Target
    origin: Origin
    idempotency_key: str = Field(default="", max_length=64)
    reasoning: str = ""
    evidence_ids: tuple[str, ...] = ()
    prompt_version: str | None = None

    @model_validator(mode="after")
    def _valid(self) -> ApprovedChange:
        fields = FIELDS[self.entity.kind]
        if self.field not in fields:
            raise ValueError(
                f"{self.entity.kind.value} has no changeable field {self.field!r}; "
                f"choose from {sorted(fields)}"
            )
        kind = fields[self.field]
        if kind == "micros":
            if (
                isinstance(self.target, bool)
                or not isinstance(self.target, int)
                or self.target <= 0
            ):
                raise ValueError(
                    f"{self.field} must be a positive integer of micros, got {self.target!r}"
                )
        else:
            allowed = STATUS_TARGETS if kind == "status" else PRESENCE_TARGETS
            if self.target not in allowed:
                raise ValueError(
                    f"{self.field} must be one of {sorted(allowed)}, got {self.target!r}"
                )
        if not self.idempotency_key:
            object.__setattr__(self, "idempotency_key", default_idempotency_key(self))
        return self

    @property
    def campaign_id(self) -> int:
        return self.entity.campaign_id

    @property
    def slot(self) -> tuple[str, str]:
        """What two changes must not set in one request: (entity key, field)."""
        return (self.entity.key, self.field)

    def payload(self) -> dict[str, Any]:
        """JSON-ready form (stored with the change, in dead letters and audit rows)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ApprovedChange:
        return cls.model_validate(data)


def default_idempotency_key(change: ApprovedChange) -> str:
    """hash(tenant, account, entity, field, target, origin): one key per logical operation."""
    material = json.dumps(
        [
            change.tenant_id,
            change.customer_id,
            change.entity.key,
            change.field,
            change.target,
            change.origin.kind.value,
            change.origin.ref,
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()[:40]


# --------------------------------------------------------------------------- phases


class Phase(StrEnum):
    APPROVED = "approved"
    LOCKED = "locked"
    PREFLIGHTED = "preflighted"  # validate_only passed
    SENT = "sent"  # written *before* the mutate goes out
    CONFIRMED = "confirmed"  # read back at its target
    RECORDED = "recorded"  # versions, campaign state and audit written: applied
    REJECTED = "rejected"  # a permanent error (or a rollback after a bad read-back)
    DEAD_LETTERED = "dead_lettered"  # retries exhausted: waits in failed_jobs


P = Phase
TERMINAL = frozenset({P.RECORDED, P.REJECTED, P.DEAD_LETTERED})
# Phases a resumed run takes over under its own token (everything before the read-back).
RESUMABLE = frozenset({P.APPROVED, P.LOCKED, P.PREFLIGHTED, P.SENT})

PHASE_TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    P.APPROVED: frozenset({P.LOCKED, P.REJECTED, P.DEAD_LETTERED}),
    # LOCKED -> LOCKED: a resumed run re-locks under a newer fencing token.
    # LOCKED -> CONFIRMED: the read-before-send found the target already in place.
    P.LOCKED: frozenset({P.LOCKED, P.PREFLIGHTED, P.CONFIRMED, P.REJECTED, P.DEAD_LETTERED}),
    P.PREFLIGHTED: frozenset({P.LOCKED, P.SENT, P.CONFIRMED, P.REJECTED, P.DEAD_LETTERED}),
    # SENT -> PREFLIGHTED: the read-back showed it did not land; validate and send again.
    P.SENT: frozenset({P.LOCKED, P.PREFLIGHTED, P.SENT, P.CONFIRMED, P.REJECTED, P.DEAD_LETTERED}),
    P.CONFIRMED: frozenset({P.RECORDED, P.REJECTED}),
    P.RECORDED: frozenset(),
    P.REJECTED: frozenset(),
    # a dead letter retried from the queue re-enters the normal path; discarded, it is rejected
    P.DEAD_LETTERED: frozenset({P.APPROVED, P.REJECTED}),
}


class IllegalPhase(ValueError):
    """A change was asked to move along an edge the phase table does not have."""


def advance(current: Phase | str, target: Phase | str) -> Phase:
    """The new phase, or :class:`IllegalPhase` naming both and the legal moves."""
    src, dst = Phase(current), Phase(target)
    if dst not in PHASE_TRANSITIONS[src]:
        allowed = ", ".join(sorted(p.value for p in PHASE_TRANSITIONS[src])) or "none (terminal)"
        raise IllegalPhase(f"illegal phase {src.value} -> {dst.value}; allowed: {allowed}")
    return dst


Outcome = Literal["pending", "applied", "rejected", "dead_lettered"]


def outcome_of(phase: Phase | str) -> Outcome:
    """What a phase means for the change's caller."""
    p = Phase(phase)
    if p == P.RECORDED:
        return "applied"
    if p == P.REJECTED:
        return "rejected"
    if p == P.DEAD_LETTERED:
        return "dead_lettered"
    return "pending"


__all__ = [
    "FIELDS",
    "PHASE_TRANSITIONS",
    "RESUMABLE",
    "TERMINAL",
    "ApprovedChange",
    "EntityKind",
    "EntityRef",
    "IllegalPhase",
    "Origin",
    "OriginKind",
    "Phase",
    "advance",
    "default_idempotency_key",
    "outcome_of",
]
