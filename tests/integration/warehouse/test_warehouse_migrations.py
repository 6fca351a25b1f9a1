"""Migrations build the schema from nothing on both backends and match the models exactly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from spectra.warehouse.db import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    migrate,
)
from spectra.warehouse.models import Base


def _diffs(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_from_empty_matches_models(database_url: str) -> None:
    assert migrate(database_url) == head_revision()
    assert _diffs(database_url) == []
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_upgrade_is_idempotent(database_url: str) -> None:
    first = migrate(database_url)
    assert migrate(database_url) == first


def test_downgrade_to_base_and_back(database_url: str) -> None:
    migrate(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        with engine.connect() as conn:
            assert current_revision(conn) is None
            remaining = set(inspect(conn).get_table_names()) & set(Base.metadata.tables)
            assert remaining == set()
    finally:
        engine.dispose()
    assert migrate(database_url) == head_revision()
    assert _diffs(database_url) == []


def test_offline_sql_renders_for_postgres(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = alembic_config("postgresql://dba@localhost/spectra")
    command.upgrade(cfg, "head", sql=True)
    sql = capsys.readouterr().out
    assert "CREATE TABLE performance_daily" in sql
    assert "INSERT INTO alembic_version" in sql


def test_concurrent_migrations_serialise(database_url: str) -> None:
    # Several Airflow tasks may call migrate() at start-up at the same moment.
    with ThreadPoolExecutor(max_workers=4) as pool:
        revisions = list(pool.map(lambda _: migrate(database_url), range(4)))
    assert revisions == [head_revision()] * 4
    assert _diffs(database_url) == []
