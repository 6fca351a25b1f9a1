"""Conversion-lag histograms pulled by ingest (``segments.conversion_lag_bucket``).

``conversion_lag_buckets``: per run (``pulled_for``, the logical date), campaign and lag
bucket, the conversions and value of a range of mature click days as Google reported them on
``reported_as_of``. Analytics completes a new account's recent days from the latest histogram
until a week of lag snapshots makes its own curve usable.

A new table only, keyed by its natural key like the fact tables of 0004 (no surrogate id;
on SQLite WITHOUT ROWID): re-running a day upserts the same keys. Nothing existing is altered.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ["tenant_id", "customer_id", "pulled_for", "campaign_id", "conversion_lag_bucket"]


def upgrade() -> None:
    op.create_table(
        "conversion_lag_buckets",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("pulled_for", sa.Date(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("conversion_lag_bucket", sa.String(length=32), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("reported_as_of", sa.Date(), nullable=False),
        sa.Column("conversions", sa.Float(), nullable=False),
        sa.Column("conversions_value_micros", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.tenant_id"],
            name=op.f("fk_conversion_lag_buckets_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_conversion_lag_buckets")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("conversion_lag_buckets")
