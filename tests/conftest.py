"""Shared database fixtures: a migrated warehouse on SQLite and on PostgreSQL.

- ``sqlite_engine``: a fresh migrated SQLite file per test (copied from one migrated
  template per session, so it costs a file copy, not a migration).
- ``pg_engine``: one schema per test session (per xdist worker), migrated once and dropped at
  the end; tables are truncated after each test. Skipped when PostgreSQL is unreachable.
- ``engine``: parametrized over both; ``database_url``: an *empty* database on each backend.

- ``redis_url`` / ``redis_namespace``: a reachable Redis and a key prefix of this test's own,
  whose keys are deleted after it.

PostgreSQL defaults to 127.0.0.1:5432, database ``test``, user ``postgres`` or the current
user (trust auth); set ``SPECTRA_TEST_PG_URL`` to point elsewhere. Redis defaults to
``redis://127.0.0.1:6379/15``; set ``SPECTRA_TEST_REDIS_URL``.

A test whose service is unreachable is skipped on a developer's machine, but FAILS when
``SPECTRA_REQUIRE_SERVICES=1`` (set by ``.ci/run``): CI has both services, so a skip there
would be a green run that never tested PostgreSQL or Redis.
"""

from __future__ import annotations

import getpass
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from spectra.warehouse.db import make_engine, migrate, sqlite_checkpoint
from spectra.warehouse.models import Base

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
REQUIRE_SERVICES = "SPECTRA_REQUIRE_SERVICES"


def services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES, "").strip() not in ("", "0")


def service_unavailable(reason: str) -> NoReturn:
    """Skip, or fail under ``SPECTRA_REQUIRE_SERVICES=1``: CI must not go green by skipping."""
    if services_required():
        pytest.fail(f"{reason} (and {REQUIRE_SERVICES}=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


def _pg_candidates() -> list[str]:
    if url := os.environ.get("SPECTRA_TEST_PG_URL"):
        return [url]
    users = dict.fromkeys(["postgres", getpass.getuser()])
    return [f"postgresql+psycopg2://{user}@127.0.0.1:5432/test" for user in users]


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """A PostgreSQL URL that accepts connections, or skip the test."""
    errors = []
    for url in _pg_candidates():
        engine = make_engine(url, connect_args={"connect_timeout": 3}, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url
        except OperationalError as error:
            errors.append(f"{make_url(url).render_as_string()}: {str(error.orig).strip()}")
        finally:
            engine.dispose()
    service_unavailable("PostgreSQL unreachable: " + "; ".join(errors))


def _schema_url(admin_url: str, schema: str) -> str:
    url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _pg_schema_factory(pg_admin_url: str) -> Iterator[Callable[[], str]]:
    """Create uniquely named schemas on demand; drop them all at session end."""
    created: list[str] = []
    admin = make_engine(pg_admin_url)

    def create() -> str:
        schema = f"test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        created.append(schema)
        return _schema_url(pg_admin_url, schema)

    yield create
    with admin.begin() as conn:
        for schema in created:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_migrated_engine(_pg_schema_factory: Callable[[], str]) -> Iterator[Engine]:
    engine = make_engine(_pg_schema_factory())
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(_pg_migrated_engine: Engine) -> Iterator[Engine]:
    """The session's migrated PostgreSQL schema, emptied after each test."""
    yield _pg_migrated_engine
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with _pg_migrated_engine.begin() as conn:
        # A test that leaked a transaction would otherwise hang the whole run here.
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "spectra.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        # so a plain file copy is a complete database
        busy = sqlite_checkpoint(conn)
        assert busy == 0, "WAL checkpoint of the template database did not complete"
    engine.dispose()
    return path


@pytest.fixture
def sqlite_engine(_sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated SQLite warehouse file for this test."""
    path = tmp_path / "spectra.db"
    shutil.copyfile(_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated, empty warehouse on each backend."""
    return request.getfixturevalue(f"{request.param.replace('postgres', 'pg')}_engine")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty (unmigrated) database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("_pg_schema_factory")()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis URL that answers PING, or skip (fail under SPECTRA_REQUIRE_SERVICES=1)."""
    import redis

    url = os.environ.get("SPECTRA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        service_unavailable(f"Redis unreachable at {url}: {error}")
    finally:
        client.close()
    return url


@pytest.fixture
def redis_namespace(redis_url: str) -> Iterator[str]:
    """A key prefix no other test (or xdist worker) uses; its keys are deleted afterwards.

    Give it to the code under test as a name prefix: every key the test causes must contain it.
    """
    import redis

    namespace = f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield namespace
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"*{namespace}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
