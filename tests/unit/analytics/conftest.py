"""Shared synthetic accounts (generated once per worker; the generator is vectorised)."""

from __future__ import annotations

import datetime as dt

import pytest
from support.synthetic import SyntheticAccount, make_account


@pytest.fixture(scope="session")
def small_account() -> SyntheticAccount:
    """120 days, 5 campaigns x 20 keywords, geometric lag (mean 3 days), no planted effects."""
    return make_account(n_campaigns=5, keywords_per_campaign=20, days=120, seed=11)


@pytest.fixture(scope="session")
def effect_account() -> SyntheticAccount:
    """400 days with planted CTR/CVR effects from Dec 1 and a CPC shock on the last day."""
    return make_account(
        n_campaigns=5,
        keywords_per_campaign=20,
        days=400,
        seed=1,
        ctr_effects={0: 1.5, 1: 1.5},
        cvr_effects={2: 2.0},
        effect_start=dt.date(2025, 12, 1),
        cpc_shock=(dt.date(2025, 12, 15), 2, 1.6),
    )
