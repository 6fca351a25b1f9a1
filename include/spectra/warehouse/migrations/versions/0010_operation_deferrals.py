"""Multi-step operations remember until when they are deferred.

``apply_operations.deferred_until``: set when an operation stops on the open circuit breaker or
on Google's daily quota (until the ``retry_delay`` Google gave); a resume sweep leaves the
operation alone until then instead of spending a request on a refusal. NULL for every existing
row (nothing deferred). One nullable column: nothing is rewritten.

Revision ID: 0010
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("apply_operations") as batch:
        batch.add_column(sa.Column("deferred_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("apply_operations") as batch:
        batch.drop_column("deferred_until")
