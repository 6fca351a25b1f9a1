"""Significance tests that fit each ad metric, minimum-volume rules and FDR control.

Arm ``a`` is the control / before period, arm ``b`` the treatment / after period; effects are
``b`` relative to ``a``. Every test exists in a vectorised form returning a DataFrame with the
columns of ``Verdict`` (for thousands of keywords at once) and a scalar wrapper returning one
``Verdict``.

* proportions (CTR, CVR): pooled two-proportion z (statsmodels ``proportions_ztest``), Wald CI of
  the difference with the unpooled SE; optional over-dispersion factor from day-level data;
* ratio metrics (CPA, ROAS, CPC) with day units: delta method (Deng, Knoblich & Lu 2018), %
  change through the log ratio, CI exp(L +- t SE) - 1 with Welch-Satterthwaite degrees of freedom;
* counts (conversions, clicks): exact conditional binomial test of x_b | x_a + x_b (two-sided
  "minlike", as scipy ``binomtest`` / statsmodels ``test_poisson_2indep(method='exact-cond')``)
  with a Clopper-Pearson based rate-ratio CI, or a Poisson / negative binomial GLM with a log
  exposure offset on day-level data;
* Benjamini-Hochberg across a batch (statsmodels ``multipletests``); insufficient-data rows are
  not tests and stay out of the family;
* an always-valid mSPRT p-value for daily monitoring (Johari et al. 2017/2022).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from spectra.analytics.config import MinVolume, SignificanceConfig

INSUFFICIENT = "insufficient_data"
INCREASE = "significant_increase"
DECREASE = "significant_decrease"
NOT_SIGNIFICANT = "not_significant"

VERDICT_COLUMNS = [
    "test",
    "metric",
    "estimate_a",
    "estimate_b",
    "effect",
    "effect_kind",
    "relative_effect",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "verdict",
    "reason",
]


@dataclass(frozen=True)
class Verdict:
    """One test's evidence. effect_kind: "difference" (b - a) or "relative" (b / a - 1)."""

    test: str
    metric: str
    estimate_a: float
    estimate_b: float
    effect: float
    effect_kind: str
    relative_effect: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float
    verdict: str
    reason: str = ""

    @property
    def significant(self) -> bool:
        return self.verdict in (INCREASE, DECREASE)


def _to_verdict(frame: pd.DataFrame) -> Verdict:
    row = frame.iloc[0]
    return Verdict(
        **{k: (row[k].item() if hasattr(row[k], "item") else row[k]) for k in VERDICT_COLUMNS}
    )


def verdicts_frame(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    return pd.DataFrame([asdict(v) for v in verdicts], columns=VERDICT_COLUMNS)


def _decide(
    p: np.ndarray, effect_sign: np.ndarray, alpha: float, insufficient: np.ndarray
) -> np.ndarray:
    sig = (p <= alpha) & ~insufficient
    out = np.where(effect_sign > 0, INCREASE, DECREASE)
    out = np.where(sig, out, NOT_SIGNIFICANT)
    return np.where(insufficient, INSUFFICIENT, out)


def _z(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2))


def _frame(
    test: str,
    metric: str,
    est_a: np.ndarray,
    est_b: np.ndarray,
    effect: np.ndarray,
    kind: str,
    rel: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    p: np.ndarray,
    insufficient: np.ndarray,
    reason: np.ndarray,
    alpha: float,
    sign: np.ndarray,
) -> pd.DataFrame:
    nan = np.nan
    p = np.where(insufficient, nan, p)
    return pd.DataFrame(
        {
            "test": test,
            "metric": metric,
            "estimate_a": est_a,
            "estimate_b": est_b,
            "effect": np.where(insufficient, nan, effect),
            "effect_kind": kind,
            "relative_effect": np.where(insufficient, nan, rel),
            "ci_low": np.where(insufficient, nan, lo),
            "ci_high": np.where(insufficient, nan, hi),
            "p_value": p,
            "p_adjusted": p,
            "verdict": _decide(np.nan_to_num(p, nan=1.0), sign, alpha, insufficient),
            "reason": reason,
        }
    )


# --------------------------------------------------------------------------- proportions
def proportion_tests(
    x_a: np.ndarray | Sequence[float],
    n_a: np.ndarray | Sequence[float],
    x_b: np.ndarray | Sequence[float],
    n_b: np.ndarray | Sequence[float],
    *,
    metric: str = "ctr",
    alpha: float = 0.05,
    min_trials: float = 100,
    dispersion: np.ndarray | Sequence[float] | float = 1.0,
    dispersion_df: np.ndarray | Sequence[float] | float | None = None,
) -> pd.DataFrame:
    """Vectorised pooled two-proportion z tests of p_b - p_a (successes x out of trials n).

    dispersion (>= 1) inflates both the test and the interval variance (quasi-binomial), e.g.
    from ``day_level_dispersion`` when clicks cluster by day. With ``dispersion_df`` (the days
    behind that estimate) the reference is Student's t on those degrees of freedom, as for any
    estimated quasi-likelihood scale (McCullagh & Nelder 1989): treating an estimated phi as
    known makes the far tail — where Benjamini-Hochberg decides — several times too light.
    """
    xa, na, xb, nb = (np.asarray(v, dtype=float) for v in (x_a, n_a, x_b, n_b))
    phi = np.maximum(np.asarray(dispersion, dtype=float), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa, pb = xa / na, xb / nb
        pooled = (xa + xb) / (na + nb)
        se0 = np.sqrt(phi * pooled * (1 - pooled) * (1 / na + 1 / nb))
        z = (pb - pa) / se0
        se1 = np.sqrt(phi * (pa * (1 - pa) / na + pb * (1 - pb) / nb))
        rel = pb / pa - 1
    if dispersion_df is None:
        p = 2 * stats.norm.sf(np.abs(z))
        zc: float | np.ndarray = _z(alpha)
    else:
        df = np.maximum(np.asarray(dispersion_df, dtype=float), 1.0)
        p = 2 * stats.t.sf(np.abs(z), df)
        zc = stats.t.isf(alpha / 2, df)
    diff = pb - pa
    low_volume = (na < min_trials) | (nb < min_trials)
    degenerate = ~np.isfinite(z)
    insufficient = low_volume | degenerate
    reason = np.where(
        low_volume,
        f"fewer than {min_trials:g} trials in an arm",
        np.where(degenerate, "no variation", ""),
    )
    return _frame(
        "two_proportion_z", metric, pa, pb, diff, "difference", rel,
        diff - zc * se1, diff + zc * se1, p, insufficient, reason, alpha, np.sign(diff),
    )  # fmt: skip


def two_proportion_test(
    x_a: float, n_a: float, x_b: float, n_b: float, *, metric: str = "ctr", alpha: float = 0.05,
    min_trials: float = 100,
) -> Verdict:  # fmt: skip
    """Pooled two-proportion z test with a Wald CI of the difference (one comparison)."""
    return _to_verdict(
        proportion_tests(
            [x_a], [n_a], [x_b], [n_b], metric=metric, alpha=alpha, min_trials=min_trials
        )
    )


def day_level_dispersion(
    daily: pd.DataFrame, *, keys: Sequence[str], successes: str, trials: str
) -> pd.Series:
    """Pearson dispersion of daily proportions around each key's pooled rate (>= 1).

    Clicks of the same day share auctions and users; binomial variance understates the day to
    day spread. phi = sum (x_d - n_d p)^2 / (n_d p (1 - p)) / (D - 1).
    """
    terms = dispersion_terms(daily, keys=keys, successes=successes, trials=trials)
    phi = terms["pearson"] / terms["df"].clip(lower=1)
    return phi.clip(lower=1.0).fillna(1.0)


def dispersion_terms(
    daily: pd.DataFrame, *, keys: Sequence[str], successes: str, trials: str
) -> pd.DataFrame:
    """Per key: the Pearson statistic of the days around the key's pooled rate, and its degrees
    of freedom (days with trials - 1). Sum both over keys to pool (e.g. the two arms of a test:
    each arm around its own rate, so a true change does not read as dispersion)."""
    g = daily.groupby(list(keys), sort=False)
    tot = g[[successes, trials]].transform("sum")
    p = tot[successes] / tot[trials]
    n = daily[trials].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        contrib = (daily[successes] - n * p) ** 2 / (n * p * (1 - p))
    contrib = contrib.where(np.isfinite(contrib) & (n > 0), np.nan)
    frame = pd.DataFrame({"pearson": contrib, "df": (n > 0).astype(float)})
    for k in keys:
        frame[k] = daily[k].to_numpy()
    agg = frame.groupby(list(keys), sort=False)[["pearson", "df"]].sum()
    agg["df"] = (agg["df"] - 1).clip(lower=0)
    return agg


# --------------------------------------------------------------------------- ratio metrics
def delta_ratio_variance(
    num: np.ndarray | Sequence[float], den: np.ndarray | Sequence[float]
) -> tuple[float, float]:
    """R = mean(num) / mean(den) over n i.i.d. units and its delta-method variance."""
    y, x = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    n = len(y)
    s = _ratio_moments(n, y.sum(), x.sum(), (y * y).sum(), (x * x).sum(), (x * y).sum())
    return float(s[0]), float(s[1])


def _ratio_moments(
    n: np.ndarray | float,
    sy: np.ndarray | float,
    sx: np.ndarray | float,
    syy: np.ndarray | float,
    sxx: np.ndarray | float,
    sxy: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        my, mx = sy / n, sx / n
        dof = np.maximum(n - 1, 1)
        vy = (syy - n * my * my) / dof
        vx = (sxx - n * mx * mx) / dof
        cxy = (sxy - n * mx * my) / dof
        r = my / mx
        var = (vy / mx**2 - 2 * my * cxy / mx**3 + my**2 * vx / mx**4) / n
    return r, np.maximum(var, 0.0)


def _effective_units(sums: pd.DataFrame) -> np.ndarray:
    """Kish's effective sample size of the days, weighted by the ratio's denominator."""
    n = sums["n"].to_numpy(dtype=float)
    sx = sums["sx"].to_numpy(dtype=float)
    sxx = sums["sxx"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = np.where(sxx > 0, sx * sx / sxx, n)
    return np.minimum(eff, n)


def ratio_tests_from_sums(
    sums_a: pd.DataFrame,
    sums_b: pd.DataFrame,
    *,
    metric: str,
    alpha: float = 0.05,
    min_units: int = 7,
    min_volume: float = 30.0,
) -> pd.DataFrame:
    """Vectorised delta-method tests of R_b / R_a from per-arm sums.

    Each sums frame has columns n, sy, sx, syy, sxx, sxy (day units: y = numerator, x =
    denominator) and volume (e.g. conversions, for the minimum-volume rule), aligned by row.
    """
    ra, va = _ratio_moments(
        *(sums_a[c].to_numpy(dtype=float) for c in ("n", "sy", "sx", "syy", "sxx", "sxy"))
    )
    rb, vb = _ratio_moments(
        *(sums_b[c].to_numpy(dtype=float) for c in ("n", "sy", "sx", "syy", "sxx", "sxy"))
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(rb / ra)
        wa, wb = va / ra**2, vb / rb**2
        se = np.sqrt(wa + wb)
        z = log_ratio / se
        # Welch-Satterthwaite degrees of freedom: with two to four weeks of days the normal
        # reference is anti-conservative, most of all in the far tail that BH relies on. A
        # ratio of sums is a mean of day ratios weighted by the denominator, so a few big days
        # carry it: each arm counts Kish's effective number of days (sum x)^2 / sum x^2.
        eff_a = _effective_units(sums_a)
        eff_b = _effective_units(sums_b)
        df = (wa + wb) ** 2 / (wa**2 / np.maximum(eff_a - 1, 1) + wb**2 / np.maximum(eff_b - 1, 1))
        df = np.where(np.isfinite(df), np.maximum(df, 1.0), 1.0)
        p = 2 * stats.t.sf(np.abs(z), df)
        zc = stats.t.isf(alpha / 2, df)
    few_units = (sums_a["n"].to_numpy() < min_units) | (sums_b["n"].to_numpy() < min_units)
    low_volume = (sums_a["volume"].to_numpy() < min_volume) | (
        sums_b["volume"].to_numpy() < min_volume
    )
    degenerate = ~np.isfinite(z) | ~(se > 0)
    insufficient = few_units | low_volume | degenerate
    reason = np.where(
        few_units,
        f"fewer than {min_units} days in an arm",
        np.where(
            low_volume,
            f"fewer than {min_volume:g} conversions in an arm",
            np.where(degenerate, "degenerate", ""),
        ),
    )
    rel = np.exp(log_ratio) - 1
    out = _frame(
        "delta_method_ratio", metric, ra, rb, rel, "relative", rel,
        np.exp(log_ratio - zc * se) - 1, np.exp(log_ratio + zc * se) - 1, p,
        insufficient, reason, alpha, np.sign(log_ratio),
    )  # fmt: skip
    out["df"] = df  # the t reference's degrees of freedom (power calculations use it)
    return out


def _sums(num: np.ndarray, den: np.ndarray, volume: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [len(num)],
            "sy": [num.sum()],
            "sx": [den.sum()],
            "syy": [(num * num).sum()],
            "sxx": [(den * den).sum()],
            "sxy": [(num * den).sum()],
            "volume": [volume.sum()],
        }
    )


def ratio_test(
    num_a: Sequence[float] | np.ndarray,
    den_a: Sequence[float] | np.ndarray,
    num_b: Sequence[float] | np.ndarray,
    den_b: Sequence[float] | np.ndarray,
    *,
    metric: str = "cpa",
    alpha: float = 0.05,
    volume_a: Sequence[float] | np.ndarray | None = None,
    volume_b: Sequence[float] | np.ndarray | None = None,
    min_units: int = 7,
    min_volume: float = 30.0,
) -> Verdict:
    """% change of a ratio metric (sum num / sum den) between two sets of days, delta method.

    CPA: num = cost, den = conversions; ROAS: num = value, den = cost. volume (default: the
    denominator) feeds the minimum-volume rule; pass conversions for ROAS.
    """
    ya, xa, yb, xb = (np.asarray(v, dtype=float) for v in (num_a, den_a, num_b, den_b))
    vol_a = np.asarray(volume_a, dtype=float) if volume_a is not None else xa
    vol_b = np.asarray(volume_b, dtype=float) if volume_b is not None else xb
    return _to_verdict(
        ratio_tests_from_sums(
            _sums(ya, xa, vol_a),
            _sums(yb, xb, vol_b),
            metric=metric,
            alpha=alpha,
            min_units=min_units,
            min_volume=min_volume,
        )  # fmt: skip
    )


def jackknife_pct_change(
    num_a: Sequence[float] | np.ndarray,
    den_a: Sequence[float] | np.ndarray,
    num_b: Sequence[float] | np.ndarray,
    den_b: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
) -> tuple[float, float, float]:
    """Leave-one-day-out jackknife of the % change of a ratio metric; (pct, ci_low, ci_high).

    The analogue of Google Ads experiments' bucketed jackknife, with days as buckets.
    """
    ya, xa, yb, xb = (np.asarray(v, dtype=float) for v in (num_a, den_a, num_b, den_b))

    def stat(sya: float, sxa: float, syb: float, sxb: float) -> float:
        return float(np.log((syb / sxb) / (sya / sxa)))

    full = stat(ya.sum(), xa.sum(), yb.sum(), xb.sum())
    reps = [stat(ya.sum() - ya[i], xa.sum() - xa[i], yb.sum(), xb.sum()) for i in range(len(ya))]
    reps += [stat(ya.sum(), xa.sum(), yb.sum() - yb[i], xb.sum() - xb[i]) for i in range(len(yb))]
    var = 0.0
    for block in (np.array(reps[: len(ya)]), np.array(reps[len(ya) :])):
        k = len(block)
        var += (k - 1) / k * float(np.sum((block - block.mean()) ** 2))
    se = np.sqrt(var)
    zc = _z(alpha)
    return (
        float(np.exp(full) - 1),
        float(np.exp(full - zc * se) - 1),
        float(np.exp(full + zc * se) - 1),
    )


# --------------------------------------------------------------------------- counts
def _binom_two_sided_minlike(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Vectorised two-sided exact binomial p-value, the "minlike" rule of scipy.binomtest."""
    k, n, p = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(k, n, p))
    logd = stats.binom.logpmf(k, n, p)
    thr = logd + np.log1p(1e-7)
    pn = p * n
    below = k < pn
    # k below the mean: first y >= ceil(pn) with pmf(y) <= pmf(k) (pmf falls there).
    lo = np.ceil(pn)
    hi = n + 1
    # k above the mean: last y <= floor(pn) with pmf(y) <= pmf(k) (pmf rises there).
    lo2 = np.full_like(pn, -1.0)
    hi2 = np.floor(pn)
    for _ in range(64):
        mid = np.floor((lo + hi) / 2)
        ok = stats.binom.logpmf(mid, n, p) <= thr
        active = lo < hi
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid + 1, lo)
        mid2 = np.floor((lo2 + hi2 + 1) / 2)
        ok2 = stats.binom.logpmf(mid2, n, p) <= thr
        active2 = lo2 < hi2
        lo2 = np.where(active2 & ok2, mid2, lo2)
        hi2 = np.where(active2 & ~ok2, mid2 - 1, hi2)
        if not (active.any() or active2.any()):
            break
    p_below = stats.binom.cdf(k, n, p) + stats.binom.sf(lo - 1, n, p)
    p_above = stats.binom.cdf(lo2, n, p) + stats.binom.sf(k - 1, n, p)
    out = np.where(below, p_below, p_above)
    out = np.where(k == pn, 1.0, out)
    return np.minimum(out, 1.0)


def count_rate_tests(
    x_a: np.ndarray | Sequence[float],
    exposure_a: np.ndarray | Sequence[float],
    x_b: np.ndarray | Sequence[float],
    exposure_b: np.ndarray | Sequence[float],
    *,
    metric: str = "conversions",
    alpha: float = 0.05,
    min_total: float = 10.0,
    dispersion: np.ndarray | Sequence[float] | float = 1.0,
    dispersion_df: np.ndarray | Sequence[float] | float | None = None,
) -> pd.DataFrame:
    """Vectorised exact conditional test of two Poisson rates x/exposure (b vs a).

    Under H0 x_b | x_a + x_b ~ Binomial(N, e_b / (e_a + e_b)). Fractional conversions are
    rounded. The rate-ratio CI maps the Clopper-Pearson interval of the binomial share.
    Exposure is clicks (conversions per click), days, or a seasonal expectation of volume.

    dispersion (>= 1, quasi-Poisson phi, e.g. from ``day_level_dispersion``): conversions of
    one keyword-day share a shock (the same landing page, the same shoppers), so counts vary
    more than Poisson. The test and interval then run on the effective counts x / phi (the
    information they carry); with phi = 1 this is the plain exact test. With ``dispersion_df``
    (the days behind the phi estimate) the p-value is the larger of that exact test and the
    quasi-Poisson score test on a t reference with those degrees of freedom: an estimated phi
    taken as known makes the far tail too light (see ``proportion_tests``).
    """
    phi = np.maximum(np.asarray(dispersion, dtype=float), 1.0)
    xa = np.rint(np.asarray(x_a, dtype=float) / phi)
    xb = np.rint(np.asarray(x_b, dtype=float) / phi)
    ea, eb = np.asarray(exposure_a, dtype=float), np.asarray(exposure_b, dtype=float)
    total = xa + xb
    with np.errstate(divide="ignore", invalid="ignore"):
        share0 = eb / (ea + eb)
        p = _binom_two_sided_minlike(xb, total, share0)
        if dispersion_df is not None:
            n_all = np.asarray(x_a, dtype=float) + np.asarray(x_b, dtype=float)
            score = (np.asarray(x_b, dtype=float) - n_all * share0) / np.sqrt(
                phi * n_all * share0 * (1 - share0)
            )
            df = np.maximum(np.asarray(dispersion_df, dtype=float), 1.0)
            p = np.fmax(p, 2 * stats.t.sf(np.abs(score), df))
        ra = np.asarray(x_a, dtype=float) / ea
        rb = np.asarray(x_b, dtype=float) / eb
        ratio = rb / ra
        q = alpha / 2
        pi_lo = np.where(xb > 0, stats.beta.ppf(q, xb, total - xb + 1), 0.0)
        pi_hi = np.where(xb < total, stats.beta.ppf(1 - q, xb + 1, total - xb), 1.0)
        odds = ea / eb
        rr_lo = pi_lo / (1 - pi_lo) * odds
        rr_hi = np.where(pi_hi < 1, pi_hi / (1 - pi_hi) * odds, np.inf)
    low = np.asarray(x_a, dtype=float) + np.asarray(x_b, dtype=float) < min_total
    bad = ~(ea > 0) | ~(eb > 0)
    insufficient = low | bad
    reason = np.where(
        bad, "no exposure in an arm", np.where(low, f"fewer than {min_total:g} events", "")
    )
    return _frame(
        "exact_conditional_poisson", metric, ra, rb, ratio - 1, "relative", ratio - 1,
        rr_lo - 1, rr_hi - 1, p, insufficient, reason, alpha, np.sign(np.nan_to_num(ratio - 1)),
    )  # fmt: skip


def count_rate_test(
    x_a: float, exposure_a: float, x_b: float, exposure_b: float, *, metric: str = "conversions",
    alpha: float = 0.05, min_total: float = 10.0,
) -> Verdict:  # fmt: skip
    """Exact conditional (binomial) test of two Poisson rates."""
    return _to_verdict(
        count_rate_tests(
            [x_a],
            [exposure_a],
            [x_b],
            [exposure_b],
            metric=metric,
            alpha=alpha,
            min_total=min_total,
        )
    )


def count_glm_test(
    counts: Sequence[float] | np.ndarray,
    exposure: Sequence[float] | np.ndarray,
    treated: Sequence[bool] | np.ndarray,
    *,
    family: str = "negbin",
    metric: str = "conversions",
    alpha: float = 0.05,
    min_total: float = 10.0,
) -> Verdict:
    """Rate ratio b/a from day-level counts: log E[y] = log(exposure) + b0 + b1 * treated.

    family: "poisson", "quasipoisson" (Pearson chi2 scale) or "negbin" (NB2, alpha estimated).
    """
    import statsmodels.api as sm
    from statsmodels.discrete.discrete_model import NegativeBinomial

    y = np.asarray(counts, dtype=float)
    e = np.asarray(exposure, dtype=float)
    t = np.asarray(treated, dtype=bool)
    keep = e > 0
    y, e, t = y[keep], e[keep], t[keep]
    ra = y[~t].sum() / e[~t].sum() if (~t).any() else np.nan
    rb = y[t].sum() / e[t].sum() if t.any() else np.nan
    if y.sum() < min_total or t.all() or (~t).all():
        return _to_verdict(
            _frame(
                f"glm_{family}",
                metric,
                np.array([ra]),
                np.array([rb]),
                np.array([np.nan]),
                "relative",
                np.array([np.nan]),
                np.array([np.nan]),
                np.array([np.nan]),
                np.array([np.nan]),
                np.array([True]),
                np.array([f"fewer than {min_total:g} events or one arm empty"]),
                alpha,
                np.array([0.0]),
            )  # fmt: skip
        )
    x = sm.add_constant(t.astype(float), has_constant="add")
    off = np.log(e)
    if family == "negbin":
        res = NegativeBinomial(y, x, offset=off, loglike_method="nb2").fit(disp=False, maxiter=200)
        coef, se = float(res.params[1]), float(res.bse[1])
    else:
        scale = "X2" if family == "quasipoisson" else None
        res = sm.GLM(y, x, family=sm.families.Poisson(), offset=off).fit(scale=scale)
        coef, se = float(res.params[1]), float(res.bse[1])
    zc = _z(alpha)
    p = 2 * stats.norm.sf(abs(coef / se))
    rel = np.exp(coef) - 1
    return _to_verdict(
        _frame(
            f"glm_{family}",
            metric,
            np.array([ra]),
            np.array([rb]),
            np.array([rel]),
            "relative",
            np.array([rel]),
            np.array([np.exp(coef - zc * se) - 1]),
            np.array([np.exp(coef + zc * se) - 1]),
            np.array([p]),
            np.array([False]),
            np.array([""]),
            alpha,
            np.array([np.sign(coef)]),
        )  # fmt: skip
    )


# --------------------------------------------------------------------------- multiplicity
def adjust_pvalues(p_values: Sequence[float] | np.ndarray, *, method: str = "fdr_bh") -> np.ndarray:
    """Adjusted p-values (statsmodels multipletests); NaN entries stay NaN and out of the family."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


def apply_fdr(frame: pd.DataFrame, *, alpha: float = 0.05, method: str = "fdr_bh") -> pd.DataFrame:
    """Fill p_adjusted across the whole batch and re-decide verdicts on it."""
    out = frame.copy()
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(dtype=float), method=method)
    insufficient = (out["verdict"] == INSUFFICIENT).to_numpy()
    sign = np.sign(np.nan_to_num(out["effect"].to_numpy(dtype=float)))
    out["verdict"] = _decide(
        np.nan_to_num(out["p_adjusted"].to_numpy(dtype=float), nan=1.0), sign, alpha, insufficient
    )
    return out


def apply_fdr_verdicts(
    verdicts: Sequence[Verdict], *, alpha: float = 0.05, method: str = "fdr_bh"
) -> list[Verdict]:
    adjusted = apply_fdr(verdicts_frame(verdicts), alpha=alpha, method=method)
    return [_to_verdict(adjusted.iloc[[i]]) for i in range(len(adjusted))]


# --------------------------------------------------------------------------- sequential
@dataclass(frozen=True)
class SequentialResult:
    n: int
    estimate: float
    p_always_valid: float
    ci_low: float
    ci_high: float
    reject: bool


def msprt(
    differences: Sequence[float] | np.ndarray,
    *,
    variance: float,
    tau2: float,
    alpha: float = 0.05,
    theta0: float = 0.0,
) -> SequentialResult:
    """Normal-mixture mSPRT over a stream of paired differences (always-valid p and CI).

    variance: V, the variance of one paired difference; tau2: mixing variance (about the
    squared plausible effect). p_n = min_k 1 / Lambda_k, safe to look at every day.
    """
    d = np.asarray(differences, dtype=float)
    n = np.arange(1, len(d) + 1, dtype=float)
    theta = np.cumsum(d) / n
    v = float(variance)
    log_lam = 0.5 * np.log(v / (v + n * tau2)) + n**2 * tau2 * (theta - theta0) ** 2 / (
        2 * v * (v + n * tau2)
    )
    p = float(np.minimum(1.0, np.exp(-np.maximum.accumulate(log_lam))[-1]))
    nn = n[-1]
    half = np.sqrt(v * (v + nn * tau2) / (nn**2 * tau2) * np.log((v + nn * tau2) / (v * alpha**2)))
    est = float(theta[-1])
    return SequentialResult(int(nn), est, p, est - half, est + half, p <= alpha)


def config_min_volume(config: SignificanceConfig | None) -> MinVolume:
    return (config or SignificanceConfig()).min_volume
