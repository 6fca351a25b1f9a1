"""Fact tables keyed (and on SQLite clustered) by their natural key.

``performance_daily`` and ``search_terms_daily`` lose the surrogate ``id`` and the extra
(tenant, date) index; the natural key becomes the primary key, and SQLite stores the rows in
that key's b-tree (WITHOUT ROWID). Ingest upserts hundreds of thousands of these rows a day
and every index is paid on each write: on PostgreSQL, 200k-row upserts measured 1.93 s with
the id, the unique key and the date index against 1.33 s with the key alone.

PostgreSQL is altered in place. SQLite cannot change a primary key or add WITHOUT ROWID in
place, so it builds the new table, copies, drops and renames. The clean views of 0002 select
from these tables, so they are dropped first and recreated after (same frozen SQL).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERF_KEY = ["tenant_id", "customer_id", "level", "entity_id", "date"]
TERM_KEY = ["tenant_id", "customer_id", "ad_group_id", "search_term", "date"]
PERF_UQ = "uq_performance_daily_tenant_id_customer_id_level_entity_id_date"
TERM_UQ = "uq_search_terms_daily_tenant_id_customer_id_ad_group_id_search_term_date"
PERF_IX = "ix_performance_daily_tenant_date"
TERM_IX = "ix_search_terms_daily_tenant_date"

_PERFORMANCE_CLEAN = """
CREATE VIEW performance_daily_clean AS
SELECT p.*
FROM performance_daily AS p
WHERE NOT EXISTS (
    SELECT 1 FROM quality_quarantine AS q
    WHERE q.active
      AND q.source_table = 'performance_daily'
      AND q.tenant_id = p.tenant_id
      AND q.customer_id = p.customer_id
      AND q.date = p.date
      AND q.level = p.level
      AND q.entity_id = p.entity_id
      AND q.reported_as_of = p.reported_as_of
)
AND NOT EXISTS (
    SELECT 1 FROM quality_data_exclusions AS e
    WHERE e.active
      AND e.tenant_id = p.tenant_id
      AND e.customer_id = p.customer_id
      AND e.date = p.date
)
"""

_SEARCH_TERMS_CLEAN = """
CREATE VIEW search_terms_daily_clean AS
SELECT s.*
FROM search_terms_daily AS s
WHERE NOT EXISTS (
    SELECT 1 FROM quality_quarantine AS q
    WHERE q.active
      AND q.source_table = 'search_terms_daily'
      AND q.tenant_id = s.tenant_id
      AND q.customer_id = s.customer_id
      AND q.date = s.date
      AND q.ad_group_id = s.ad_group_id
      AND q.search_term = s.search_term
      AND q.reported_as_of = s.reported_as_of
)
AND NOT EXISTS (
    SELECT 1 FROM quality_data_exclusions AS e
    WHERE e.active
      AND e.tenant_id = s.tenant_id
      AND e.customer_id = s.customer_id
      AND e.date = s.date
)
"""


def _perf_columns() -> list[sa.Column]:
    return [
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("ad_group_id", sa.BigInteger(), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.Float(), nullable=False),
        sa.Column("conversions_value_micros", sa.BigInteger(), nullable=False),
        sa.Column("search_impression_share", sa.Float(), nullable=True),
        sa.Column("search_budget_lost_impression_share", sa.Float(), nullable=True),
        sa.Column("search_rank_lost_impression_share", sa.Float(), nullable=True),
        sa.Column("reported_as_of", sa.Date(), nullable=False),
    ]


def _term_columns() -> list[sa.Column]:
    return [
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("ad_group_id", sa.BigInteger(), nullable=False),
        sa.Column("search_term", sa.String(length=512), nullable=False),
        sa.Column("term_status", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.Float(), nullable=False),
        sa.Column("conversions_value_micros", sa.BigInteger(), nullable=False),
        sa.Column("reported_as_of", sa.Date(), nullable=False),
    ]


TABLES = (
    ("performance_daily", _perf_columns, PERF_KEY, PERF_UQ, PERF_IX),
    ("search_terms_daily", _term_columns, TERM_KEY, TERM_UQ, TERM_IX),
)


def _sqlite_rebuild(
    table: str, columns: list[sa.Column], *constraints: sa.Constraint, **kw: Any
) -> None:
    """SQLite: build ``table`` anew with ``constraints``, copy the rows, swap it in."""
    new = f"{table}_rebuild"
    names = ", ".join(c.name for c in columns if c.name != "id")
    fk = sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.tenant_id"], name=f"fk_{table}_tenant_id_tenants"
    )
    op.create_table(new, *columns, fk, *constraints, **kw)
    op.execute(f"INSERT INTO {new} ({names}) SELECT {names} FROM {table}")
    op.drop_table(table)
    op.rename_table(new, table)


def _drop_views() -> None:
    op.execute("DROP VIEW IF EXISTS search_terms_daily_clean")
    op.execute("DROP VIEW IF EXISTS performance_daily_clean")


def _create_views() -> None:
    op.execute(_PERFORMANCE_CLEAN)
    op.execute(_SEARCH_TERMS_CLEAN)


def upgrade() -> None:
    _drop_views()
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, columns, key, unique, index in TABLES:
        if sqlite:
            op.drop_index(index, table_name=table)
            _sqlite_rebuild(
                table,
                columns(),
                sa.PrimaryKeyConstraint(*key, name=f"pk_{table}"),
                sqlite_with_rowid=False,
            )
        else:
            op.drop_index(index, table_name=table)
            # op.f: the over-long name is truncated with a hash exactly as 0001 created it.
            op.drop_constraint(op.f(unique), table, type_="unique")
            op.drop_constraint(f"pk_{table}", table, type_="primary")
            op.drop_column(table, "id")
            op.create_primary_key(f"pk_{table}", table, key)
    _create_views()


def downgrade() -> None:
    _drop_views()
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, columns, key, unique, index in TABLES:
        if sqlite:
            _sqlite_rebuild(
                table,
                [sa.Column("id", sa.Integer(), autoincrement=True, nullable=False), *columns()],
                sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
                sa.UniqueConstraint(*key, name=op.f(unique)),
            )
        else:
            op.drop_constraint(f"pk_{table}", table, type_="primary")
            op.add_column(table, sa.Column("id", sa.Integer(), sa.Identity(), nullable=False))
            op.create_primary_key(f"pk_{table}", table, ["id"])
            op.create_unique_constraint(op.f(unique), table, key)
        op.create_index(index, table, ["tenant_id", "date"])
    _create_views()
