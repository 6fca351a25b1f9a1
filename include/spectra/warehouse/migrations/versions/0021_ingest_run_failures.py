"""A failed ingest leaves its record: which query and date slice failed, after how many
attempts, and the error (``ingest_runs.failed_query``, ``failed_slice``, ``attempts``,
``error``). Columns added, all nullable; nothing existing is rewritten.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("failed_query", sa.String(length=64)),
    ("failed_slice", sa.String(length=32)),
    ("attempts", sa.Integer()),
    ("error", sa.Text()),
)


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("ingest_runs", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_runs") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
