"""Property: whatever rows the API sends, the screen accounts for every one of them.

Hypothesis builds pulls of keyword and search-term rows in which any field may be malformed
(missing id, bad date, NaN, infinity, None, a string, negative, 2^63 - 1, clicks above
impressions, text with NUL, controls or bidi overrides, over-long text, a duplicated key).
For each pull, the screen must return every row exactly once: written (in the clean columns,
in order, satisfying every rule the warehouse needs) or rejected with at least one registered
check and a reason; and every rejected row must make storable quarantine entries.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import unicodedata
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spectra.quality.bounds import MAX_EXACT, default_bounds
from spectra.quality.checks import CHECKS, check
from spectra.quality.screen import (
    FACT_QUERIES,
    KEYWORD_TEXT_LENGTH,
    SEARCH_TERM_LENGTH,
    quarantine_rows,
    screen_pulled,
)

BOUNDS = default_bounds("USD")
FORBIDDEN = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F)]} | {
    chr(c) for c in range(0x2066, 0x206A)
}

hostile_number = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.none(),
    st.just("12"),
    st.just(2**63 - 1),
    st.integers(min_value=10**13, max_value=2**63 - 1),  # above every ceiling
    st.integers(min_value=-(10**6), max_value=-1),
)


def mostly(valid: Any, hostile: Any) -> Any:
    """Valid four times in five: rows with a single fault are the ones that test a check."""
    return st.integers(min_value=0, max_value=4).flatmap(lambda k: hostile if k == 0 else valid)


count = mostly(st.integers(min_value=0, max_value=10_000), hostile_number)
real = mostly(
    st.one_of(
        st.floats(min_value=0, max_value=1e4, allow_nan=False),
        st.integers(min_value=0, max_value=100),
    ),
    hostile_number,
)
ident = mostly(st.integers(min_value=1, max_value=5), st.sampled_from([0, None, -3]))
day = mostly(
    st.sampled_from(["2026-11-20", "2026-11-21"]), st.sampled_from(["", "2026-13-01", "yesterday"])
)
term = mostly(
    st.one_of(
        st.sampled_from(["running shoes", "trail shoes", "cafe\u0301", "caf\u00e9"]),
        st.text(min_size=1, max_size=12),
    ),
    st.one_of(
        st.builds(lambda n: "x" * n, st.integers(min_value=500, max_value=600)),
        st.sampled_from(["\u202eevil", "nul\x00byte", "tab\there", ""]),
    ),
)


@st.composite
def pulls(draw: Any, query: str) -> dict[str, list[Any]]:
    n = draw(st.integers(min_value=0, max_value=12))
    q = FACT_QUERIES[query]
    cols: dict[str, list[Any]] = {}
    for f in q.columns:
        if f in q.ids:
            strategy = ident
        elif f == q.date:
            strategy = day
        elif f == q.term:
            strategy = term
        elif f in q.int_metrics:
            strategy = count
        else:
            strategy = real
        cols[f] = [draw(strategy) for _ in range(n)]
    if n and draw(st.booleans()):  # a repeated row: the same key twice
        i = draw(st.integers(min_value=0, max_value=n - 1))
        for values in cols.values():
            values.append(values[i])
    return cols


def _ok_id(v: Any) -> bool:
    return type(v) is int and v > 0


def _ok_number(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v) and 0 <= v <= MAX_EXACT


def _assert_writable(query: str, clean: dict[str, list[Any]]) -> None:
    """What the writers and the warehouse need of every row the screen lets through."""
    q = FACT_QUERIES[query]
    n = len(next(iter(clean.values()), []))
    for f in q.ids:
        assert all(_ok_id(v) for v in clean[f]), f
    assert all(dt.date.fromisoformat(v) for v in clean[q.date])
    for f in (*q.int_metrics, *q.float_metrics):
        assert all(_ok_number(v) for v in clean[f]), (f, clean[f])
        ceiling = BOUNDS.ceilings[f]
        assert all(v <= ceiling for v in clean[f]), f
    for imp, clk in zip(clean["metrics.impressions"], clean["metrics.clicks"], strict=True):
        assert clk <= imp
    for f, _, length in q.texts:
        for t in clean[f]:
            assert type(t) is str and t and len(t) <= length
            assert not FORBIDDEN & set(t)
            assert unicodedata.is_normalized("NFC", t)
    keys = list(zip(*(clean[f] for f in q.key), strict=True))
    assert len(set(keys)) == n


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keywords=pulls("keyword_performance"), terms=pulls("search_terms"))
def test_every_row_is_written_or_rejected_with_a_reason(
    keywords: dict[str, list[Any]], terms: dict[str, list[Any]]
) -> None:
    pulled = {"keyword_performance": keywords, "search_terms": terms}
    result = screen_pulled(pulled, BOUNDS)
    for query, cols in pulled.items():
        n = len(next(iter(cols.values()), []))
        rejected = [r for r in result.rejected if r.query == query]
        indexes = [r.index for r in rejected]
        assert len(indexes) == len(set(indexes))  # one rejection per row
        clean = result.pulled[query]
        kept = len(next(iter(clean.values()), [])) if clean else 0
        assert kept + len(rejected) == n  # none lost, none twice
        # the clean rows are the other rows, in order (text in NFC)
        others = [i for i in range(n) if i not in set(indexes)]
        for f in cols:
            expected = [cols[f][i] for i in others]
            if f == FACT_QUERIES[query].term:
                expected = [unicodedata.normalize("NFC", t) for t in expected]
            assert _same(clean[f] if clean else [], expected), f
        if kept:
            _assert_writable(query, clean)
        for r in rejected:
            assert r.failures
            for key, reason in r.failures:
                assert check(key).name in CHECKS and reason
            assert r.row == {f: cols[f][r.index] for f in cols} or query == "search_terms"
    entries = quarantine_rows(
        result.rejected,
        tenant_id="acme",
        customer_id=1,
        as_of=dt.date(2026, 11, 22),
        logical_date=dt.date(2026, 11, 21),
    )
    assert len(entries) == sum(len(r.failures) for r in result.rejected)
    for entry in entries:
        json.loads(entry["payload"])
        assert entry["reason"] and "\x00" not in entry["reason"] and "\u202e" not in entry["reason"]
        if entry["search_term"] is not None:
            assert "\x00" not in entry["search_term"]
            assert len(entry["search_term"]) <= SEARCH_TERM_LENGTH
    assert KEYWORD_TEXT_LENGTH <= SEARCH_TERM_LENGTH


def _same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        x == y
        or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        for x, y in zip(a, b, strict=True)
    )
