"""Retries with capped exponential backoff and full jitter, bounded in attempts and time.

Only errors that say they are retryable are retried; a quota error's own retry delay wins over
our backoff. Airflow's task retries multiply with these, so keep both small.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from spectra.ads.errors import AdsRateLimited, AdsRetryableError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    total_timeout: float = 120.0


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def call_with_retry(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy = DEFAULT_RETRY,
    on: tuple[type[BaseException], ...] = (AdsRetryableError,),
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn``; on an ``on`` error wait (full jitter) and try again, within the policy."""
    rng = rng or random.Random()
    started = time.monotonic()
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except on as exc:
            elapsed = time.monotonic() - started
            if attempt == policy.attempts:
                raise
            delay = rng.uniform(0, min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1)))
            if isinstance(exc, AdsRateLimited) and exc.retry_delay is not None:
                delay = max(delay, exc.retry_delay)
            if elapsed + delay > policy.total_timeout:
                raise
            log.warning(
                "attempt %d/%d failed (%s); retrying in %.2fs", attempt, policy.attempts, exc, delay
            )
            sleep(delay)
    raise AssertionError("unreachable")
