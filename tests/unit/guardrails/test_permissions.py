"""Who may do what: each action's least role allows it, the role below does not."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from spectra.cli_guardrails import parse_duration
from spectra.guardrails.permissions import LEAST_ROLE, ROLE_ORDER, Action, Role, actions_of, allows


@pytest.mark.parametrize("action", list(Action))
def test_least_role_allows_and_the_one_below_does_not(action: Action) -> None:
    least = LEAST_ROLE[action]
    assert allows(least, action)
    assert not allows(None, action)
    i = ROLE_ORDER.index(least)
    if i > 0:
        assert not allows(ROLE_ORDER[i - 1], action)


def test_the_matrix_the_issue_asks_for() -> None:
    assert actions_of(Role.VIEWER) == [Action.VIEW]
    assert set(actions_of(Role.EDITOR)) == {Action.VIEW, Action.EDIT, Action.PAUSE}
    assert Action.APPROVE in actions_of(Role.APPROVER) and Action.ROLLBACK in actions_of("approver")
    assert Action.AUTOPILOT not in actions_of(Role.APPROVER)
    assert {Action.AUTOPILOT, Action.CHANGE_LIMITS, Action.GRANT} <= set(actions_of(Role.ADMIN))
    with pytest.raises(ValueError):
        allows("owner", Action.VIEW)


def test_lock_durations() -> None:
    assert parse_duration("48h") == dt.timedelta(hours=48)
    assert parse_duration("7d") == dt.timedelta(days=7)
    assert parse_duration(" 30m ") == dt.timedelta(minutes=30)
    for bad in ("0h", "2w", "h", "-1h"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_duration(bad)
