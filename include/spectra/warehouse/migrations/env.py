"""Alembic environment for the Spectra warehouse.

Three ways in:
- ``spectra.warehouse.db.migrate()`` hands over an open connection in
  ``config.attributes["connection"]`` (inside its own transaction and lock);
- the ``alembic`` CLI with ``include/spectra/warehouse/alembic.ini`` connects to
  ``sqlalchemy.url`` if set, else to ``spectra.warehouse.db.database_url()``;
- ``alembic upgrade head --sql`` renders SQL offline for a DBA to review.

``render_as_batch`` is on for SQLite, which cannot ALTER most things: autogenerate then emits
``batch_alter_table`` blocks that rebuild the table, and the same revision runs on PostgreSQL.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from spectra.warehouse.db import database_url, make_engine
from spectra.warehouse.models import Base

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and config.attributes.get("connection") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or database_url()


def _configure(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=is_sqlite,
        # make_engine() gives SQLite real transactions, so its DDL is transactional too.
        transactional_ddl=True,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
