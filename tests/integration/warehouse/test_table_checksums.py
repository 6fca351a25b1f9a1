"""table_checksums: order-independent, value-sensitive, tenant-scoped, backend-neutral."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, update
from warehouse_factories import CUSTOMER_B, PERF_KEYS, TENANT_A, TENANT_B, perf_row

from spectra.warehouse.checksums import table_checksums
from spectra.warehouse.models import PerformanceDaily, Tenant
from spectra.warehouse.upsert import UpsertError, bulk_upsert

ROWS = [
    perf_row(i, dt.date(2026, 3, 1) + dt.timedelta(days=d)) for i in range(20) for d in range(5)
]


def _checksum(engine: Engine, **kwargs: object) -> str:
    with engine.connect() as conn:
        return table_checksums(conn, ["performance_daily"], **kwargs)["performance_daily"]


def _insert_in_order(engine: Engine, rows: list[dict[str, object]]) -> None:
    # One row per statement, so the surrogate ids follow the given order.
    with engine.begin() as conn:
        for row in rows:
            bulk_upsert(conn, PerformanceDaily, [row], keys=PERF_KEYS)


def _wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(PerformanceDaily.__table__.delete())


def test_same_content_in_a_different_order_hashes_alike(tenants: Engine) -> None:
    engine = tenants
    _insert_in_order(engine, ROWS)
    forward = _checksum(engine)
    _wipe(engine)
    shuffled = ROWS[:]
    random.Random(7).shuffle(shuffled)
    _insert_in_order(engine, shuffled)
    assert _checksum(engine) == forward


def test_one_changed_value_changes_the_hash(tenants: Engine) -> None:
    engine = tenants
    _insert_in_order(engine, ROWS)
    before = _checksum(engine)
    with engine.begin() as conn:
        conn.execute(
            update(PerformanceDaily)
            .where(PerformanceDaily.entity_id == 3, PerformanceDaily.date == dt.date(2026, 3, 2))
            .values(conversions=PerformanceDaily.conversions + 0.25)
        )
    assert _checksum(engine) != before


def test_duplicated_content_is_not_hidden(tenants: Engine) -> None:
    engine = tenants
    # Two tenants with identical metrics: the multiset differs from either alone.
    _insert_in_order(engine, ROWS[:1])
    one = _checksum(engine, exclude_columns=("id", "tenant_id", "customer_id"))
    _insert_in_order(engine, [{**ROWS[0], "tenant_id": TENANT_B, "customer_id": CUSTOMER_B}])
    two = _checksum(engine, exclude_columns=("id", "tenant_id", "customer_id"))
    assert one != two


def test_scoped_to_one_tenant(tenants: Engine) -> None:
    engine = tenants
    _insert_in_order(engine, ROWS)
    only_a = _checksum(engine, tenant_id=TENANT_A)
    _insert_in_order(engine, [perf_row(1, tenant_id=TENANT_B, customer_id=CUSTOMER_B)])
    assert _checksum(engine, tenant_id=TENANT_A) == only_a
    assert _checksum(engine) != only_a


def test_several_tables_and_empty_ones(tenants: Engine) -> None:
    engine = tenants
    with engine.connect() as conn:
        sums = table_checksums(conn, [PerformanceDaily, Tenant.__table__, "campaigns"])
    assert set(sums) == {"performance_daily", "tenants", "campaigns"}
    assert len({sums["performance_daily"], sums["campaigns"]}) == 2  # column names count


def test_tenant_filter_needs_a_tenant_column(engine: Engine) -> None:
    alembic_version = Table("alembic_version", MetaData(), Column("version_num", String(32)))
    with engine.connect() as conn:
        assert table_checksums(conn, [alembic_version])  # fine without a tenant filter
        with pytest.raises(UpsertError, match="no tenant_id"):
            table_checksums(conn, [alembic_version], tenant_id="x")


@pytest.mark.postgres
def test_same_content_hashes_alike_on_sqlite_and_postgres(
    sqlite_engine: Engine, pg_engine: Engine
) -> None:
    sums = []
    for engine in (sqlite_engine, pg_engine):
        with engine.begin() as conn:
            conn.execute(Tenant.__table__.insert(), [{"tenant_id": TENANT_A, "name": "Acme"}])
        _insert_in_order(engine, ROWS)
        sums.append(_checksum(engine))
    assert sums[0] == sums[1]
