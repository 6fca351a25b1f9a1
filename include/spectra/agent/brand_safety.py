"""Brand safety for generated ad copy: deterministic checks, then an LLM review.

Deterministic (always, first): the tenant's banned terms and others' trademarks; unsupported
superlatives and claims; Google Ads editorial rules (https://support.google.com/adspolicy/
answer/6021546: no exclamation mark in headlines and at most one per description, no repeated
punctuation or symbols, no gimmicky capitalisation, no phone numbers in text); nonsense
(letter-poor text, runs of one character, vowel-less words). Then the review prompt
(``brand_review``) judges tone and implied claims the rules cannot. Copy either passes both or is
rejected with the reasons (``proposal_rejections``); a review that cannot be obtained rejects,
since unreviewed copy must not reach approval.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

CLAIMS = (
    "best", "#1", "no. 1", "number one", "guaranteed", "guarantee", "cheapest", "100%",
    "cure", "cures", "lowest price", "world's", "ultimate",
)  # fmt: skip
ACRONYMS = frozenset({"USA", "UK", "EU", "FAQ", "USB", "LED", "TV", "GPS", "SUV", "NYC", "DIY"})
_PHONE = re.compile(r"(?:\+?\d[\s().-]?){7,}")
_REPEAT_PUNCT = re.compile(r"([!?.,*#$%&@])\1")
_SYMBOLS = re.compile(r"[★☆✓✔❤♥→←▶►●■◆※™®©]|[\U0001F300-\U0001FAFF]")
_RUN = re.compile(r"(.)\1{3,}")


@dataclass(frozen=True)
class BrandPolicy:
    """A tenant's rules for its copy (plain settings)."""

    banned_terms: tuple[str, ...] = ()
    trademarks: tuple[str, ...] = ()  # other companies' marks the tenant may not use
    allow_claims: tuple[str, ...] = ()  # claims the tenant can substantiate (e.g. "guaranteed")


class BrandReview(BaseModel):
    """The review prompt's answer (also its response schema)."""

    safe: bool
    reasons: list[str] = Field(default_factory=list)


@dataclass
class CopyVerdict:
    reasons: list[str] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return not self.reasons


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'-]*", text)


def _has_term(text: str, term: str) -> bool:
    pattern = r"(?<![\w#])" + re.escape(term.lower()) + r"(?![\w])"
    return re.search(pattern, text.lower()) is not None


def _nonsense(text: str) -> str | None:
    letters = sum(ch.isalpha() for ch in text)
    if len(text) >= 8 and letters / len(text) < 0.5:
        return "mostly not letters"
    if _RUN.search(text):
        return "a character repeated 4+ times"
    for word in _words(text):
        if len(word) >= 5 and not re.search(r"[aeiouyAEIOUY]", word):
            return f"no vowel in {word!r}"
    return None


def check_copy(
    headlines: Iterable[str], descriptions: Iterable[str], policy: BrandPolicy
) -> CopyVerdict:
    """The deterministic checks; every reason names the text it is about."""
    verdict = CopyVerdict()
    lines = [("headline", h) for h in headlines] + [("description", d) for d in descriptions]
    for where, text in lines:
        label = f"{where} {text!r}"
        for term in policy.banned_terms:
            if _has_term(text, term):
                verdict.reasons.append(f"{label}: banned term {term!r}")
        for mark in policy.trademarks:
            if _has_term(text, mark):
                verdict.reasons.append(f"{label}: trademark {mark!r}")
        allowed = {c.lower() for c in policy.allow_claims}
        for claim in CLAIMS:
            if claim not in allowed and _has_term(text, claim):
                verdict.reasons.append(f"{label}: unsupported claim {claim!r}")
        if where == "headline" and "!" in text:
            verdict.reasons.append(f"{label}: exclamation mark in a headline")
        if where == "description" and text.count("!") > 1:
            verdict.reasons.append(f"{label}: more than one exclamation mark")
        if _REPEAT_PUNCT.search(text):
            verdict.reasons.append(f"{label}: repeated punctuation")
        if _SYMBOLS.search(text):
            verdict.reasons.append(f"{label}: symbols or emoji")
        if _PHONE.search(text):
            verdict.reasons.append(f"{label}: a phone number in ad text")
        caps = [w for w in _words(text) if len(w) > 2 and w.isupper() and w not in ACRONYMS]
        if caps:
            verdict.reasons.append(f"{label}: gimmicky capitalisation {caps[0]!r}")
        if problem := _nonsense(text):
            verdict.reasons.append(f"{label}: nonsense ({problem})")
    return verdict


def policy_for(policies: Mapping[str, BrandPolicy], tenant_id: str) -> BrandPolicy:
    return policies.get(tenant_id, BrandPolicy())
