"""The long tail of search terms, generated where the terms are served.

A real keyword matches hundreds of distinct queries a month: a few heavy ones, most seen once
or twice (Google's search terms report; account audits find 15-60 % of search spend on
queries that never convert). Simulating each of them would multiply the day simulation's cost
by the length of the tail, so the market simulates a few queries per keyword (structure.py:
the terms whose traffic, prices and conversions a day draws) and each one past the keyword's
own text stands for a family: itself and its long-tail variants, queries that contain it plus
a word or two ("buy trail shoes" -> "buy trail shoes size 10", "wide buy trail shoes
online"). Serving a day splits the simulated term's clicks among the family, click by click,
by a counter-based hash of (seed, term, day, click): a click stays on the term's own text or
goes to variant v, log-uniform over ``POOL`` variants (P(v) ~ 1/(v+1): a few variants recur
every day, most appear once in a month). Each variant gets its clicks' share of the term's
cost and impressions, and the conversions whose click it took (each conversion picks one of
the day's clicks the same way), so every total (keyword, ad group, campaign) is the
simulation's, the conversion-lag rows split the same way, and simulation cost stays flat.

How much of a term's traffic its tail takes depends on the keyword's match type
(``TAIL_SHARE_BY_MATCH``): exact keywords match only close variants (no tail), phrase
keywords queries containing them, broad keywords the widest set. A variant inherits its
term's relevance (an irrelevant "free trail shoes" has irrelevant variants), which the
truth reads (truth.Truth.search_term_relevant).

Limits: the family shares the term's simulated fate, so a negative that blocks the term
(its exact text, or a phrase it contains) blocks its variants too, and a negative on one
variant's exact text does not remove that variant's clicks from the keyword's totals (they
are served on the term's own row instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spectra.sandbox.market import rng

# share of a simulated term's clicks its variants take, per keyword match type (EXACT,
# PHRASE, BROAD); the keyword's own text (its head term) keeps all its clicks
TAIL_SHARE_BY_MATCH: tuple[float, ...] = (0.0, 0.45, 0.65)
POOL = 800  # variants per term (log-uniform: most are seen rarely)
TAIL_CLICK = 12  # rng streams (rng.py numbers 1-11)
TAIL_VARIANT = 13
TAIL_CONVERSION = 14

# words a query adds to the term it contains (suffixes; past the first len() variants, a
# second word in front)
TAIL_WORDS: tuple[str, ...] = (
    "2026",
    "near me",
    "reviews",
    "online",
    "uk",
    "usa",
    "cheap",
    "best",
    "for women",
    "for men",
    "for kids",
    "black",
    "blue",
    "sale",
    "deals",
    "price",
    "cost",
    "open now",
    "today",
    "this weekend",
    "reddit",
    "comparison",
    "vs",
    "top 10",
    "coupon",
    "discount code",
    "free shipping",
    "in stock",
    "used",
    "new",
    "small",
    "large",
    "wide",
    "waterproof",
    "lightweight",
    "premium",
    "budget",
    "guide",
    "how much",
    "where to get",
    "what is",
    "options",
    "ratings",
    "near downtown",
    "same day",
    "fast",
    "local",
    "brands",
)
_W = len(TAIL_WORDS)
assert POOL <= _W * (_W + 1)


def variant_text(term: str, v: int) -> str:
    """The text of variant ``v`` of a term (unique per v)."""
    if v < _W:
        return f"{term} {TAIL_WORDS[v]}"
    return f"{TAIL_WORDS[v // _W - 1]} {term} {TAIL_WORDS[v % _W]}"


def belongs(text: str, term: str) -> bool:
    """Whether ``text`` is the term itself or one of its variants."""
    if text == term:
        return True
    for word in TAIL_WORDS:
        if text.endswith(" " + word):
            rest = text[: -len(word) - 1]
            if rest == term or any(rest == f"{w} {term}" for w in TAIL_WORDS):
                return True
    return False


def tail_share(match: NDArray[np.integer], head: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Per term: the share of its clicks that go to its variants."""
    return np.where(head, 0.0, np.asarray(TAIL_SHARE_BY_MATCH)[match])


def click_variant(
    seed: int,
    ordinal: int,
    term_key: NDArray[np.int64],
    click: NDArray[np.int64],
    share: NDArray[np.float64],
) -> NDArray[np.int64]:
    """Which query each click of a term went to: -1 the term's own text, else a variant."""
    to_tail = rng.uniform(seed, TAIL_CLICK, ordinal, term_key, click + 1) < share
    u = rng.uniform(seed, TAIL_VARIANT, ordinal, term_key, click + 1)
    v = np.minimum(np.floor(np.exp(u * np.log(POOL + 1.0))) - 1, POOL - 1).astype(np.int64)
    return np.where(to_tail, v, -1)


@dataclass(frozen=True)
class Split:
    """A day's served rows after the split: ``row`` indexes the simulated terms' rows, ``variant``
    is -1 for the term's own row; metrics per output row."""

    row: NDArray[np.int64]
    variant: NDArray[np.int64]
    impressions: NDArray[np.int64]
    clicks: NDArray[np.int64]
    cost: NDArray[np.int64]
    conversions: NDArray[np.float64]
    value: NDArray[np.float64]


def conversion_variants(
    seed: int,
    ordinal: int,
    term_key: NDArray[np.int64],
    clicks: NDArray[np.int64],
    share: NDArray[np.float64],
    event_term: NDArray[np.int64],
) -> NDArray[np.int64]:
    """The query each of a day's conversions came from (arrays per term; ``event_term``: every
    conversion of the day, reported or not, so a conversion keeps its query as the day matures).
    The k-th conversion of a term picks one of the term's clicks that day by its own hash."""
    if event_term.size == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(event_term, kind="stable")
    sorted_terms = event_term[order]
    ranks = np.empty(event_term.size, np.int64)
    ranks[order] = np.arange(event_term.size) - np.searchsorted(
        sorted_terms, sorted_terms, side="left"
    )
    key = term_key[event_term]
    u = rng.uniform(seed, TAIL_CONVERSION, ordinal, key, ranks + 1)
    c = np.maximum(clicks[event_term], 1)
    click = np.minimum(np.floor(u * c).astype(np.int64), c - 1)
    return click_variant(seed, ordinal, key, click, share[event_term])


def split_day(
    seed: int,
    ordinal: int,
    term_key: NDArray[np.int64],
    share: NDArray[np.float64],
    impressions: NDArray[np.int64],
    clicks: NDArray[np.int64],
    cost: NDArray[np.int64],
    event_row: NDArray[np.int64],
    event_variant: NDArray[np.int64],
    event_value: NDArray[np.float64],
) -> Split:
    """Split each simulated term row (arrays per row) into its own row and its variants' rows.

    ``event_*``: the reported conversions of the rows' terms (their row, query, value)."""
    n = clicks.size
    total = int(clicks.sum())
    row_of = np.repeat(np.arange(n, dtype=np.int64), clicks)
    first = np.cumsum(clicks) - clicks
    k = np.arange(total, dtype=np.int64) - first[row_of]
    v = click_variant(seed, ordinal, term_key[row_of], k, share[row_of])
    tail = v >= 0
    key = row_of[tail] * POOL + v[tail]
    uniq, n_clicks = np.unique(key, return_counts=True)
    t_row, t_var = uniq // POOL, uniq % POOL
    c_row = np.maximum(clicks[t_row], 1)
    t_cost = cost[t_row] * n_clicks // c_row
    t_imps = np.maximum(impressions[t_row] * n_clicks // c_row, n_clicks)
    ev = event_variant
    t_conv = np.zeros(uniq.size)
    t_value = np.zeros(uniq.size)
    on_tail = ev >= 0
    if on_tail.any():
        pos = np.searchsorted(uniq, event_row[on_tail] * POOL + ev[on_tail])
        t_conv = np.bincount(pos, minlength=uniq.size).astype(np.float64)
        t_value = np.bincount(pos, weights=event_value[on_tail], minlength=uniq.size)
    own_conv = np.bincount(event_row[~on_tail], minlength=n).astype(np.float64)
    own_value = np.bincount(event_row[~on_tail], weights=event_value[~on_tail], minlength=n)
    own_clicks = clicks - np.bincount(t_row, weights=n_clicks, minlength=n).astype(np.int64)
    own_cost = cost - np.bincount(t_row, weights=t_cost, minlength=n).astype(np.int64)
    own_imps = impressions - np.bincount(t_row, weights=t_imps, minlength=n).astype(np.int64)
    own_imps = np.maximum(own_imps, own_clicks)
    keep = own_imps > 0
    own = np.flatnonzero(keep)
    return Split(
        row=np.concatenate([own, t_row]),
        variant=np.concatenate([np.full(own.size, -1, np.int64), t_var]),
        impressions=np.concatenate([own_imps[keep], t_imps]),
        clicks=np.concatenate([own_clicks[keep], n_clicks]),
        cost=np.concatenate([own_cost[keep], t_cost]),
        conversions=np.concatenate([own_conv[keep], t_conv]),
        value=np.concatenate([own_value[keep], t_value]),
    )


__all__ = [
    "POOL",
    "TAIL_SHARE_BY_MATCH",
    "Split",
    "belongs",
    "click_variant",
    "conversion_variants",
    "split_day",
    "tail_share",
    "variant_text",
]
