"""Breaker state shared through its storage, on Redis and on the warehouse.

Two breakers built separately (as two Airflow task processes would build them) share nothing in
memory; what one learns the other must see through the storage alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pybreaker
import pytest
from sqlalchemy import Engine

from spectra.reliability.breaker import BreakerConfig, CircuitBreakerError, shared_breaker

# reset_timeout leaves room for a loaded 2-core CI runner: at 0.3 s the breaker sometimes
# reached half-open between the trip and the fail-fast check, and the check saw a closed call.
CONFIG = BreakerConfig(fail_max=2, reset_timeout=2.0)


class Unwell(Exception):
    """The integration is down (counts toward opening the breaker)."""


class Refused(Exception):
    """A business error (must never open the breaker)."""


def _fail(exc: type[Exception]) -> Callable[[], None]:
    def call() -> None:
        raise exc("boom")

    return call


@pytest.fixture(params=["redis", "warehouse"])
def make_breaker(
    request: pytest.FixtureRequest, sqlite_engine: Engine
) -> Callable[[], pybreaker.CircuitBreaker]:
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        name = f"{request.getfixturevalue('redis_namespace')}-google_ads"
        return lambda: shared_breaker(
            name,
            engine=None,
            redis_url=url,
            counts_as_failure=lambda e: isinstance(e, Unwell),
            config=CONFIG,
        )
    return lambda: shared_breaker(
        "google_ads",
        engine=sqlite_engine,
        redis_url="",
        counts_as_failure=lambda e: isinstance(e, Unwell),
        config=CONFIG,
    )


def test_an_open_breaker_is_seen_by_another_process(
    make_breaker: Callable[[], pybreaker.CircuitBreaker],
) -> None:
    first, second = make_breaker(), make_breaker()
    with pytest.raises(Unwell):
        first.call(_fail(Unwell))
    assert second.fail_counter == 1 and second.current_state == "closed"
    with pytest.raises(CircuitBreakerError):  # the failure that trips it
        second.call(_fail(Unwell))
    called = []
    with pytest.raises(CircuitBreakerError):  # fails fast: the call is never made
        first.call(lambda: called.append(1))
    assert called == [] and first.current_state == "open"

    time.sleep(CONFIG.reset_timeout + 0.1)
    assert second.call(lambda: "ok") == "ok"  # the half-open trial succeeds: closed again
    assert first.current_state == "closed" and first.fail_counter == 0


def test_business_errors_never_open_it(
    make_breaker: Callable[[], pybreaker.CircuitBreaker],
) -> None:
    breaker = make_breaker()
    for _ in range(CONFIG.fail_max + 2):
        with pytest.raises(Refused):
            breaker.call(_fail(Refused))
    assert make_breaker().current_state == "closed"
    assert breaker.fail_counter == 0
