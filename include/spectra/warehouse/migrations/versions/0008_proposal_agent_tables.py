"""The proposal agent's tables: prompt registry, model prices, AI call log, proposals.

- ``prompt_versions``: each prompt file's id, version and content hash as first used;
- ``model_prices``: USD micros per million input / output tokens per model, from a date, with
  the page the figure was read from and when (seeded below);
- ``ai_calls``: one row per LLM request (tenant, account, campaign, purpose, model, prompt
  version, tokens in / out / thinking, latency, cost micros, outcome);
- ``proposals``: validated proposals, unique per (tenant, account, day, option);
- ``proposal_rejections``: generated copy refused by brand safety, with the reasons;
- ``analytics_envelopes.kind`` also allows ``target`` (Smart Bidding tCPA / tROAS envelopes);
  the check constraint is swapped (SQLite: Alembic batch mode rebuilds the table; no view
  reads it).

Revision ID: 0008
Revises: 0006 (the newest revision on main when this landed)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)

# Google's published list prices (USD per 1M tokens, paid tier, text, <= 200k-token prompts;
# output includes thinking). Re-read the pages before relying on the figures for billing.
VERTEX_PRICING = "https://cloud.google.com/vertex-ai/generative-ai/pricing"
SEED_PRICES = [
    ("gemini-2.5-flash", 300_000, 2_500_000),
    ("gemini-2.5-flash-lite", 100_000, 400_000),
    ("gemini-2.5-pro", 1_250_000, 10_000_000),
]


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.tenant_id"], name=op.f(f"fk_{table}_tenant_id_tenants")
    )


def upgrade() -> None:
    op.create_table(
        "prompt_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prompt_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("first_used_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_versions")),
        sa.UniqueConstraint(
            "prompt_id", "version", name=op.f("uq_prompt_versions_prompt_id_version")
        ),
    )
    prices = op.create_table(
        "model_prices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("input_micros_per_mtok", sa.BigInteger(), nullable=False),
        sa.Column("output_micros_per_mtok", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_date", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_prices")),
        sa.UniqueConstraint(
            "model", "effective_from", name=op.f("uq_model_prices_model_effective_from")
        ),
    )
    op.bulk_insert(
        prices,
        [
            {
                "model": model,
                "effective_from": dt.date(2025, 6, 17),
                "input_micros_per_mtok": price_in,
                "output_micros_per_mtok": price_out,
                "source": VERTEX_PRICING,
                "source_date": dt.date(2026, 12, 2),
                "note": "list price, paid tier, text input, prompts <= 200k tokens",
            }
            for model, price_in, price_out in SEED_PRICES
        ],
    )
    op.create_table(
        "ai_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("logical_date", sa.Date(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("prompt_id", sa.String(length=64), nullable=False),
        sa.Column("prompt_version", sa.String(length=32), nullable=False),
        sa.Column("prompt_hash", sa.String(length=64), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("thinking_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("price_id", sa.Integer(), nullable=True),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("response_id", sa.String(length=128), nullable=True),
        sa.Column("dag_run_id", sa.String(length=250), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _tenant_fk("ai_calls"),
        sa.ForeignKeyConstraint(
            ["price_id"], ["model_prices.id"], name=op.f("fk_ai_calls_price_id_model_prices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_calls")),
    )
    op.create_index("ix_ai_calls_tenant_day", "ai_calls", ["tenant_id", "logical_date"])
    op.create_index("ix_ai_calls_campaign", "ai_calls", ["tenant_id", "customer_id", "campaign_id"])
    kinds = (
        "keyword_bid", "campaign_budget", "target_cpa", "target_roas", "pause_keyword",
        "enable_keyword", "negative_keyword", "rsa_copy",
    )  # fmt: skip
    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("logical_date", sa.Date(), nullable=False),
        sa.Column("option_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("ad_group_id", sa.BigInteger(), nullable=True),
        sa.Column("criterion_id", sa.BigInteger(), nullable=True),
        sa.Column("entity_label", sa.Text(), nullable=False),
        sa.Column("current_value", sa.JSON(), nullable=True),
        sa.Column("new_value", sa.JSON(), nullable=False),
        sa.Column("expected_value_delta_micros", sa.BigInteger(), nullable=True),
        sa.Column("expected_low_micros", sa.BigInteger(), nullable=True),
        sa.Column("expected_high_micros", sa.BigInteger(), nullable=True),
        sa.Column("reasoning", sa.Text(), nullable=False),
        sa.Column("evidence_ids", sa.JSON(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("fallback_reason", sa.Text(), nullable=False),
        sa.Column("prompt_id", sa.String(length=64), nullable=False),
        sa.Column("prompt_version", sa.String(length=32), nullable=False),
        sa.Column("prompt_hash", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("ai_call_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dag_run_id", sa.String(length=250), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _tenant_fk("proposals"),
        sa.ForeignKeyConstraint(
            ["ai_call_id"], ["ai_calls.id"], name=op.f("fk_proposals_ai_call_id_ai_calls")
        ),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")",
            name=op.f("ck_proposals_kind_valid"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'applied', 'superseded')",
            name=op.f("ck_proposals_status_valid"),
        ),
        sa.CheckConstraint(
            "source IN ('llm', 'repair', 'fallback')", name=op.f("ck_proposals_source_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
        sa.UniqueConstraint(
            "tenant_id",
            "customer_id",
            "logical_date",
            "option_key",
            name=op.f("uq_proposals_tenant_id_customer_id_logical_date_option_key"),
        ),  # fmt: skip
    )
    op.create_index("ix_proposals_tenant_day", "proposals", ["tenant_id", "logical_date"])
    op.create_table(
        "proposal_rejections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("logical_date", sa.Date(), nullable=False),
        sa.Column("option_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("ad_group_id", sa.BigInteger(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("check_kind", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("prompt_version", sa.String(length=32), nullable=False),
        sa.Column("ai_call_id", sa.Integer(), nullable=True),
        sa.Column("dag_run_id", sa.String(length=250), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _tenant_fk("proposal_rejections"),
        sa.ForeignKeyConstraint(
            ["ai_call_id"],
            ["ai_calls.id"],
            name=op.f("fk_proposal_rejections_ai_call_id_ai_calls"),
        ),  # fmt: skip
        sa.CheckConstraint(
            "check_kind IN ('deterministic', 'llm_review')",
            name=op.f("ck_proposal_rejections_check_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_rejections")),
    )
    op.create_index(
        "ix_proposal_rejections_tenant_day", "proposal_rejections", ["tenant_id", "logical_date"]
    )
    _envelope_kinds("'budget', 'bid', 'target'")


def _envelope_kinds(kinds: str) -> None:
    name = "ck_analytics_envelopes_kind_valid"
    with op.batch_alter_table("analytics_envelopes", recreate="auto") as batch:
        batch.drop_constraint(op.f(name), type_="check")
        batch.create_check_constraint(op.f(name), f"kind IN ({kinds})")


def downgrade() -> None:
    op.execute("DELETE FROM analytics_envelopes WHERE kind = 'target'")
    _envelope_kinds("'budget', 'bid'")
    op.drop_index("ix_proposal_rejections_tenant_day", table_name="proposal_rejections")
    op.drop_table("proposal_rejections")
    op.drop_index("ix_proposals_tenant_day", table_name="proposals")
    op.drop_table("proposals")
    op.drop_index("ix_ai_calls_campaign", table_name="ai_calls")
    op.drop_index("ix_ai_calls_tenant_day", table_name="ai_calls")
    op.drop_table("ai_calls")
    op.drop_table("model_prices")
    op.drop_table("prompt_versions")
