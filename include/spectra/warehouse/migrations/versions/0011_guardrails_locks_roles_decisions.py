"""Guardrails: people's locks, tenant roles, tenant settings (autopilot), guardrail decisions.

- ``guardrail_locks``: a person's lock on a campaign or one of its fields, with an expiry;
- ``tenant_roles``: viewer / editor / approver / admin per (tenant, principal);
- ``tenant_settings``: the tenant's autopilot switch;
- ``guardrail_decisions``: every rule's result and reason per candidate change.

New tables only; nothing existing is rewritten.

Revision ID: 0011
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.tenant_id"], name=op.f(f"fk_{table}_tenant_id_tenants")
    )


def upgrade() -> None:
    op.create_table(
        "guardrail_locks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("lifted_by", sa.String(length=128), nullable=True),
        sa.Column("lifted_at", TZ, nullable=True),
        _tenant_fk("guardrail_locks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardrail_locks")),
    )
    op.create_index(
        "ix_guardrail_locks_campaign",
        "guardrail_locks",
        ["tenant_id", "customer_id", "campaign_id"],
    )
    op.create_table(
        "tenant_roles",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("principal", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("granted_by", sa.String(length=128), nullable=False),
        sa.Column("granted_at", TZ, nullable=False),
        sa.CheckConstraint(
            "role IN ('viewer', 'editor', 'approver', 'admin')",
            name=op.f("ck_tenant_roles_role_valid"),
        ),
        _tenant_fk("tenant_roles"),
        sa.PrimaryKeyConstraint("tenant_id", "principal", name=op.f("pk_tenant_roles")),
    )
    op.create_table(
        "tenant_settings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("autopilot", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        _tenant_fk("tenant_settings"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_settings")),
    )
    op.create_table(
        "guardrail_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("candidate_ref", sa.String(length=200), nullable=False),
        sa.Column("entity_key", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("origin_kind", sa.String(length=16), nullable=False),
        sa.Column("candidate", sa.JSON(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("approval_reasons", sa.JSON(), nullable=False),
        sa.Column("as_of", TZ, nullable=False),
        sa.Column("decided_at", TZ, nullable=False),
        _tenant_fk("guardrail_decisions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardrail_decisions")),
        sa.UniqueConstraint(
            "tenant_id",
            "candidate_ref",
            name=op.f("uq_guardrail_decisions_tenant_id_candidate_ref"),
        ),
    )
    op.create_index(
        "ix_guardrail_decisions_campaign",
        "guardrail_decisions",
        ["tenant_id", "customer_id", "campaign_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_guardrail_decisions_campaign", table_name="guardrail_decisions")
    op.drop_table("guardrail_decisions")
    op.drop_table("tenant_settings")
    op.drop_table("tenant_roles")
    op.drop_index("ix_guardrail_locks_campaign", table_name="guardrail_locks")
    op.drop_table("guardrail_locks")
