"""Smart Bidding targets on ``campaigns``: the target CPA (micros) or target ROAS (a ratio).

Ingest stores the target of whichever standard strategy Google sets on the campaign
(``target_cpa`` / ``maximize_conversions`` for the CPA, ``target_roas`` /
``maximize_conversion_value`` for the ROAS); both stay NULL for manual CPC and for a
Maximize strategy without a target. Analytics sizes the day's ``target`` envelopes from them.

Two nullable columns. The ``model_prices`` seed of 0008 is re-sourced: its figures are those of
Google's Gemini API pricing page (https://ai.google.dev/gemini-api/docs/pricing) in the copy of
2026-10-07 that was checked (a transcription of the page; paid tier, per 1M tokens, prompts
<= 200k tokens): Gemini 2.5 Flash input $0.30 (text / image / video), 2.5 Pro input $1.25,
2.5 Flash-Lite output $0.40; the page's remaining 2.5 figures (Flash output $2.50 including
thinking, Pro output $10.00, Flash-Lite input $0.10) from a second copy of the same page
(undated). 0008 had named the Vertex AI page with the date it was written, not read.

Revision ID: 0020
Revises: 0023 (the head on main when this landed)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PRICING_PAGE = "https://ai.google.dev/gemini-api/docs/pricing"
PRICING_COPY_DATE = dt.date(2026, 10, 7)  # the copy of the page the figures were checked in
PRICING_NOTE = (
    "Gemini API paid tier, text, prompts <= 200k tokens; output includes thinking tokens. "
    "Checked in a copy of the page dated 2026-10-07 (2.5 Flash input, 2.5 Pro input, "
    "2.5 Flash-Lite output); the other figures from an undated copy of the same page. "
    "Vertex AI list prices: https://cloud.google.com/vertex-ai/generative-ai/pricing"
)
OLD_SOURCE, OLD_DATE = (
    "https://cloud.google.com/vertex-ai/generative-ai/pricing",
    dt.date(2026, 12, 2),
)
OLD_NOTE = "list price, paid tier, text input, prompts <= 200k tokens"
SEEDED = ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro")
SEED_EFFECTIVE = dt.date(2025, 6, 17)


def _prices() -> sa.TableClause:
    return sa.table(
        "model_prices",
        sa.column("model", sa.String),
        sa.column("effective_from", sa.Date),
        sa.column("source", sa.Text),
        sa.column("source_date", sa.Date),
        sa.column("note", sa.Text),
    )


def _resource(source: str, day: dt.date, note: str, *, was: str) -> None:
    t = _prices()
    op.execute(
        t.update()
        .where(t.c.model.in_(SEEDED), t.c.effective_from == SEED_EFFECTIVE, t.c.source == was)
        .values(source=source, source_date=day, note=note)
    )


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("target_cpa_micros", sa.BigInteger(), nullable=True))
    op.add_column("campaigns", sa.Column("target_roas", sa.Float(), nullable=True))
    _resource(PRICING_PAGE, PRICING_COPY_DATE, PRICING_NOTE, was=OLD_SOURCE)


def downgrade() -> None:
    _resource(OLD_SOURCE, OLD_DATE, OLD_NOTE, was=PRICING_PAGE)
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("target_roas")
        batch.drop_column("target_cpa_micros")
