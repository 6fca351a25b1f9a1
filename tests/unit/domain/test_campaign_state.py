"""The campaign state machine, checked against the lifecycle written out here by hand.

The expected edges below are not read from ``TRANSITIONS``: each one is a business rule, named,
so a change to the table that breaks a rule fails a test that says which rule. Reachability is
explored through the public ``can_transition`` only, so it checks what callers see.
"""

from __future__ import annotations

import itertools
from collections import deque

import pytest

from spectra.domain.campaign_state import (
    CampaignState,
    IllegalTransition,
    can_transition,
    transition,
)

S = CampaignState

# Moves the product relies on (launch DAG, optimiser, monitors, operators), one reason each.
LEGAL: dict[str, tuple[CampaignState, CampaignState]] = {
    "launch starts generating copy and images": (S.DRAFT, S.GENERATING_ASSETS),
    "an abandoned draft is archived": (S.DRAFT, S.ARCHIVED),
    "assets ready, text-only fallback included": (S.GENERATING_ASSETS, S.PENDING_DEPLOYMENT),
    "asset generation fails": (S.GENERATING_ASSETS, S.FAILED),
    "brand-safety review sends a draft back": (S.GENERATING_ASSETS, S.DRAFT),
    "deployment begins": (S.PENDING_DEPLOYMENT, S.DEPLOYING),
    "a launch over the account's limits fails before creating anything": (
        S.PENDING_DEPLOYMENT,
        S.FAILED,
    ),
    "an operator edits before deploying": (S.PENDING_DEPLOYMENT, S.DRAFT),
    "never deployed, archived": (S.PENDING_DEPLOYMENT, S.ARCHIVED),
    "deployed": (S.DEPLOYING, S.ACTIVE),
    "deployment fails": (S.DEPLOYING, S.FAILED),
    "the optimiser takes a live campaign": (S.ACTIVE, S.OPTIMIZING),
    "spend limit or policy pauses a live campaign": (S.ACTIVE, S.PAUSED),
    "a live campaign is retired": (S.ACTIVE, S.ARCHIVED),
    "an optimisation finishes": (S.OPTIMIZING, S.ACTIVE),
    "a monitor pauses mid-optimisation": (S.OPTIMIZING, S.PAUSED),
    "an optimisation fails": (S.OPTIMIZING, S.FAILED),
    "a paused campaign resumes": (S.PAUSED, S.ACTIVE),
    "a paused campaign is retired": (S.PAUSED, S.ARCHIVED),
    "a failure is retried from a draft": (S.FAILED, S.DRAFT),
    "a failure is given up": (S.FAILED, S.ARCHIVED),
}

# Moves that would bypass a safeguard, one reason each.
ILLEGAL: dict[str, tuple[CampaignState, CampaignState]] = {
    "a draft never goes live without assets and deployment": (S.DRAFT, S.ACTIVE),
    "a draft is not deployed before its assets exist": (S.DRAFT, S.DEPLOYING),
    "assets do not skip deployment": (S.GENERATING_ASSETS, S.ACTIVE),
    "approval (pending) does not skip the deploy step": (S.PENDING_DEPLOYMENT, S.ACTIVE),
    "a deployment in flight cannot be paused": (S.DEPLOYING, S.PAUSED),
    "a deployment in flight cannot be archived": (S.DEPLOYING, S.ARCHIVED),
    "a deployment in flight is not sent back to draft": (S.DEPLOYING, S.DRAFT),
    "archived is terminal: not revived": (S.ARCHIVED, S.ACTIVE),
    "archived is terminal: not redrafted": (S.ARCHIVED, S.DRAFT),
    "a failure never goes live directly": (S.FAILED, S.ACTIVE),
    "a failure is not redeployed without a new draft": (S.FAILED, S.DEPLOYING),
    "a paused campaign is not optimised while paused": (S.PAUSED, S.OPTIMIZING),
    "a live campaign does not fail outside an optimisation": (S.ACTIVE, S.FAILED),
    "a live campaign is not redeployed": (S.ACTIVE, S.DEPLOYING),
}


def _reachable(start: CampaignState, *, avoiding: frozenset[CampaignState] = frozenset()) -> set:
    """States reachable from ``start`` by legal moves, never entering ``avoiding``."""
    seen, queue = {start}, deque([start])
    while queue:
        here = queue.popleft()
        for there in CampaignState:
            if there not in seen and there not in avoiding and can_transition(here, there):
                seen.add(there)
                queue.append(there)
    return seen


@pytest.mark.parametrize(("current", "target"), LEGAL.values(), ids=LEGAL.keys())
def test_legal_move(current: CampaignState, target: CampaignState) -> None:
    assert can_transition(current, target)
    assert transition(current, target) is target


@pytest.mark.parametrize(("current", "target"), ILLEGAL.values(), ids=ILLEGAL.keys())
def test_illegal_move_is_refused_naming_both_states(
    current: CampaignState, target: CampaignState
) -> None:
    assert not can_transition(current, target)
    with pytest.raises(IllegalTransition) as raised:
        transition(current, target)
    assert f"{current.value} -> {target.value}" in str(raised.value)
    assert (raised.value.current, raised.value.target) == (current, target)


def test_no_other_moves_exist() -> None:
    # Every edge the machine allows is one of the named legal moves: adding an edge is a
    # product decision that must be named above, not a silent table edit.
    allowed = {(a, b) for a, b in itertools.product(S, repeat=2) if can_transition(a, b)}
    assert allowed == set(LEGAL.values())


def test_staying_put_is_not_a_move() -> None:
    for state in S:
        assert not can_transition(state, state), state


def test_every_state_is_reachable_from_draft() -> None:
    assert _reachable(S.DRAFT) == set(S)


def test_going_live_needs_deployment() -> None:
    assert S.ACTIVE not in _reachable(S.DRAFT, avoiding=frozenset({S.DEPLOYING}))
    assert S.ACTIVE not in _reachable(S.DRAFT, avoiding=frozenset({S.GENERATING_ASSETS}))


def test_archived_is_terminal_and_every_state_can_be_archived() -> None:
    assert _reachable(S.ARCHIVED) == {S.ARCHIVED}
    for state in S:
        assert S.ARCHIVED in _reachable(state), f"{state.value} cannot be archived"


def test_a_failure_can_only_return_through_a_new_draft() -> None:
    assert S.ACTIVE not in _reachable(S.FAILED, avoiding=frozenset({S.DRAFT}))


def test_accepts_plain_strings_as_stored_in_the_warehouse() -> None:
    assert transition("DRAFT", "GENERATING_ASSETS") is CampaignState.GENERATING_ASSETS
    assert can_transition("ACTIVE", "PAUSED")


def test_unknown_state_is_rejected() -> None:
    with pytest.raises(ValueError, match="LAUNCHED"):
        transition("DRAFT", "LAUNCHED")


def test_error_lists_the_legal_moves() -> None:
    with pytest.raises(IllegalTransition, match="allowed from ARCHIVED: none"):
        transition(CampaignState.ARCHIVED, CampaignState.ACTIVE)
    with pytest.raises(IllegalTransition, match="allowed from DEPLOYING: ACTIVE, FAILED$"):
        transition(CampaignState.DEPLOYING, CampaignState.PAUSED)


def test_illegal_transition_is_caught_as_a_value_error() -> None:
    # Callers that only know ValueError (generic input validation) still catch it.
    with pytest.raises(ValueError):
        transition(CampaignState.ARCHIVED, CampaignState.DRAFT)
