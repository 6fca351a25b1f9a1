"""A pybreaker ``CircuitBreakerStorage`` in the warehouse: breaker state shared by processes.

Airflow runs every task in a fresh process, so an in-memory breaker forgets each failure; with
Redis configured, pybreaker's own ``CircuitRedisStorage`` shares it, and this class does the same
on the embedded default (SQLite or PostgreSQL, one row per breaker in ``circuit_breakers``).
Every property is one short statement in its own transaction (never held across the guarded
call); counters are incremented in SQL, so concurrent processes never lose an increment.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pybreaker
from sqlalchemy import Engine, bindparam, select, update

from spectra.warehouse.db import dialect_insert
from spectra.warehouse.models import CircuitBreakerRow, natural_key

_T = CircuitBreakerRow.__table__
# Built once: pybreaker reads the state and a counter around every guarded call (every GAQL
# query and mutate the executor sends), and building the statement cost more than running it.
_GET = {
    column: select(_T.c[column]).where(_T.c.name == bindparam("key"))
    for column in ("state", "fail_counter", "success_counter", "opened_at")
}


class WarehouseCircuitStorage(pybreaker.CircuitBreakerStorage):
    """Breaker state in the ``circuit_breakers`` table (create the row on first use)."""

    def __init__(self, engine: Engine, name: str, *, state: str = pybreaker.STATE_CLOSED) -> None:
        super().__init__(name)
        self._engine = engine
        self._key = name
        insert = dialect_insert(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(_T)
                .values(name=name, state=state, fail_counter=0, success_counter=0)
                .on_conflict_do_nothing(index_elements=natural_key(_T))
            )

    def _get(self, column: str) -> Any:
        with self._engine.connect() as conn:
            return conn.execute(_GET[column], {"key": self._key}).scalar_one()

    def _set(self, **values: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(_T).where(_T.c.name == self._key).values(**values))

    @property
    def state(self) -> str:
        return str(self._get("state"))

    @state.setter
    def state(self, state: str) -> None:
        self._set(state=state)

    def increment_counter(self) -> None:
        self._set(fail_counter=_T.c.fail_counter + 1)

    def reset_counter(self) -> None:
        # the common case (a success while closed) is a read, not a write
        if self._get("fail_counter"):
            self._set(fail_counter=0)

    def increment_success_counter(self) -> None:
        self._set(success_counter=_T.c.success_counter + 1)

    def reset_success_counter(self) -> None:
        if self._get("success_counter"):
            self._set(success_counter=0)

    @property
    def counter(self) -> int:
        return int(self._get("fail_counter"))

    @property
    def success_counter(self) -> int:
        return int(self._get("success_counter"))

    @property
    def opened_at(self) -> dt.datetime | None:
        value = self._get("opened_at")
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)  # SQLite returns naive UTC
        return value

    @opened_at.setter
    def opened_at(self, value: dt.datetime) -> None:
        self._set(opened_at=value)


__all__ = ["WarehouseCircuitStorage"]
