"""Real accounts: keywords keyed by (ad group, criterion), account-local days, currencies.

- ``performance_daily``: ``ad_group_id`` joins the primary key. Google gives one keyword text
  and match type the same ``criterion_id`` in every ad group, so two ad groups' rows for one
  keyword and day collided on the old key (tenant, account, level, entity, date). The key is
  now (tenant, account, level, entity, ad group, date); ``ad_group_id`` is NOT NULL and 0 on
  campaign rows (Google ids are never 0). Existing rows are kept: campaign rows get 0, the
  others already carry their ad group.
- ``performance_daily_clean``: the quarantine join matches the ad group too (an entry without
  one, e.g. a campaign row's, counts as 0). ``search_terms_daily_clean`` is unchanged.
- ``analytics_verdicts`` / ``analytics_envelopes``: their unique keys include ``ad_group_id``
  (a keyword verdict or bid envelope is per (ad group, criterion)).
- ``ad_accounts.billable_unit_micros``: the account currency's billable unit (Google's
  ``currency_constant``); every budget and bid Spectra proposes is a multiple of it.
- ``ingest_runs.pulled_at`` / ``complete_through``: the instant a pull saw the data as of, and
  the newest account-local day that was complete then (partial newest days are not judged).
- ``campaign_ad_schedules``: a campaign's ad schedules (days and hours it may serve), and
  ``change_events``: Google's change history of the last 30 days (who changed what, old and new
  values), so the gate can tell a day Google had nothing to report (outside the schedule,
  paused that day) from a day the pull lost.

PostgreSQL is altered in place. SQLite cannot change a primary key in place, so
``performance_daily`` is rebuilt (new table, copy, drop, rename, as 0004 did) and the two
analytics tables go through Alembic's batch mode. The clean views select from
``performance_daily``, so they are dropped first and recreated after.

Downgrade: the old key cannot hold one keyword's rows from two ad groups, so only the row of
the highest ad group id survives per (tenant, account, level, entity, date); the same for the
analytics keys.

Revision ID: 0006
Revises: 0007 (the newest revision when this landed; 0006 was reserved for it)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KEY = ["tenant_id", "customer_id", "level", "entity_id", "date"]
NEW_KEY = ["tenant_id", "customer_id", "level", "entity_id", "ad_group_id", "date"]
VERDICT_UQ = "uq_analytics_verdicts_test"
VERDICT_OLD = ["tenant_id", "customer_id", "logical_date", "level", "entity_id", "metric"]
VERDICT_NEW = [*VERDICT_OLD[:5], "ad_group_id", "metric"]
ENVELOPE_UQ = "uq_analytics_envelopes_entity"
ENVELOPE_OLD = ["tenant_id", "customer_id", "logical_date", "kind", "entity_id"]
ENVELOPE_NEW = [*ENVELOPE_OLD, "ad_group_id"]

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
      AND COALESCE(q.ad_group_id, 0) = p.ad_group_id
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

# 0004's view, for the downgrade.
_PERFORMANCE_CLEAN_0004 = _PERFORMANCE_CLEAN.replace(
    "      AND COALESCE(q.ad_group_id, 0) = p.ad_group_id\n", ""
)


def _perf_columns(*, ad_group_nullable: bool) -> list[sa.Column]:
    return [
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("ad_group_id", sa.BigInteger(), nullable=ad_group_nullable),
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


def _sqlite_rebuild_performance(key: list[str], *, ad_group: str, nullable: bool) -> None:
    """SQLite: build performance_daily anew with ``key``, copy (``ad_group`` is the SQL the
    ad_group_id column is copied as), drop the old table, rename."""
    columns = _perf_columns(ad_group_nullable=nullable)
    names = [c.name for c in columns]
    select_list = ", ".join(ad_group if n == "ad_group_id" else n for n in names)
    fk = sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.tenant_id"], name="fk_performance_daily_tenant_id_tenants"
    )
    op.create_table(
        "performance_daily_rebuild",
        *columns,
        fk,
        sa.PrimaryKeyConstraint(*key, name="pk_performance_daily"),
        sqlite_with_rowid=False,
    )
    op.execute(
        f"INSERT INTO performance_daily_rebuild ({', '.join(names)}) "
        f"SELECT {select_list} FROM performance_daily"
    )
    op.drop_table("performance_daily")
    op.rename_table("performance_daily_rebuild", "performance_daily")


def _drop_views() -> None:
    op.execute("DROP VIEW IF EXISTS search_terms_daily_clean")
    op.execute("DROP VIEW IF EXISTS performance_daily_clean")


def _swap_unique(table: str, name: str, columns: list[str], *, sqlite: bool) -> None:
    if sqlite:
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.drop_constraint(name, type_="unique")
            batch.create_unique_constraint(name, columns)
    else:
        op.drop_constraint(name, table, type_="unique")
        op.create_unique_constraint(name, table, columns)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _drop_views()
    if sqlite:
        _sqlite_rebuild_performance(NEW_KEY, ad_group="COALESCE(ad_group_id, 0)", nullable=False)
    else:
        op.execute("UPDATE performance_daily SET ad_group_id = 0 WHERE ad_group_id IS NULL")
        op.alter_column(
            "performance_daily", "ad_group_id", existing_type=sa.BigInteger(), nullable=False
        )
        op.drop_constraint("pk_performance_daily", "performance_daily", type_="primary")
        op.create_primary_key("pk_performance_daily", "performance_daily", NEW_KEY)
    op.execute(_PERFORMANCE_CLEAN)
    op.execute(_SEARCH_TERMS_CLEAN)

    _swap_unique("analytics_verdicts", VERDICT_UQ, VERDICT_NEW, sqlite=sqlite)
    _swap_unique("analytics_envelopes", ENVELOPE_UQ, ENVELOPE_NEW, sqlite=sqlite)

    op.add_column("ad_accounts", sa.Column("billable_unit_micros", sa.BigInteger(), nullable=True))
    op.add_column("ingest_runs", sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("ingest_runs", sa.Column("complete_through", sa.Date(), nullable=True))
    op.create_table(
        "campaign_ad_schedules",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("criterion_id", sa.BigInteger(), nullable=False),
        sa.Column("day_of_week", sa.String(length=16), nullable=False),
        sa.Column("start_hour", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_hour", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.tenant_id"],
            name=op.f("fk_campaign_ad_schedules_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "customer_id",
            "campaign_id",
            "criterion_id",
            name=op.f("pk_campaign_ad_schedules"),
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "change_events",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("resource_name", sa.String(length=255), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource_type", sa.String(length=48), nullable=False),
        sa.Column("change_resource_name", sa.String(length=255), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("client_type", sa.String(length=48), nullable=False),
        sa.Column("user_email", sa.String(length=255), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("ad_group_id", sa.BigInteger(), nullable=True),
        sa.Column("changed_fields", sa.JSON(), nullable=False),
        sa.Column("old_values", sa.JSON(), nullable=False),
        sa.Column("new_values", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_change_events_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "customer_id", "resource_name", name=op.f("pk_change_events")
        ),
    )
    op.create_index(
        "ix_change_events_account_time",
        "change_events",
        ["tenant_id", "customer_id", "changed_at"],
    )


def _keep_one(table: str, key: list[str]) -> None:
    """Delete all but the highest-ad-group row per ``key`` (the downgrade's old key)."""
    match = " AND ".join(f"o.{c} = {table}.{c}" for c in key)
    null_safe = f"COALESCE(o.ad_group_id, -1) > COALESCE({table}.ad_group_id, -1)"
    op.execute(
        f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {table} AS o WHERE {match} "
        f"AND {null_safe})"
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("ix_change_events_account_time", table_name="change_events")
    op.drop_table("change_events")
    op.drop_table("campaign_ad_schedules")
    with op.batch_alter_table("ingest_runs") as batch:
        batch.drop_column("complete_through")
        batch.drop_column("pulled_at")
    with op.batch_alter_table("ad_accounts") as batch:
        batch.drop_column("billable_unit_micros")

    _keep_one("analytics_envelopes", ENVELOPE_OLD)
    _swap_unique("analytics_envelopes", ENVELOPE_UQ, ENVELOPE_OLD, sqlite=sqlite)
    _keep_one("analytics_verdicts", VERDICT_OLD)
    _swap_unique("analytics_verdicts", VERDICT_UQ, VERDICT_OLD, sqlite=sqlite)

    _drop_views()
    _keep_one("performance_daily", OLD_KEY)
    if sqlite:
        _sqlite_rebuild_performance(OLD_KEY, ad_group="NULLIF(ad_group_id, 0)", nullable=True)
    else:
        op.drop_constraint("pk_performance_daily", "performance_daily", type_="primary")
        op.create_primary_key("pk_performance_daily", "performance_daily", OLD_KEY)
        op.alter_column(
            "performance_daily", "ad_group_id", existing_type=sa.BigInteger(), nullable=True
        )
        op.execute("UPDATE performance_daily SET ad_group_id = NULL WHERE ad_group_id = 0")
    op.execute(_PERFORMANCE_CLEAN_0004)
    op.execute(_SEARCH_TERMS_CLEAN)
