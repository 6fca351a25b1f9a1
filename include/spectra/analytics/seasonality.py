"""Seasonal expectations: weekday and yearly profiles, holiday windows, a robust trailing level.

A metric is modelled on the log scale as

    log(y_t + offset) = level_t + weekly_t + yearly_t + holiday_t + residual_t

* weekly/yearly: MSTL(periods=(7, 365)) with two years of history (Bandara, Hyndman & Bergmeir
  2021), STL(period=7) with four weeks (Cleveland et al. 1990), a weekday profile with two weeks;
* holiday_t: multiplicative factors per (window, day offset from the anchor) estimated from past
  occurrences (median over years of the log ratio to the baseline); holiday days are removed
  from every baseline (notes §3, Taylor & Letham 2018 windows);
* level_t: median of the deseasonalised log series over the trailing ``level_window_days``
  (yesterday and before), so an expectation never contains the day it is compared to.

``expected(series)`` returns the seasonal expectation of each observed day; ``fit_seasonality``
returns the fit, which also projects expectations for days after the history (``expected_for``).
"""

from __future__ import annotations

import datetime as dt
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
        name = np.full(len(dates), "", dtype=object)
        offset = np.zeros(len(dates), dtype=np.int64)
        if len(dates) == 0:
            return pd.DataFrame({"window": name, "offset": offset}, index=dates)
        norm = dates.normalize()
        years = range(norm.min().year - 1, norm.max().year + 2)
        for rule in self.rules:
            for year in years:
                try:
                    anchor = pd.Timestamp(rule.anchor_date(year))
                except ValueError:
                    continue
                lo = anchor + pd.Timedelta(days=rule.start_offset)
                hi = anchor + pd.Timedelta(days=rule.end_offset)
                hit = np.asarray((norm >= lo) & (norm <= hi)) & (name == "")
                name[hit] = rule.name
                offset[hit] = (norm[hit] - anchor).days
        for label, start, end in self.explicit:
            lo, hi = pd.Timestamp(start), pd.Timestamp(end)
            hit = np.asarray((norm >= lo) & (norm <= hi)) & (name == "")
            name[hit] = label
            offset[hit] = (norm[hit] - lo).days
        return pd.DataFrame({"window": name, "offset": offset}, index=dates)


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
    end_level: float  # level after the last day, for projection
    weekday_profile: np.ndarray  # (7,) recent weekly component by weekday, Monday = 0
    holiday_effects: pd.DataFrame  # window, offset, log_effect, factor, occurrences
    calendar: HolidayCalendar = field(default_factory=HolidayCalendar)

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.log_y.index)

    def _holiday_for(self, dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        win = self.calendar.days(dates)
        eff = self.holiday_effects.set_index(["window", "offset"])["log_effect"]
        keys = list(zip(win["window"], win["offset"], strict=True))
        known = np.array([(k in eff.index) for k in keys], dtype=bool)
        log_eff = np.array([eff.get(k, 0.0) if k[0] else 0.0 for k in keys], dtype=float)
        return win["window"].to_numpy(), log_eff, known

    def components_for(self, dates: Sequence[dt.date] | pd.DatetimeIndex) -> pd.DataFrame:
        """Level, weekly, yearly and holiday terms (log scale) for any dates.

        Dates inside the history use the fitted terms; later dates use the end level, the
        recent weekday profile and the yearly term of 364 (or 728) days earlier.
        """
        idx = pd.DatetimeIndex(
            pd.to_datetime(list(dates) if not isinstance(dates, pd.DatetimeIndex) else dates)
        )
        inside = idx.isin(self.dates)
        level = np.where(inside, self.level.reindex(idx).to_numpy(), self.end_level)
        weekly = np.where(
            inside, self.weekly.reindex(idx).to_numpy(), self.weekday_profile[idx.day_of_week]
        )
        yearly_back = self.yearly.reindex(idx - pd.Timedelta(days=364)).to_numpy()
        yearly_back2 = self.yearly.reindex(idx - pd.Timedelta(days=728)).to_numpy()
        yearly = np.where(
            inside,
            self.yearly.reindex(idx).to_numpy(),
            np.where(np.isnan(yearly_back), np.nan_to_num(yearly_back2), yearly_back),
        )
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

    def log_residuals(self) -> pd.Series:
        """log(y + offset) - log(expected + offset) over the history."""
        c = self.components_for(self.dates)
        return self.log_y - (c["level"] + c["weekly"] + c["yearly"] + c["holiday"])


def _as_daily(y: pd.Series) -> pd.Series:
    s = y.copy()
    s.index = pd.DatetimeIndex(pd.to_datetime(s.index)).normalize()
    s = s.groupby(level=0).sum(min_count=1).astype(float)
    full = pd.date_range(s.index.min(), s.index.max(), freq="D")
    return s.reindex(full)


def _weekday_means(x: pd.Series) -> np.ndarray:
    """Mean log deviation by weekday from a centred weekly median; zero-mean over the week."""
    dev = x - x.rolling(7, center=True, min_periods=4).median()
    prof = dev.groupby(pd.DatetimeIndex(dev.index).day_of_week).mean().reindex(range(7))
    prof = prof.fillna(0.0).to_numpy()
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
    offset = cfg.count_offset if transform == "log_offset" else 0.0
    vals = s.to_numpy() + offset
    log_y = pd.Series(
        np.where(vals > 0, np.log(np.where(vals > 0, vals, 1.0)), np.nan), index=s.index
    )
    windows = cal.days(pd.DatetimeIndex(s.index))
    is_holiday = (windows["window"] != "").to_numpy()
    base = log_y.where(~is_holiday)
    n = len(base)
    n_valid = int(base.notna().sum())
    if method is None:
        if n >= cfg.min_days_mstl and n_valid >= 0.8 * n:
            method = "mstl"
        elif n >= cfg.min_days_stl and n_valid >= 0.7 * n:
            method = "stl"
        elif n_valid >= 14:
            method = "weekday"
        else:
            method = "flat"

    zeros = pd.Series(0.0, index=s.index)
    weekly, yearly = zeros.copy(), zeros.copy()
    if method in ("mstl", "stl"):
        # Fill holidays and gaps weekday-aware: a plain interpolation would teach the yearly
        # term to cancel the weekly pattern on the (same) holiday dates of every year.
        weekday = np.asarray(pd.DatetimeIndex(s.index).day_of_week)
        prof = _weekday_means(base)[weekday]
        filled = (base - prof).interpolate(limit_direction="both") + prof
        if method == "mstl":
            res = MSTL(filled, periods=(7, 365), stl_kwargs={"robust": cfg.mstl_robust}).fit()
            weekly = res.seasonal["seasonal_7"]
            # Two or three cycles leave day-of-year noise in the yearly term; yearly seasonality
            # is smooth once holidays are modelled apart, so smooth it over ~two weeks.
            yearly = res.seasonal["seasonal_365"].rolling(15, center=True, min_periods=1).mean()
        else:
            res = STL(filled, period=7, robust=cfg.mstl_robust).fit()
            weekly = res.seasonal
    elif method == "weekday":
        prof = _weekday_means(base)
        weekly = pd.Series(prof[pd.DatetimeIndex(s.index).day_of_week], index=s.index)

    deseason = base - weekly - yearly
    w = cfg.level_window_days
    trailing = deseason.rolling(w, min_periods=min(7, w)).median()
    level = trailing.shift(1)
    # The first days have no past: use the first full-window median (centred start).
    first = deseason.iloc[: max(w, 7)].median()
    level = level.fillna(first if np.isfinite(first) else 0.0)
    end_level = (
        float(trailing.dropna().iloc[-1]) if trailing.notna().any() else float(level.iloc[-1])
    )

    recent = weekly.iloc[-28:]
    wp = (
        recent.groupby(pd.DatetimeIndex(recent.index).day_of_week)
        .mean()
        .reindex(range(7))
        .fillna(0.0)
    )

    # Holiday factors: median over past occurrences of the log ratio to the baseline.
    resid_h = (log_y - level - weekly - yearly)[is_holiday]
    hol = pd.DataFrame(
        {
            "window": windows["window"][is_holiday],
            "offset": windows["offset"][is_holiday],
            "r": resid_h,
        }
    ).dropna()
    if hol.empty:
        effects = pd.DataFrame(columns=["window", "offset", "log_effect", "factor", "occurrences"])
    else:
        g = hol.groupby(["window", "offset"])["r"]
        effects = g.median().rename("log_effect").to_frame().join(g.size().rename("occurrences"))
        effects = effects.reset_index()
        effects["factor"] = np.exp(effects["log_effect"])
    eff_map = (
        effects.set_index(["window", "offset"])["log_effect"]
        if len(effects)
        else pd.Series(dtype=float)
    )
    holiday = pd.Series(
        [
            float(eff_map.get((wn, off), 0.0)) if wn else 0.0
            for wn, off in zip(windows["window"], windows["offset"], strict=True)
        ],
        index=s.index,
    )
    return SeasonalFit(
        method=method,
        offset=offset,
        log_y=log_y,
        weekly=weekly.astype(float),
        yearly=yearly.astype(float),
        holiday=holiday,
        windows=windows,
        level=level.astype(float),
        end_level=end_level,
        weekday_profile=wp.to_numpy(dtype=float),
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
    lags = [s.shift(7 * k) for k in range(1, weeks + 1)]
    return pd.concat(lags, axis=1).mean(axis=1).reindex(s.index)
