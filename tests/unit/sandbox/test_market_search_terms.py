"""The search-term long tail, through ``Market.rows`` (search_term_view) and the truth.

Published: account audits find 15-60 % of search spend on queries that never convert; a
keyword matches a long tail of queries, most seen once or twice a month, a few heavy; broad
match reaches far more irrelevant queries than phrase, phrase more than exact.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from spectra.sandbox.market import Market
from spectra.sandbox.market.scenario import scenario_from_dict
from spectra.sandbox.market.structure import MATCH_TYPES

FIELDS = frozenset(
    {
        "ad_group.id",
        "segments.keyword.info.text",
        "segments.keyword.info.match_type",
        "search_term_view.search_term",
        "metrics.clicks",
        "metrics.cost_micros",
        "metrics.conversions",
    }
)


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(
        scenario_from_dict(
            {
                "name": "terms-test",
                "seed": 31,
                "reference_date": "2026-12-01",
                "history_days": 120,
                "structure": {
                    "accounts": 2,
                    "campaigns_per_account": 4,
                    "ad_groups_per_campaign": 4,
                    "keywords_per_ad_group": 8,
                },
                "accounts": [{"vertical": "outdoor"}, {"vertical": "dental"}],
            }
        )
    )


def _terms(m: Market) -> dict[tuple[Any, ...], list[float]]:
    """(ad group, keyword text, match type, term) -> [clicks, cost, conversions] over the 30
    days of October (as Google reports them a month later)."""
    out: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for cid in m.customer_ids():
        for r in m.rows(
            "search_term_view",
            customer_id=cid,
            date_from=dt.date(2026, 10, 1),
            date_to=dt.date(2026, 10, 30),
            as_of=dt.date(2026, 12, 1),
            fields=FIELDS,
        ):
            key = (
                r["ad_group.id"],
                r["segments.keyword.info.text"],
                r["segments.keyword.info.match_type"],
                r["search_term_view.search_term"],
            )
            acc = out[key]
            acc[0] += r["metrics.clicks"]
            acc[1] += r["metrics.cost_micros"]
            acc[2] += r["metrics.conversions"]
    return out


def test_a_long_tail_of_terms_per_keyword(market: Market) -> None:
    """Terms with clicks per keyword in a month: broad > phrase > exact, dozens on average; a
    heavy tail: the top 10 % of terms take at least a third of the clicks, and most terms get
    one or two clicks a month (a keyword's search terms report)."""
    terms = _terms(market)
    per_match = {}
    for match in MATCH_TYPES:
        keys = [k for k in terms if k[2] == match and terms[k][0] > 0]
        per_match[match] = len(keys) / max(len({k[:3] for k in keys}), 1)
    clicks = np.sort([v[0] for v in terms.values() if v[0] > 0])[::-1]
    top = clicks[: max(1, clicks.size // 10)].sum() / clicks.sum()
    light = float(np.mean(clicks <= 2))
    print(
        {m: round(x, 2) for m, x in per_match.items()},
        f"terms with 1-2 clicks {light:.0%}, top 10 % {top:.0%} of clicks",
    )
    assert per_match["BROAD"] > per_match["PHRASE"] > per_match["EXACT"]
    assert np.mean(list(per_match.values())) >= 20
    assert light >= 0.6
    assert top >= 1 / 3


def test_the_tail_keeps_every_total_and_every_conversion_on_its_query(market: Market) -> None:
    """Splitting terms into their tail changes no keyword's totals (clicks, cost, impressions,
    conversions as keyword_view reports them), and the conversion-lag rows of search_term_view
    put each conversion on the same query as the unsegmented rows: the tail's queries appear
    there one by one, not as one catch-all row."""
    cid = market.customer_ids()[0]
    day, as_of = dt.date(2026, 10, 12), dt.date(2026, 12, 1)
    metric = ("metrics.clicks", "metrics.cost_micros", "metrics.impressions")
    kw_key = ("ad_group.id", "ad_group_criterion.criterion_id")

    def rows(resource: str, fields: set[str]) -> list[dict[str, Any]]:
        return list(
            market.rows(
                resource,
                customer_id=cid,
                date_from=day,
                date_to=day,
                as_of=as_of,
                fields=frozenset(fields),
            )
        )

    kw = rows("keyword_view", {*kw_key, *metric, "metrics.conversions"})
    st_rows = rows(
        "search_term_view",
        {
            "ad_group.id",
            "segments.keyword.ad_group_criterion",
            "search_term_view.search_term",
            *metric,
            "metrics.conversions",
        },
    )
    by_kw: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0] * 4)
    for r in st_rows:
        crit = int(r["segments.keyword.ad_group_criterion"].rsplit("~", 1)[1])
        acc = by_kw[(r["ad_group.id"], crit)]
        for i, name in enumerate((*metric, "metrics.conversions")):
            acc[i] += r[name]
    for r in kw:
        want = [r[name] for name in (*metric, "metrics.conversions")]
        assert by_kw[tuple(r[k] for k in kw_key)] == pytest.approx(want)
    assert len(st_rows) > 3 * len(kw)
    lag_rows = rows(
        "search_term_view",
        {
            "ad_group.id",
            "search_term_view.search_term",
            "segments.conversion_lag_bucket",
            "metrics.conversions",
        },
    )
    per_term: dict[tuple[Any, str], float] = defaultdict(float)
    for r in lag_rows:
        per_term[(r["ad_group.id"], r["search_term_view.search_term"])] += r["metrics.conversions"]
    unsegmented: dict[tuple[Any, str], float] = defaultdict(float)
    for r in st_rows:
        if r["metrics.conversions"]:
            unsegmented[(r["ad_group.id"], r["search_term_view.search_term"])] += r[
                "metrics.conversions"
            ]
    assert dict(per_term) == pytest.approx(dict(unsegmented))
    seen_terms = {t for _, t in per_term}
    simulated = set(market.struct.term_text)
    assert seen_terms - simulated, "no long-tail query carries a conversion"


def test_the_truth_knows_each_tail_query_relevance(market: Market) -> None:
    """Every served query, tail variants included, maps to its term's relevance; irrelevant
    ones carry a published-looking share of spend."""
    from spectra.sandbox.market.truth import Truth

    truth = Truth(market)
    terms = _terms(market)
    spend = {True: 0.0, False: 0.0}
    for (ad_group, _, _, text), (_, cost, _) in terms.items():
        relevant = truth.search_term_relevant(int(ad_group), str(text))
        assert relevant is not None, text
        spend[relevant] += cost
    share = spend[False] / (spend[True] + spend[False])
    print(f"irrelevant queries: {share:.0%} of spend")
    assert 0.05 <= share <= 0.5
    assert truth.search_term_relevant(int(next(iter(terms))[0]), "zzz no such query") is None


def test_irrelevant_terms_follow_match_type(market: Market) -> None:
    """The truth's irrelevant terms take a share of spend that is largest for broad, then phrase,
    then exact keywords."""
    st = market.struct
    exp = market_truth_spend(market)
    share = {}
    for code, match in enumerate(MATCH_TYPES):
        on = st.keyword_match[st.term_keyword] == code
        share[match] = float(exp[on & ~st.term_relevant].sum() / exp[on].sum())
    print({m: round(s, 3) for m, s in share.items()})
    assert share["BROAD"] > share["PHRASE"] > share["EXACT"]
    assert share["BROAD"] > 0.2


def market_truth_spend(m: Market) -> np.ndarray:
    from spectra.sandbox.market.truth import Truth

    return Truth(m).search_terms(dt.date(2026, 10, 15))["cost_micros"].to_numpy()


def test_zero_conversion_terms_take_a_published_share_of_spend(market: Market) -> None:
    """Spend on terms with no conversion in the month: 15-60 % (published audits)."""
    terms = _terms(market)
    spend = sum(v[1] for v in terms.values())
    zero = sum(v[1] for v in terms.values() if v[2] == 0)
    print(f"zero-conversion terms: {zero / spend:.0%} of spend, {len(terms)} terms")
    assert 0.15 <= zero / spend <= 0.60
