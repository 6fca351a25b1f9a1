"""The campaign state machine, checked pair by pair against its transition table."""

from __future__ import annotations

import itertools

import pytest

from spectra.domain.campaign_state import (
    TRANSITIONS,
    CampaignState,
    IllegalTransition,
    can_transition,
    transition,
)

PAIRS = list(itertools.product(CampaignState, repeat=2))


def test_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(CampaignState)
    assert len(PAIRS) == 81


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=lambda s: s.value)
def test_every_pair_follows_the_table(current: CampaignState, target: CampaignState) -> None:
    legal = target in TRANSITIONS[current]
    assert can_transition(current, target) is legal
    if legal:
        assert transition(current, target) is target
        return
    with pytest.raises(IllegalTransition) as raised:
        transition(current, target)
    message = str(raised.value)
    assert f"{current.value} -> {target.value}" in message
    assert raised.value.current is current
    assert raised.value.target is target


def test_accepts_plain_strings_as_stored_in_the_warehouse() -> None:
    assert transition("DRAFT", "GENERATING_ASSETS") is CampaignState.GENERATING_ASSETS
    assert can_transition("ACTIVE", "PAUSED")


def test_unknown_state_is_rejected() -> None:
    with pytest.raises(ValueError):
        transition("DRAFT", "LAUNCHED")


def test_error_lists_the_legal_moves() -> None:
    with pytest.raises(IllegalTransition, match="allowed from ARCHIVED: none"):
        transition(CampaignState.ARCHIVED, CampaignState.ACTIVE)
    with pytest.raises(IllegalTransition, match="allowed from DEPLOYING: ACTIVE, FAILED"):
        transition(CampaignState.DEPLOYING, CampaignState.PAUSED)


def test_illegal_transition_is_a_value_error() -> None:
    # Callers that only know ValueError (e.g. generic input validation) still catch it.
    assert issubclass(IllegalTransition, ValueError)


def test_launch_path_is_reachable() -> None:
    path = [
        CampaignState.DRAFT,
        CampaignState.GENERATING_ASSETS,
        CampaignState.PENDING_DEPLOYMENT,
        CampaignState.DEPLOYING,
        CampaignState.ACTIVE,
    ]
    for current, target in itertools.pairwise(path):
        assert transition(current, target) is target
