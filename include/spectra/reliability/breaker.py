"""Circuit breakers (pybreaker) with state shared across processes: Redis or the warehouse.

One breaker per integration point (``google_ads``, ``gemini``). Airflow runs each task in a
fresh process, so the state lives outside it: in Redis when ``SPECTRA_REDIS_URL`` is set
(pybreaker's own ``CircuitRedisStorage``), otherwise in the warehouse's ``circuit_breakers``
table (``WarehouseCircuitStorage``), so the embedded default works with nothing else running.

Only failures that say the integration is unwell count (``counts_as_failure``); a business error
(an invalid argument, a policy violation) is excluded, as pybreaker's docs advise. When the
breaker is open, calls fail fast with ``pybreaker.CircuitBreakerError`` and callers defer work
(the apply executor never drops a change for it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pybreaker
from sqlalchemy import Engine

from spectra.warehouse.circuit_storage import WarehouseCircuitStorage

ENV_REDIS_URL = "SPECTRA_REDIS_URL"
CircuitBreakerError = pybreaker.CircuitBreakerError


@dataclass(frozen=True)
class BreakerConfig:
    fail_max: int = 5  # consecutive failures that open it
    reset_timeout: float = 30.0  # seconds open before one trial call (half-open)
    success_threshold: int = 1  # successful trial calls that close it again


def shared_storage(
    name: str, *, engine: Engine | None, redis_url: str | None = None
) -> pybreaker.CircuitBreakerStorage:
    """Redis storage if ``redis_url`` (or ``$SPECTRA_REDIS_URL``) is set, else the warehouse."""
    url = redis_url if redis_url is not None else os.environ.get(ENV_REDIS_URL, "").strip()
    if url:
        import redis

        # pybreaker needs bytes back: a client with decode_responses=True breaks its storage
        conn = redis.Redis.from_url(url, decode_responses=False)
        return pybreaker.CircuitRedisStorage(
            pybreaker.STATE_CLOSED, conn, namespace=f"spectra:breaker:{name}"
        )
    if engine is None:
        raise ValueError(f"breaker {name!r} needs a warehouse engine when Redis is not configured")
    return WarehouseCircuitStorage(engine, name)


def shared_breaker(
    name: str,
    *,
    engine: Engine | None,
    counts_as_failure: Callable[[BaseException], bool],
    config: BreakerConfig = BreakerConfig(),
    redis_url: str | None = None,
    listeners: list[pybreaker.CircuitBreakerListener] | None = None,
) -> pybreaker.CircuitBreaker:
    """A breaker named ``name`` whose state every process using the same storage shares."""
    return pybreaker.CircuitBreaker(
        fail_max=config.fail_max,
        reset_timeout=config.reset_timeout,
        success_threshold=config.success_threshold,
        exclude=[lambda exc: not counts_as_failure(exc)],
        listeners=listeners or [],
        state_storage=shared_storage(name, engine=engine, redis_url=redis_url),
        name=name,
    )


def breaker_status(breaker: pybreaker.CircuitBreaker) -> dict[str, Any]:
    storage = breaker._state_storage  # pybreaker exposes no public getter for it
    return {
        "name": breaker.name,
        "state": breaker.current_state,
        "fail_counter": breaker.fail_counter,
        "opened_at": storage.opened_at.isoformat() if storage.opened_at else None,
    }


__all__ = [
    "ENV_REDIS_URL",
    "BreakerConfig",
    "CircuitBreakerError",
    "breaker_status",
    "shared_breaker",
    "shared_storage",
]
