"""The zero-conversion test behind negative keywords, against hand-computed Poisson tails."""

from __future__ import annotations

import datetime as dt
import math

from spectra.analytics.search_terms import (
    campaign_term_tests,
    parse_evidence_id,
    search_term_evidence_id,
    term_key,
    zero_conversion_test,
)


def test_expected_conversions_come_from_the_rest_of_the_campaign() -> None:
    # the rest: 900 clicks, 45 conversions (5 %); the term's 100 clicks were due 5.0
    t = zero_conversion_test(
        clicks=100, conversions=0, cost_micros=1, campaign_clicks=1000, campaign_conversions=45
    )
    assert math.isclose(t.expected_conversions, 5.0)
    assert math.isclose(t.p_value, math.exp(-5.0))  # P(X = 0 | Poisson(5))
    assert t.significant()  # 0.0067 <= 0.01
    # one conversion: P(X <= 1) = e^-5 (1 + 5)
    one = zero_conversion_test(
        clicks=100, conversions=1, cost_micros=1, campaign_clicks=1000, campaign_conversions=46
    )
    assert math.isclose(one.p_value, math.exp(-5.0) * 6)
    assert not one.significant()


def test_a_term_due_a_few_conversions_is_not_evidence() -> None:
    # due 3.0: zero happens 5 % of the time, too often to exclude a term for good
    t = zero_conversion_test(
        clicks=60, conversions=0, cost_micros=1, campaign_clicks=960, campaign_conversions=45
    )
    assert math.isclose(t.expected_conversions, 3.0)
    assert not t.significant()
    # a campaign with no conversion elsewhere predicts none: nothing to judge
    nothing = zero_conversion_test(
        clicks=60, conversions=0, cost_micros=1, campaign_clicks=100, campaign_conversions=0
    )
    assert nothing.expected_conversions == 0 and nothing.p_value == 1.0


def test_campaign_term_tests_baseline_per_campaign() -> None:
    rows = [
        {"campaign_id": 1, "search_term": "a", "clicks": 900, "conversions": 90, "cost_micros": 9},
        {"campaign_id": 1, "search_term": "b", "clicks": 100, "conversions": 0, "cost_micros": 9},
        # another campaign's terms do not enter campaign 1's rate
        {"campaign_id": 2, "search_term": "b", "clicks": 50, "conversions": 0, "cost_micros": 9},
        {"campaign_id": 2, "search_term": "c", "clicks": 5000, "conversions": 1, "cost_micros": 9},
    ]
    tests = campaign_term_tests(rows)
    b = tests[(1, term_key(1, "b"))]
    assert math.isclose(b.expected_conversions, 10.0)
    # two terms of campaign 1 were tested: Bonferroni doubles the p-value
    assert b.family == 2 and math.isclose(b.p_adjusted, 2 * math.exp(-10.0))
    assert b.significant()
    assert math.isclose(tests[(2, term_key(2, "b"))].expected_conversions, 0.01)
    assert term_key(1, "b") != term_key(2, "b")


def test_many_terms_raise_the_bar() -> None:
    """Due ~6 conversions with none is p ~ 0.003: beside one other tested term (0.005
    family-wise) it is excluded, as one of ten (0.03) it is not."""
    rows = [
        {"campaign_id": 1, "search_term": "t0", "clicks": 60, "conversions": 0, "cost_micros": 1},
        {"campaign_id": 1, "search_term": "big", "clicks": 1000, "conversions": 100,
         "cost_micros": 1},
    ]  # fmt: skip
    alone = campaign_term_tests(rows)[(1, term_key(1, "t0"))]
    assert math.isclose(alone.expected_conversions, 6.0) and alone.significant()
    crowd = rows + [
        {"campaign_id": 1, "search_term": f"t{i}", "clicks": 5, "conversions": 0, "cost_micros": 1}
        for i in range(1, 9)
    ]
    tested = campaign_term_tests(crowd)[(1, term_key(1, "t0"))]
    assert tested.family == 10 and not tested.significant()


def test_evidence_ids_round_trip_and_refuse_other_shapes() -> None:
    since, until = dt.date(2026, 10, 22), dt.date(2026, 11, 20)
    eid = search_term_evidence_id(7, "abc123def456", since, until)
    assert parse_evidence_id(eid) == (7, "abc123def456", since, until)
    assert parse_evidence_id("verdict:12") is None
    assert parse_evidence_id("search_term:7:abc") is None
    assert parse_evidence_id("search_term:x:abc:2026-10-22:2026-11-20") is None
    assert parse_evidence_id("search_term:7:abc:2026-13-22:2026-11-20") is None
