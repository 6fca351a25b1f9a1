"""The campaign launch pipeline: briefs and their lifecycle, each launch step's outcome, and
content-addressed generated assets; the tenant's autopilot for launches.

- ``launch_briefs``: one campaign-to-be per row, from its validated brief, with Spectra's
  lifecycle state (DRAFT … ACTIVE / FAILED), the reason of that state, review flags and the
  Google Ads resources created so far;
- ``launch_steps``: the outcome of each pipeline step of a brief (assets, conversion tracking,
  limits, approval, deployment), replaced when the step runs again;
- ``launch_assets``: generated copy, keywords and images keyed by the hash of what was asked
  (``request_key``) and of what came back (``content_sha256``), so a retry reuses them;
- ``tenant_settings.launch_autopilot``: launches deploy without a person's approval.

New tables and one new column with a default; nothing existing is rewritten.

Revision ID: 0023
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
STATES = (
    "DRAFT",
    "GENERATING_ASSETS",
    "PENDING_DEPLOYMENT",
    "DEPLOYING",
    "ACTIVE",
    "OPTIMIZING",
    "PAUSED",
    "ARCHIVED",
    "FAILED",
)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.tenant_id"], name=op.f(f"fk_{table}_tenant_id_tenants")
    )


def upgrade() -> None:
    op.create_table(
        "launch_briefs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_name", sa.String(length=255), nullable=False),
        sa.Column("brief", sa.JSON(), nullable=False),
        sa.Column("brief_sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False),
        sa.Column("review_flags", sa.JSON(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("operation_key", sa.String(length=128), nullable=True),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.CheckConstraint(
            "state IN (" + ", ".join(f"'{s}'" for s in STATES) + ")",
            name=op.f("ck_launch_briefs_state_valid"),
        ),
        _tenant_fk("launch_briefs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_launch_briefs")),
        sa.UniqueConstraint(
            "tenant_id",
            "customer_id",
            "campaign_name",
            name=op.f("uq_launch_briefs_tenant_id_customer_id_campaign_name"),
        ),
    )
    op.create_index("ix_launch_briefs_state", "launch_briefs", ["tenant_id", "state"])
    op.create_table(
        "launch_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("brief_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        _tenant_fk("launch_steps"),
        sa.ForeignKeyConstraint(
            ["brief_id"], ["launch_briefs.id"], name=op.f("fk_launch_steps_brief_id_launch_briefs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_launch_steps")),
        sa.UniqueConstraint(
            "tenant_id", "brief_id", "step", name=op.f("uq_launch_steps_tenant_id_brief_id_step")
        ),
    )
    op.create_table(
        "launch_assets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("mime_type", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _tenant_fk("launch_assets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_launch_assets")),
        sa.UniqueConstraint(
            "tenant_id", "request_key", name=op.f("uq_launch_assets_tenant_id_request_key")
        ),
    )
    with op.batch_alter_table("tenant_settings") as batch:
        batch.add_column(
            sa.Column("launch_autopilot", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("tenant_settings") as batch:
        batch.drop_column("launch_autopilot")
    op.drop_table("launch_assets")
    op.drop_table("launch_steps")
    op.drop_index("ix_launch_briefs_state", table_name="launch_briefs")
    op.drop_table("launch_briefs")
