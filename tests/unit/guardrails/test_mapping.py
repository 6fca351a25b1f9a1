"""spectra.guardrails.mapping: proposal rows onto the executor's changes and the rules'
candidates — Smart Bidding targets included (a target ROAS ratio becomes integer micros)."""

from __future__ import annotations

from typing import Any

import pytest

from spectra.guardrails.candidate import ChangeKind
from spectra.guardrails.config import GuardrailConfig
from spectra.guardrails.mapping import (
    ProposalNotAppliable,
    candidate_from_proposal,
    change_from_proposal,
)
from spectra.guardrails.rules import magnitude_cap


def _row(kind: str, current: Any, new: Any) -> dict[str, Any]:
    return {
        "id": 7, "tenant_id": "acme", "customer_id": 111, "campaign_id": 22,
        "ad_group_id": None, "criterion_id": None, "kind": kind, "current_value": current,
        "new_value": new, "reasoning": "r", "evidence_ids": ["envelope:3"],
    }  # fmt: skip


def test_target_roas_ratio_becomes_micros_on_the_campaign() -> None:
    change = change_from_proposal(_row("target_roas", 4.0, 3.45))
    assert (change.entity.kind.value, change.field, change.target) == (
        "campaign",
        "target_roas_micros",
        3_450_000,
    )
    candidate = candidate_from_proposal(_row("target_roas", 4.0, 3.45))
    assert candidate.kind == ChangeKind.TARGET
    assert (candidate.current, candidate.proposed) == (4_000_000, 3_450_000)


def test_target_cpa_stays_micros() -> None:
    change = change_from_proposal(_row("target_cpa", 40_000_000, 45_000_000))
    assert (change.field, change.target) == ("target_cpa_micros", 45_000_000)


@pytest.mark.parametrize("new", [None, "lots", True])
def test_a_target_that_is_not_a_number_is_not_appliable(new: Any) -> None:
    with pytest.raises(ProposalNotAppliable):
        change_from_proposal(_row("target_roas", 4.0, new))


def test_the_rules_cap_a_target_roas_move_at_fifteen_percent() -> None:
    ok = candidate_from_proposal(_row("target_roas", 4.0, 3.45))  # -13.75 %
    too_far = candidate_from_proposal(_row("target_roas", 4.0, 3.2))  # -20 %
    caps = GuardrailConfig().caps
    assert caps["target"] == 0.15
    assert magnitude_cap(ok, caps=caps).accepted
    refused = magnitude_cap(too_far, caps=caps)
    assert not refused.accepted and "exceeds the cap of +-15 %" in refused.reason


def test_a_proposal_is_in_force_the_day_after_its_logical_date() -> None:
    """The candidate carries the instant the executor's ledger will date it by (the daily
    run of day D pulls on D + 1): the learning window compares like with like."""
    import datetime as dt

    row = {**_row("target_cpa", 40_000_000, 45_000_000), "logical_date": dt.date(2026, 6, 24)}
    candidate = candidate_from_proposal(row)
    assert candidate.effective_at == dt.datetime(2026, 6, 25, tzinfo=dt.UTC)
    assert candidate_from_proposal(_row("target_cpa", 40_000_000, 45_000_000)).effective_at is None
