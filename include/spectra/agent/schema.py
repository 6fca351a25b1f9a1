"""The model's output schema (pydantic; also sent as ``response_schema``) and Google's limits.

The model picks options by id and may only say *which* of today's options to take, the
absolute value (checked against the envelope), its rank, a reason and the evidence ids; for
copy it writes the text. Entity ids are repeated so a proposal that names another entity than
its option is caught. Responsive search ad limits, from Google Ads Help "About responsive
search ads" (https://support.google.com/google-ads/answer/7684791): 3-15 headlines of at most
30 characters, 2-4 descriptions of at most 90, two display paths of at most 15; double-width
(CJK) characters count twice (https://support.google.com/google-ads/answer/1704389).
"""

from __future__ import annotations

import enum
import unicodedata

from pydantic import BaseModel, Field


class ProposalKind(enum.StrEnum):
    KEYWORD_BID = "keyword_bid"
    CAMPAIGN_BUDGET = "campaign_budget"
    TARGET_CPA = "target_cpa"
    TARGET_ROAS = "target_roas"
    PAUSE_KEYWORD = "pause_keyword"
    ENABLE_KEYWORD = "enable_keyword"
    NEGATIVE_KEYWORD = "negative_keyword"
    RSA_COPY = "rsa_copy"


MONEY_KINDS = frozenset(
    {ProposalKind.KEYWORD_BID, ProposalKind.CAMPAIGN_BUDGET, ProposalKind.TARGET_CPA}
)
KEYWORD_KINDS = frozenset(
    {ProposalKind.KEYWORD_BID, ProposalKind.PAUSE_KEYWORD, ProposalKind.ENABLE_KEYWORD}
)

HEADLINE_MAX = 30
DESCRIPTION_MAX = 90
PATH_MAX = 15
HEADLINES_MIN, HEADLINES_MAX = 3, 15
DESCRIPTIONS_MIN, DESCRIPTIONS_MAX = 2, 4


class ModelProposal(BaseModel):
    option_id: str = Field(description="the id of one of today's options, exactly as given")
    kind: ProposalKind
    campaign_id: int
    ad_group_id: int | None = None
    criterion_id: int | None = None
    new_value_micros: int | None = Field(
        default=None, description="absolute new bid / budget / target CPA in micros"
    )
    new_target_roas: float | None = Field(default=None, description="absolute new target ROAS")
    headlines: list[str] | None = None
    descriptions: list[str] | None = None
    path1: str | None = None
    path2: str | None = None
    rank: int = Field(description="1 = the most valuable change")
    reasoning: str = Field(description="one sentence: why, in terms of the evidence")
    evidence_ids: list[str] = Field(default_factory=list)


class ProposalBatch(BaseModel):
    proposals: list[ModelProposal]
    summary: str


def display_width(text: str) -> int:
    """Characters as Google Ads counts them: wide and full-width characters count as two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def copy_errors(
    headlines: list[str] | None,
    descriptions: list[str] | None,
    path1: str | None,
    path2: str | None,
) -> list[str]:
    """What breaks Google's responsive search ad limits (empty when the copy fits)."""
    errors: list[str] = []
    heads, descs = headlines or [], descriptions or []
    if not HEADLINES_MIN <= len(heads) <= HEADLINES_MAX:
        errors.append(f"{len(heads)} headlines (Google allows {HEADLINES_MIN}-{HEADLINES_MAX})")
    if not DESCRIPTIONS_MIN <= len(descs) <= DESCRIPTIONS_MAX:
        errors.append(
            f"{len(descs)} descriptions (Google allows {DESCRIPTIONS_MIN}-{DESCRIPTIONS_MAX})"
        )
    for i, text in enumerate(heads):
        if not text.strip():
            errors.append(f"headline {i + 1} is empty")
        elif display_width(text) > HEADLINE_MAX:
            errors.append(f"headline {i + 1} is {display_width(text)} > {HEADLINE_MAX} chars")
    for i, text in enumerate(descs):
        if not text.strip():
            errors.append(f"description {i + 1} is empty")
        elif display_width(text) > DESCRIPTION_MAX:
            errors.append(f"description {i + 1} is {display_width(text)} > {DESCRIPTION_MAX} chars")
    for name, path in (("path1", path1), ("path2", path2)):
        if path and display_width(path) > PATH_MAX:
            errors.append(f"{name} is {display_width(path)} > {PATH_MAX} chars")
    if len({h.strip().lower() for h in heads}) != len(heads):
        errors.append("duplicate headlines")
    return errors
