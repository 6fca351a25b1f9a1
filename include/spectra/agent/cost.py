"""AI cost in integer USD micros, from a call's token counts and the model's price row.

Google bills thinking tokens as output (https://ai.google.dev/gemini-api/docs/pricing), so
cost = prompt x input price + (candidates + thoughts) x output price. Each call is rounded up
to a whole micro once, on its own row: every total (per campaign, account, tenant) is a plain
sum of ``ai_calls.cost_micros`` and adds up exactly.
"""

from __future__ import annotations

from spectra.warehouse.agent_store import Price

MTOK = 1_000_000


def call_cost_micros(
    price: Price | None, *, prompt_tokens: int, output_tokens: int, thinking_tokens: int
) -> int:
    """Cost of one call in USD micros (0 when the model has no price row: named in the log)."""
    if price is None:
        return 0
    nano = (
        prompt_tokens * price.input_micros_per_mtok
        + (output_tokens + thinking_tokens) * price.output_micros_per_mtok
    )
    return -(-nano // MTOK)  # ceiling division in integers
