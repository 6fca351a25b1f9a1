"""Engines, migrations and the unit of work for the warehouse (SQLite or PostgreSQL).

The embedded default is a SQLite file under ``$SPECTRA_HOME/var``; setting
``SPECTRA_DATABASE_URL`` points the very same code at PostgreSQL. Everything that opens a
database goes through :func:`make_engine`, so SQLite always gets WAL, foreign keys, a busy
timeout and *real* transactions (see :func:`_configure_sqlite`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

ENV_DATABASE_URL = "SPECTRA_DATABASE_URL"
ENV_HOME = "SPECTRA_HOME"

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ALEMBIC_INI = Path(__file__).parent / "alembic.ini"

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option read by the SQLite ``begin`` hook, to override an engine's begin mode per
# connection: ``engine.execution_options(spectra_sqlite_begin="DEFERRED")`` for a reader.
SQLITE_BEGIN_OPTION = "spectra_sqlite_begin"
SQLITE_BEGIN_MODES = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")
# Arbitrary constant: concurrent ``migrate()`` calls on PostgreSQL serialise on this lock.
_PG_MIGRATION_LOCK_KEY = 0x5EC7_0A11


class MigrationError(RuntimeError):
    """Raised when the migrated database fails a post-migration integrity check."""


def dialect_insert(bind: Connection | Engine) -> Any:
    """The backend's ``insert`` (both have ``on_conflict_do_nothing`` / ``_do_update``)."""
    return pg_insert if bind.dialect.name == "postgresql" else sqlite_insert


def database_url() -> str:
    """Return ``$SPECTRA_DATABASE_URL``, else a SQLite file in ``<spectra home>/var``.

    The ``var/`` directory is created so a fresh checkout works without setup.
    """
    url = os.environ.get(ENV_DATABASE_URL, "").strip()
    if url:
        # Heroku-style "postgres://" is common in env vars but not accepted by SQLAlchemy.
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        return url
    from spectra.settings import spectra_home  # the one place SPECTRA_HOME is resolved

    home = spectra_home()
    var_dir = home / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(var_dir / 'spectra.db').resolve()}"


def make_engine(
    url: str | URL | None = None,
    *,
    sqlite_begin: str = "IMMEDIATE",
    sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    **engine_kwargs: Any,
) -> Engine:
    """Create an engine for ``url`` (default :func:`database_url`) tuned for its backend.

    ``sqlite_begin`` is how SQLite transactions start. IMMEDIATE (default) takes the write
    lock up front, so concurrent tasks that read then write in one transaction (ingest,
    state changes) queue on the busy timeout instead of failing with "database is locked"
    when a read snapshot cannot be upgraded. Readers that must not wait behind a writer
    (UI pages, long analytics scans) can use DEFERRED and read a WAL snapshot in parallel.
    ``sqlite_busy_timeout_ms`` is how long a SQLite connection waits for another's write lock
    before "database is locked". Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    """
    sa_url = make_url(url if url is not None else database_url())
    backend = sa_url.get_backend_name()
    if backend == "postgresql":
        if sa_url.drivername == "postgresql":
            sa_url = sa_url.set(drivername="postgresql+psycopg2")
        engine_kwargs.setdefault("pool_pre_ping", True)
        return create_engine(sa_url, **engine_kwargs)
    if backend == "sqlite":
        if sqlite_begin not in SQLITE_BEGIN_MODES:
            raise ValueError(f"sqlite_begin must be one of {SQLITE_BEGIN_MODES}")
        engine = create_engine(sa_url, **engine_kwargs)
        _configure_sqlite(
            engine, default_begin=sqlite_begin, busy_timeout_ms=sqlite_busy_timeout_ms
        )
        return engine
    raise ValueError(f"unsupported warehouse backend {backend!r} (use sqlite or postgresql)")


def _configure_sqlite(engine: Engine, *, default_begin: str, busy_timeout_ms: int) -> None:
    """Set pragmas on every connection and make SQLite transactions real.

    Python's sqlite3 driver only emits BEGIN before DML, so DDL (migrations) and reads run
    outside any transaction. We switch the driver to autocommit and emit BEGIN ourselves
    (SQLAlchemy's documented recipe), which gives transactional DDL, SAVEPOINTs and
    snapshot reads; ``BEGIN <mode>`` comes from :data:`SQLITE_BEGIN_OPTION` or the default.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable across application crashes in WAL mode and much faster.
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, default_begin)
        if mode not in SQLITE_BEGIN_MODES:
            raise ValueError(f"{SQLITE_BEGIN_OPTION} must be one of {SQLITE_BEGIN_MODES}")
        conn.exec_driver_sql(f"BEGIN {mode}")


def reader(engine: Engine) -> Engine:
    """The same engine, but SQLite transactions begin DEFERRED: a read takes no write lock.

    In WAL mode a deferred read sees a snapshot beside a writer instead of queueing behind
    it on the busy timeout (and holding others back while it reads). For work that only
    reads; a transaction that reads then writes wants the writer's IMMEDIATE.
    """
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
    return engine


def _writer(engine: Engine) -> Engine:
    """The same engine, but SQLite transactions take the write lock when they begin."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    return engine


# --------------------------------------------------------------------------- migrations


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic config pointing at the migrations shipped inside the package.

    ``url`` is only used when no connection is handed over via
    ``config.attributes["connection"]`` (e.g. offline ``--sql`` generation).
    """
    # Deliberately not loading alembic.ini: its logging section would reconfigure the
    # caller's logging (Airflow's task logs) through env.py's fileConfig().
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        # ConfigParser interpolation: a literal "%" (e.g. url-encoded options) must be doubled.
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The single head revision of the shipped migrations (fails loudly on a branch)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at, or None for an empty database."""
    return MigrationContext.configure(conn).get_current_revision()


def migrate(url: str | URL | Engine | None = None) -> str:
    """Upgrade the database to head; safe to call concurrently and repeatedly.

    Returns the head revision. Concurrent callers serialise (advisory lock on PostgreSQL,
    ``BEGIN IMMEDIATE`` on SQLite) and the later ones find nothing to do. On SQLite, foreign
    keys are switched off for the duration, because batch migrations rebuild tables, and
    re-checked before commit.
    """
    owned = not isinstance(url, Engine)
    engine = make_engine(url) if not isinstance(url, Engine) else url
    try:
        with engine.connect() as conn:
            is_sqlite = engine.dialect.name == "sqlite"
            if is_sqlite:
                # The pragma is a no-op inside a transaction, so it goes straight to the
                # driver (autocommit) instead of through SQLAlchemy, which would autobegin.
                _sqlite_raw(conn, "PRAGMA foreign_keys = OFF")
                conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            try:
                with conn.begin():
                    if engine.dialect.name == "postgresql":
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"),
                            {"key": _PG_MIGRATION_LOCK_KEY},
                        )
                    cfg = alembic_config()
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    if is_sqlite:
                        violations = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if violations:
                            raise MigrationError(f"foreign key violations: {violations[:5]}")
                    revision = current_revision(conn)
            finally:
                if is_sqlite:
                    _sqlite_raw(conn, "PRAGMA foreign_keys = ON")
    finally:
        if owned:
            engine.dispose()
    return revision or ""


def dbapi_connection(conn: Connection) -> Any:
    """The driver's own connection under ``conn`` (sqlite3 or psycopg2), for what SQLAlchemy
    does not offer: COPY, SQLite's limits, statements outside its transaction."""
    driver = conn.connection.driver_connection
    if driver is None:  # only a closed or invalidated connection has none
        raise RuntimeError("the connection has no open driver connection")
    return driver


def _sqlite_raw(conn: Connection, sql: str) -> None:
    """Run ``sql`` on the driver connection, outside any SQLAlchemy transaction."""
    dbapi_connection(conn).execute(sql)


def sqlite_checkpoint(conn: Connection) -> int:
    """Fold a SQLite file's WAL into the main file, so a plain copy of the file is the whole
    database; returns SQLite's busy flag (0: complete). Through the driver: a checkpoint
    cannot complete inside the transaction SQLAlchemy would open."""
    busy, _, _ = dbapi_connection(conn).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return int(busy)


# --------------------------------------------------------------------------- unit of work


class UnitOfWork:
    """One atomic piece of work: nothing persists unless :meth:`commit` is called.

    Objects loaded inside the block can be read after it (``expire_on_commit=False`` and a
    rollback that does not expire them); an object changed but not committed keeps its
    in-memory change, though the database does not.

    Use via :func:`unit_of_work`; repositories take ``uow.session``, bulk loaders take
    ``uow.connection`` (same transaction). On SQLite the transaction starts with
    ``BEGIN IMMEDIATE``, so read-then-write work (state transitions, version bumps) waits
    for the write lock instead of failing with SQLITE_BUSY half-way.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._session

    @property
    def connection(self) -> Connection:
        """The session's connection, inside the same transaction (for Core bulk statements)."""
        return self.session.connection()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def __enter__(self) -> Self:
        # expire_on_commit=False: objects stay readable after commit, so a task can return
        # ids and values from them once the unit of work is closed.
        self._session = Session(bind=_writer(self._engine), expire_on_commit=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        # close() rolls back whatever was not committed, in the database, without expiring
        # the loaded objects: they stay readable as detached snapshots after the block.
        session.close()


def unit_of_work(engine: Engine) -> UnitOfWork:
    """``with unit_of_work(engine) as uow: ...; uow.commit()`` (rolls back otherwise)."""
    return UnitOfWork(engine)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A bare session that is rolled back unless ``session.commit()`` was called."""
    with unit_of_work(engine) as uow:
        yield uow.session
