"""Conversion lag: empirical lag CDFs from cohorts, chain-ladder completion of recent days.

Google Ads dates conversions to the click day and keeps restating recent days for the length of
the conversion window. Two inputs describe how a click day fills in:

* snapshots — the same click day observed at several ages (one row per click_date x report_date,
  cumulative conversions as reported that day). Chain-ladder link ratios between successive ages
  (Mack 1993) give F(a), the share of a cohort's final conversions reported by age a.
* lag-bucket histograms (``segments.conversion_lag_bucket``) — how many conversions arrived
  0-1, 1-2, ... 60-90 days after the click. A piecewise-linear CDF through the bucket edges;
  with the click days' ages known, buckets the younger cohorts cannot have filled yet are
  corrected for exposure, and the 30-90 day buckets give the tail directly.

Completion of a day of age a: C_hat = C_obs / F(a), with prediction variance (Poisson thinning,
plus the CDF's own uncertainty, notes §1)

    Var(C_hat) ~= C_obs (1 - F) / F^2 + C_obs^2 Var(F) / F^4.

Age of a row is ``report date - click date`` in days (0 = the click day itself).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from spectra.analytics.config import LagConfig

# segments.conversion_lag_bucket -> [lo, hi) in days (google.ads.googleads.v2x enums).
LAG_BUCKETS: dict[str, tuple[float, float]] = {
    "LESS_THAN_ONE_DAY": (0, 1),
    "ONE_TO_TWO_DAYS": (1, 2),
    "TWO_TO_THREE_DAYS": (2, 3),
    "THREE_TO_FOUR_DAYS": (3, 4),
    "FOUR_TO_FIVE_DAYS": (4, 5),
    "FIVE_TO_SIX_DAYS": (5, 6),
    "SIX_TO_SEVEN_DAYS": (6, 7),
    "SEVEN_TO_EIGHT_DAYS": (7, 8),
    "EIGHT_TO_NINE_DAYS": (8, 9),
    "NINE_TO_TEN_DAYS": (9, 10),
    "TEN_TO_ELEVEN_DAYS": (10, 11),
    "ELEVEN_TO_TWELVE_DAYS": (11, 12),
    "TWELVE_TO_THIRTEEN_DAYS": (12, 13),
    "THIRTEEN_TO_FOURTEEN_DAYS": (13, 14),
    "FOURTEEN_TO_TWENTY_ONE_DAYS": (14, 21),
    "TWENTY_ONE_TO_THIRTY_DAYS": (21, 30),
    "THIRTY_TO_FORTY_FIVE_DAYS": (30, 45),
    "FORTY_FIVE_TO_SIXTY_DAYS": (45, 60),
    "SIXTY_TO_NINETY_DAYS": (60, 90),
}

MATURE = "mature"
COMPLETING = "completing"
TOO_IMMATURE = "too_immature"


class LagDataError(ValueError):
    """The inputs cannot support a lag curve (missing columns, nothing to fit)."""


@dataclass(frozen=True)
class LagCurve:
    """F(a) for ages 0..window_days for conversions and conversion value, with variances."""

    fit_date: dt.date
    source: str  # "snapshots" | "lag_buckets" | "none"
    window_days: int
    cdf_conversions: np.ndarray
    cdf_value: np.ndarray
    var_cdf_conversions: np.ndarray
    var_cdf_value: np.ndarray
    mature_conversions: float  # conversions of the cohorts that inform the tail
    n_cohorts: int
    max_age_observed: int  # < window_days: F is relative to that age (history too short)
    notes: tuple[str, ...] = ()
    # Conversions that arrive after the window (the re-pull horizon) never reach the warehouse;
    # tail = ultimate / reported-at-window, extrapolated from the link ratios (see _tail_factor).
    tail_factor: float = 1.0
    tail_factor_value: float = 1.0
    # False when the data cannot support completion (no snapshots yet, too few pulls, ages
    # without any link): callers must then treat every day younger than the window as
    # immature instead of taking F = 1 at face value.
    usable: bool = True
    n_runs: int = 0  # daily pulls behind a snapshot curve (0 for histograms)
    # How the tail was sized: "measured" (the 30-90 day lag buckets, click-day ages known),
    # "extrapolated" (inverse power on the link ratios), "none".
    tail_source: str = "none"

    def maturity(self, age: np.ndarray | Sequence[int] | int, *, value: bool = False) -> np.ndarray:
        """F at the given ages (vectorised); age < 0 -> 0, age > window -> 1."""
        a = np.asarray(age, dtype=np.int64)
        cdf = self.cdf_value if value else self.cdf_conversions
        out = cdf[np.clip(a, 0, self.window_days)]
        return np.where(a < 0, 0.0, out)

    def maturity_variance(
        self, age: np.ndarray | Sequence[int] | int, *, value: bool = False
    ) -> np.ndarray:
        a = np.asarray(age, dtype=np.int64)
        var = self.var_cdf_value if value else self.var_cdf_conversions
        return np.where(a < 0, 0.0, var[np.clip(a, 0, self.window_days)])

    def to_frame(self) -> pd.DataFrame:
        """One row per age, for persistence (lag curve per account and its fit date)."""
        ages = np.arange(self.window_days + 1)
        return pd.DataFrame(
            {
                "fit_date": self.fit_date,
                "source": self.source,
                "age_days": ages,
                "cdf_conversions": self.cdf_conversions,
                "cdf_value": self.cdf_value,
                "se_cdf_conversions": np.sqrt(self.var_cdf_conversions),
                "se_cdf_value": np.sqrt(self.var_cdf_value),
                "tail_factor": self.tail_factor,
                "tail_factor_value": self.tail_factor_value,
                "usable": self.usable,
            }
        )


def no_lag_curve(fit_date: dt.date, window_days: int = 30) -> LagCurve:
    """F = 1 everywhere: used when neither snapshots nor histograms exist (flagged by source)."""
    ones = np.ones(window_days + 1)
    zeros = np.zeros(window_days + 1)
    return LagCurve(
        fit_date, "none", window_days, ones, ones, zeros, zeros, 0.0, 0, 0,
        ("no lag data: recent days are not completed",), usable=False,
    )  # fmt: skip


def _value_column(df: pd.DataFrame) -> str | None:
    for name in ("conversions_value_micros", "conversions_value"):
        if name in df.columns:
            return name
    return None


def _monotone_cdf(cdf: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and make non-decreasing (downward restatements can break monotonicity)."""
    c = np.clip(np.nan_to_num(cdf, nan=1.0), 0.0, 1.0)
    # F(a) <= F(a+1): sweep from the right keeping the running minimum.
    return np.minimum.accumulate(c[::-1])[::-1]


def _chain_ladder(tri: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, int]:
    """Weighted volume chain ladder over a cohorts x ages triangle (NaN = not observed).

    ``weights`` may be 1-D (cohorts) or 2-D (replicates x cohorts); returns F of shape
    (..., ages) and the number of age links that had no data.
    """
    w = np.atleast_2d(weights)
    n_age = tri.shape[1]
    cur, nxt = tri[:, :-1], tri[:, 1:]
    both = ~np.isnan(cur) & ~np.isnan(nxt)
    cur0 = np.where(both, cur, 0.0)
    nxt0 = np.where(both, nxt, 0.0)
    num = w @ nxt0  # (reps, ages-1)
    den = w @ cur0
    with np.errstate(divide="ignore", invalid="ignore"):
        link = np.where(den > 0, num / den, np.nan)
    missing = int(np.sum(~both.any(axis=0)))
    # A link without data, or from zero conversions, carries no information: treat as 1.
    link = np.where(np.isfinite(link), np.maximum(link, 1e-9), 1.0)
    # F(a) = 1 / prod_{j >= a} link(j); F(last) = 1.
    tail = np.cumprod(link[:, ::-1], axis=1)[:, ::-1]
    cdf = np.concatenate([1.0 / tail, np.ones((w.shape[0], 1))], axis=1)
    assert cdf.shape[1] == n_age
    return cdf, missing


def _link_ratios(tri: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Volume-weighted age-to-age link ratios and the volume behind each (NaN without data)."""
    cur, nxt = tri[:, :-1], tri[:, 1:]
    both = ~np.isnan(cur) & ~np.isnan(nxt)
    num = weights @ np.where(both, nxt, 0.0)
    den = weights @ np.where(both, cur, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan), den


def _tail_factor(link: np.ndarray, cfg: LagConfig) -> float:
    """Development beyond the window, by Sherman's (1984) inverse power curve.

    ln(link(a) - 1) = c + k ln(a) is fitted to the links from ``tail_fit_from_age`` to the
    window and extrapolated to ``tail_horizon_days`` (90: Google's longest conversion window):
    tail = prod_{a = window}^{horizon - 1} (1 + e^c a^k). Conversion delays have long, heavy
    tails (a lognormal or Pareto, not an exponential), which this curve follows; measured on the
    market simulator it lands within ~2.5 % of the true tail where ignoring it is 4-10 % low.
    Below ``tail_min`` it is taken as 1 (no tail visible).
    """
    window = len(link)
    if cfg.tail_horizon_days <= window:
        return 1.0
    ages = np.arange(window, dtype=float)
    sel = (ages >= cfg.tail_fit_from_age) & np.isfinite(link) & (link > 1.0)
    if sel.sum() < 5:
        return 1.0
    slope, intercept = np.polyfit(np.log(ages[sel]), np.log(link[sel] - 1.0), 1)
    if not np.isfinite(slope) or slope >= 0:
        return 1.0
    beyond = np.arange(window, cfg.tail_horizon_days, dtype=float)
    tail = float(np.prod(1.0 + np.exp(intercept) * beyond**slope))
    if tail < 1.0 + cfg.tail_min:
        return 1.0
    return float(min(tail, cfg.tail_max))


def _triangle(snap: pd.DataFrame, column: str, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Cohorts x ages (0..window) of cumulative values; ages past the window fold into it."""
    pivot = snap.pivot_table(index="click_date", columns="age", values=column, aggfunc="last")
    pivot = pivot.reindex(columns=range(window + 1))
    return pivot.to_numpy(dtype=float), pivot.index.to_numpy()


def _from_snapshots(snapshots: pd.DataFrame, fit_date: dt.date, cfg: LagConfig) -> LagCurve:
    missing = {"click_date", "report_date", "conversions"} - set(snapshots.columns)
    if missing:
        raise LagDataError(f"snapshots lack columns {sorted(missing)}")
    value_col = _value_column(snapshots)
    s = snapshots.copy()
    s["click_date"] = pd.to_datetime(s["click_date"])
    s["report_date"] = pd.to_datetime(s["report_date"])
    s = s[s["report_date"] <= pd.Timestamp(fit_date)]
    s = s[s["report_date"] >= s["click_date"]]
    if s.empty:
        raise LagDataError("no snapshot rows on or before the fit date")
    cols = ["conversions"] + ([value_col] if value_col else [])
    # Account level: sum entities per (click day, report day); then the latest report per age.
    s = s.groupby(["click_date", "report_date"], as_index=False)[cols].sum()
    window = cfg.window_days
    s["age"] = np.minimum((s["report_date"] - s["click_date"]).dt.days, window)
    s = s.sort_values(["click_date", "report_date"])

    tri_c, cohorts = _triangle(s, "conversions", window)
    tri_v = _triangle(s, value_col, window)[0] if value_col else tri_c
    age_days = (pd.Timestamp(fit_date) - pd.to_datetime(cohorts)).days.to_numpy()
    if cfg.half_life_days:
        weights = 0.5 ** (age_days / cfg.half_life_days)
    else:
        weights = np.ones(len(cohorts))
    cdf_c, _ = _chain_ladder(tri_c, weights)
    cdf_v, _ = _chain_ladder(tri_v, weights)
    cdf_c, cdf_v = _monotone_cdf(cdf_c[0]), _monotone_cdf(cdf_v[0])

    observed_ages = np.where(~np.isnan(tri_c).all(axis=0))[0]
    max_age = int(observed_ages.max()) if observed_ages.size else 0
    min_age = int(observed_ages.min()) if observed_ages.size else 0
    last = np.nan_to_num(tri_c[:, max_age]) if observed_ages.size else np.zeros(0)
    mature_conv = float(last.sum())
    n_cohorts = len(cohorts)
    # Pulls, not report dates: a daily run re-reports a whole window of click days, while a
    # stray old row (a day last pulled at the window's end) is one cell.
    per_report = s.groupby("report_date")["click_date"].nunique()
    n_runs = int((per_report >= min(7, window)).sum())

    notes: list[str] = []
    if max_age < window:
        notes.append(f"history reaches age {max_age} < window {window}: F is relative to it")
    # Links below the youngest age ever reported are never needed (no row is that young, e.g.
    # age 0 when every pull runs the morning after); a link without data above it would
    # silently claim maturity.
    link_c, _ = _link_ratios(tri_c, weights)
    blind = int(np.sum(np.isnan(link_c[min_age:])))
    if blind:
        notes.append(f"{blind} age links without data were taken as 1")
    usable = n_runs >= cfg.min_snapshot_runs and blind == 0 and mature_conv > 0
    if not usable:
        notes.append(
            f"lag curve not usable for completion ({n_runs} pulls, {blind} ages without links)"
        )
    # The tail is extrapolated from the older ages' links, which only a steady volume of
    # conversions makes readable: with a few hundred, single conversions swing it by 20 %+.
    with_tail = usable and max_age >= window and mature_conv >= cfg.tail_min_conversions
    tail_c = _tail_factor(link_c, cfg) if with_tail else 1.0
    tail_v = _tail_factor(_link_ratios(tri_v, weights)[0], cfg) if with_tail else 1.0
    if tail_c > 1.0:
        notes.append(
            f"tail beyond age {window}: x{tail_c:.3f} (inverse power to day {cfg.tail_horizon_days})"
        )

    var_c = cdf_c * (1 - cdf_c) / max(mature_conv, 1.0)
    var_v = cdf_v * (1 - cdf_v) / max(mature_conv, 1.0)
    if cfg.bootstrap_samples and n_cohorts >= 10:
        rng = np.random.default_rng(cfg.seed)
        counts = rng.multinomial(
            n_cohorts, np.full(n_cohorts, 1.0 / n_cohorts), cfg.bootstrap_samples
        )
        reps_w = counts * weights[None, :]
        boot_c = np.apply_along_axis(_monotone_cdf, 1, _chain_ladder(tri_c, reps_w)[0])
        boot_v = np.apply_along_axis(_monotone_cdf, 1, _chain_ladder(tri_v, reps_w)[0])
        # Keep the larger of the two: the bootstrap sees over-dispersion, the binomial floor
        # guards against a lucky resample of few cohorts.
        var_c = np.maximum(var_c, boot_c.var(axis=0, ddof=1))
        var_v = np.maximum(var_v, boot_v.var(axis=0, ddof=1))
    return LagCurve(
        fit_date=fit_date,
        source="snapshots",
        window_days=window,
        cdf_conversions=cdf_c,
        cdf_value=cdf_v,
        var_cdf_conversions=var_c,
        var_cdf_value=var_v,
        mature_conversions=mature_conv,
        n_cohorts=n_cohorts,
        max_age_observed=max_age,
        notes=tuple(notes),
        tail_factor=tail_c,
        tail_factor_value=tail_v,
        usable=usable,
        n_runs=n_runs,
        tail_source="extrapolated" if with_tail else "none",
    )


def _bucket_edges(bucket: object) -> tuple[float, float]:
    if isinstance(bucket, str):
        name = bucket.rsplit(".", 1)[-1].upper()
        if name not in LAG_BUCKETS:
            raise LagDataError(f"unknown conversion lag bucket {bucket!r}")
        return LAG_BUCKETS[name]
    if isinstance(bucket, tuple | list) and len(bucket) == 2:
        lo, hi = bucket
        return float(lo), float(hi)
    raise LagDataError(f"a conversion lag bucket is a name or (low, high) days, not {bucket!r}")


def _cdf_from_histogram(edges_hi: np.ndarray, mass: np.ndarray, ages: np.ndarray) -> np.ndarray:
    total = mass.sum()
    if total <= 0:
        return np.ones(len(ages))
    xs = np.concatenate([[0.0], edges_hi])
    ys = np.concatenate([[0.0], np.cumsum(mass) / total])
    return np.interp(ages, xs, ys, right=1.0)


def _exposure(
    lo: np.ndarray, hi: np.ndarray, min_age: np.ndarray, max_age: np.ndarray, offset: float
) -> np.ndarray:
    """Share of a bucket's conversions the histogram's click days can have reported yet.

    The click days' ages (on the pull) run from ``min_age`` to ``max_age``; a conversion of
    lag L is reported in a cohort of age a once L < a + offset. With cohorts of equal volume
    and lags spread evenly inside a bucket, the share is the mean over its whole days k of
    clip((max_age + offset - k) / n_days, 0, 1). 1 for every bucket the youngest day has
    passed; the 30-90 day buckets of a range ending 31 days back are about 0.5-0.9.
    """
    out = np.ones(len(lo))
    for i, (a, b, young, old) in enumerate(zip(lo, hi, min_age, max_age, strict=True)):
        days = np.arange(int(a), int(np.ceil(b)))
        n_days = max(old - young + 1, 1)
        out[i] = float(np.clip((old + offset - days) / n_days, 0.0, 1.0).mean())
    return out


def _bounded_tail(tail: float, cfg: LagConfig) -> float:
    """A tail below ``tail_min`` is noise (none); above ``tail_max`` it is not believed."""
    return 1.0 if tail < 1.0 + cfg.tail_min else float(min(tail, cfg.tail_max))


def _from_lag_buckets(buckets: pd.DataFrame, fit_date: dt.date, cfg: LagConfig) -> LagCurve:
    """F from a histogram; with ``min_age_days`` / ``max_age_days`` (the click days' ages on
    the pull) the buckets are exposure-corrected and the tail past the window is read from
    the 30-90 day buckets, when volume allows (``tail_min_conversions``)."""
    if "conversion_lag_bucket" not in buckets.columns or "conversions" not in buckets.columns:
        raise LagDataError("lag buckets need columns conversion_lag_bucket, conversions")
    b = buckets[
        ~buckets["conversion_lag_bucket"].astype(str).str.endswith(("UNKNOWN", "UNSPECIFIED"))
    ]
    edges = np.array([_bucket_edges(x) for x in b["conversion_lag_bucket"]], dtype=float)
    if len(edges) == 0:
        raise LagDataError("no known lag buckets")
    value_col = _value_column(b)
    conv = b["conversions"].to_numpy(dtype=float)
    value = b[value_col].to_numpy(dtype=float) if value_col else conv
    notes = [f"from lag buckets, F(age) = share with lag < age + {cfg.age_offset_days:g} day"]
    aged = {"min_age_days", "max_age_days"} <= set(b.columns)
    if aged:
        exposure = _exposure(
            edges[:, 0], edges[:, 1], b["min_age_days"].to_numpy(dtype=float),
            b["max_age_days"].to_numpy(dtype=float), cfg.age_offset_days,
        )  # fmt: skip
        seen = exposure > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            conv = np.where(seen, conv / exposure, 0.0)
            value = np.where(seen, value / exposure, 0.0)
        if not seen.all():
            notes.append("left out lag buckets that no click day is old enough to have filled")
    frame = pd.DataFrame({"hi": edges[:, 1], "c": conv, "v": value})
    frame = frame.groupby("hi", as_index=False)[["c", "v"]].sum().sort_values("hi")
    window = cfg.window_days
    ages = np.arange(window + 1) + cfg.age_offset_days
    # F is the share the re-pull window will see: later conversions never reach the warehouse.
    inside = frame[frame["hi"] <= max(window, frame["hi"].min())]
    cdf_c = _cdf_from_histogram(inside["hi"].to_numpy(), inside["c"].to_numpy(), ages)
    cdf_v = _cdf_from_histogram(inside["hi"].to_numpy(), inside["v"].to_numpy(), ages)
    cdf_c[-1] = cdf_v[-1] = 1.0
    m = float(inside["c"].sum())
    tail_c = tail_v = 1.0
    # Only with the ages known: without them, a tail bucket's shortfall could be censoring.
    if aged and m >= cfg.tail_min_conversions:
        beyond = frame[(frame["hi"] > window) & (frame["hi"] <= cfg.tail_horizon_days)]
        inside_v = float(inside["v"].sum())
        tail_c = _bounded_tail(1.0 + float(beyond["c"].sum()) / m, cfg)
        if inside_v > 0:
            tail_v = _bounded_tail(1.0 + float(beyond["v"].sum()) / inside_v, cfg)
        if tail_c > 1.0:
            notes.append(f"tail beyond age {window}: x{tail_c:.3f} (lag buckets to day 90)")
    usable = m >= cfg.min_bucket_conversions
    if not usable:
        notes.append(f"lag buckets not usable for completion ({m:.0f} conversions)")
    return LagCurve(
        fit_date=fit_date,
        source="lag_buckets",
        window_days=window,
        cdf_conversions=_monotone_cdf(cdf_c),
        cdf_value=_monotone_cdf(cdf_v),
        var_cdf_conversions=cdf_c * (1 - cdf_c) / max(m, 1.0),
        var_cdf_value=cdf_v * (1 - cdf_v) / max(m, 1.0),
        mature_conversions=m,
        n_cohorts=0,
        max_age_observed=window,
        notes=tuple(notes),
        tail_factor=tail_c,
        tail_factor_value=tail_v,
        usable=usable,
        tail_source="measured" if aged and m >= cfg.tail_min_conversions else "none",
    )


def _with_measured_tail(curve: LagCurve, buckets: pd.DataFrame | None, cfg: LagConfig) -> LagCurve:
    """A usable snapshot curve with its tail read from the 30-90 day lag buckets when they
    can size it. The snapshots never see past the re-pull window, so their tail is an
    extrapolation; on the market it overshot the true tail (x1.061 vs x1.038 with a 6-day
    median lag, x1.021 vs x1.010 with 3 days), the buckets measured it (x1.037, x1.010)."""
    if buckets is None or buckets.empty:
        return curve
    try:
        hist = _from_lag_buckets(buckets, curve.fit_date, cfg)
    except LagDataError as exc:
        return replace(curve, notes=(*curve.notes, f"lag buckets ignored: {exc}"))
    if hist.tail_source != "measured":
        return curve
    return replace(
        curve,
        tail_factor=hist.tail_factor,
        tail_factor_value=hist.tail_factor_value,
        tail_source="measured",
        notes=(
            *(n for n in curve.notes if not n.startswith("tail beyond")),
            f"tail beyond age {curve.window_days}: x{hist.tail_factor:.3f} measured by the lag "
            f"buckets to day {cfg.tail_horizon_days} (extrapolated: x{curve.tail_factor:.3f})",
        ),
    )


def fit_lag_curve(
    snapshots: pd.DataFrame | None = None,
    lag_buckets: pd.DataFrame | None = None,
    *,
    fit_date: dt.date,
    config: LagConfig | None = None,
) -> LagCurve:
    """Fit an account's lag CDF: from snapshots when they are usable, else histograms.

    Snapshots win whenever they are usable (``min_snapshot_runs`` pulls, a link at every age):
    they measure the restatements the warehouse actually receives; the tail past the window,
    which they can only extrapolate, comes from the histogram when it can measure it. Until then (a new account)
    the histogram completes; snapshots shorter than the window but from enough pulls borrow
    the histogram's shape past the age they reach.

    snapshots: click_date, report_date, conversions[, conversions_value(_micros)] — entity rows
    are summed per (click_date, report_date). lag_buckets: conversion_lag_bucket (enum name or
    (lo, hi) days), conversions[, conversions_value(_micros)][, min_age_days, max_age_days —
    the ages of the histogram's click days on the pull, for exposure and the tail].
    """
    cfg = config or LagConfig()
    curve: LagCurve | None = None
    if snapshots is not None and not snapshots.empty:
        curve = _from_snapshots(snapshots, fit_date, cfg)
        if curve.usable:
            return _with_measured_tail(curve, lag_buckets, cfg)
    if lag_buckets is None or lag_buckets.empty:
        return curve if curve is not None else no_lag_curve(fit_date, cfg.window_days)
    hist = _from_lag_buckets(lag_buckets, fit_date, cfg)
    if curve is None:
        return hist
    k = curve.max_age_observed
    if (
        k < cfg.window_days
        and curve.n_runs >= cfg.min_snapshot_runs
        and curve.mature_conversions > 0
        and hist.usable
    ):
        # Snapshots too short for the tail: use them up to the age they reach, the histogram
        # for the tail beyond it (scaled so the two agree at the joint).
        scale = hist.cdf_conversions[k]
        scale_v = hist.cdf_value[k]
        cdf_c = np.concatenate(
            [curve.cdf_conversions[: k + 1] * scale, hist.cdf_conversions[k + 1 :]]
        )
        cdf_v = np.concatenate([curve.cdf_value[: k + 1] * scale_v, hist.cdf_value[k + 1 :]])
        return LagCurve(
            fit_date=fit_date,
            source="snapshots+lag_buckets",
            window_days=cfg.window_days,
            cdf_conversions=_monotone_cdf(cdf_c),
            cdf_value=_monotone_cdf(cdf_v),
            var_cdf_conversions=np.maximum(curve.var_cdf_conversions, hist.var_cdf_conversions),
            var_cdf_value=np.maximum(curve.var_cdf_value, hist.var_cdf_value),
            mature_conversions=curve.mature_conversions,
            n_cohorts=curve.n_cohorts,
            max_age_observed=cfg.window_days,
            notes=(*curve.notes, f"tail beyond age {k} from lag buckets"),
            tail_factor=hist.tail_factor,
            tail_factor_value=hist.tail_factor_value,
            tail_source=hist.tail_source,
            usable=True,
            n_runs=curve.n_runs,
        )
    # Too few pulls (a new account) or ages without links: the histogram completes instead of
    # leaving every recent day uncompleted; if it cannot either, the snapshot curve says why.
    if hist.usable:
        return replace(
            hist,
            notes=(
                *curve.notes,
                "completion from lag buckets until snapshots are usable",
                *hist.notes,
            ),
        )
    return replace(curve, notes=(*curve.notes, *hist.notes))


def nowcast(
    daily: pd.DataFrame,
    curve: LagCurve,
    *,
    as_of: dt.date,
    config: LagConfig | None = None,
    date_col: str = "date",
    conversions_col: str = "conversions",
    value_col: str | None = "conversions_value_micros",
    dispersion: np.ndarray | float = 1.0,
) -> pd.DataFrame:
    """Complete each row's conversions (and value) for lag; vectorised over any number of rows.

    A row's age is ``reported_as_of - date`` when that column exists (the numbers are as Google
    reported them on that day: rows not re-pulled lately were reported long ago, a backfill may
    read rows reported after ``as_of``), else ``as_of - date``. Adds: age_days, maturity (F, the
    share the re-pull window will ever see), conversions_nowcast (C / F x tail),
    conversions_nowcast_se, [conversions_value_nowcast_micros,
    conversions_value_nowcast_se_micros], lag_status (mature | completing | too_immature).

    An unusable curve (``curve.usable`` False) completes nothing and marks every row younger
    than the window too immature: F = 1 there would be a claim, not a measurement.

    dispersion (>= 1, per row or one value): conversions of a day share shocks (a good day
    for the landing page converts more of *all* its clicks), so the unreported remainder
    varies more than Poisson thinning says; the first variance term is scaled by it (see
    ``conversion_dispersion``).
    """
    cfg = config or LagConfig()
    out = daily.copy()
    dates = pd.to_datetime(out[date_col])
    if "reported_as_of" in out.columns:
        reported = pd.to_datetime(out["reported_as_of"]).fillna(pd.Timestamp(as_of))
    else:
        reported = pd.Series(pd.Timestamp(as_of), index=out.index)
    age = (reported - dates).dt.days.to_numpy()
    if curve.usable:
        f = curve.maturity(age)
        var_f = curve.maturity_variance(age)
        tail, tail_v = curve.tail_factor, curve.tail_factor_value
    else:
        f = np.where(age >= curve.window_days, 1.0, 0.0)
        var_f = np.zeros(len(age))
        tail = tail_v = 1.0
    c_obs = out[conversions_col].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Unusable curve: leave the observed numbers (f = 0 only flags the row).
        f_div = np.maximum(f, 1e-6) if curve.usable else np.ones(len(age))
        c_hat = c_obs / f_div * tail
        phi = np.maximum(np.asarray(dispersion, dtype=float), 1.0)
        var_c = (phi * c_obs * (1 - f) / f_div**2 + c_obs**2 * var_f / f_div**4) * tail**2
        if not curve.usable:
            var_c = np.zeros(len(age))
    out["age_days"] = age
    out["maturity"] = f
    out["conversions_nowcast"] = c_hat
    out["conversions_nowcast_se"] = np.sqrt(var_c)
    if value_col and value_col in out.columns:
        if curve.usable:
            fv = curve.maturity(age, value=True)
            var_fv = curve.maturity_variance(age, value=True)
            fv_div = np.maximum(fv, 1e-6)
        else:
            fv, var_fv, fv_div = np.ones(len(age)), np.zeros(len(age)), np.ones(len(age))
        v_obs = out[value_col].to_numpy(dtype=float)
        mean_value = np.divide(v_obs, c_obs, out=np.zeros_like(v_obs), where=c_obs > 0)
        v_hat = v_obs / fv_div * tail_v
        # Compound Poisson: the unreported conversions carry the average value of reported ones.
        var_v = (
            phi * c_obs * (1 - fv) / fv_div**2 * mean_value**2 + v_obs**2 * var_fv / fv_div**4
        ) * tail_v**2
        out["conversions_value_nowcast_micros"] = np.rint(v_hat).astype(np.int64)
        out["conversions_value_nowcast_se_micros"] = np.rint(np.sqrt(var_v)).astype(np.int64)
    out["lag_status"] = np.where(
        f >= cfg.mature_threshold, MATURE, np.where(f >= cfg.min_maturity, COMPLETING, TOO_IMMATURE)
    )
    return out


def conversion_dispersion(
    rows: pd.DataFrame, *, by: str = "campaign_id", max_phi: float = 10.0
) -> pd.Series:
    """Day-level over-dispersion of conversions per ``by`` group (Pearson, CVR around each
    group's mean; >= 1): how much wider than Poisson a day's conversions scatter. Pass mature
    days only (immature ones scatter for another reason)."""
    from spectra.analytics.significance import day_level_dispersion

    daily = rows.groupby([by, "date"], as_index=False)[["conversions", "clicks"]].sum()
    phi = day_level_dispersion(daily, keys=[by], successes="conversions", trials="clicks")
    return phi.clip(upper=max_phi)


def snapshots_from_perf(perf: pd.DataFrame) -> pd.DataFrame:
    """Turn warehouse rows that kept every pull (date, reported_as_of) into a snapshots table."""
    cols = {"date": "click_date", "reported_as_of": "report_date"}
    s = perf.rename(columns=cols)
    keep = ["click_date", "report_date", "conversions"]
    vc = _value_column(s)
    if vc:
        keep.append(vc)
    return s[keep]
