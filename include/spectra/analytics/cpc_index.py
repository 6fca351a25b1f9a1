"""Mix-adjusted CPC: separate a campaign's price change from a shift in which keywords got clicks.

A campaign's CPC is the click-weighted mean of its keywords' CPCs, so it moves whenever the
click mix moves, even if no keyword's price did. Smart Bidding campaigns make this worst: their
auction-time bids follow each term's conversion rate, keyword CPCs within one campaign span a
factor of ten, and the day-to-day demand noise of each keyword reshuffles the mix; on the
market simulator their raw CPC swings 7-10 % a day (sd of log CPC), three times the price
noise of their keywords. A competitor tripling the auction price on one day then hides inside
the mix noise.

The fix is a time-product-dummy price index (the hedonic index of official price statistics,
e.g. the Eurostat HICP manual, ch. 6): per campaign, weighted least squares on keyword-days

    log CPC_kt = a_k + b_t,   weight = clicks_kt

where b_t is the campaign's price level on day t with the keyword mix held fixed. The *mix
effect* of a day is the part of its raw CPC that the index does not explain,
``mix_t = log CPC_t - b_t``, centred per stretch of contiguous days (the index has no level of
its own). Anomaly detection divides it out of the CPC series (``anomalies.detect_anomalies``,
``cpc_mix``): the seasonal fit, its baseline residuals and the day scored all see prices at a
fixed mix, and the reported expectation is put back at the day's own mix.

Keyword detail is needed wherever the fit looks: the recent months (analytics reads them
anyway) and, for the holiday factors, last years' holiday windows with a lead-in
(``index_ranges``); outside them the raw CPC is used as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from spectra.analytics.seasonality import HolidayCalendar

MIX_COLUMNS = ["group", "date", "mix_log", "keywords"]
_EPOCH = np.datetime64("1970-01-01", "D")


def index_ranges(
    *,
    as_of: dt.date,
    first_day: dt.date,
    recent_from: dt.date,
    calendar: HolidayCalendar,
    lead_days: int = 42,
    tail_days: int = 7,
) -> list[tuple[dt.date, dt.date]]:
    """Date ranges of keyword detail the CPC index needs besides ``recent_from..as_of``.

    Past holiday windows from ``first_day`` on, each with ``lead_days`` before it (the trailing
    level and weekly pattern the holiday factor is measured against) and ``tail_days`` after.
    Ranges that reach into the recent detail are cut there; overlapping ones are merged.
    """
    if first_day >= recent_from:
        return []
    spans = calendar.days(pd.date_range(first_day, recent_from - dt.timedelta(days=1), freq="D"))
    days = spans.index[(spans["window"] != "").to_numpy()]
    out: list[tuple[dt.date, dt.date]] = []
    for day in sorted(pd.DatetimeIndex(days).date):
        lo = max(first_day, day - dt.timedelta(days=lead_days))
        hi = min(day + dt.timedelta(days=tail_days), recent_from - dt.timedelta(days=1), as_of)
        if out and lo <= out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def keyword_ranges(
    *, as_of: dt.date, first_day: dt.date, recent_from: dt.date, calendar: HolidayCalendar,
    level_window_days: int = 28,
) -> list[tuple[dt.date, dt.date]]:  # fmt: skip
    """Every range of keyword days the index uses: past holiday windows led in by the level
    window and two weeks (so the level and weekday pattern they are measured against are at
    fixed mix too), then ``recent_from..as_of``."""
    past = index_ranges(
        as_of=as_of, first_day=first_day, recent_from=recent_from, calendar=calendar,
        lead_days=level_window_days + 14,
    )  # fmt: skip
    return [*past, (max(first_day, recent_from), as_of)]


def in_ranges(dates: pd.Series, ranges: Sequence[tuple[dt.date, dt.date]]) -> np.ndarray:
    """Boolean mask of the dates inside any of the (inclusive) ranges."""
    d = pd.to_datetime(dates).to_numpy()
    mask = np.zeros(len(d), dtype=bool)
    for lo, hi in ranges:
        mask |= (d >= np.datetime64(lo)) & (d <= np.datetime64(hi))
    return mask


def mix_effects(
    keyword_rows: pd.DataFrame,
    *,
    by: str | None = "campaign_id",
    iterations: int = 50,
    tolerance: float = 1e-6,
) -> pd.DataFrame:
    """Log mix effect per (group, date) from keyword-day rows (see the module docstring).

    keyword_rows: date, entity_id (criterion id), ad_group_id, clicks, cost_micros and the
    ``by`` column (None: one group, the whole account). Returns MIX_COLUMNS; ``keywords`` is
    how many keywords had clicks that day. Days without clicks have no row.
    """
    need = {"date", "entity_id", "clicks", "cost_micros"} | ({by} if by else set())
    missing = need - set(keyword_rows.columns)
    if missing:
        raise ValueError(f"keyword rows lack columns {sorted(missing)}")
    # Plain arrays of the needed columns only: boolean-indexing a wide frame of millions of
    # keyword-days costs more than the whole fit.
    clicks = keyword_rows["clicks"].to_numpy(dtype=float)
    cost = keyword_rows["cost_micros"].to_numpy(dtype=float)
    keep = (clicks > 0) & (cost > 0)
    if not keep.any():
        return pd.DataFrame(columns=MIX_COLUMNS)
    clicks, cost = clicks[keep], cost[keep]
    dates = keyword_rows["date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates)
    day = (dates.to_numpy()[keep].astype("datetime64[D]") - _EPOCH).astype(np.int64)
    g_code, g_names = pd.factorize(
        keyword_rows[by].to_numpy()[keep] if by else np.zeros(int(keep.sum()), dtype=np.int64)
    )
    g_code = g_code.astype(np.int64)
    # Contiguous stretches of the account's days: each gets its own index (no common level).
    uniq, day_code = np.unique(day, return_inverse=True)
    stretch = np.concatenate([[0], np.cumsum(np.diff(uniq) > 1)])[day_code]
    n_days, n_stretch = len(uniq), int(stretch.max()) + 1
    seg = g_code * n_stretch + stretch
    t, t_keys = pd.factorize(g_code * n_days + day_code)
    # Criterion ids repeat across ad groups: a keyword is (ad group, criterion) per stretch.
    ad_group = (
        keyword_rows["ad_group_id"].fillna(-1).to_numpy(dtype=np.int64)[keep]
        if "ad_group_id" in keyword_rows.columns
        else np.zeros(len(day), dtype=np.int64)
    )
    ag_code, ag_names = pd.factorize(ad_group)
    kw_code, kw_names = pd.factorize(keyword_rows["entity_id"].to_numpy(dtype=np.int64)[keep])
    keyword = ag_code.astype(np.int64) * len(kw_names) + kw_code
    k, _ = pd.factorize(seg * (len(ag_names) * len(kw_names)) + keyword)
    lp = np.log(cost / clicks)
    n_t, n_k = len(t_keys), int(k.max()) + 1
    w_t = np.bincount(t, clicks, n_t)
    w_k = np.bincount(k, clicks, n_k)
    a = np.zeros(n_k)
    b = np.bincount(t, clicks * lp, n_t) / w_t
    # Alternating least squares for the two-way fixed effects (converges geometrically).
    for _ in range(iterations):
        a = np.bincount(k, clicks * (lp - b[t]), n_k) / w_k
        new_b = np.bincount(t, clicks * (lp - a[k]), n_t) / w_t
        done = float(np.max(np.abs(new_b - b))) < tolerance
        b = new_b
        if done:
            break
    raw = np.log(np.bincount(t, cost, n_t) / w_t)
    mix = raw - b
    t_seg = np.zeros(n_t, dtype=np.int64)
    t_seg[t] = seg
    centre = pd.Series(mix).groupby(t_seg).transform("median").to_numpy()
    keywords = np.bincount(t, minlength=n_t)
    t_group = np.asarray(t_keys) // n_days
    t_day = uniq[np.asarray(t_keys) % n_days]
    return pd.DataFrame(
        {
            "group": np.asarray(g_names)[t_group],
            "date": pd.to_datetime(_EPOCH + t_day.astype("timedelta64[D]")),
            "mix_log": mix - centre,
            "keywords": keywords,
        },
        columns=MIX_COLUMNS,
    ).sort_values(["group", "date"], ignore_index=True)


def mix_series(mix: pd.DataFrame, group: object) -> pd.Series:
    """One group's mix effect as a Series by date (empty when the group has none)."""
    sel = mix[mix["group"] == group]
    return pd.Series(sel["mix_log"].to_numpy(), index=pd.DatetimeIndex(sel["date"]), dtype=float)


def keyword_rows_only(frames: Sequence[pd.DataFrame | None]) -> pd.DataFrame:
    """Keyword-level rows of the given frames, one per keyword-day (the later frame wins)."""
    parts = [f[f["level"] == "keyword"] for f in frames if f is not None and not f.empty]
    if not parts:
        return pd.DataFrame(columns=["date", "campaign_id", "ad_group_id", "entity_id"])
    if len(parts) == 1:
        return parts[0]
    rows = pd.concat(parts, ignore_index=True)
    rows["date"] = pd.to_datetime(rows["date"])
    return rows.drop_duplicates(["ad_group_id", "entity_id", "date"], keep="last")
