"""When a change may go out: the campaign's learning window and the account's API budget.

The rate-limit sensor of ``spectra_apply`` asks :func:`rate_limit` before applying. Two limits:

- the learning-rate window (:func:`spectra.guardrails.rules.learning_window_free_at`): one
  significant change set per campaign per 72 hours (changes in force together are one set);
- Google Ads API Basic access allows 15,000 operations per developer token per day
  (developers.google.com/google-ads/api/docs/access-levels). Spectra counts the operations its
  executor sent in the trailing 24 hours per account and waits until the oldest of them leaves
  the window when the next change would exceed the budget.

Safety actions (a spend-limit pause) wait for neither the learning window nor anything else
but the API budget.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from spectra.ads.mutate import BASIC_ACCESS_OPERATIONS_PER_DAY

OPERATIONS_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class RateWait:
    ready: bool
    until: dt.datetime | None  # when to look again (None: ready, or nothing will free it)
    reason: str


def rate_limit(
    *,
    now: dt.datetime,
    learning_free_at: dt.datetime | None,
    sent: Sequence[tuple[dt.datetime, int]],
    operations_needed: int = 1,
    daily_operations: int = BASIC_ACCESS_OPERATIONS_PER_DAY,
    safety: bool = False,
) -> RateWait:
    """Ready now, or wait until the later of the learning window and the API budget opening.

    ``sent`` holds (time, operations) the account's changes sent; only the trailing 24 hours
    count."""
    waits: list[tuple[dt.datetime, str]] = []
    if not safety and learning_free_at is not None and learning_free_at > now:
        waits.append((learning_free_at, f"learning window until {learning_free_at.isoformat()}"))
    window = sorted((t, n) for t, n in sent if t > now - OPERATIONS_WINDOW)
    used = sum(n for _, n in window)
    if used + operations_needed > daily_operations:
        if operations_needed > daily_operations:
            return RateWait(
                False, None, f"{operations_needed} operations exceed the daily {daily_operations}"
            )
        # the earliest moment enough of the window's operations have aged out
        excess = used + operations_needed - daily_operations
        freed, opens = 0, now
        for t, n in window:
            freed += n
            opens = t + OPERATIONS_WINDOW
            if freed >= excess:
                break
        waits.append(
            (
                opens,
                f"{used} of {daily_operations} daily API operations used; opens {opens.isoformat()}",
            )
        )
    if not waits:
        return RateWait(True, None, f"ready ({used} of {daily_operations} operations used today)")
    until, _ = max(waits)
    return RateWait(False, until, "; ".join(reason for _, reason in waits))


__all__ = ["BASIC_ACCESS_OPERATIONS_PER_DAY", "OPERATIONS_WINDOW", "RateWait", "rate_limit"]
