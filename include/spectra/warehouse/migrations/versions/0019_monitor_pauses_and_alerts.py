"""Hourly monitors: what they paused and why, alerts, and the alert notification outbox.

- ``monitor_pauses``: an entity a monitor paused (spend limit, policy), until re-enabled;
- ``alerts``: one row per episode of a condition, de-duplicated by ``dedup_key``;
- ``alert_events``: openings, severity changes and resolutions waiting for (or stamped with)
  delivery by the notifiers.

New tables only; nothing existing is rewritten.

Revision ID: 0019
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.tenant_id"], name=op.f(f"fk_{table}_tenant_id_tenants")
    )


def upgrade() -> None:
    op.create_table(
        "monitor_pauses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("entity_key", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("paused_at", TZ, nullable=False),
        sa.Column("change_key", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("resumed_at", TZ, nullable=True),
        sa.Column("resume_change_key", sa.String(length=64), nullable=True),
        _tenant_fk("monitor_pauses"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_pauses")),
        sa.UniqueConstraint("tenant_id", "change_key", name="uq_monitor_pauses_change"),
    )
    op.create_index(
        "ix_monitor_pauses_open", "monitor_pauses", ["tenant_id", "customer_id", "resumed_at"]
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("monitor", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("resolved_at", TZ, nullable=True),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_alerts_status_valid")),
        sa.CheckConstraint(
            "severity IN ('info', 'warning', 'critical')", name=op.f("ck_alerts_severity_valid")
        ),
        _tenant_fk("alerts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_open", "alerts", ["tenant_id", "dedup_key", "status"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        _tenant_fk("alert_events"),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_events_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index("ix_alert_events_pending", "alert_events", ["tenant_id", "delivered_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_events_pending", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_index("ix_alerts_open", table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_monitor_pauses_open", table_name="monitor_pauses")
    op.drop_table("monitor_pauses")
