"""Issue 6's "done when", against the market simulator's truth (one or two seeds each; the
A/A false-discovery rate over twenty, since a rate needs many markets).

Each check replays what the daily pipeline would have stored (spectra.evaluation.replay), runs
the engine on it and compares with ``Truth``; the tolerances are stated in
spectra.evaluation.truth_checks and measured over many seeds by bench/bench_analytics.py.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from spectra.evaluation import truth_checks as tc


def _true_tail(lag: dict | None) -> float:
    """Ultimate / reported conversions of the window's oldest day (30 days old on the pull),
    from the market's own lag distribution: the tail past the re-pull the engine must size."""
    from spectra.sandbox.market.lag import LagDistribution

    return 1.0 / (LagDistribution(**lag) if lag else LagDistribution()).reported_share(30)


@pytest.mark.parametrize("lag", [None, tc.DENTAL_LAG], ids=["default-lag", "slow-lag"])
def test_lag_completion_brings_the_last_week_within_10_percent(lag: dict | None) -> None:
    check = tc.lag_completion(1, lag=lag)
    # <= 10 % is the per-seed promise (met by >= 95 % of seeds; seed 1 measures 5.2 % / 4.3 %).
    assert abs(check.completed_error) <= 0.10, check
    assert check.raw_error < -0.25  # uncompleted, the last week looks 25-55 % worse
    assert abs(check.completed_error) < abs(check.raw_error) / 3
    # The tail past the 30-day window, sized by the run's lag histogram, against the truth
    # (x1.010 / x1.036): within 0.005, half the miss of the tail extrapolated without the
    # histogram (x1.021 / x1.061, measured on this seed), which this bound rejects.
    assert abs(check.tail_factor - _true_tail(lag)) <= 0.005, (check, _true_tail(lag))
    # 95 % intervals: campaign-days of one account share one curve, so one seed's coverage
    # scatters (0.87-0.96 over seeds 0-2); below 0.75 the intervals are too narrow to use.
    assert check.coverage >= 0.75


AA_SEEDS = range(20)
# Benjamini-Hochberg at q = 5 % under the complete null (an A/A market: nothing changed, every
# hypothesis true) controls the family-wise rate: P(any discovery) <= 5 % per market (BH 1995,
# Theorem 1, with FDR = FWER when all nulls are true). Over 20 independent markets the number
# with a discovery is at most Binomial(20, 0.05): P(>= 5) = 0.26 %, so a correct method fails
# this bound about once in 400 seed sets, while skipping the correction (raw p < 0.05 over
# ~500 tests a market) puts a discovery in every market.
AA_MAX_MARKETS_WITH_DISCOVERY = 4


@pytest.mark.slow
def test_aa_discovery_rate_is_what_bh_promises_and_p_values_are_valid() -> None:
    from scipy import stats

    checks = [tc.aa(seed) for seed in AA_SEEDS]
    with_discovery = sum(c.discoveries > 0 for c in checks)
    bound_miss = float(stats.binom.sf(AA_MAX_MARKETS_WITH_DISCOVERY, len(checks), 0.05))
    assert bound_miss < 0.005  # the bound above, recomputed
    assert with_discovery <= AA_MAX_MARKETS_WITH_DISCOVERY, [c.discoveries for c in checks]

    p = np.concatenate([c.p_values for c in checks])
    assert len(p) > 8_000  # ~530 tests a market
    # A valid test has P(p <= a) <= a under the null; these are discrete count tests, which
    # are conservative at low counts (measured 0.83-0.93 a), so the floor is 0.6 a: a test
    # that never rejects fails it. The ceiling allows 4 binomial SDs at a quarter of the
    # p-values' count, since campaign, ad-group and keyword tests of one entity share data.
    n_effective = len(p) / 4
    for a in (0.01, 0.05, 0.2):
        share = float(np.mean(p <= a))
        ceiling = a + 4 * np.sqrt(a * (1 - a) / n_effective)
        assert 0.6 * a <= share <= ceiling, (a, share, ceiling)


def test_planted_cpc_rise_is_found_at_the_expected_power() -> None:
    check = tc.planted_cpc_effect(3)
    assert check.planted_tests >= 20
    observed = check.detected / check.planted_tests
    assert 0.3 < check.expected_power < 0.95  # a measurable effect, not a saturated one
    assert abs(observed - check.expected_power) <= 0.15, check
    assert check.false_discoveries <= max(1, 0.1 * check.discoveries)


def test_black_friday_lift_is_not_an_anomaly_but_the_cpc_shock_is() -> None:
    shocked = tc.black_friday(1)
    assert shocked.shock_flagged, shocked
    # Seed 0 shocks a Smart Bidding campaign, whose raw CPC the keyword mix moves ~10 % a day:
    # judged at a fixed keyword mix the +55 % competitor price is found there too.
    assert tc.black_friday(0).shock_flagged
    assert shocked.shock_cpc_lift > 1.3
    assert shocked.lifted_flags == 0 and shocked.lifted_scores >= 12
    assert shocked.account_flags in ((), ("cpc",))
    quiet = tc.black_friday(1, shock=False, day=dt.date(2026, 11, 30))  # Cyber Monday
    assert quiet.lifted_flags == 0 and quiet.account_flags == ()


def test_portfolio_allocation_is_within_2_percent_of_the_oracle() -> None:
    check = tc.allocation(0)
    assert check.planned_share >= 0.98, check
    assert check.current_share < check.next_step_share <= check.planned_share + 1e-9
    assert check.moved >= 1


def test_keyword_bid_moves_point_toward_the_profit_optimal_bid() -> None:
    check = tc.bid_envelopes(0)
    assert check.moves >= 20
    assert check.agree / check.moves >= 0.9, check
    # One capped step closes ~12 % of the gap to the profit-optimal bids on average (16 % on
    # this seed); at least 5 % means the moves are not only right in sign but of use.
    assert check.profit_gain >= 0.05 * check.oracle_gain, check
