"""Proposals carry their guardrail decision and who decided them, and when; campaigns their
flight dates.

- ``proposals.guardrail_status`` (accepted | requires_approval | rejected) and
  ``guardrail_reason``, ``guarded_at``: the guardrails' verdict, as ``spectra_apply`` stored it;
- ``apply_run_id`` / ``approval_map_index``: the ``spectra_apply`` run and the mapped
  ``approve`` task instance that asks a person (how ``spectra approve`` finds the
  Required Action);
- ``decided_by`` / ``decided_at`` / ``decision_reason``: who approved or rejected it
  (a person, ``autopilot``, ``guardrails``, or ``timeout`` for an expired approval), when and why.

``campaigns.flight_start`` / ``flight_end``: the campaign's flight (Google's
``campaign.start_date`` / ``end_date``, or the launch's plan); the total-spend-limit guardrail
projects a budget over the days left until ``flight_end``.

Nullable columns only: nothing existing is rewritten (a proposal without a decision is one
``spectra_apply`` has not judged yet).

Revision ID: 0012
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("guardrail_status", sa.String(length=24)),
    ("guardrail_reason", sa.Text()),
    ("guarded_at", TZ),
    ("apply_run_id", sa.String(length=250)),
    ("approval_map_index", sa.Integer()),
    ("decided_by", sa.String(length=128)),
    ("decided_at", TZ),
    ("decision_reason", sa.Text()),
)


FLIGHT: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("flight_start", sa.Date()),
    ("flight_end", sa.Date()),
)


def upgrade() -> None:
    with op.batch_alter_table("proposals") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("campaigns") as batch:
        for name, type_ in FLIGHT:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        for name, _ in reversed(FLIGHT):
            batch.drop_column(name)
    with op.batch_alter_table("proposals") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
