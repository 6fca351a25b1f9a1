"""The rate-limit decision: the learning window and the trailing-24-hour API budget."""

from __future__ import annotations

import datetime as dt

from spectra.guardrails.ratelimit import rate_limit

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def test_ready_when_nothing_waits() -> None:
    wait = rate_limit(now=NOW, learning_free_at=None, sent=[])
    assert wait.ready and wait.until is None


def test_learning_window_waits_until_it_opens_but_not_for_safety() -> None:
    wait = rate_limit(now=NOW, learning_free_at=NOW + 5 * H, sent=[])
    assert not wait.ready and wait.until == NOW + 5 * H and "learning window" in wait.reason
    assert rate_limit(now=NOW, learning_free_at=NOW, sent=[]).ready  # opens exactly now
    assert rate_limit(now=NOW, learning_free_at=NOW + 5 * H, sent=[], safety=True).ready


def test_api_budget_boundary_and_when_it_opens() -> None:
    sent = [(NOW - 20 * H, 4), (NOW - 10 * H, 5)]  # 9 of 10 used in the last 24 h
    assert rate_limit(now=NOW, learning_free_at=None, sent=sent, daily_operations=10).ready
    wait = rate_limit(
        now=NOW, learning_free_at=None, sent=sent, operations_needed=2, daily_operations=10
    )
    # one operation too many: the oldest batch (4) ages out 24 h after it was sent
    assert not wait.ready and wait.until == NOW + 4 * H and "9 of 10" in wait.reason
    six = rate_limit(
        now=NOW, learning_free_at=None, sent=sent, operations_needed=6, daily_operations=10
    )
    assert six.until == NOW + 14 * H  # needs both batches gone
    old = [(NOW - 25 * H, 10)]
    assert rate_limit(now=NOW, learning_free_at=None, sent=old, daily_operations=10).ready


def test_the_later_wait_wins() -> None:
    sent = [(NOW - 20 * H, 10)]
    wait = rate_limit(now=NOW, learning_free_at=NOW + 8 * H, sent=sent, daily_operations=10)
    assert wait.until == NOW + 8 * H and "learning" in wait.reason and "API" in wait.reason
