"""Helpers shared by the benchmarks: timing, ports, and a migrated warehouse per backend."""

from __future__ import annotations

import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

PG_URL = os.environ.get(
    "SPECTRA_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def best(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """The fastest of ``repeat`` calls (seconds) and the last call's result."""
    fastest, out = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest, out  # type: ignore[return-value]


def warehouses(*, tenant_id: str, customer_id: int, prefix: str) -> Iterator[tuple[str, Any]]:
    """(backend, engine) for a fresh migrated SQLite file and, when reachable, a fresh
    PostgreSQL schema, each with the tenant and account registered; dropped afterwards."""
    from sqlalchemy import text

    from spectra.warehouse.db import make_engine, migrate
    from spectra.warehouse.repositories import register_account, register_tenant

    backends = [("sqlite", f"sqlite:///{Path(tempfile.mkdtemp(prefix=prefix)) / 'bench.db'}")]
    if pg_reachable():
        backends.append(("postgres", PG_URL))
    for backend, url in backends:
        schema = None
        if backend == "postgres":
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = make_engine(url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            admin.dispose()
            engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
        else:
            engine = make_engine(url)
        try:
            migrate(engine)
            with engine.begin() as conn:
                register_tenant(conn, tenant_id=tenant_id, name="bench")
                register_account(conn, tenant_id=tenant_id, customer_id=customer_id)
            yield backend, engine
        finally:
            engine.dispose()
            if schema:
                admin = make_engine(url)
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
