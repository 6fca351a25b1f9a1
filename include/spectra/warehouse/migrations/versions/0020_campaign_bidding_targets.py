"""Smart Bidding targets on ``campaigns``: the target CPA (micros) or target ROAS (a ratio).

Ingest stores the target of whichever standard strategy Google sets on the campaign
(``target_cpa`` / ``maximize_conversions`` for the CPA, ``target_roas`` /
``maximize_conversion_value`` for the ROAS); both stay NULL for manual CPC and for a
Maximize strategy without a target. Analytics sizes the day's ``target`` envelopes from them.

Two nullable columns; nothing existing is rewritten.

Revision ID: 0020
Revises: 0023 (the head on main when this landed)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("target_cpa_micros", sa.BigInteger(), nullable=True))
    op.add_column("campaigns", sa.Column("target_roas", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("target_roas")
        batch.drop_column("target_cpa_micros")
