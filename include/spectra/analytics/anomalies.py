"""Anomalies: robust scores of CPA, CTR, CPC, spend and conversions against seasonal expectation.

For each metric of one entity (account or campaign), the days before the evaluation window fit
the seasonal model (``seasonality.fit_seasonality``); the evaluation days are compared with its
projection. The log residual r is scored against the residuals of the baseline days with the
modified z of Iglewicz & Hoaglin (1993):

    z = 0.6745 (r - median(r_base)) / MAD(r_base),   |z| >= 3.5 -> anomaly

(severity low / medium / high at 3.5 / 5 / 8 by default). The baseline residuals have seen
their own days (the weekly term is fitted on them), so their spread understates that of a
projected day by ~20 % (measured in bench/bench_analytics.py); ``scale_inflation`` corrects it.
On a holiday day the expectation carries the estimated holiday factor, the median of n past
occurrences each as noisy as a day: the score is divided by sqrt(1 + 1/n) (with one past Black
Friday, by 1.41), or every big day would alarm at twice the ordinary-day rate. Small conversion counts use Poisson
tails instead (the MAD of a handful of conversions is meaningless); the tail probability is
mapped to the equivalent z. Holiday days whose factor was estimated from past years are judged
against the holiday-adjusted expectation; on holiday days without any history, volume anomalies
(spend, conversions) are reported but suppressed, and rates/prices (CPC, CTR, CPA) alert only
past ``unknown_holiday_threshold``. Each anomaly keeps its evidence: observed, expected, score, windows.

CPC is judged at a fixed keyword mix where keyword rows exist (``cpc_mix``, from
``cpc_index.mix_effects``): a campaign's raw CPC moves with which keywords got the clicks, which
on Smart Bidding campaigns is 2-3x the noise of the prices themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from spectra.analytics.config import AnomalyConfig, SeasonalityConfig
from spectra.analytics.seasonality import HolidayCalendar, SeasonalFit, fit_seasonality

# metric -> (numerator, denominator or None, transform, higher is bad)
METRICS: dict[str, tuple[str, str | None, str, bool]] = {
    "spend": ("cost_micros", None, "log_offset", True),
    "conversions": ("conversions", None, "log_offset", False),
    "cpc": ("cost_micros", "clicks", "log", True),
    "ctr": ("clicks", "impressions", "log", False),
    "cpa": ("cost_micros", "conversions", "log", True),
}
VOLUME_METRICS = frozenset({"spend", "conversions"})


@dataclass(frozen=True)
class Anomaly:
    entity_level: str
    entity_id: int
    metric: str
    date: dt.date
    observed: float
    expected: float
    log_residual: float
    score: float
    severity: str  # low | medium | high
    direction: str  # up | down
    adverse: bool  # the bad direction for the business (CPA up, conversions down, ...)
    method: str  # robust_z | poisson_tail
    baseline_start: dt.date
    baseline_end: dt.date
    window_start: dt.date
    window_end: dt.date
    holiday_window: str
    flagged: bool  # an alert: |score| >= threshold and not suppressed
    suppressed: bool  # over the threshold, but in a holiday window that has no history
    reason: str = ""


ANOMALY_COLUMNS = list(Anomaly.__dataclass_fields__)


def anomalies_frame(anomalies: Sequence[Anomaly]) -> pd.DataFrame:
    return pd.DataFrame([asdict(a) for a in anomalies], columns=ANOMALY_COLUMNS)


def robust_z(values: np.ndarray, baseline: np.ndarray, *, min_scale: float = 0.0) -> np.ndarray:
    """Modified z of values against a baseline sample: 0.6745 (x - median) / MAD."""
    b = np.asarray(baseline, dtype=float)
    b = b[np.isfinite(b)]
    if b.size == 0:
        return np.full(np.shape(values), np.nan)
    med = np.median(b)
    mad = np.median(np.abs(b - med))
    if mad <= 0:
        # Over half the baseline identical: fall back to the mean absolute deviation (scaled).
        mad = np.mean(np.abs(b - med)) * 1.2533 * 0.6745
    mad = max(mad, min_scale * 0.6745)
    if mad <= 0:
        return np.full(np.shape(values), np.nan)
    return 0.6745 * (np.asarray(values, dtype=float) - med) / mad


def severity(score: float, cfg: AnomalyConfig) -> str:
    a = abs(score)
    if a >= cfg.high:
        return "high"
    if a >= cfg.medium:
        return "medium"
    return "low"


def _poisson_z(observed: float, expected: float) -> float:
    """Signed normal-equivalent score of a Poisson count against its expectation."""
    if expected <= 0:
        return 0.0
    k = np.rint(observed)
    if k >= expected:
        p = float(stats.poisson.sf(k - 1, expected))
        return float(stats.norm.isf(min(max(p, 1e-300), 0.5)))
    p = float(stats.poisson.cdf(k, expected))
    return -float(stats.norm.isf(min(max(p, 1e-300), 0.5)))


def metric_series(daily: pd.DataFrame, metric: str) -> pd.Series:
    """Daily series of a metric from summed counts (ratios as sum/sum, NaN where undefined)."""
    num, den, _, _ = METRICS[metric]
    d = daily.groupby(pd.to_datetime(daily["date"]))[[c for c in (num, den) if c]].sum()
    return _from_sums(d, metric)


def _from_sums(d: pd.DataFrame, metric: str) -> pd.Series:
    num, den, _, _ = METRICS[metric]
    if den is None:
        return d[num].astype(float)
    return (d[num] / d[den].where(d[den] > 0)).astype(float)


def _occurrences(fit: SeasonalFit, day: pd.Timestamp) -> int:
    """How many past occurrences sized the holiday factor that applies on ``day``."""
    where = fit.calendar.days(pd.DatetimeIndex([day]))
    name, offset = str(where["window"].iloc[0]), int(where["offset"].iloc[0])
    eff = fit.holiday_effects
    hit = eff[(eff["window"] == name) & (eff["offset"] == offset)]
    return int(hit["occurrences"].iloc[0]) if len(hit) else 0


def _scorable(
    metric: str,
    day: pd.Timestamp,
    obs: pd.Series,
    maturity: pd.Series,
    counts: pd.DataFrame,
    cfg: AnomalyConfig,
    min_maturity: float,
) -> bool:
    """Whether a day can be scored on a metric at all: observed, mature enough for conversions
    and CPA, with enough clicks for CPC and CTR and enough conversions for CPA."""
    if not np.isfinite(float(obs.get(day, np.nan))):
        return False
    if metric in ("conversions", "cpa") and maturity[day] < min_maturity:
        return False  # too immature to judge
    if metric == "cpa" and counts.at[day, "conversions"] < cfg.min_conversions_cpa:
        return False  # the expectation of a log-scale CPA is always positive
    return not (metric in ("cpc", "ctr") and counts.at[day, "clicks"] < cfg.min_clicks)


def detect_anomalies(
    daily: pd.DataFrame,
    *,
    as_of: dt.date,
    entity_level: str = "account",
    entity_id: int = 0,
    metrics: Sequence[str] = tuple(METRICS),
    calendar: HolidayCalendar | None = None,
    config: AnomalyConfig | None = None,
    seasonality: SeasonalityConfig | None = None,
    min_maturity: float = 0.5,
    include_normal: bool = False,
    cpc_mix: pd.Series | None = None,
) -> list[Anomaly]:
    """Score the last ``eval_days`` days up to as_of of one entity's daily rows.

    daily: date, impressions, clicks, cost_micros, conversions (lag-completed conversions when
    available; a ``maturity`` column marks days too immature for conversions and CPA).
    include_normal returns every scored day, anomalous or not (for evidence and tests).
    cpc_mix: the entity's log keyword-mix effect by date (``cpc_index.mix_effects``): CPC is
    judged at a fixed keyword mix where it is known; the reported expectation is put back at
    the scored day's own mix, so observed/expected stay in the account's currency.
    """
    cfg = config or AnomalyConfig()
    s_cfg = seasonality or SeasonalityConfig()
    cal = calendar if calendar is not None else HolidayCalendar.for_market(s_cfg.market)
    d = daily.copy()
    d["date"] = pd.to_datetime(d["date"])
    d = d[d["date"] <= pd.Timestamp(as_of)]
    if d.empty:
        return []
    end = pd.Timestamp(as_of)
    start = end - pd.Timedelta(days=cfg.eval_days - 1)
    eval_idx = pd.date_range(start, end, freq="D")
    maturity = (
        d.groupby("date")["maturity"].min().reindex(eval_idx).fillna(1.0)
        if "maturity" in d.columns
        else pd.Series(1.0, index=eval_idx)
    )
    needed = sorted({c for m in metrics for c in METRICS[m][:2] if c} | {"clicks", "conversions"})
    sums = d.groupby("date")[[c for c in needed if c in d.columns]].sum()
    counts = sums.reindex(eval_idx).fillna(0.0)
    out: list[Anomaly] = []
    for metric in metrics:
        num, den, transform, higher_is_bad = METRICS[metric]
        series = _from_sums(sums, metric)
        mix = pd.Series(0.0, index=series.index)
        if (
            metric == "cpc"
            and cpc_mix is not None
            and not cpc_mix.empty
            and eval_idx.isin(cpc_mix.index).all()
        ):
            # Only when the scored days have their mix too: raw CPC against a fixed-mix
            # expectation would turn the day's mix into a false alarm.
            mix = cpc_mix.reindex(series.index).fillna(0.0)
            series = series * np.exp(-mix)
        obs = series.reindex(eval_idx)
        # The checks that need no expectation come first: a day they rule out needs no seasonal
        # fit, and with one scored day that is most fits of conversions and CPA (the latest day
        # is rarely mature) and of CPC and CTR on small campaigns.
        days = [
            day
            for day in eval_idx
            if _scorable(metric, day, obs, maturity, counts, cfg, min_maturity)
        ]
        if not days:
            continue
        hist = series[series.index < start]
        if hist.notna().sum() < 14:
            continue
        fit = fit_seasonality(hist, calendar=cal, config=s_cfg, transform=transform)
        resid = fit.forecast_residuals()
        base_mask = (fit.windows["window"] == "").to_numpy()
        base = resid[base_mask].dropna().iloc[-cfg.baseline_days :]
        if len(base) < 14:
            continue
        comps = fit.components_for(eval_idx)
        log_e = comps["level"] + comps["weekly"] + comps["yearly"] + comps["holiday"]
        exp = (np.exp(log_e) - fit.offset).clip(lower=0.0)
        for day in days:
            o, e = float(obs[day]), float(exp[day])
            day_mix = float(np.exp(mix.get(day, 0.0)))
            window = str(comps.at[day, "holiday_window"])
            known = bool(comps.at[day, "holiday_known"])
            reason = ""
            method = "robust_z"
            r = (
                float(np.log(o + fit.offset) - np.log(e + fit.offset))
                if o + fit.offset > 0
                else np.nan
            )
            if metric == "conversions" and e < cfg.poisson_below:
                score = _poisson_z(o, e)
                method = "poisson_tail"
            else:
                z = robust_z(np.array([r]), base.to_numpy(), min_scale=cfg.min_scale)[0]
                score = float(z / cfg.scale_inflation)
            if not np.isfinite(score):
                continue
            if window and known:
                # The holiday factor is itself an estimate: the median of n past occurrences,
                # each as noisy as one day, so the expectation carries that noise too.
                n_occ = _occurrences(fit, day)
                score = score / float(np.sqrt(1.0 + 1.0 / max(n_occ, 1)))
            over = abs(score) >= cfg.threshold
            suppressed = False
            if window and not known:
                # No past occurrence to size the holiday: volumes are expected to move, so they
                # do not alert; rates and prices alert only past the "high" bar.
                if metric in VOLUME_METRICS:
                    suppressed = over
                else:
                    suppressed = over and abs(score) < cfg.unknown_holiday_threshold
                reason = (
                    f"holiday window {window!r} without history: expectation has no holiday factor"
                )
            elif window:
                reason = f"holiday window {window!r}: expectation includes its factor"
            if day_mix != 1.0:
                note = f"keyword mix moves CPC by {day_mix - 1:+.1%} today; judged at fixed mix"
                reason = f"{reason}; {note}" if reason else note
            if not (over or include_normal):
                continue
            up = score > 0
            out.append(
                Anomaly(
                    entity_level=entity_level,
                    entity_id=int(entity_id),
                    metric=metric,
                    date=day.date(),
                    observed=o * day_mix,
                    expected=e * day_mix,
                    log_residual=r,
                    score=score,
                    severity=severity(score, cfg) if over else "none",
                    direction="up" if up else "down",
                    adverse=up == higher_is_bad,
                    method=method,
                    baseline_start=base.index.min().date(),
                    baseline_end=base.index.max().date(),
                    window_start=start.date(),
                    window_end=end.date(),
                    holiday_window=window,
                    flagged=over and not suppressed,
                    suppressed=suppressed,
                    reason=reason,
                )
            )
    return out
