"""Effect of an applied change: before/after against seasonal expectation and untouched peers.

Two estimates for every change (notes §4):

* vs_expectation — the treated entity's own seasonal model, fitted on the pre-period only,
  projects the post-period; the effect is the mean log residual of the post days (an
  approximate normal interval from the pre-period residual scale and the level's uncertainty).
* difference in differences on the log metric — d_i = log(post_i) - log(pre_i) per entity
  (window aggregates, whole weeks by default), delta = d_treated - mean(d_controls). Common
  seasonality cancels. Inference is by placebo: each control in turn plays the treated one
  (Abadie et al. 2010 style), p = (1 + #{|delta_j| >= |delta|}) / (1 + J); with fewer than 19
  controls that p cannot reach 0.05, so a t reference (delta against the controls' spread,
  J - 1 degrees of freedom) is used for the verdict and both are reported.

A pre-trend check repeats the DiD inside the pre-period (second half vs first half).

The daily batch re-estimates every change each day while its post-period fills in; re-testing a
fixed-horizon test daily inflates its false-alarm rate well above alpha (Johari et al. 2017).
So each estimate also carries an always-valid p-value and interval from the normal-mixture mSPRT
over the post days' differences (treated minus controls, minus the pre-period mean; or the
residuals against the own seasonal expectation without controls): interim looks decide on it
(at ``sequential_alpha``), and only the final look, once ``post_days`` mature days exist, uses the
fixed-horizon test above.
Controls must not share budget or auctions with the treated entity (spillover); choosing them
is the caller's job (``comparable_controls`` offers a default).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from spectra.analytics.config import EffectConfig, SeasonalityConfig
from spectra.analytics.seasonality import HolidayCalendar, fit_seasonality
from spectra.analytics.significance import msprt


@dataclass(frozen=True)
class ChangeEffect:
    entity_id: int
    change_date: dt.date
    metric: str
    pre_start: dt.date
    pre_end: dt.date
    post_start: dt.date
    post_end: dt.date
    vs_expectation_pct: float
    vs_expectation_ci_low: float
    vs_expectation_ci_high: float
    vs_expectation_p: float
    did_log: float
    did_pct: float
    did_ci_low: float
    did_ci_high: float
    did_p: float  # t reference over controls
    placebo_p: float  # permutation over controls
    n_controls: int
    pretrend_z: float
    verdict: str  # improved | worsened | no_detectable_effect | insufficient_data
    reason: str = ""
    look: str = "final"  # interim (post-period still filling) | final
    sequential_p: float = float("nan")  # always-valid (mSPRT) p over the post days so far
    sequential_ci_low: float = float("nan")  # always-valid interval of the % effect
    sequential_ci_high: float = float("nan")


EFFECT_COLUMNS = list(ChangeEffect.__dataclass_fields__)


def effects_frame(effects: Sequence[ChangeEffect]) -> pd.DataFrame:
    return pd.DataFrame([asdict(e) for e in effects], columns=EFFECT_COLUMNS)


def _window_log(
    panel: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, value: str, denominator: str | None
) -> pd.Series:
    w = panel[(panel["date"] >= start) & (panel["date"] <= end)]
    g = w.groupby("entity_id")
    num = g[value].sum()
    if denominator:
        den = g[denominator].sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(num / den).replace([np.inf, -np.inf], np.nan)
    days = g["date"].nunique()
    return np.log((num + 0.5) / days)


def comparable_controls(
    panel: pd.DataFrame,
    treated_id: int,
    *,
    before: pd.Timestamp,
    changed_ids: Sequence[int] = (),
    value: str = "cost_micros",
    max_controls: int = 50,
) -> list[int]:
    """Entities with activity before the change, not changed themselves, nearest in log volume."""
    pre = panel[panel["date"] < before]
    vol = pre.groupby("entity_id")[value].sum()
    vol = vol[(vol > 0) & ~vol.index.isin([treated_id, *changed_ids])]
    if treated_id not in pre["entity_id"].values or vol.empty:
        return list(vol.index[:max_controls])
    ref = np.log(max(float(pre.loc[pre["entity_id"] == treated_id, value].sum()), 1.0))
    dist = (np.log(vol.astype(float)) - ref).abs().sort_values()
    return [int(i) for i in dist.index[:max_controls]]


def _daily_log(
    panel: pd.DataFrame, ids: Sequence[int], value: str, denominator: str | None, offset: float
) -> pd.DataFrame:
    """Dates x entities of the daily log metric (NaN where undefined)."""
    sub = panel[panel["entity_id"].isin(list(ids))]
    num = sub.pivot_table(index="date", columns="entity_id", values=value, aggfunc="sum")
    if denominator:
        den = sub.pivot_table(index="date", columns="entity_id", values=denominator, aggfunc="sum")
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(num / den.where(den > 0))
        return out.replace([np.inf, -np.inf], np.nan)
    return np.log(num.astype(float) + offset)


def _sequential(
    pre: np.ndarray, post: np.ndarray, *, tau: float, alpha: float
) -> tuple[float, float, float]:
    """Always-valid p and % interval of the mean shift of ``post`` against ``pre`` (mSPRT)."""
    pre = pre[np.isfinite(pre)]
    post = post[np.isfinite(post)]
    if len(pre) < 7 or len(post) < 1:
        return float("nan"), float("nan"), float("nan")
    var = float(np.var(pre, ddof=1)) * (1 + len(post) / len(pre))
    if not var > 0:
        return float("nan"), float("nan"), float("nan")
    res = msprt(post - pre.mean(), variance=var, tau2=tau * tau, alpha=alpha)
    return res.p_always_valid, float(np.expm1(res.ci_low)), float(np.expm1(res.ci_high))


def _did(d: pd.Series, treated_id: int, controls: Sequence[int]) -> tuple[float, np.ndarray]:
    dc = d.reindex(list(controls)).dropna()
    delta = float(d.get(treated_id, np.nan) - dc.mean())
    placebo = (
        np.array([dc[j] - dc.drop(j).mean() for j in dc.index]) if len(dc) > 1 else np.array([])
    )
    return delta, placebo


def estimate_change_effect(
    panel: pd.DataFrame,
    *,
    treated_id: int,
    change_date: dt.date,
    metric: str = "conversions",
    value: str | None = None,
    denominator: str | None = None,
    controls: Sequence[int] | None = None,
    changed_ids: Sequence[int] = (),
    mature_until: dt.date | None = None,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    config: EffectConfig | None = None,
    calendar: HolidayCalendar | None = None,
    seasonality: SeasonalityConfig | None = None,
) -> ChangeEffect:
    """Before/after effect of one change on one entity (see module docstring).

    panel: entity_id, date and the metric columns (one row per entity and day). value is the
    summed column (default ``metric``); with denominator the metric is sum(value)/sum(den)
    (CPA: cost_micros / conversions). Days after mature_until (immature conversions) are cut.
    """
    cfg = config or EffectConfig()
    value = value or metric
    p = panel.copy()
    p["date"] = pd.to_datetime(p["date"])
    change = pd.Timestamp(change_date)
    pre_start, pre_end = change - pd.Timedelta(days=cfg.pre_days), change - pd.Timedelta(days=1)
    post_end = change + pd.Timedelta(days=cfg.post_days - 1)
    if mature_until is not None:
        post_end = min(post_end, pd.Timestamp(mature_until))
    post_end = min(post_end, p["date"].max())
    if controls is None:
        controls = comparable_controls(
            p, treated_id, before=change, changed_ids=changed_ids, value=value
        )
    controls = [c for c in controls if c != treated_id]

    nan = float("nan")
    base = dict(
        entity_id=int(treated_id), change_date=change.date(), metric=metric,
        pre_start=pre_start.date(), pre_end=pre_end.date(), post_start=change.date(), post_end=post_end.date(),
    )  # fmt: skip
    n_post = (post_end - change).days + 1
    treated = p[p["entity_id"] == treated_id]
    look = "final" if n_post >= cfg.post_days else "interim"
    if n_post < 7 or treated[(treated["date"] >= pre_start) & (treated["date"] <= pre_end)].empty:
        return ChangeEffect(
            **base, vs_expectation_pct=nan, vs_expectation_ci_low=nan, vs_expectation_ci_high=nan,
            vs_expectation_p=nan, did_log=nan, did_pct=nan, did_ci_low=nan, did_ci_high=nan, did_p=nan,
            placebo_p=nan, n_controls=len(controls), pretrend_z=nan, verdict="insufficient_data",
            reason=f"{n_post} mature post days (< 7) or no pre-period", look=look,
        )  # fmt: skip

    # ---- own seasonal expectation (pre-period model, projected)
    zc = float(stats.norm.isf(alpha / 2))
    series = treated.set_index("date")
    if denominator:
        y = (series[value] / series[denominator].replace(0, np.nan)).sort_index()
        transform = "log"
    else:
        y = series[value].astype(float).sort_index()
        transform = "log_offset"
    s_cfg = seasonality or SeasonalityConfig()
    history = y[(y.index < change)]
    fit = fit_seasonality(history, calendar=calendar, config=s_cfg, transform=transform)
    post_idx = pd.date_range(change, post_end, freq="D")
    exp_post = fit.expected_for(post_idx)
    obs_post = y.reindex(post_idx)
    off = fit.offset
    r_post = np.log(obs_post + off) - np.log(exp_post + off)
    r_pre = fit.log_residuals().iloc[-cfg.pre_days :].dropna()
    sigma = float(r_pre.std(ddof=1)) if len(r_pre) > 2 else nan
    m = int(r_post.notna().sum())
    se_exp = sigma * np.sqrt(1 / max(m, 1) + np.pi / (2 * s_cfg.level_window_days))
    vs = float(r_post.mean())
    vs_p = float(2 * stats.norm.sf(abs(vs / se_exp))) if se_exp > 0 else nan

    # ---- difference in differences
    mid = pre_start + (pre_end - pre_start) / 2
    d = _window_log(p, change, post_end, value, denominator) - _window_log(
        p, pre_start, pre_end, value, denominator
    )
    delta, placebo = _did(d, treated_id, controls)
    n_c = int(d.reindex(controls).notna().sum())
    if n_c >= cfg.min_controls and np.isfinite(delta):
        dc = d.reindex(controls).dropna()
        spread = float(dc.std(ddof=1)) * np.sqrt(1 + 1 / n_c)
        t = delta / spread if spread > 0 else np.inf
        did_p = float(2 * stats.t.sf(abs(t), df=n_c - 1))
        tq = float(stats.t.isf(alpha / 2, df=n_c - 1))
        lo, hi = delta - tq * spread, delta + tq * spread
        placebo_p = float((1 + np.sum(np.abs(placebo) >= abs(delta))) / (1 + len(placebo)))
        d_pre = _window_log(p, mid, pre_end, value, denominator) - _window_log(
            p, pre_start, mid, value, denominator
        )
        pre_delta, _ = _did(d_pre, treated_id, controls)
        pre_spread = float(d_pre.reindex(controls).dropna().std(ddof=1)) * np.sqrt(1 + 1 / n_c)
        pretrend_z = pre_delta / pre_spread if pre_spread > 0 else nan
        p_for_verdict = placebo_p if len(placebo) >= 19 else did_p
        est = delta
        reason = ""
    else:
        lo = hi = did_p = placebo_p = pretrend_z = nan
        # Without controls, the own-expectation estimate is the evidence.
        p_for_verdict = vs_p
        est = vs
        reason = f"{n_c} controls (< {cfg.min_controls}): verdict from the seasonal expectation"
    # ---- always-valid (sequential) view of the same comparison, for the daily interim looks
    off = fit.offset
    in_pre = (post_idx[0] - pd.Timedelta(days=cfg.pre_days), pre_end)
    if n_c >= cfg.min_controls:
        daily = _daily_log(p, [treated_id, *controls], value, denominator, off)
        diff = daily[treated_id] - daily.drop(columns=[treated_id]).mean(axis=1)
        seq_pre = diff[(diff.index >= in_pre[0]) & (diff.index <= in_pre[1])].to_numpy()
        seq_post = diff.reindex(post_idx).to_numpy()
    else:
        seq_pre = r_pre.to_numpy()
        seq_post = r_post.to_numpy()
    seq_p, seq_lo, seq_hi = _sequential(
        seq_pre, seq_post, tau=cfg.sequential_tau, alpha=cfg.sequential_alpha
    )
    if look == "interim":
        p_for_verdict, verdict_alpha = seq_p, cfg.sequential_alpha
        reason = (reason + "; " if reason else "") + "interim look: always-valid p decides"
    else:
        verdict_alpha = alpha
    if not np.isfinite(p_for_verdict):
        verdict = "insufficient_data"
    elif p_for_verdict <= verdict_alpha:
        better = (est > 0) == higher_is_better
        verdict = "improved" if better else "worsened"
    else:
        verdict = "no_detectable_effect"
    if np.isfinite(pretrend_z) and abs(pretrend_z) > 2:
        reason = (
            reason + "; " if reason else ""
        ) + f"pre-trend z={pretrend_z:.1f}: parallel trends doubtful"
    return ChangeEffect(
        **base,
        vs_expectation_pct=float(np.expm1(vs)),
        vs_expectation_ci_low=float(np.expm1(vs - zc * se_exp)),
        vs_expectation_ci_high=float(np.expm1(vs + zc * se_exp)),
        vs_expectation_p=vs_p,
        did_log=delta,
        did_pct=float(np.expm1(delta)),
        did_ci_low=float(np.expm1(lo)),
        did_ci_high=float(np.expm1(hi)),
        did_p=did_p,
        placebo_p=placebo_p,
        n_controls=n_c,
        pretrend_z=float(pretrend_z),
        verdict=verdict,
        reason=reason,
        look=look,
        sequential_p=seq_p,
        sequential_ci_low=seq_lo,
        sequential_ci_high=seq_hi,
    )


def estimate_change_effects(
    panel: pd.DataFrame,
    changes: pd.DataFrame,
    *,
    metric: str = "conversions",
    value: str | None = None,
    denominator: str | None = None,
    mature_until: dt.date | None = None,
    higher_is_better: bool = True,
    config: EffectConfig | None = None,
    calendar: HolidayCalendar | None = None,
) -> pd.DataFrame:
    """One row per applied change (changes: entity_id, change_date); changed entities never serve
    as controls for each other."""
    changed = [int(x) for x in changes["entity_id"].unique()]
    rows = [
        estimate_change_effect(
            panel,
            treated_id=int(c.entity_id),
            change_date=pd.Timestamp(c.change_date).date(),
            metric=metric,
            value=value,
            denominator=denominator,
            changed_ids=changed,
            mature_until=mature_until,
            higher_is_better=higher_is_better,
            config=config,
            calendar=calendar,
        )  # fmt: skip
        for c in changes.itertuples(index=False)
    ]
    return effects_frame(rows)
