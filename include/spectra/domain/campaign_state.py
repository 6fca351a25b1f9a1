"""The campaign lifecycle state machine.

The transition table is explicit so that a reviewer can read every legal move in one place,
and so that tests can check every pair of states against it.
"""

from __future__ import annotations

from enum import StrEnum


class CampaignState(StrEnum):
    """Spectra's own lifecycle of a campaign (not Google's serving status)."""

    DRAFT = "DRAFT"
    GENERATING_ASSETS = "GENERATING_ASSETS"
    PENDING_DEPLOYMENT = "PENDING_DEPLOYMENT"
    DEPLOYING = "DEPLOYING"
    ACTIVE = "ACTIVE"
    OPTIMIZING = "OPTIMIZING"
    PAUSED = "PAUSED"
    ARCHIVED = "ARCHIVED"
    FAILED = "FAILED"


S = CampaignState

TRANSITIONS: dict[CampaignState, frozenset[CampaignState]] = {
    S.DRAFT: frozenset({S.GENERATING_ASSETS, S.ARCHIVED}),
    # Image generation may fail: text-only fallback still reaches PENDING_DEPLOYMENT.
    S.GENERATING_ASSETS: frozenset({S.PENDING_DEPLOYMENT, S.FAILED, S.DRAFT}),
    # A launch refused before anything is created (account limits, a brief Google would
    # refuse) fails from here; one waiting on approval or conversion tracking stays here.
    S.PENDING_DEPLOYMENT: frozenset({S.DEPLOYING, S.FAILED, S.DRAFT, S.ARCHIVED}),
    S.DEPLOYING: frozenset({S.ACTIVE, S.FAILED}),
    S.ACTIVE: frozenset({S.OPTIMIZING, S.PAUSED, S.ARCHIVED}),
    # An optimisation ends back in ACTIVE, or pauses (spend limit, policy) mid-way.
    S.OPTIMIZING: frozenset({S.ACTIVE, S.PAUSED, S.FAILED}),
    S.PAUSED: frozenset({S.ACTIVE, S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
    # A failed launch or optimisation can be retried from a draft or archived.
    S.FAILED: frozenset({S.DRAFT, S.ARCHIVED}),
}


class IllegalTransition(ValueError):
    """Raised when a campaign is asked to move along an edge the table does not have."""

    def __init__(self, current: CampaignState, target: CampaignState) -> None:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none (terminal)"
        super().__init__(
            f"illegal campaign transition {current.value} -> {target.value}; "
            f"allowed from {current.value}: {allowed}"
        )
        self.current = current
        self.target = target


def can_transition(current: CampaignState | str, target: CampaignState | str) -> bool:
    """Whether the table has the edge ``current -> target`` (staying put is not an edge)."""
    return CampaignState(target) in TRANSITIONS[CampaignState(current)]


def transition(current: CampaignState | str, target: CampaignState | str) -> CampaignState:
    """Return the new state, or raise IllegalTransition naming both states and the legal moves."""
    src, dst = CampaignState(current), CampaignState(target)
    if dst not in TRANSITIONS[src]:
        raise IllegalTransition(src, dst)
    return dst
