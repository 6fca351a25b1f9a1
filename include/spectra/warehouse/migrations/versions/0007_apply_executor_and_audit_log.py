"""The apply executor's tables and the hash-chained audit log.

- ``apply_leases``: one writer per scope (campaign, operation) with a monotonic fencing token;
- ``apply_changes``: the ledger of approved changes and the phase each reached;
- ``failed_jobs``: dead letters (changes that exhausted their retries);
- ``apply_operations`` / ``apply_operation_steps``: multi-step operations and their steps;
- ``audit_log`` / ``audit_chain_heads``: append-only, hash-chained audit rows per tenant;
- ``circuit_breakers``: shared circuit-breaker state (pybreaker storage) for the embedded default;
- ``campaigns.status_reason``: why a campaign is FAILED.

New tables and one new column with a default; nothing existing is rewritten.

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.tenant_id"], name=op.f(f"fk_{table}_tenant_id_tenants")
    )


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "apply_leases",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("acquired_at", TZ, nullable=True),
        sa.Column("expires_at", TZ, nullable=True),
        _tenant_fk("apply_leases"),
        sa.PrimaryKeyConstraint("tenant_id", "scope", name=op.f("pk_apply_leases")),
    )
    op.create_table(
        "apply_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("entity_key", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("origin_kind", sa.String(length=16), nullable=False),
        sa.Column("origin_ref", sa.String(length=200), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("fencing_token", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("before_value", sa.JSON(), nullable=True),
        sa.Column("after_value", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("version_before", sa.Integer(), nullable=True),
        sa.Column("version_after", sa.Integer(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=True),
        sa.Column("deferred_until", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        _tenant_fk("apply_changes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apply_changes")),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name=op.f("uq_apply_changes_tenant_id_idempotency_key")
        ),
    )
    op.create_index(
        "ix_apply_changes_campaign_phase",
        "apply_changes",
        ["tenant_id", "customer_id", "campaign_id", "phase"],
    )
    op.create_table(
        "failed_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_failed_at", TZ, nullable=False),
        sa.Column("last_failed_at", TZ, nullable=False),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("resolved_at", TZ, nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'retried', 'discarded')", name=op.f("ck_failed_jobs_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["change_id"], ["apply_changes.id"], name=op.f("fk_failed_jobs_change_id_apply_changes")
        ),
        _tenant_fk("failed_jobs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_jobs")),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name=op.f("uq_failed_jobs_tenant_id_idempotency_key")
        ),
    )
    op.create_table(
        "apply_operations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("operation_key", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        _tenant_fk("apply_operations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apply_operations")),
        sa.UniqueConstraint(
            "tenant_id", "operation_key", name=op.f("uq_apply_operations_tenant_id_operation_key")
        ),
    )
    op.create_table(
        "apply_operation_steps",
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("found_existing", sa.Boolean(), nullable=False),
        sa.Column("completed_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["apply_operations.id"],
            name=op.f("fk_apply_operation_steps_operation_id_apply_operations"),
        ),
        sa.PrimaryKeyConstraint("operation_id", "step", name=op.f("pk_apply_operation_steps")),
    )
    op.create_table(
        "audit_log",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("change_key", sa.String(length=64), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reasoning", sa.Text(), nullable=False),
        sa.Column("evidence_ids", sa.JSON(), nullable=False),
        sa.Column("prompt_version", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        _tenant_fk("audit_log"),
        sa.PrimaryKeyConstraint("tenant_id", "seq", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "audit_chain_heads",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        _tenant_fk("audit_chain_heads"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_audit_chain_heads")),
    )
    op.create_table(
        "circuit_breakers",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("fail_counter", sa.Integer(), nullable=False),
        sa.Column("success_counter", sa.Integer(), nullable=False),
        sa.Column("opened_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_circuit_breakers")),
    )


def downgrade() -> None:
    for table in (
        "circuit_breakers",
        "audit_chain_heads",
        "audit_log",
        "apply_operation_steps",
        "apply_operations",
        "failed_jobs",
    ):
        op.drop_table(table)
    op.drop_index("ix_apply_changes_campaign_phase", table_name="apply_changes")
    op.drop_table("apply_changes")
    op.drop_table("apply_leases")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("status_reason")
