"""Search terms that should be negative keywords: clicks that should have converted by now.

A search term that spends and never converts is the classic negative-keyword candidate, but
"no conversion yet" is only evidence when the term had enough clicks that its campaign's own
conversion rate makes zero unlikely. The test: under the null hypothesis the term converts like
the rest of its campaign's search terms over the same window, its conversions are Poisson
with mean ``E = clicks_term x conversions_rest / clicks_rest``; a term with ``c`` conversions
has the exact one-sided p-value ``P(X <= c | E)`` (for ``c = 0``: ``exp(-E)``). A campaign's
terms are tested together every day, and excluding a relevant term costs its conversions for
good, so the family-wise error is what is controlled: Bonferroni over the campaign's terms with
at least ``MIN_CLICKS`` clicks, at ``alpha = 0.01``. With 30 such terms a term must have been
due ``ln(100 x 30)`` = 8 conversions — eight times the campaign's cost per conversion spent
for nothing — before it is excluded; a relevant term that is merely unlucky (a one-CPA term
with no conversion happens 37 % of the time) keeps serving, and in a world without irrelevant
terms (the evaluation's A/A scenario) a campaign-day excludes one by mistake at most 1 % of
the time.

Lag and seasonality cancel in the ratio: the term and the rest of its campaign are counted
over the same days, so conversions still to arrive (Google books them to the click day) and the
weekday mix deflate both alike (equal-exposure comparison; "compare equal-age windows",
Chapelle 2014 / the chain-ladder literature on immature cohorts).

Both the agent (which offers the option) and the guardrails (which re-check it from the
warehouse before anything is applied) call :func:`zero_conversion_test`, so the two agree.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from scipy.stats import poisson

DEFAULT_ALPHA = 0.01
MIN_CLICKS = 5  # a term with fewer clicks is not tested (and not counted in the family)


EVIDENCE_PREFIX = "search_term"


def search_term_evidence_id(campaign_id: int, key: str, since: dt.date, until: dt.date) -> str:
    """``search_term:<campaign>:<term key>:<since>:<until>`` — what the statistical gate
    resolves by re-reading the window's sums and re-running :func:`zero_conversion_test`."""
    return f"{EVIDENCE_PREFIX}:{campaign_id}:{key}:{since.isoformat()}:{until.isoformat()}"


def parse_evidence_id(evidence_id: str) -> tuple[int, str, dt.date, dt.date] | None:
    """(campaign, term key, since, until) of a search-term evidence id; None if it is not one."""
    parts = evidence_id.split(":")
    if len(parts) != 5 or parts[0] != EVIDENCE_PREFIX or not parts[1].isdigit():
        return None
    try:
        since, until = dt.date.fromisoformat(parts[3]), dt.date.fromisoformat(parts[4])
    except ValueError:
        return None
    return int(parts[1]), parts[2], since, until


def term_key(campaign_id: int, term: str) -> str:
    """A stable id for a search term (the text itself is untrusted and stays out of ids)."""
    return hashlib.sha256(f"{campaign_id}\x00{term}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class TermTest:
    """One search term against the rest of its campaign over the same window."""

    clicks: int
    conversions: float
    cost_micros: int
    expected_conversions: float  # under "converts like the rest of the campaign"
    p_value: float  # P(X <= conversions | Poisson(expected)); 1.0 when nothing was due
    family: int = 1  # the campaign's terms tested with it (Bonferroni)

    @property
    def p_adjusted(self) -> float:
        return min(1.0, self.p_value * max(self.family, 1))

    def significant(self, alpha: float = DEFAULT_ALPHA) -> bool:
        """Too few conversions for the clicks it had, at family-wise level ``alpha``."""
        return self.clicks >= MIN_CLICKS and self.p_adjusted <= alpha

    def describe(self) -> str:
        return (
            f"{self.clicks} clicks, {self.conversions:g} conversions where the campaign's rate "
            f"predicts {self.expected_conversions:.1f} (p = {self.p_value:.2g}, "
            f"{self.p_adjusted:.2g} over the campaign's {self.family} terms)"
        )


def zero_conversion_test(
    *,
    clicks: int,
    conversions: float,
    cost_micros: int,
    campaign_clicks: int,
    campaign_conversions: float,
) -> TermTest:
    """The term (``clicks``, ``conversions``) against its campaign's totals over the same
    window (the term included: it is taken out of the baseline here)."""
    rest_clicks = campaign_clicks - clicks
    rest_conversions = max(campaign_conversions - conversions, 0.0)
    if clicks <= 0 or rest_clicks <= 0 or rest_conversions <= 0:
        expected = 0.0
    else:
        expected = clicks * rest_conversions / rest_clicks
    p = float(poisson.cdf(math.floor(conversions), expected)) if expected > 0 else 1.0
    return TermTest(int(clicks), float(conversions), int(cost_micros), expected, p)


def campaign_term_tests(
    rows: Iterable[Mapping[str, Any]],
) -> dict[tuple[int, str], TermTest]:
    """Every search term of ``rows`` (one per campaign and term over the window: clicks,
    conversions, cost_micros) tested against the rest of its campaign; keyed by
    (campaign, :func:`term_key`)."""
    listed = list(rows)
    clicks: dict[int, int] = {}
    conversions: dict[int, float] = {}
    family: dict[int, int] = {}
    for r in listed:
        cid = int(r["campaign_id"])
        clicks[cid] = clicks.get(cid, 0) + int(r["clicks"] or 0)
        conversions[cid] = conversions.get(cid, 0.0) + float(r["conversions"] or 0)
        family[cid] = family.get(cid, 0) + (int(r["clicks"] or 0) >= MIN_CLICKS)
    out: dict[tuple[int, str], TermTest] = {}
    for r in listed:
        cid = int(r["campaign_id"])
        test = zero_conversion_test(
            clicks=int(r["clicks"] or 0),
            conversions=float(r["conversions"] or 0),
            cost_micros=int(r["cost_micros"] or 0),
            campaign_clicks=clicks[cid],
            campaign_conversions=conversions[cid],
        )
        out[(cid, term_key(cid, str(r["search_term"])))] = replace(test, family=family[cid])
    return out


__all__ = [
    "DEFAULT_ALPHA",
    "MIN_CLICKS",
    "TermTest",
    "campaign_term_tests",
    "parse_evidence_id",
    "search_term_evidence_id",
    "term_key",
    "zero_conversion_test",
]
