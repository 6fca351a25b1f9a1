"""Retries for Google Ads calls: tenacity with full-jitter exponential backoff, bounded twice.

Only errors that say they are retryable (``AdsRetryableError``: UNAVAILABLE, DEADLINE_EXCEEDED,
INTERNAL, a cut stream, RESOURCE_TEMPORARILY_EXHAUSTED, CONCURRENT_MODIFICATION) are retried;
a quota error's own ``retry_delay`` wins over our backoff. Attempts *and* total time are bounded
(``stop_before_delay``: no sleep is started that would end past ``total_timeout``). Permanent
errors, and the daily quota (``AdsQuotaExhausted``: retrying cannot help until the window
slides), are raised at once.

Full jitter (sleep uniform in [0, min(cap, base * 2**n)]) is what AWS's "Exponential Backoff
And Jitter" (2015) found best for contending clients. Airflow task retries multiply with these:
see ``worst_case_attempts``.

Never wrap a *mutate* in this blindly: a lost response followed by a re-send is a second
mutation. The apply executor drives its own rounds (read the current state, then send only what
is not yet at its target) with :func:`retrying` as the clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from spectra.ads.errors import AdsRateLimited, AdsRetryableError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry one call: attempts, backoff base and cap, and a total time bound."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    total_timeout: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0 or self.total_timeout < 0:
            raise ValueError("retry delays and timeout must not be negative")


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


class _wait_jitter_or_hint(tenacity.wait.wait_base):
    """Full jitter, but never shorter than the ``retry_delay`` Google asked for."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.jitter = tenacity.wait_random_exponential(
            multiplier=policy.base_delay, max=policy.max_delay
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        delay = float(self.jitter(retry_state))
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, AdsRateLimited) and exc.retry_delay is not None:
            delay = max(delay, exc.retry_delay)
        return delay


def _log_before_sleep(retry_state: tenacity.RetryCallState) -> None:
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None else None
    sleep = retry_state.next_action.sleep if retry_state.next_action else 0.0
    log.warning("attempt %d failed (%s); retrying in %.2fs", retry_state.attempt_number, exc, sleep)


def retrying(
    *,
    policy: RetryPolicy = DEFAULT_RETRY,
    on: tuple[type[BaseException], ...] = (AdsRetryableError,),
    sleep: Callable[[float], None] = time.sleep,
) -> tenacity.Retrying:
    """A tenacity ``Retrying`` for ``policy``: ``for attempt in retrying(): with attempt: ...``.

    The last error is re-raised as itself (``reraise=True``), never wrapped in RetryError.
    """
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts)
        | tenacity.stop_before_delay(policy.total_timeout),
        wait=_wait_jitter_or_hint(policy),
        retry=tenacity.retry_if_exception_type(on),
        sleep=sleep,
        reraise=True,
        before_sleep=_log_before_sleep,
    )


def call_with_retry(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy = DEFAULT_RETRY,
    on: tuple[type[BaseException], ...] = (AdsRetryableError,),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn``; on an ``on`` error wait (full jitter, or Google's hint) and try again."""
    return retrying(policy=policy, on=on, sleep=sleep)(fn)


def worst_case_attempts(policy: RetryPolicy, *, airflow_retries: int) -> int:
    """Calls one task can make for one read: ours times Airflow's tries (retries + 1).

    E.g. ingest in ``spectra_daily`` (``retries=2``) with ``DEFAULT_RETRY`` (4 attempts): 12
    calls per query. Mutations never multiply like this: the apply ledger counts sends across
    task tries (``ApplyConfig.max_attempts`` per change, and per step of a multi-step operation).
    """
    return policy.attempts * (airflow_retries + 1)


__all__ = [
    "DEFAULT_RETRY",
    "NO_RETRY",
    "RetryPolicy",
    "call_with_retry",
    "retrying",
    "worst_case_attempts",
]
