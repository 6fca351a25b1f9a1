"""Retries: only retryable errors, bounded attempts, Google's retry delay honoured."""

from __future__ import annotations

import random

import pytest

from spectra.ads.errors import AdsQueryError, AdsRateLimited, AdsUnavailable
from spectra.apply.retry import RetryPolicy, call_with_retry


def test_retries_transient_then_succeeds() -> None:
    calls, sleeps = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise AdsUnavailable("UNAVAILABLE")
        return "ok"

    out = call_with_retry(
        flaky,
        policy=RetryPolicy(attempts=5, base_delay=1, max_delay=4),
        sleep=sleeps.append,
        rng=random.Random(1),
    )
    assert out == "ok" and len(calls) == 3
    assert len(sleeps) == 2 and all(0 <= s <= 2 for s in sleeps)


def test_permanent_error_is_not_retried() -> None:
    calls = []

    def bad() -> None:
        calls.append(1)
        raise AdsQueryError("UNRECOGNIZED_FIELD")

    with pytest.raises(AdsQueryError):
        call_with_retry(bad, sleep=lambda s: None)
    assert len(calls) == 1


def test_quota_retry_delay_is_honoured_and_attempts_bounded() -> None:
    sleeps: list[float] = []

    def limited() -> None:
        raise AdsRateLimited("quota", retry_delay=7.0)

    with pytest.raises(AdsRateLimited):
        call_with_retry(
            limited,
            policy=RetryPolicy(attempts=3, base_delay=0.1, total_timeout=100),
            sleep=sleeps.append,
        )
    assert sleeps == [7.0, 7.0]


def test_total_time_bound_stops_early() -> None:
    sleeps: list[float] = []

    def limited() -> None:
        raise AdsRateLimited("quota", retry_delay=60.0)

    with pytest.raises(AdsRateLimited):
        call_with_retry(
            limited, policy=RetryPolicy(attempts=10, total_timeout=30), sleep=sleeps.append
        )
    assert sleeps == []
