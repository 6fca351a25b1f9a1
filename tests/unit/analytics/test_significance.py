"""Reference checks and small statistical property tests of spectra.analytics.significance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats import rates as sm_rates
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from spectra.analytics.significance import (
    DECREASE,
    INCREASE,
    INSUFFICIENT,
    NOT_SIGNIFICANT,
    _binom_two_sided_minlike,
    adjust_pvalues,
    apply_fdr,
    apply_fdr_verdicts,
    count_glm_test,
    count_rate_test,
    count_rate_tests,
    day_level_dispersion,
    delta_ratio_variance,
    jackknife_pct_change,
    msprt,
    proportion_tests,
    ratio_test,
    two_proportion_test,
)

# --------------------------------------------------------------------------- proportions


def test_two_proportion_z_matches_hand_values_and_statsmodels() -> None:
    # Hand: pooled p = 270/20000 = 0.0135; SE0 = sqrt(.0135 * .9865 * 2/10000) = 0.00163202;
    # z = 0.003 / SE0 = 1.838192; p = 2 (1 - Phi(z)) = 0.066034.
    v = two_proportion_test(120, 10_000, 150, 10_000, metric="ctr")
    assert v.effect == pytest.approx(0.003)
    assert v.p_value == pytest.approx(0.066034, abs=2e-6)
    # Source: statsmodels 0.15 proportions_ztest (pooled variance, two-sided, the default).
    z_ref, p_ref = proportions_ztest([150, 120], [10_000, 10_000])
    assert z_ref == pytest.approx(1.838192, abs=1e-6)
    assert v.p_value == pytest.approx(p_ref, rel=1e-12)
    # Source: statsmodels confint_proportions_2indep(method="wald", compare="diff").
    lo, hi = confint_proportions_2indep(150, 10_000, 120, 10_000, method="wald", compare="diff")
    assert (v.ci_low, v.ci_high) == (pytest.approx(lo, rel=1e-12), pytest.approx(hi, rel=1e-12))
    assert v.verdict == NOT_SIGNIFICANT
    assert v.relative_effect == pytest.approx(0.25)


def test_proportion_tests_vectorised_agree_with_statsmodels_on_random_cases() -> None:
    rng = np.random.default_rng(7)
    n_a = rng.integers(200, 50_000, 200)
    n_b = rng.integers(200, 50_000, 200)
    x_a = rng.binomial(n_a, 0.04)
    x_b = rng.binomial(n_b, 0.045)
    frame = proportion_tests(x_a, n_a, x_b, n_b, min_trials=0)
    ref = [
        proportions_ztest([b, a], [nb, na])[1]
        for a, na, b, nb in zip(x_a, n_a, x_b, n_b, strict=True)
    ]
    np.testing.assert_allclose(frame["p_value"], ref, rtol=1e-10)


def test_min_volume_gives_insufficient_data_and_stays_out_of_fdr_family() -> None:
    frame = proportion_tests([1, 100], [50, 10_000], [5, 160], [50, 10_000], min_trials=100)
    assert list(frame["verdict"][:1]) == [INSUFFICIENT]
    assert np.isnan(frame["p_value"].iloc[0])
    adjusted = apply_fdr(frame)
    assert np.isnan(adjusted["p_adjusted"].iloc[0])
    # A family of one: the adjusted p equals the raw p.
    assert adjusted["p_adjusted"].iloc[1] == pytest.approx(adjusted["p_value"].iloc[1])


def test_dispersion_widens_the_test() -> None:
    plain = proportion_tests([300], [10_000], [360], [10_000])
    wide = proportion_tests([300], [10_000], [360], [10_000], dispersion=4.0)
    assert wide["p_value"].iloc[0] > plain["p_value"].iloc[0]
    # z scales by 1/sqrt(phi)
    z_plain = stats.norm.isf(plain["p_value"].iloc[0] / 2)
    z_wide = stats.norm.isf(wide["p_value"].iloc[0] / 2)
    assert z_wide == pytest.approx(z_plain / 2, rel=1e-9)


def test_day_level_dispersion_detects_overdispersed_days() -> None:
    rng = np.random.default_rng(3)
    n = np.full(60, 5_000)
    binomial = rng.binomial(n, 0.03)
    clustered = rng.binomial(n, np.clip(rng.normal(0.03, 0.006, 60), 0.001, 1))
    daily = pd.DataFrame(
        {"k": np.repeat([0, 1], 60), "x": np.concatenate([binomial, clustered]), "n": np.tile(n, 2)}
    )
    phi = day_level_dispersion(daily, keys=["k"], successes="x", trials="n")
    assert phi[0] < 1.5
    assert phi[1] > 3.0


# --------------------------------------------------------------------------- ratio metrics


def test_delta_ratio_variance_hand_example() -> None:
    # By hand (Deng et al. 2018, eq. for Var(Ybar/Xbar)): y = 10, 20, 30; x = 1, 2, 4
    # ybar = 20, xbar = 7/3, s_y^2 = 100, s_x^2 = 7/3, s_xy = 15, n = 3:
    # Var = (1/3) [100/(49/9) - 2*20*15/(343/27) + 400*(7/3)/(2401/81)]
    hand = (100 / (49 / 9) - 2 * 20 * 15 / (343 / 27) + 400 * (7 / 3) / (2401 / 81)) / 3
    r, var = delta_ratio_variance([10, 20, 30], [1, 2, 4])
    assert r == pytest.approx(60 / 7)
    assert var == pytest.approx(hand, rel=1e-12)
    assert hand == pytest.approx(0.874636, abs=1e-6)


def _cpa_days(rng: np.random.Generator, reps: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    clicks = rng.poisson(200, (reps, n))
    cost = clicks * 1.5 * rng.lognormal(0.0, 0.1, (reps, n))
    conversions = rng.binomial(clicks, 0.05).astype(float)
    return cost, conversions


def test_delta_method_cpa_variance_matches_monte_carlo() -> None:
    """Reference: 20 000 Monte-Carlo replications of 28 days, seed 20240601.

    The delta-method variance of CPA = sum cost / sum conversions agrees with the empirical
    variance of CPA across replications within 5 % (population moments) / 8 % (mean of the
    per-sample estimates, which carry their own sampling noise).
    """
    rng = np.random.default_rng(20240601)
    n = 28
    cost, conv = _cpa_days(rng, 20_000, n)
    cpa = cost.sum(axis=1) / conv.sum(axis=1)
    mc_var = cpa.var(ddof=1)
    # Population moments from one very long sample.
    big_cost, big_conv = _cpa_days(rng, 1, 400_000)
    my, mx = big_cost.mean(), big_conv.mean()
    vy, vx = big_cost.var(), big_conv.var()
    cxy = np.cov(big_cost.ravel(), big_conv.ravel())[0, 1]
    pop_delta = (vy / mx**2 - 2 * my * cxy / mx**3 + my**2 * vx / mx**4) / n
    assert pop_delta == pytest.approx(mc_var, rel=0.05)
    per_sample = np.mean([delta_ratio_variance(cost[i], conv[i])[1] for i in range(2_000)])
    assert per_sample == pytest.approx(mc_var, rel=0.08)


def test_ratio_test_detects_planted_cpa_change_and_respects_volume_rule() -> None:
    rng = np.random.default_rng(5)
    cost_a, conv_a = _cpa_days(rng, 1, 28)
    cost_b, conv_b = _cpa_days(rng, 1, 14)
    v = ratio_test(cost_a[0], conv_a[0], cost_b[0] * 1.4, conv_b[0], metric="cpa")
    assert v.verdict == INCREASE
    assert v.ci_low < v.effect < v.ci_high
    assert v.ci_low > 0 and v.ci_low < 0.4 < v.ci_high
    few = ratio_test(cost_a[0, :7], conv_a[0, :7] * 0.01, cost_b[0, :7], conv_b[0, :7] * 0.01)
    assert few.verdict == INSUFFICIENT
    assert "conversions" in few.reason


def test_ratio_test_size_under_null_is_near_nominal() -> None:
    """A/A for the delta-method CPA test (Welch t): 2 000 pairs of 28 vs 14 days."""
    from spectra.analytics.significance import ratio_tests_from_sums

    rng = np.random.default_rng(99)
    reps = 2_000

    def sums(n: int) -> pd.DataFrame:
        c, k = _cpa_days(rng, reps, n)
        return pd.DataFrame(
            {"n": n, "sy": c.sum(1), "sx": k.sum(1), "syy": (c * c).sum(1), "sxx": (k * k).sum(1),
             "sxy": (c * k).sum(1), "volume": k.sum(1)}
        )  # fmt: skip

    frame = ratio_tests_from_sums(sums(28), sums(14), metric="cpa")
    size = float((frame["p_value"] < 0.05).mean())
    assert 0.03 <= size <= 0.07


def test_jackknife_and_delta_agree_on_iid_days() -> None:
    rng = np.random.default_rng(8)
    cost_a, conv_a = _cpa_days(rng, 1, 28)
    cost_b, conv_b = _cpa_days(rng, 1, 28)
    v = ratio_test(cost_a[0], conv_a[0], cost_b[0], conv_b[0])
    pct, lo, hi = jackknife_pct_change(cost_a[0], conv_a[0], cost_b[0], conv_b[0])
    assert pct == pytest.approx(v.effect, rel=1e-9)
    assert (hi - lo) == pytest.approx(v.ci_high - v.ci_low, rel=0.3)


# --------------------------------------------------------------------------- counts


def test_exact_conditional_test_matches_scipy_and_statsmodels() -> None:
    v = count_rate_test(30, 1_000, 50, 1_000)
    # Source: scipy.stats.binomtest (two-sided, minlike) of 50 out of 80 at p = 0.5 and
    # statsmodels test_poisson_2indep(method="exact-cond"), both 0.0329926.
    assert v.p_value == pytest.approx(stats.binomtest(50, 80, 0.5).pvalue, rel=1e-12)
    assert v.p_value == pytest.approx(
        sm_rates.test_poisson_2indep(50, 1_000, 30, 1_000, method="exact-cond").pvalue, rel=1e-12
    )
    assert v.p_value == pytest.approx(0.0329926, abs=1e-7)
    assert v.effect == pytest.approx(50 / 30 - 1)
    assert v.verdict == INCREASE


def test_vectorised_minlike_binomial_equals_scipy_everywhere() -> None:
    rng = np.random.default_rng(0)
    n = rng.integers(1, 400, 1_500)
    p = rng.uniform(0.02, 0.98, 1_500)
    k = rng.binomial(n, np.clip(p * rng.uniform(0.6, 1.4, 1_500), 0, 1))
    mine = _binom_two_sided_minlike(k, n, p)
    ref = [
        stats.binomtest(int(a), int(b), float(c)).pvalue for a, b, c in zip(k, n, p, strict=True)
    ]
    np.testing.assert_allclose(mine, ref, rtol=1e-9, atol=1e-14)


def test_rate_ratio_interval_is_clopper_pearson_mapped() -> None:
    frame = count_rate_tests([40], [2_000], [25], [1_000])
    lo = frame["ci_low"].iloc[0] + 1
    hi = frame["ci_high"].iloc[0] + 1
    # Back to the binomial share pi = RR e_b / (RR e_b + e_a); at the bounds the one-sided
    # tails of Binomial(65, pi) at 25 equal alpha / 2 (Clopper & Pearson 1934).
    pi_lo, pi_hi = lo * 1_000 / (lo * 1_000 + 2_000), hi * 1_000 / (hi * 1_000 + 2_000)
    assert stats.binom.sf(24, 65, pi_lo) == pytest.approx(0.025, rel=1e-6)
    assert stats.binom.cdf(25, 65, pi_hi) == pytest.approx(0.025, rel=1e-6)


def test_poisson_glm_matches_closed_form_and_negbin_is_wider() -> None:
    rng = np.random.default_rng(4)
    days = 28
    exposure = rng.integers(800, 1_200, 2 * days).astype(float)
    treated = np.repeat([False, True], days)
    rate = np.where(treated, 0.06, 0.05) * rng.gamma(5, 1 / 5, 2 * days)
    counts = rng.poisson(exposure * rate)
    v = count_glm_test(counts, exposure, treated, family="poisson")
    ya, yb = counts[~treated].sum(), counts[treated].sum()
    closed = (yb / exposure[treated].sum()) / (ya / exposure[~treated].sum())
    assert v.effect == pytest.approx(closed - 1, rel=1e-6)
    # Wald SE of the log rate ratio = sqrt(1/Ya + 1/Yb) (Poisson MLE, two groups).
    se = np.sqrt(1 / ya + 1 / yb)
    assert np.log(v.ci_high + 1) - np.log(v.ci_low + 1) == pytest.approx(
        2 * 1.959964 * se, rel=1e-4
    )
    nb = count_glm_test(counts, exposure, treated, family="negbin")
    qp = count_glm_test(counts, exposure, treated, family="quasipoisson")
    assert nb.ci_high - nb.ci_low > v.ci_high - v.ci_low
    assert qp.ci_high - qp.ci_low > v.ci_high - v.ci_low


# --------------------------------------------------------------------------- multiplicity

# Benjamini & Hochberg (1995), J. R. Statist. Soc. B 57(1):289-300, section 4: the 15 p-values of
# Neuhaus et al. (1992). The paper: BH at q = 0.05 rejects the 4 smallest; Bonferroni rejects 3.
BH_1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
           0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000]  # fmt: skip
# Adjusted p-values by hand: min over j >= i of p_(j) * 15 / j (what R's p.adjust(, "BH") returns).
BH_1995_ADJUSTED = [0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.0638571429, 0.0638571429, 0.0645,
                    0.0765, 0.486, 0.5811818182, 0.714875, 0.7532307692, 0.8132142857, 1.0]  # fmt: skip


def test_bh_reproduces_benjamini_hochberg_1995_example() -> None:
    adjusted = adjust_pvalues(BH_1995)
    np.testing.assert_allclose(adjusted, BH_1995_ADJUSTED, rtol=1e-8)
    assert int((adjusted <= 0.05).sum()) == 4
    reject_sm, adj_sm, _, _ = multipletests(BH_1995, alpha=0.05, method="fdr_bh")
    np.testing.assert_allclose(adj_sm, BH_1995_ADJUSTED, rtol=1e-8)
    assert int(reject_sm.sum()) == 4
    assert int((np.array(BH_1995) <= 0.05 / 15).sum()) == 3  # Bonferroni, as in the paper


def test_apply_fdr_verdicts_keeps_evidence() -> None:
    verdicts = [two_proportion_test(100, 10_000, 100 + d, 10_000) for d in (0, 10, 40, 80)]
    adjusted = apply_fdr_verdicts(verdicts)
    assert [a.p_value for a in adjusted] == [v.p_value for v in verdicts]
    assert all(a.p_adjusted >= a.p_value for a in adjusted)
    assert adjusted[-1].verdict == INCREASE
    assert adjusted[0].verdict == NOT_SIGNIFICANT


def test_aa_simulation_fdr_at_or_below_nominal() -> None:
    """Complete null: 200 seeds x 500 CTR tests; BH's FWER (= FDR here) stays <= 5 % + slack."""
    rng = np.random.default_rng(2024)
    seeds, m = 200, 500
    n = rng.integers(2_000, 40_000, (seeds, m))
    p = rng.uniform(0.01, 0.08, (seeds, m))
    xa, xb = rng.binomial(n, p), rng.binomial(n, p)
    frame = proportion_tests(xa.ravel(), n.ravel(), xb.ravel(), n.ravel())
    pvals = frame["p_value"].to_numpy().reshape(seeds, m)
    any_reject = [bool((adjust_pvalues(row) <= 0.05).any()) for row in pvals]
    fdr = float(np.mean(any_reject))
    assert fdr <= 0.05 + 0.035  # 0.035 ~ 2.3 binomial SEs at 200 seeds


def test_mixed_simulation_fdr_and_power() -> None:
    """10 % planted CTR lifts (x1.3): FDR <= 5 % + slack, and most true effects found."""
    rng = np.random.default_rng(77)
    seeds, m, k = 60, 500, 50
    n = np.full((seeds, m), 20_000)
    p = rng.uniform(0.02, 0.06, (seeds, m))
    lift = np.ones((seeds, m))
    lift[:, :k] = 1.3
    xa, xb = rng.binomial(n, p), rng.binomial(n, p * lift)
    frame = proportion_tests(xa.ravel(), n.ravel(), xb.ravel(), n.ravel())
    pvals = frame["p_value"].to_numpy().reshape(seeds, m)
    fdp, power = [], []
    for row in pvals:
        rej = adjust_pvalues(row) <= 0.05
        fdp.append(rej[k:].sum() / max(rej.sum(), 1))
        power.append(rej[:k].mean())
    assert float(np.mean(fdp)) <= 0.05 * (m - k) / m + 0.02
    assert float(np.mean(power)) >= 0.8


def test_single_test_power_matches_theory() -> None:
    """Planted CTR 3 % -> 3.6 % at 10 000 impressions per arm: theory 0.661 (normal approx.)."""
    pa, pb, n = 0.03, 0.036, 10_000
    se = np.sqrt(pa * (1 - pa) / n + pb * (1 - pb) / n)
    theory = stats.norm.cdf((pb - pa) / se - stats.norm.isf(0.025))
    assert theory == pytest.approx(0.661, abs=0.005)
    rng = np.random.default_rng(12)
    reps = 3_000
    frame = proportion_tests(
        rng.binomial(n, pa, reps), np.full(reps, n), rng.binomial(n, pb, reps), np.full(reps, n)
    )
    power = float((frame["verdict"] == INCREASE).mean())
    assert power == pytest.approx(theory, abs=0.04)
    assert not (frame["verdict"] == DECREASE).any()


# --------------------------------------------------------------------------- sequential


def test_msprt_controls_type_one_error_under_daily_peeking() -> None:
    rng = np.random.default_rng(31)
    sims, looks, v, tau2 = 300, 150, 2.0, 0.05
    ever_msprt, ever_naive = 0, 0
    for _ in range(sims):
        d = rng.normal(0.0, np.sqrt(v), looks)
        res = msprt(d, variance=v, tau2=tau2)
        ever_msprt += res.p_always_valid <= 0.05
        n = np.arange(1, looks + 1)
        z = np.cumsum(d) / np.sqrt(v * n)
        ever_naive += bool((np.abs(z[6:]) > 1.96).any())
    assert ever_msprt / sims <= 0.05 + 0.03
    assert ever_naive / sims > 0.15  # why the naive daily re-test is not allowed
    effect = msprt(rng.normal(0.5, np.sqrt(v), looks), variance=v, tau2=tau2)
    assert effect.reject
    assert effect.ci_low < 0.5 < effect.ci_high


# --------------------------------------------------------------------------- over-dispersion
def test_count_test_with_dispersion_runs_on_effective_counts() -> None:
    plain = count_rate_tests([300], [10_000], [360], [10_000])
    same = count_rate_tests([300], [10_000], [360], [10_000], dispersion=1.0)
    assert same["p_value"].iloc[0] == plain["p_value"].iloc[0]
    # phi = 2: the exact test of 180 vs 150 (the information the counts carry).
    wide = count_rate_tests([300], [10_000], [360], [10_000], dispersion=2.0)
    ref = stats.binomtest(180, 330, 0.5).pvalue
    assert wide["p_value"].iloc[0] == pytest.approx(ref, rel=1e-12)
    assert wide["relative_effect"].iloc[0] == pytest.approx(0.2)  # rates stay the raw ones
    assert wide["p_value"].iloc[0] > plain["p_value"].iloc[0]


def test_estimated_dispersion_uses_a_t_reference_on_its_degrees_of_freedom() -> None:
    # Quasi-likelihood (McCullagh & Nelder 1989): z with the estimated phi, Student t on the
    # days behind phi. Hand: pooled 0.0135, z = 1.838192 / sqrt(1.5) = 1.500887.
    v = proportion_tests([120], [10_000], [150], [10_000], dispersion=1.5, dispersion_df=40)
    z = 1.838192 / np.sqrt(1.5)
    assert v["p_value"].iloc[0] == pytest.approx(2 * stats.t.sf(z, 40), rel=1e-5)
    c = count_rate_tests([300], [10_000], [360], [10_000], dispersion=1.5, dispersion_df=12)
    score = (360 - 660 * 0.5) / np.sqrt(1.5 * 660 * 0.25)
    exact = stats.binomtest(240, 440, 0.5).pvalue
    assert c["p_value"].iloc[0] == pytest.approx(max(exact, 2 * stats.t.sf(score, 12)), rel=1e-9)


def test_ratio_test_counts_effective_days_when_a_few_days_carry_the_ratio() -> None:
    # Same days, but in the second case one day holds most of the denominator: Kish's n_eff
    # = (sum x)^2 / sum x^2 shrinks the Welch degrees of freedom and widens the interval.
    rng = np.random.default_rng(3)
    even = rng.uniform(90, 110, 14)
    skew = even.copy()
    skew[0] *= 20
    cpc = rng.lognormal(0, 0.05, 14)
    base = ratio_test(even * cpc, even, even * cpc * 1.05, even, metric="cpc", min_volume=0)
    lumpy = ratio_test(skew * cpc, skew, skew * cpc * 1.05, skew, metric="cpc", min_volume=0)
    assert lumpy.ci_high - lumpy.ci_low > base.ci_high - base.ci_low
    from spectra.analytics.significance import _effective_units

    sums = pd.DataFrame({"n": [14.0], "sx": [skew.sum()], "sxx": [(skew**2).sum()]})
    assert _effective_units(sums)[0] == pytest.approx(skew.sum() ** 2 / (skew**2).sum())
    assert _effective_units(sums)[0] < 4
