"""Seasonal expectations: weekday and yearly profiles, holiday windows, a robust trailing level.

A metric is modelled on the log scale as

    log(y_t + offset) = level_t + weekly_t + yearly_t + holiday_t + residual_t

* weekly/yearly: MSTL(periods=(7, 365)) with two years of history (Bandara, Hyndman & Bergmeir
  2021), STL(period=7) with four weeks (Cleveland et al. 1990), a weekday profile with two weeks;
* holiday_t: multiplicative factors per (window, day offset from the anchor) estimated from past
  occurrences (median over years of the log ratio to the baseline); holiday days are removed
  from every baseline (notes §3, Taylor & Letham 2018 windows);
* level_t: a robust local-linear level of the deseasonalised log series from the trailing
  ``level_window_days`` (yesterday and before: medians of its two halves give level and slope),
  so an expectation never contains the day it is compared to and does not lag a steady trend.

``expected(series)`` returns the seasonal expectation of each observed day; ``fit_seasonality``
returns the fit, which also projects expectations for days after the history (``expected_for``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from spectra.analytics.config import SeasonalityConfig


# --------------------------------------------------------------------------- holiday calendar
def us_thanksgiving(year: int) -> dt.date:
    """Fourth Thursday of November."""
    first = dt.date(year, 11, 1)
    first_thursday = 1 + (3 - first.weekday()) % 7
    return dt.date(year, 11, first_thursday + 21)


@dataclass(frozen=True)
class HolidayRule:
    """A window of days around a yearly anchor; offsets are inclusive days from the anchor.

    anchor: "us_thanksgiving" (Black Friday = +1, Cyber Monday = +4) or "fixed" (month/day).
    """

    name: str
    anchor: str
    start_offset: int = 0
    end_offset: int = 0
    month: int = 0
    day: int = 0

    def anchor_date(self, year: int) -> dt.date:
        if self.anchor == "us_thanksgiving":
            return us_thanksgiving(year)
        if self.anchor == "fixed":
            return dt.date(year, self.month, self.day)
        raise ValueError(f"unknown holiday anchor {self.anchor!r}")


BFCM = HolidayRule("bfcm", "us_thanksgiving", start_offset=0, end_offset=4)
BLACK_FRIDAY_WEEKEND = HolidayRule("bfcm", "us_thanksgiving", start_offset=1, end_offset=4)
CHRISTMAS = HolidayRule("christmas", "fixed", start_offset=-1, end_offset=1, month=12, day=25)
NEW_YEAR = HolidayRule("new_year", "fixed", start_offset=-1, end_offset=0, month=1, day=1)

MARKETS: dict[str, tuple[HolidayRule, ...]] = {
    "US": (BFCM, CHRISTMAS, NEW_YEAR),
    # Black Friday and Cyber Monday travelled; Thanksgiving itself did not.
    "GB": (BLACK_FRIDAY_WEEKEND, CHRISTMAS, NEW_YEAR),
    "EU": (BLACK_FRIDAY_WEEKEND, CHRISTMAS, NEW_YEAR),
    "NONE": (),
}


@dataclass(frozen=True)
class HolidayCalendar:
    """Holiday rules of a market plus explicit flagged windows (e.g. seasonality adjustments)."""

    rules: tuple[HolidayRule, ...] = ()
    explicit: tuple[tuple[str, dt.date, dt.date], ...] = ()

    @classmethod
    def for_market(
        cls, market: str, *, extra: Iterable[tuple[str, dt.date, dt.date]] = ()
    ) -> HolidayCalendar:
        try:
            rules = MARKETS[market.upper()]
        except KeyError as exc:
            raise ValueError(f"no holiday rules for market {market!r}; pass rules") from exc
        return cls(rules=rules, explicit=tuple(extra))

    def days(self, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Window name and offset from the anchor for each date inside a window ('' outside)."""
        day = np.asarray(pd.DatetimeIndex(dates).values.astype("datetime64[D]").astype(np.int64))
        if (
            len(day) > 1
            and int(day[-1]) - int(day[0]) == len(day) - 1
            and bool((np.diff(day) == 1).all())
        ):
            # a daily range (every series the analyze step fits): its windows are computed
            # once per (calendar, range), not once per campaign and metric
            name, offset = _range_windows(self, int(day[0]), len(day))
            return pd.DataFrame({"window": name.copy(), "offset": offset.copy()}, index=dates)
        name, offset = _windows(self, day)
        return pd.DataFrame({"window": name, "offset": offset}, index=dates)

    def _spans(self, first_year: int, last_year: int) -> list[tuple[str, int, int, int]]:
        """(window, anchor, first day, last day) as days since 1970-01-01."""
        return _calendar_spans(self, first_year, last_year)


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _windows(cal: HolidayCalendar, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Window name ('' outside) and offset from the anchor of each day (days since 1970)."""
    name = np.full(len(day), "", dtype=object)
    offset = np.zeros(len(day), dtype=np.int64)
    if len(day) == 0:
        return name, offset
    lo_year = dt.date.fromordinal(int(day.min()) + _EPOCH_ORDINAL).year
    hi_year = dt.date.fromordinal(int(day.max()) + _EPOCH_ORDINAL).year
    for label, anchor, lo, hi in cal._spans(lo_year - 1, hi_year + 1):
        hit = (day >= lo) & (day <= hi) & (name == "")
        if hit.any():
            name[hit] = label
            offset[hit] = day[hit] - anchor
    return name, offset


@functools.lru_cache(maxsize=64)
def _range_windows(cal: HolidayCalendar, first_day: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_windows` of the ``n`` consecutive days from ``first_day`` (read-only: shared)."""
    name, offset = _windows(cal, np.arange(first_day, first_day + n, dtype=np.int64))
    name.flags.writeable = False
    offset.flags.writeable = False
    return name, offset


@functools.lru_cache(maxsize=256)
def _calendar_spans(
    cal: HolidayCalendar, first_year: int, last_year: int
) -> list[tuple[str, int, int, int]]:
    spans: list[tuple[str, int, int, int]] = []
    for rule in cal.rules:
        for year in range(first_year, last_year + 1):
            try:
                anchor = rule.anchor_date(year).toordinal() - _EPOCH_ORDINAL
            except ValueError:
                continue
            spans.append((rule.name, anchor, anchor + rule.start_offset, anchor + rule.end_offset))
    for label, start, end in cal.explicit:
        lo = start.toordinal() - _EPOCH_ORDINAL
        spans.append((label, lo, lo, end.toordinal() - _EPOCH_ORDINAL))
    return spans


def _effect_lookup(effects: pd.DataFrame, windows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Log effect (0 where unknown) and whether it is known, for each row of a days() frame."""
    table = {
        (str(w), int(o)): float(e)
        for w, o, e in effects[["window", "offset", "log_effect"]].itertuples(index=False)
    }
    names = windows["window"].to_numpy()
    offsets = windows["offset"].to_numpy()
    log_eff = np.zeros(len(names))
    known = np.zeros(len(names), dtype=bool)
    for i in np.flatnonzero(names != ""):
        key = (str(names[i]), int(offsets[i]))
        if key in table:
            log_eff[i] = table[key]
            known[i] = True
    return log_eff, known


# --------------------------------------------------------------------------- the fit
@dataclass(frozen=True)
class SeasonalFit:
    """A fitted seasonal model of one daily series (log scale, see module docstring)."""

    method: str  # "mstl" | "stl" | "weekday" | "flat"
    offset: float
    log_y: pd.Series  # log(y + offset); NaN where missing or not positive
    weekly: pd.Series
    yearly: pd.Series
    holiday: pd.Series  # estimated log holiday effect on holiday days (0 where unknown)
    windows: pd.DataFrame  # window, offset per day ('' outside windows)
    level: pd.Series  # trailing level (day t uses days before t)
    end_level: float  # level of the first day after the history, for projection
    end_slope: float  # log change per day of the level at the end (0 without level_trend)
    weekday_profile: np.ndarray  # (7,) recent weekly component by weekday, Monday = 0
    holiday_effects: pd.DataFrame  # window, offset, log_effect, factor, occurrences
    calendar: HolidayCalendar = field(default_factory=HolidayCalendar)

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.log_y.index)

    def _holiday_for(self, dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        win = self.calendar.days(dates)
        log_eff, known = _effect_lookup(self.holiday_effects, win)
        return win["window"].to_numpy(), log_eff, known

    def components_for(self, dates: Sequence[dt.date] | pd.DatetimeIndex) -> pd.DataFrame:
        """Level, weekly, yearly and holiday terms (log scale) for any dates.

        Dates inside the history use the fitted terms; later dates use the end level (and its
        slope), the recent weekday profile and the yearly term of 364 (or 728) days earlier.
        """
        idx = pd.DatetimeIndex(pd.to_datetime(dates))
        day = _day_numbers(idx)
        n = len(self.log_y)
        first = int(_day_numbers(self.log_y.index[:1])[0])
        pos = day - first
        inside = (pos >= 0) & (pos < n)

        def at(series: pd.Series, p: np.ndarray) -> np.ndarray:
            ok = (p >= 0) & (p < n)
            vals = series.to_numpy(dtype=float)[np.clip(p, 0, n - 1)]
            return np.where(ok, vals, np.nan)

        steps = np.maximum(pos - n, 0)
        level = np.where(inside, at(self.level, pos), self.end_level + self.end_slope * steps)
        weekly = np.where(inside, at(self.weekly, pos), self.weekday_profile[(day + 3) % 7])
        back1, back2 = at(self.yearly, pos - 364), at(self.yearly, pos - 728)
        projected_yearly = np.where(np.isnan(back1), np.nan_to_num(back2), back1)
        yearly = np.where(inside, at(self.yearly, pos), projected_yearly)
        window, log_eff, known = self._holiday_for(idx)
        return pd.DataFrame(
            {
                "level": level,
                "weekly": weekly,
                "yearly": np.nan_to_num(yearly),
                "holiday": log_eff,
                "holiday_window": window,
                "holiday_known": known,
            },
            index=idx,
        )

    def index_for(self, dates: Sequence[dt.date] | pd.DatetimeIndex) -> pd.Series:
        """Multiplicative seasonal index exp(weekly + yearly + holiday) (about 1 on average)."""
        c = self.components_for(dates)
        return pd.Series(np.exp(c["weekly"] + c["yearly"] + c["holiday"]), index=c.index)

    def expected_for(self, dates: Sequence[dt.date] | pd.DatetimeIndex) -> pd.Series:
        """Seasonal expectation in the metric's own units."""
        c = self.components_for(dates)
        log_e = c["level"] + c["weekly"] + c["yearly"] + c["holiday"]
        return pd.Series(np.exp(log_e) - self.offset, index=c.index).clip(lower=0.0)

    def expected(self) -> pd.Series:
        """Expectation of every day of the history."""
        return self.expected_for(self.dates)

    def forecast_residuals(self) -> pd.Series:
        """Residuals of the history against the *projected* weekly term (the recent weekday
        profile rather than the in-sample STL seasonal, which has seen the day): their spread
        matches what projected days will show, so they set honest anomaly scales."""
        weekday = (_day_numbers(self.log_y.index) + 3) % 7
        return self.log_y - (
            self.level + self.weekday_profile[weekday] + self.yearly + self.holiday
        )

    def log_residuals(self) -> pd.Series:
        """log(y + offset) - log(expected + offset) over the history."""
        return self.log_y - (self.level + self.weekly + self.yearly + self.holiday)


def _day_numbers(dates: pd.Index) -> np.ndarray:
    """Days since 1970-01-01 (1970-01-01 was a Thursday: weekday = (day + 3) % 7)."""
    return np.asarray(pd.DatetimeIndex(dates).values.astype("datetime64[D]").astype(np.int64))


def _as_daily(y: pd.Series) -> pd.Series:
    s = y.astype(float)
    idx = pd.DatetimeIndex(pd.to_datetime(s.index)).normalize()
    if not (idx.is_unique and idx.is_monotonic_increasing):
        s = pd.Series(s.to_numpy(), index=idx).groupby(level=0).sum(min_count=1)
    else:
        s = pd.Series(s.to_numpy(), index=idx)
    full = pd.date_range(s.index.min(), s.index.max(), freq="D")
    return s if len(full) == len(s) else s.reindex(full)


def _rolling_median(
    x: np.ndarray, window: int, min_periods: int, *, center: bool = False
) -> np.ndarray:
    return pd.Series(x).rolling(window, min_periods=min_periods, center=center).median().to_numpy()


def _interpolate(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    if ok.all():
        return x
    if not ok.any():
        return np.zeros_like(x)
    i = np.arange(len(x))
    return np.interp(i, i[ok], x[ok])


def _weekday_means(x: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Mean log deviation by weekday from a centred weekly median; zero-mean over the week."""
    dev = x - _rolling_median(x, 7, 4, center=True)
    ok = np.isfinite(dev)
    sums = np.bincount(weekday[ok], weights=dev[ok], minlength=7)
    counts = np.bincount(weekday[ok], minlength=7)
    prof = np.divide(sums, counts, out=np.zeros(7), where=counts > 0)
    return prof - prof.mean()


def fit_seasonality(
    y: pd.Series,
    *,
    calendar: HolidayCalendar | None = None,
    config: SeasonalityConfig | None = None,
    transform: str = "log_offset",
    method: str | None = None,
) -> SeasonalFit:
    """Fit the seasonal model to a daily series indexed by date.

    transform: "log_offset" for counts and money (log(y + count_offset)), "log" for ratios
    (non-positive days become missing). method forces "mstl" | "stl" | "weekday" | "flat";
    by default the richest the history supports.
    """
    from statsmodels.tsa.seasonal import MSTL, STL

    cfg = config or SeasonalityConfig()
    cal = calendar if calendar is not None else HolidayCalendar.for_market(cfg.market)
    s = _as_daily(y)
    index = pd.DatetimeIndex(s.index)
    weekday = (_day_numbers(index) + 3) % 7
    offset = cfg.count_offset if transform == "log_offset" else 0.0
    vals = s.to_numpy(dtype=float) + offset
    with np.errstate(invalid="ignore", divide="ignore"):
        log_y = np.where(vals > 0, np.log(np.where(vals > 0, vals, 1.0)), np.nan)
    windows = cal.days(index)
    names = windows["window"].to_numpy()
    is_holiday = names != ""
    base = np.where(is_holiday, np.nan, log_y)
    n = len(base)
    n_valid = int(np.isfinite(base).sum())
    if method is None:
        if n >= cfg.min_days_mstl and n_valid >= 0.8 * n:
            method = "mstl"
        elif n >= cfg.min_days_stl and n_valid >= 0.7 * n:
            method = "stl"
        elif n_valid >= 14:
            method = "weekday"
        else:
            method = "flat"

    weekly = np.zeros(n)
    yearly = np.zeros(n)
    if method in ("mstl", "stl"):
        # Fill holidays and gaps weekday-aware: a plain interpolation would teach the yearly
        # term to cancel the weekly pattern on the (same) holiday dates of every year.
        prof = _weekday_means(base, weekday)[weekday]
        filled = _interpolate(base - prof) + prof
        if method == "mstl":
            res = MSTL(filled, periods=(7, 365), stl_kwargs={"robust": cfg.mstl_robust}).fit()
            seasonal = np.asarray(res.seasonal)
            weekly = seasonal[:, 0]
            # Two or three cycles leave day-of-year noise in the yearly term; yearly seasonality
            # is smooth once holidays are modelled apart, so smooth it over ~two weeks.
            yearly = (
                pd.Series(seasonal[:, 1]).rolling(15, center=True, min_periods=1).mean().to_numpy()
            )
        else:
            res = STL(filled, period=7, robust=cfg.mstl_robust).fit(outer_iter=cfg.stl_outer_iter)
            weekly = np.asarray(res.seasonal)
    elif method == "weekday":
        weekly = _weekday_means(base, weekday)[weekday]

    deseason = base - weekly - yearly
    # Robust local-linear level: medians of the two trailing half-windows give a level and a
    # slope (a plain trailing median lags a steady trend by half its window).
    h = max(cfg.level_window_days // 2, 4)
    half = _rolling_median(deseason, h, max(3, h // 2))
    if cfg.level_trend:
        prev = (
            np.concatenate([np.full(min(h, n), np.nan), half[:-h]]) if n > h else np.full(n, np.nan)
        )
        slope = np.clip((half - prev) / h, -cfg.max_level_slope, cfg.max_level_slope)
    else:
        slope = np.zeros(n)
    slope = np.nan_to_num(slope)
    ahead = (h + 1) / 2  # from the centre of the last half-window to the next day
    current = half + slope * ahead
    level = np.concatenate([[np.nan], current[:-1]])
    # The first days have no past: use the first window's median.
    head = deseason[: max(cfg.level_window_days, 7)]
    first = float(np.nanmedian(head)) if np.isfinite(head).any() else 0.0
    level = np.where(np.isfinite(level), level, first)
    valid = np.flatnonzero(np.isfinite(half))
    if valid.size:
        end_level = float(half[valid[-1]] + slope[-1] * ahead)
        end_slope = float(slope[-1])
    else:
        end_level, end_slope = float(level[-1]), 0.0

    recent = slice(max(n - 28, 0), n)
    counts = np.bincount(weekday[recent], minlength=7)
    sums = np.bincount(weekday[recent], weights=weekly[recent], minlength=7)
    wp = np.divide(sums, counts, out=np.zeros(7), where=counts > 0)

    # Holiday factors: median over past occurrences of the log ratio to the baseline.
    resid = log_y - level - weekly - yearly
    offsets = windows["offset"].to_numpy()
    groups: dict[tuple[str, int], list[float]] = {}
    for i in np.flatnonzero(is_holiday & np.isfinite(resid)):
        groups.setdefault((str(names[i]), int(offsets[i])), []).append(float(resid[i]))
    effects = pd.DataFrame(
        [
            {"window": w, "offset": o, "log_effect": float(np.median(r)), "occurrences": len(r)}
            for (w, o), r in sorted(groups.items())
        ],
        columns=["window", "offset", "log_effect", "occurrences"],
    )
    effects["factor"] = np.exp(effects["log_effect"].astype(float))
    holiday = _effect_lookup(effects, windows)[0]

    def series(x: np.ndarray) -> pd.Series:
        return pd.Series(np.asarray(x, dtype=float), index=index)

    return SeasonalFit(
        method=method,
        offset=offset,
        log_y=series(log_y),
        weekly=series(weekly),
        yearly=series(yearly),
        holiday=series(holiday),
        windows=windows,
        level=series(level),
        end_level=end_level,
        end_slope=end_slope,
        weekday_profile=wp,
        holiday_effects=effects,
        calendar=cal,
    )


def expected(
    y: pd.Series,
    *,
    calendar: HolidayCalendar | None = None,
    config: SeasonalityConfig | None = None,
    transform: str = "log_offset",
) -> pd.Series:
    """Seasonal expectation of each day of a daily metric series (same index, same units)."""
    fit = fit_seasonality(y, calendar=calendar, config=config, transform=transform)
    out = fit.expected()
    return out.reindex(pd.DatetimeIndex(pd.to_datetime(y.index)).normalize()).set_axis(y.index)


def weekday_baseline(y: pd.Series, *, weeks: int = 4) -> pd.Series:
    """Same-weekday baseline: mean of the same weekday over the previous ``weeks`` weeks."""
    s = _as_daily(y)
    lags = pd.concat([s.shift(7 * k) for k in range(1, weeks + 1)], axis=1)
    return lags.mean(axis=1).where(lags.notna().all(axis=1)).reindex(s.index)
