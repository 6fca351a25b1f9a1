"""Deterministic brand-safety checks on generated copy: every rejection names its reason."""

from __future__ import annotations

import pytest

from spectra.agent.brand_safety import BrandPolicy, check_copy

POLICY = BrandPolicy(banned_terms=("cheap",), trademarks=("Nike",), allow_claims=("guaranteed",))
CLEAN = (["Trail Shoes For Every Run", "Free Delivery Today", "Compare Our Range"],
         ["Browse the full range and find the right fit for you."])  # fmt: skip


def test_clean_copy_passes() -> None:
    assert check_copy(*CLEAN, POLICY).safe


@pytest.mark.parametrize(
    ("headline", "reason"),
    [
        ("Cheap Trail Shoes", "banned term 'cheap'"),
        ("Better Than Nike", "trademark 'Nike'"),
        ("The Best Trail Shoes", "unsupported claim 'best'"),
        ("#1 Running Store", "unsupported claim '#1'"),
        ("Shoes That Cure Pain", "unsupported claim 'cure'"),
        ("Trail Shoes Sale!", "exclamation mark in a headline"),
        ("Trail Shoes??", "repeated punctuation"),
        ("Trail Shoes ★ Sale", "symbols or emoji"),
        ("Call 0800 123 4567", "a phone number in ad text"),
        ("HUGE Trail Shoe Sale", "gimmicky capitalisation 'HUGE'"),
        ("Shoooooes Online", "a character repeated 4+ times"),
        ("xkcdqz bvrtpl", "no vowel in 'xkcdqz'"),
        ("$$$ 123 %%% 456", "mostly not letters"),
    ],
)
def test_each_rule_rejects_with_its_reason(headline: str, reason: str) -> None:
    verdict = check_copy([headline, *CLEAN[0][1:]], CLEAN[1], POLICY)
    assert not verdict.safe
    assert any(reason in r and repr(headline) in r for r in verdict.reasons), verdict.reasons


def test_allowed_claims_acronyms_and_one_exclamation_in_a_description() -> None:
    ok = check_copy(
        ["Guaranteed Fit Or Refund", "Made In The USA", "Compare Our Range"],
        ["Order today and run tomorrow!", "Easy returns."],
        POLICY,
    )
    assert ok.safe, ok.reasons
    two = check_copy(CLEAN[0], ["Order today! Run tomorrow!", "Easy returns."], POLICY)
    assert "more than one exclamation mark" in two.reasons[0]
