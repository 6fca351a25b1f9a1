"""Executor settings for tests: quick retries and a breaker that resets fast (shared by the
apply, guardrail and launch tests, and by their worker processes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine


def fast_config(**over: Any) -> Any:
    from spectra.ads.retry import RetryPolicy
    from spectra.apply.executor import ApplyConfig

    quick = RetryPolicy(attempts=6, base_delay=0.005, max_delay=0.05, total_timeout=30)
    values: dict[str, Any] = {
        "reads": quick,
        "rounds": quick,
        "max_attempts": 6,
        "lease_ttl_s": 30,
        "lock_wait_s": 30,
    }
    values.update(over)
    return ApplyConfig(**values)


def quick_breaker(engine: Engine) -> Any:
    from spectra.apply.executor import google_ads_breaker
    from spectra.reliability.breaker import BreakerConfig

    return google_ads_breaker(engine, BreakerConfig(fail_max=8, reset_timeout=0.2))
