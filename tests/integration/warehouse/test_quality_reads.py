"""The quality gate's raw reads: bound parameters, scoped by tenant, account and window."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, or_, select
from warehouse_factories import CUSTOMER_A, CUSTOMER_B, DAY, TENANT_A, TENANT_B, perf_row

from spectra.warehouse import models as m
from spectra.warehouse.quality_reads import fetch_tuples, stored_facts
from spectra.warehouse.upsert import bulk_upsert

pytestmark = pytest.mark.usefixtures("tenants")

COLUMNS = ["entity_id", "date", "clicks"]


def _load(engine: Engine) -> None:
    rows = [perf_row(1, DAY + dt.timedelta(days=d)) for d in range(-1, 3)]
    rows.append(perf_row(2, DAY, tenant_id=TENANT_B, customer_id=CUSTOMER_B))
    # rows of the same account id under the other tenant, and of another account id under
    # the same tenant (the table's key allows both): a read must be scoped by each column
    rows.append(perf_row(3, DAY, tenant_id=TENANT_B, customer_id=CUSTOMER_A))
    rows.append(perf_row(4, DAY, tenant_id=TENANT_A, customer_id=CUSTOMER_B))
    with engine.begin() as conn:
        bulk_upsert(conn, m.PerformanceDaily, rows, keys=m.PERFORMANCE_DAILY_KEY)


def test_stored_facts_are_the_accounts_rows_inside_the_window(engine: Engine) -> None:
    _load(engine)
    with engine.connect() as conn:
        rows = stored_facts(
            conn,
            m.PerformanceDaily,
            COLUMNS,
            tenant_id=TENANT_A,
            customer_id=CUSTOMER_A,
            first=DAY,
            last=DAY + dt.timedelta(days=1),
        )
    # the driver's values: SQLite hands dates back as ISO text, PostgreSQL as dates
    got = sorted((int(e), str(d), int(c)) for e, d, c in rows)
    assert got == [
        (1, DAY.isoformat(), perf_row(1, DAY)["clicks"]),
        (1, (DAY + dt.timedelta(days=1)).isoformat(), perf_row(1, DAY)["clicks"]),
    ]


def test_fetch_tuples_binds_text_it_never_renders(engine: Engine) -> None:
    """A tenant id with a quote and a comment marker matches nothing and breaks nothing: it
    travels as a parameter, not as SQL."""
    _load(engine)
    p = m.PerformanceDaily
    hostile = "x' OR '1'='1' --"
    with engine.connect() as conn:
        assert fetch_tuples(conn, select(p.entity_id).where(p.tenant_id == hostile)) == []
        found = fetch_tuples(
            conn, select(p.entity_id).where(or_(p.tenant_id == TENANT_B, p.tenant_id == hostile))
        )
        with pytest.raises(TypeError, match="no IN list"):
            fetch_tuples(conn, select(p.entity_id).where(p.tenant_id.in_([TENANT_B])))
    assert sorted(int(e) for (e,) in found) == [2, 3]
