"""The model price seed names the page its figures come from and the date of the copy checked
(both backends): Google's Gemini API pricing page, paid tier, per 1M tokens, <= 200k prompts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from spectra.warehouse import models as m
from spectra.warehouse.db import make_engine, migrate

# USD per 1M tokens as the page states them (input, output including thinking)
PAGE = {
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.5-pro": (1.25, 10.00),
}


def test_seeded_prices_cite_the_pricing_page_and_the_copy_date(database_url: str) -> None:
    """On a freshly migrated database (the shared test schema is emptied between tests)."""
    engine = make_engine(database_url)
    migrate(engine)
    p = m.ModelPrice
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                p.model, p.input_micros_per_mtok, p.output_micros_per_mtok, p.source,
                p.source_date, p.note,
            )
        ).all()  # fmt: skip
    engine.dispose()
    assert {r.model for r in rows} == set(PAGE)
    for r in rows:
        price_in, price_out = PAGE[r.model]
        assert (r.input_micros_per_mtok, r.output_micros_per_mtok) == (
            round(price_in * 1_000_000),
            round(price_out * 1_000_000),
        ), r.model
        assert r.source == "https://ai.google.dev/gemini-api/docs/pricing"
        assert r.source_date == dt.date(2026, 10, 7)
        assert "thinking" in r.note and "2026-10-07" in r.note
