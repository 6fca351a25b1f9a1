"""Engine factory, database URL resolution, migrations plumbing and the unit of work."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select

from spectra.warehouse import db
from spectra.warehouse.db import (
    MIGRATIONS_DIR,
    database_url,
    head_revision,
    make_engine,
    migrate,
    session_scope,
    unit_of_work,
)
from spectra.warehouse.models import Tenant


def test_database_url_prefers_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTRA_DATABASE_URL", "postgresql://u@db:5432/spectra")
    assert database_url() == "postgresql://u@db:5432/spectra"


def test_database_url_accepts_heroku_style_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTRA_DATABASE_URL", "postgres://u@db/spectra")
    assert database_url() == "postgresql://u@db/spectra"


def test_database_url_defaults_to_sqlite_under_spectra_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SPECTRA_DATABASE_URL", raising=False)
    monkeypatch.setenv("SPECTRA_HOME", str(tmp_path / "home"))
    assert database_url() == f"sqlite:///{tmp_path / 'home' / 'var' / 'spectra.db'}"
    assert (tmp_path / "home" / "var").is_dir()


def test_database_url_falls_back_to_the_spectra_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without SPECTRA_HOME the warehouse sits beside Data Docs and the sandbox's TLS files
    (the checkout, for an editable install), whatever the working directory is."""
    from spectra.settings import spectra_home

    monkeypatch.delenv("SPECTRA_DATABASE_URL", raising=False)
    monkeypatch.delenv("SPECTRA_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    expected = f"sqlite:///{spectra_home() / 'var' / 'spectra.db'}"
    assert database_url() == expected
    assert str(tmp_path) not in expected


def test_make_engine_rejects_other_backends() -> None:
    with pytest.raises(ValueError, match="unsupported warehouse backend 'mysql'"):
        make_engine("mysql://u@localhost/db")


def test_make_engine_uses_psycopg2_for_postgres() -> None:
    engine = make_engine("postgresql://u@localhost/db")
    assert engine.dialect.driver == "psycopg2"


def test_sqlite_pragmas(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.SQLITE_BUSY_TIMEOUT_MS


def test_make_engine_rejects_unknown_sqlite_begin_mode() -> None:
    with pytest.raises(ValueError, match="sqlite_begin"):
        make_engine("sqlite://", sqlite_begin="LATER")


def test_deferred_readers_do_not_wait_for_a_writer(sqlite_engine: Engine) -> None:
    reader = make_engine(sqlite_engine.url, sqlite_begin="DEFERRED")
    try:
        with unit_of_work(sqlite_engine) as uow:
            uow.session.add(Tenant(tenant_id="t1", name="pending"))
            uow.session.flush()  # the writer now holds SQLite's write lock
            with reader.connect() as conn:  # reads the last committed snapshot at once
                assert conn.execute(select(Tenant)).all() == []
            uow.commit()
        with reader.connect() as conn:
            assert conn.scalar(select(Tenant.name)) == "pending"
    finally:
        reader.dispose()


def test_sqlite_ddl_is_transactional(sqlite_engine: Engine) -> None:
    # Python's sqlite3 would autocommit DDL; make_engine must not let it.
    with sqlite_engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
        conn.rollback()
    assert "scratch" not in inspect(sqlite_engine).get_table_names()


def test_sqlite_enforces_foreign_keys(sqlite_engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    from spectra.warehouse.models import AdAccount

    with pytest.raises(IntegrityError), unit_of_work(sqlite_engine) as uow:
        uow.session.add(AdAccount(tenant_id="nobody", customer_id=1))
        uow.session.flush()


def test_unit_of_work_rolls_back_unless_committed(sqlite_engine: Engine) -> None:
    with unit_of_work(sqlite_engine) as uow:
        uow.session.add(Tenant(tenant_id="t1", name="forgotten"))
        uow.session.flush()
    with unit_of_work(sqlite_engine) as uow:
        uow.session.add(Tenant(tenant_id="t2", name="kept"))
        uow.commit()
    with session_scope(sqlite_engine) as session:
        assert session.scalars(select(Tenant.tenant_id)).all() == ["t2"]


def test_unit_of_work_rolls_back_on_error(sqlite_engine: Engine) -> None:
    with pytest.raises(RuntimeError), unit_of_work(sqlite_engine) as uow:
        uow.session.add(Tenant(tenant_id="t1", name="x"))
        uow.session.flush()
        raise RuntimeError("boom")
    with session_scope(sqlite_engine) as session:
        assert session.scalars(select(Tenant)).all() == []


def test_objects_stay_readable_after_commit(sqlite_engine: Engine) -> None:
    with unit_of_work(sqlite_engine) as uow:
        tenant = Tenant(tenant_id="t1", name="acme")
        uow.session.add(tenant)
        uow.commit()
    assert tenant.name == "acme"


def test_unit_of_work_outside_with_block() -> None:
    uow = unit_of_work(make_engine("sqlite://"))
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        _ = uow.session


def test_migrations_ship_inside_the_package() -> None:
    for name in ("env.py", "script.py.mako", "__init__.py", "versions/__init__.py"):
        assert (MIGRATIONS_DIR / name).is_file(), name
    assert (MIGRATIONS_DIR.parent / "alembic.ini").is_file()


def test_single_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(db.alembic_config())
    assert len(script.get_heads()) == 1, "revisions must chain on one head"
    assert head_revision() == script.get_current_head()


def test_migrate_is_idempotent_and_returns_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert migrate(url) == head_revision()
    assert migrate(url) == head_revision()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert db.current_revision(conn) == head_revision()
            # migrate() switches foreign keys off for the rebuild and must switch them back.
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_migrate_does_not_dispose_a_borrowed_engine(sqlite_engine: Engine) -> None:
    assert migrate(sqlite_engine) == head_revision()
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
