"""The guardrails' input: one candidate change, and the facts the rules judge it against.

A :class:`CandidateChange` is the smallest thing both an agent's proposal and a person's edit
map onto: one entity, what kind of change it is, its current and proposed *absolute* values,
the campaign it lives in, the evidence behind it and who wants it. The rules in
:mod:`spectra.guardrails.rules` are pure functions of a candidate and plain facts (recent
changes, locks, change events, limits, evidence); :mod:`spectra.guardrails.service` reads those
facts from the warehouse.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spectra.domain.changes import EntityKind, EntityRef, Origin, OriginKind


class ChangeKind(StrEnum):
    """What a change does, as the guardrails see it (caps and limits are per kind)."""

    BID = "bid"  # cpc_bid_micros of a keyword or ad group
    BUDGET = "budget"  # a campaign's daily budget
    TARGET = "target"  # a campaign's target CPA (or ROAS)
    STATUS = "status"  # pause / enable
    NEGATIVE_KEYWORD = "negative_keyword"
    AD_COPY = "ad_copy"  # a new ad (responsive search ad text)
    SPEND_LIMIT = "spend_limit"  # max_daily_spend_micros / total_spend_limit_micros
    STRUCTURE = "structure"  # a new campaign, ad group or keyword


# The field a change sets -> its kind; fields not listed need an explicit kind.
KIND_OF_FIELD: dict[str, ChangeKind] = {
    "cpc_bid_micros": ChangeKind.BID,
    "budget_micros": ChangeKind.BUDGET,
    "target_cpa_micros": ChangeKind.TARGET,
    "target_roas": ChangeKind.TARGET,
    "target_roas_micros": ChangeKind.TARGET,
    "status": ChangeKind.STATUS,
    "max_daily_spend_micros": ChangeKind.SPEND_LIMIT,
    "total_spend_limit_micros": ChangeKind.SPEND_LIMIT,
}
# Kinds whose values are amounts, where a relative change is meaningful.
MAGNITUDE_KINDS = frozenset({ChangeKind.BID, ChangeKind.BUDGET, ChangeKind.TARGET})

Value = int | str


class CandidateChange(BaseModel):
    """One change someone wants: set ``entity.field`` from ``current`` to ``proposed``.

    ``ref`` names the candidate (a proposal id, a person's edit id) and keys its stored
    decision; ``safety`` marks protective actions (pausing a disapproved ad, a spend-limit
    pause), which the statistical gate and the learning-rate limit do not hold back.
    ``created`` counts what a structural change adds (keywords, ad groups, negatives, ads).
    ``effective_at`` is when the change will be in force (the ledger's effective date: a
    proposal of day D is in force on D + 1); changes of one campaign in force at the same
    instant are one change set for the learning window. None: it is judged at ``as_of``.
    """

    model_config = ConfigDict(frozen=True)

    tenant_id: str = Field(min_length=1, max_length=64)
    customer_id: int = Field(gt=0)
    ref: str = Field(min_length=1, max_length=200)
    entity: EntityRef
    field: str = Field(min_length=1, max_length=64)
    kind: ChangeKind | None = None
    current: Value | None = None
    proposed: Value | None = None
    evidence_ids: tuple[str, ...] = ()
    origin: Origin
    safety: bool = False
    created: int = Field(default=0, ge=0)
    reasoning: str = ""
    effective_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _kind(self) -> CandidateChange:
        if self.kind is None:
            kind = KIND_OF_FIELD.get(self.field)
            if kind is None:
                raise ValueError(
                    f"field {self.field!r} has no default change kind; pass kind= "
                    f"(one of {[k.value for k in ChangeKind]})"
                )
            object.__setattr__(self, "kind", kind)
        if self.change_kind in MAGNITUDE_KINDS | {ChangeKind.SPEND_LIMIT}:
            for name in ("current", "proposed"):
                value = getattr(self, name)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError(f"{name} of a {self.change_kind} change must be micros")
        return self

    @property
    def change_kind(self) -> ChangeKind:
        assert self.kind is not None
        return self.kind

    @property
    def campaign_id(self) -> int:
        return self.entity.campaign_id

    @property
    def by_agent(self) -> bool:
        """A proposal from the agent (people and rollbacks are not the agent)."""
        return self.origin.kind == OriginKind.PROPOSAL

    @property
    def relative_change(self) -> float | None:
        """(proposed - current) / current for amounts; None when either is missing."""
        if not isinstance(self.current, int) or not isinstance(self.proposed, int):
            return None
        if self.current <= 0:
            return None
        return (self.proposed - self.current) / self.current


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class RecentChange:
    """A change in the apply ledger (applied or on its way), as the learning-rate rule sees it."""

    campaign_id: int
    entity_key: str
    field: str
    effective_at: dt.datetime
    before: Value | None = None
    after: Value | None = None
    origin_kind: str = "proposal"
    idempotency_key: str = ""

    @property
    def kind(self) -> ChangeKind | None:
        return KIND_OF_FIELD.get(self.field)

    @property
    def relative_change(self) -> float | None:
        if not isinstance(self.before, int) or not isinstance(self.after, int):
            return None
        if isinstance(self.before, bool) or self.before <= 0:
            return None
        return (self.after - self.before) / self.before


@dataclass(frozen=True)
class Lock:
    """A person's lock on a campaign (``field`` None) or on one field of it."""

    lock_id: int
    campaign_id: int
    field: str | None
    created_by: str
    expires_at: dt.datetime
    reason: str = ""
    lifted_at: dt.datetime | None = None

    def active(self, now: dt.datetime) -> bool:
        return self.lifted_at is None and self.expires_at > now


@dataclass(frozen=True)
class ManualEdit:
    """A change Google recorded (``change_event``) on one entity of the account."""

    resource_name: str  # the changed entity (change_resource_name)
    resource_type: str  # CAMPAIGN, CAMPAIGN_BUDGET, AD_GROUP, AD_GROUP_CRITERION, ...
    campaign_id: int | None
    changed_at: dt.datetime
    client_type: str
    user_email: str = ""


@dataclass(frozen=True)
class SpendLimits:
    """A campaign's spend limits and where its flight stands (all micros).

    ``spent_micros`` is what the campaign has spent in its flight so far; ``days_remaining``
    counts the flight's days left including today (None for a campaign without an end date).
    """

    max_daily_spend_micros: int | None
    total_spend_limit_micros: int | None
    spent_micros: int = 0
    days_remaining: int | None = None


@dataclass(frozen=True)
class StructureCounts:
    """How many entities the parent of a structural change already has (live ones)."""

    campaigns_in_account: int = 0
    ad_groups_in_campaign: int = 0
    keywords_in_ad_group: int = 0
    criteria_in_account: int = 0
    negatives_in_campaign: int = 0
    enabled_ads_in_ad_group: int = 0


@dataclass(frozen=True)
class Evidence:
    """A verdict, an envelope or a search-term test from analytics, reduced to what the
    statistical gate checks."""

    evidence_id: str  # "verdict:<id>" | "envelope:<id>" | "search_term:<campaign>:<key>:…"
    kind: str  # verdict | envelope | search_term
    campaign_id: int | None
    entity_id: int | None
    significant: bool  # verdict: BH-adjusted significant; envelope: direction != hold
    lag_complete: bool
    seasonally_adjusted: bool
    direction: str | None = None  # envelope: increase | decrease | hold
    max_change_pct: float | None = None  # envelope: the most it lets the value move
    term_key: str | None = None  # search_term: which term (analytics.search_terms.term_key)
    notes: tuple[str, ...] = field(default_factory=tuple)


def entity_id_of(entity: EntityRef) -> int:
    """The id analytics keys an entity by (campaign, ad group, criterion or ad id)."""
    if entity.kind == EntityKind.KEYWORD:
        assert entity.criterion_id is not None
        return entity.criterion_id
    if entity.kind == EntityKind.AD_GROUP:
        assert entity.ad_group_id is not None
        return entity.ad_group_id
    if entity.kind == EntityKind.AD:
        assert entity.ad_id is not None
        return entity.ad_id
    return entity.campaign_id


__all__ = [
    "KIND_OF_FIELD",
    "MAGNITUDE_KINDS",
    "CandidateChange",
    "ChangeKind",
    "Evidence",
    "Lock",
    "ManualEdit",
    "RecentChange",
    "SpendLimits",
    "StructureCounts",
    "entity_id_of",
]
