"""Retries (tenacity): only retryable errors, bounded attempts and time, Google's hint honoured."""

from __future__ import annotations

import pytest

from spectra.ads.errors import (
    AdsConcurrentModification,
    AdsQueryError,
    AdsQuotaExhausted,
    AdsRateLimited,
    AdsUnavailable,
)
from spectra.ads.retry import RetryPolicy, call_with_retry, worst_case_attempts


def test_retries_transient_then_succeeds_with_full_jitter() -> None:
    calls, sleeps = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise (AdsUnavailable if len(calls) % 2 else AdsConcurrentModification)("transient")
        return "ok"

    out = call_with_retry(
        flaky, policy=RetryPolicy(attempts=5, base_delay=1, max_delay=3), sleep=sleeps.append
    )
    assert out == "ok" and len(calls) == 4
    # full jitter: attempt n sleeps uniformly in [0, min(cap, base * 2**n)]
    assert len(sleeps) == 3
    assert 0 <= sleeps[0] <= 1 and 0 <= sleeps[1] <= 2 and 0 <= sleeps[2] <= 3


@pytest.mark.parametrize("error", [AdsQueryError, AdsQuotaExhausted])
def test_permanent_errors_and_the_daily_quota_are_not_retried(error: type[Exception]) -> None:
    calls = []

    def bad() -> None:
        calls.append(1)
        raise error("no")

    with pytest.raises(error):
        call_with_retry(bad, sleep=lambda s: None)
    assert len(calls) == 1


def test_quota_retry_delay_is_honoured_and_attempts_bounded() -> None:
    sleeps: list[float] = []
    calls = []

    def limited() -> None:
        calls.append(1)
        raise AdsRateLimited("quota", retry_delay=7.0)

    with pytest.raises(AdsRateLimited):
        call_with_retry(
            limited,
            policy=RetryPolicy(attempts=3, base_delay=0.1, total_timeout=100),
            sleep=sleeps.append,
        )
    assert sleeps == [7.0, 7.0] and len(calls) == 3


def test_total_time_bound_stops_before_a_sleep_that_would_pass_it() -> None:
    sleeps: list[float] = []

    def limited() -> None:
        raise AdsRateLimited("quota", retry_delay=60.0)

    with pytest.raises(AdsRateLimited):
        call_with_retry(
            limited, policy=RetryPolicy(attempts=10, total_timeout=30), sleep=sleeps.append
        )
    assert sleeps == []


def test_worst_case_attempts_multiplies_airflow_tries() -> None:
    assert worst_case_attempts(RetryPolicy(attempts=4), airflow_retries=2) == 12


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
