"""``analyze_account``: one account's daily evidence, from warehouse rows to typed results.

The DAG's analyze step calls this once per account and persists the frames of the result. The
work per keyword is vectorised (groupby sums, numpy tests): nothing here loops over keywords in
Python; only campaigns get their own seasonal fits (anomalies, response curves).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spectra.analytics.allocation import (
    ResponseCurve,
    fit_budget_curve,
    fit_response_curve,
    headroom_for_raises,
    plan_portfolio,
)
from spectra.analytics.anomalies import anomalies_frame, detect_anomalies
from spectra.analytics.bids import ENVELOPE_COLUMNS, BidChange, keyword_bid_envelopes
from spectra.analytics.config import AnalyticsConfig
from spectra.analytics.cpc_index import (
    in_ranges,
    keyword_ranges,
    keyword_rows_only,
    mix_effects,
    mix_series,
)
from spectra.analytics.effects import EFFECT_COLUMNS, estimate_change_effects
from spectra.analytics.lag import LagCurve, conversion_dispersion, fit_lag_curve, nowcast
from spectra.analytics.seasonality import HolidayCalendar, fit_seasonality
from spectra.analytics.significance import (
    INSUFFICIENT,
    VERDICT_COLUMNS,
    apply_fdr,
    count_rate_tests,
    dispersion_terms,
    proportion_tests,
    ratio_tests_from_sums,
)
from spectra.analytics.targets import TARGET_COLUMNS, TARGET_CPA, CampaignTarget, target_envelopes
from spectra.domain.money import Currency, currency

PERF_COLUMNS = (
    "tenant_id",
    "customer_id",
    "level",
    "entity_id",
    "campaign_id",
    "ad_group_id",
    "date",
    "impressions",
    "clicks",
    "cost_micros",
    "conversions",
    "conversions_value_micros",
    "reported_as_of",
)
LEVELS = ("campaign", "ad_group", "keyword")
CPC_INDEX_COLUMNS = ["date", "campaign_id", "ad_group_id", "entity_id", "clicks", "cost_micros"]
SHARE_COLUMNS = ("search_impression_share", "search_budget_lost_impression_share")
ALLOCATION_COLUMNS = [
    "campaign_id",
    "current_budget_micros",
    "target_budget_micros",
    "direction",
    "max_change_pct",
    "next_budget_micros",
    "expected_value_delta_micros",
    "reason",
    "curve_kind",
    "curve_params",
    "curve_r2",
    "curve_rel_se",
]
# An entity of a level: a keyword is (ad group, criterion) because Google shares a keyword's
# criterion id across ad groups; ad_group_id is the ad group itself on ad-group rows and 0 on
# campaign rows (as performance_daily stores them).
KEY = ["level", "ad_group_id", "entity_id"]


class AnalysisInputError(ValueError):
    """The rows handed to analyze_account are not one account's performance_daily rows."""


@dataclass(frozen=True)
class AnalysisResult:
    """Everything the proposal step and the UI need about one account on one day."""

    tenant_id: str
    customer_id: int
    as_of: dt.date
    lag_curve: LagCurve
    nowcast: pd.DataFrame  # recent (not yet mature) rows: level, entity_id, date, completion
    seasonality: pd.DataFrame  # account metrics: method, weekday factors, holiday factors
    anomalies: pd.DataFrame
    verdicts: pd.DataFrame  # one row per (entity, metric) test, BH-adjusted across the batch
    effects: pd.DataFrame
    allocation: pd.DataFrame  # one budget envelope per campaign
    bid_envelopes: pd.DataFrame  # one bid envelope per manual-CPC keyword with evidence
    target_envelopes: pd.DataFrame  # one target envelope per Smart Bidding campaign with a target
    test_window: tuple[dt.date, dt.date]
    baseline_window: tuple[dt.date, dt.date]
    conversion_test_window: tuple[dt.date, dt.date]
    conversion_baseline_window: tuple[dt.date, dt.date]
    conversions_until: dt.date  # the last day every entity had (nearly) fully reported
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


def _check(perf: pd.DataFrame) -> None:
    missing = [c for c in PERF_COLUMNS if c not in perf.columns]
    if missing:
        raise AnalysisInputError(f"performance rows lack columns {missing}")
    if perf["tenant_id"].nunique() > 1 or perf["customer_id"].nunique() > 1:
        raise AnalysisInputError("analyze_account takes one account's rows at a time")


def _evidence_days(
    rows: pd.DataFrame,
    level: np.ndarray,
    *,
    until: dt.date,
    days: int,
    holidays: Sequence[Any],
) -> np.ndarray:
    """Rows of ``level`` in the ``days`` up to ``until`` (conversions complete), holidays out:
    the evidence an envelope judges a keyword or a campaign on."""
    day = rows["date"].to_numpy()
    start = pd.Timestamp(until) - pd.Timedelta(days=days - 1)
    return (
        level
        & (day >= start.to_datetime64())
        & (day <= pd.Timestamp(until).to_datetime64())
        & ~np.isin(day, np.array(holidays, dtype="datetime64[ns]"))
    )


def shock_start(dates: Iterable[dt.date], *, max_gap_days: int = 2) -> dt.date | None:
    """The first day of the latest run of flagged days (gaps up to ``max_gap_days`` inside a
    run: a shifted level is not flagged every single day once the noise scale catches up)."""
    ordered = sorted(set(dates))
    if not ordered:
        return None
    start = ordered[-1]
    for earlier in reversed(ordered[:-1]):
        if (start - earlier).days > max_gap_days:
            break
        start = earlier
    return start


def cpc_shocks(
    anomalies: pd.DataFrame, past: Mapping[int, Collection[dt.date]] | None
) -> dict[int, dt.date]:
    """Per campaign, the start of its latest CPC shock: flagged campaign CPC anomalies going
    up (a competitor's entry, a price war), today's and those earlier runs stored (``past``).
    Bid and target evidence starts there: the days before measured a market that is gone,
    and judged on them a campaign whose clicks just got 60 % dearer looks as profitable as
    it was, and gets its bids raised (a change point; Killick et al. 2012 on why the segment
    after the last change is the one to estimate from)."""
    flagged: dict[int, set[dt.date]] = {int(k): set(v) for k, v in (past or {}).items()}
    if not anomalies.empty:
        today = anomalies[
            (anomalies["entity_level"] == "campaign")
            & (anomalies["metric"] == "cpc")
            & (anomalies["direction"] == "up")
            & anomalies["flagged"].astype(bool)
        ]
        for cid, day in zip(today["entity_id"], today["date"], strict=True):
            flagged.setdefault(int(cid), set()).add(pd.Timestamp(day).date())
    out = {}
    for cid, days in flagged.items():
        start = shock_start(days)
        if start is not None:
            out[cid] = start
    return out


def _after_shocks(rows: pd.DataFrame, shocks: Mapping[int, dt.date], campaign_col: str) -> Any:
    """Rows not from before their campaign's latest CPC shock."""
    if not shocks:
        return np.ones(len(rows), dtype=bool)
    first = pd.Series({k: pd.Timestamp(v) for k, v in shocks.items()}, dtype="datetime64[ns]")
    since = first.reindex(rows[campaign_col].astype(np.int64).to_numpy()).to_numpy()
    return ~(pd.to_datetime(rows["date"]).to_numpy() < since)


def _insufficient(frame: pd.DataFrame, mask: np.ndarray, reason: str) -> pd.DataFrame:
    """Mark rows as no-verdict (minimum-volume rule) after the fact."""
    out = frame.copy()
    hit = mask & (out["verdict"] != INSUFFICIENT).to_numpy()
    for col in ("effect", "relative_effect", "ci_low", "ci_high", "p_value", "p_adjusted"):
        out.loc[hit, col] = np.nan
    out.loc[hit, "verdict"] = INSUFFICIENT
    out.loc[hit, "reason"] = reason
    return out


def _pooled_dispersion(
    sub: pd.DataFrame, index: pd.MultiIndex, successes: str, trials: str
) -> tuple[np.ndarray, np.ndarray]:
    """Day-level dispersion per entity, pooled over both arms (each around its own rate), and
    the degrees of freedom behind it."""
    terms = dispersion_terms(sub, keys=[*KEY, "arm"], successes=successes, trials=trials)
    pooled = terms.groupby(level=list(range(len(KEY)))).sum().reindex(index)
    df = pooled["df"].fillna(0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(df > 0, pooled["pearson"].fillna(0.0).to_numpy() / np.maximum(df, 1), 1.0)
    return np.maximum(phi, 1.0), np.maximum(df, 1.0)


def _window_sums(rows: pd.DataFrame, arm: np.ndarray) -> pd.DataFrame:
    """Per (level, ad group, entity, arm) sums, squares and cross-products for day tests."""
    c = rows["cost_micros"].to_numpy(dtype=float) / 1e6
    v = rows["conversions_value_micros"].to_numpy(dtype=float) / 1e6
    k = rows["conversions"].to_numpy(dtype=float)
    cl = rows["clicks"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "level": rows["level"].to_numpy(),
            "ad_group_id": rows["ad_group_id"].to_numpy(),
            "entity_id": rows["entity_id"].to_numpy(),
            "arm": arm,
            "impressions": rows["impressions"].to_numpy(dtype=float),
            "clicks": cl,
            "cost": c,
            "conversions": k,
            "value": v,
            "cost2": c * c,
            "conv2": k * k,
            "cost_conv": c * k,
            "clicks2": cl * cl,
            "cost_clicks": c * cl,
            "value2": v * v,
            "value_cost": v * c,
        }
    )
    return frame.groupby([*KEY, "arm"], sort=False).sum()


def _arm(
    dates: pd.Series, a: tuple[pd.Timestamp, pd.Timestamp], b: tuple[pd.Timestamp, pd.Timestamp]
) -> np.ndarray:
    d = dates.to_numpy()
    arm = np.full(len(d), "", dtype=object)
    arm[(d >= a[0].to_datetime64()) & (d <= a[1].to_datetime64())] = "a"
    arm[(d >= b[0].to_datetime64()) & (d <= b[1].to_datetime64())] = "b"
    return arm


def _ratio_sums(
    s: pd.DataFrame, n_days: int, y: str, x: str, yy: str, xx: str, xy: str, vol: str
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": float(n_days),
            "sy": s[y].to_numpy(),
            "sx": s[x].to_numpy(),
            "syy": s[yy].to_numpy(),
            "sxx": s[xx].to_numpy(),
            "sxy": s[xy].to_numpy(),
            "volume": s[vol].to_numpy(),
        }
    )


def entity_tests(
    rows: pd.DataFrame,
    *,
    as_of: dt.date,
    conversions_until: dt.date,
    config: AnalyticsConfig,
    calendar: HolidayCalendar,
) -> tuple[pd.DataFrame, dict[str, tuple[dt.date, dt.date]]]:
    """Recent window vs the window before it, per entity: CTR, CPC (all days) and CVR, CPA, ROAS
    (mature days only). Holiday days are left out of both windows. Not yet FDR-adjusted."""
    sc = config.significance
    mv = sc.min_volume

    def windows(
        end: dt.date,
    ) -> tuple[tuple[pd.Timestamp, pd.Timestamp], tuple[pd.Timestamp, pd.Timestamp]]:
        e = pd.Timestamp(end)
        b = (e - pd.Timedelta(days=sc.test_days - 1), e)
        a = (b[0] - pd.Timedelta(days=sc.baseline_days), b[0] - pd.Timedelta(days=1))
        return a, b

    dates = rows["date"]
    hol_days = calendar.days(pd.DatetimeIndex(pd.date_range(dates.min(), dates.max(), freq="D")))
    hol = set(hol_days.index[hol_days["window"] != ""])
    not_hol = ~dates.isin(list(hol)).to_numpy()

    def n_days(win: tuple[pd.Timestamp, pd.Timestamp]) -> int:
        rng = pd.date_range(win[0], win[1], freq="D")
        return int(sum(1 for d in rng if d not in hol))

    frames = []
    win_info: dict[str, tuple[dt.date, dt.date]] = {}
    for family, end in (("traffic", as_of), ("conversions", conversions_until)):
        a, b = windows(end)
        win_info[f"{family}_baseline"] = (a[0].date(), a[1].date())
        win_info[f"{family}_test"] = (b[0].date(), b[1].date())
        arm = _arm(dates, a, b)
        arm = np.where(not_hol, arm, "")
        sel = arm != ""
        sums = _window_sums(rows[sel], arm[sel])
        wide = sums.unstack("arm", fill_value=0.0)
        if "a" not in wide.columns.get_level_values(1) or "b" not in wide.columns.get_level_values(
            1
        ):
            continue
        sa, sb = wide.xs("a", axis=1, level=1), wide.xs("b", axis=1, level=1)
        na, nb = n_days(a), n_days(b)
        ids = wide.index.to_frame(index=False)
        if family == "traffic":
            sub = rows[sel].assign(arm=arm[sel])
            phi, phi_df = _pooled_dispersion(sub, wide.index, "clicks", "impressions")
            ctr = proportion_tests(
                sa["clicks"], sa["impressions"], sb["clicks"], sb["impressions"], metric="ctr",
                alpha=sc.alpha, min_trials=mv.impressions, dispersion=phi, dispersion_df=phi_df,
            )  # fmt: skip
            cpc = ratio_tests_from_sums(
                _ratio_sums(sa, na, "cost", "clicks", "cost2", "clicks2", "cost_clicks", "clicks"),
                _ratio_sums(sb, nb, "cost", "clicks", "cost2", "clicks2", "cost_clicks", "clicks"),
                metric="cpc", alpha=sc.alpha, min_units=mv.days, min_volume=mv.clicks,
            )  # fmt: skip
            parts = [ctr, cpc]
        else:
            # CVR as a count model: conversions with clicks as exposure (exact conditional
            # Poisson), over-dispersion from the day-to-day spread of each entity's CVR.
            sub = rows[sel].assign(arm=arm[sel])
            phi_c, phi_c_df = _pooled_dispersion(sub, wide.index, "conversions", "clicks")
            cvr = count_rate_tests(
                sa["conversions"], sa["clicks"], sb["conversions"], sb["clicks"], metric="cvr",
                alpha=sc.alpha, min_total=mv.conversions_count_test, dispersion=phi_c,
                dispersion_df=phi_c_df,
            )  # fmt: skip
            few_clicks = (sa["clicks"].to_numpy() < mv.clicks) | (
                sb["clicks"].to_numpy() < mv.clicks
            )
            cvr = _insufficient(cvr, few_clicks, f"fewer than {mv.clicks} clicks in an arm")
            cpa = ratio_tests_from_sums(
                _ratio_sums(sa, na, "cost", "conversions", "cost2", "conv2", "cost_conv", "conversions"),
                _ratio_sums(sb, nb, "cost", "conversions", "cost2", "conv2", "cost_conv", "conversions"),
                metric="cpa", alpha=sc.alpha, min_units=mv.days, min_volume=mv.conversions,
            )  # fmt: skip
            roas = ratio_tests_from_sums(
                _ratio_sums(sa, na, "value", "cost", "value2", "cost2", "value_cost", "conversions"),
                _ratio_sums(sb, nb, "value", "cost", "value2", "cost2", "value_cost", "conversions"),
                metric="roas", alpha=sc.alpha, min_units=mv.days, min_volume=mv.conversions,
            )  # fmt: skip
            parts = [cvr, cpa, roas]
        for part in parts:
            part.index = ids.index
            frames.append(pd.concat([ids, part], axis=1))
    if not frames:
        return pd.DataFrame(columns=[*KEY, *VERDICT_COLUMNS]), win_info
    return pd.concat(frames, ignore_index=True), win_info


def sc_days(cfg: AnalyticsConfig) -> int:
    """Days back that the significance windows can reach (both families)."""
    sc = cfg.significance
    # +3: the conversion windows end before the first immature day, which is at most
    # window + 1 days back (reported_as_of runs a day ahead of the data).
    return sc.test_days + sc.baseline_days + cfg.lag.window_days + 3


def _daily(rows: pd.DataFrame) -> pd.DataFrame:
    cols = ["impressions", "clicks", "cost_micros", "conversions", "conversions_value_micros"]
    d = rows.groupby("date")[cols].sum()
    d["maturity"] = rows.groupby("date")["maturity"].min()
    return d.reset_index()


@dataclass
class _Evidence:
    """The engine's own copy of one account's rows and what every step reads of them.

    ``rows`` is private to one ``analyze_account`` call: the lag step completes its recent
    conversions in place (a copy of millions of rows per step would cost more than the step),
    and every later step only reads it.
    """

    rows: pd.DataFrame
    as_of: dt.date
    cfg: AnalyticsConfig
    cal: HolidayCalendar
    money: Currency
    span: pd.DatetimeIndex
    holiday_days: list[pd.Timestamp]
    warnings: list[str] = field(default_factory=list)
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # level -> row mask
    present: list[str] = field(default_factory=list)  # levels present, top first
    conversions_until: dt.date | None = None  # set by the lag step
    # per campaign, the first day of its latest CPC shock (set after the anomaly step)
    cpc_shocks: dict[int, dt.date] = field(default_factory=dict)
    # per campaign, its response curve (set by the allocation step)
    curves: dict[int, ResponseCurve | None] = field(default_factory=dict)

    @property
    def is_campaign(self) -> np.ndarray:
        return self.masks.get("campaign", np.zeros(len(self.rows), dtype=bool))

    def index_levels(self) -> None:
        """Factorise the level once: string comparisons over millions of rows are not free."""
        codes, names = pd.factorize(self.rows["level"])
        self.masks = {str(name): codes == i for i, name in enumerate(names)}
        self.present = [lv for lv in LEVELS if lv in self.masks] or [str(names[0])]


def _evidence(
    perf: pd.DataFrame,
    *,
    as_of: dt.date,
    cfg: AnalyticsConfig,
    calendar: HolidayCalendar | None,
    money: Currency,
) -> _Evidence:
    _check(perf)
    cal = calendar if calendar is not None else HolidayCalendar.for_market(cfg.seasonality.market)
    rows = perf.copy()
    rows["date"] = pd.to_datetime(rows["date"])
    # Campaign rows carry ad group 0 in the warehouse; callers' frames may leave it empty.
    rows["ad_group_id"] = pd.to_numeric(rows["ad_group_id"]).fillna(0).astype(np.int64)
    rows = rows[rows["date"] <= pd.Timestamp(as_of)]
    if rows.empty:
        raise AnalysisInputError(f"no performance rows on or before {as_of}")
    span = pd.DatetimeIndex(pd.date_range(rows["date"].min(), as_of, freq="D"))
    windows = cal.days(span)
    holiday_days = list(span[(windows["window"] != "").to_numpy()])
    return _Evidence(rows, as_of, cfg, cal, money, span, holiday_days)


def _complete_lag(
    ev: _Evidence, snapshots: pd.DataFrame | None, lag_buckets: pd.DataFrame | None
) -> tuple[LagCurve, pd.DataFrame]:
    """Fit the lag curve, complete the recent days' conversions in ``ev.rows`` and set
    ``ev.conversions_until``; returns the curve and the nowcast of the immature rows."""
    rows, as_of, cfg = ev.rows, ev.as_of, ev.cfg
    # The runs' report day: the pipeline pulls day D on D+1, so rows carry reported_as_of
    # after as_of; snapshots up to that day are what this run knows.
    fit_date = as_of
    if "reported_as_of" in rows.columns and rows["reported_as_of"].notna().any():
        fit_date = max(as_of, pd.to_datetime(rows["reported_as_of"]).max().date())
    curve = fit_lag_curve(snapshots, lag_buckets, fit_date=fit_date, config=cfg.lag)
    if curve.source == "none":
        ev.warnings.append("no snapshots or lag buckets: recent conversions are not completed")
    ev.warnings.extend(curve.notes)
    window = cfg.lag.window_days
    recent = (rows["date"] >= pd.Timestamp(as_of) - pd.Timedelta(days=window + 1)).to_numpy()
    rows["maturity"] = 1.0
    rows["conversions_observed"] = rows["conversions"]
    # Day-level over-dispersion per campaign, from its last mature weeks.
    mature_rows = rows[
        ~recent & (rows["date"] > pd.Timestamp(as_of) - pd.Timedelta(days=window + 57))
    ]
    top_level = "campaign" if (rows["level"] == "campaign").any() else rows["level"].iloc[0]
    phi_by_campaign = conversion_dispersion(
        mature_rows[mature_rows["level"] == top_level], by="campaign_id"
    )
    phi_rows = rows.loc[recent, "campaign_id"].map(phi_by_campaign).fillna(1.0).to_numpy()
    completed = nowcast(rows[recent], curve, as_of=as_of, config=cfg.lag, dispersion=phi_rows)
    rows.loc[recent, "maturity"] = completed["maturity"].to_numpy()
    rows.loc[recent, "conversions"] = completed["conversions_nowcast"].to_numpy()
    rows.loc[recent, "conversions_value_micros"] = completed[
        "conversions_value_nowcast_micros"
    ].to_numpy()
    if curve.usable and (curve.tail_factor != 1.0 or curve.tail_factor_value != 1.0):
        # Days past the window carry the tail too (a constant factor, so it never moves a
        # comparison between windows, only the level the allocation sees).
        old = ~recent
        rows.loc[old, "conversions"] = rows.loc[old, "conversions"] * curve.tail_factor
        rows.loc[old, "conversions_value_micros"] = np.rint(
            rows.loc[old, "conversions_value_micros"].astype(float) * curve.tail_factor_value
        )
    nowcast_frame = completed.loc[
        completed["lag_status"] != "mature",
        [
            "level", "entity_id", "campaign_id", "date", "age_days", "maturity", "conversions",
            "conversions_nowcast", "conversions_nowcast_se", "conversions_value_micros",
            "conversions_value_nowcast_micros", "conversions_value_nowcast_se_micros", "lag_status",
        ],
    ].reset_index(drop=True)  # fmt: skip
    # Conversion metrics are judged only on days every entity has (nearly) fully reported.
    day_maturity = rows.loc[recent].groupby("date")["maturity"].min().sort_index()
    immature = day_maturity[day_maturity < cfg.lag.mature_threshold]
    ev.conversions_until = (
        (immature.index.min() - pd.Timedelta(days=1)).date() if len(immature) else as_of
    )
    return curve, nowcast_frame


def _seasonality(ev: _Evidence, account_daily: pd.DataFrame) -> pd.DataFrame:
    """The account's weekday and holiday factors per metric (what the UI and prompts show)."""
    seasonal_rows = []
    for metric in ("clicks", "cost_micros", "conversions"):
        fit = fit_seasonality(
            account_daily.set_index("date")[metric].iloc[:-1],
            calendar=ev.cal,
            config=ev.cfg.seasonality,
        )
        wk = np.exp(fit.weekday_profile)
        seasonal_rows.append(
            {
                "metric": metric,
                "method": fit.method,
                **{f"weekday_{i}": float(wk[i]) for i in range(7)},
                "holiday_factors": {
                    f"{r.window}{int(r.offset):+d}": round(float(r.factor), 4)
                    for r in fit.holiday_effects.itertuples()
                },
            }
        )
    return pd.DataFrame(seasonal_rows)


def _anomalies(
    ev: _Evidence,
    account_daily: pd.DataFrame,
    *,
    customer_id: int,
    campaigns: bool,
    cpc_index_rows: pd.DataFrame | None,
    timings: dict[str, float],
) -> pd.DataFrame:
    """Anomalies of the account and (with ``campaigns``) of each campaign, CPC at a fixed
    keyword mix wherever keyword rows exist (spectra.analytics.cpc_index)."""
    started = time.perf_counter()
    cfg, rows = ev.cfg, ev.rows
    # Only the days the service reads (recent detail, past holiday windows), whatever else
    # the caller passed: the index costs a pass over every keyword row it gets.
    index_days = keyword_ranges(
        as_of=ev.as_of, first_day=ev.span[0].date(), calendar=ev.cal,
        recent_from=ev.as_of - dt.timedelta(days=sc_days(cfg) + 1),
        level_window_days=cfg.seasonality.level_window_days,
    )  # fmt: skip
    kw_mask = ev.masks.get("keyword")
    if kw_mask is not None:
        kw_mask = kw_mask & in_ranges(rows["date"], index_days)
    kw_rows = keyword_rows_only(
        [
            rows.loc[kw_mask, ["level", *CPC_INDEX_COLUMNS]] if kw_mask is not None else None,
            cpc_index_rows.assign(level="keyword") if cpc_index_rows is not None else None,
        ]
    )
    mix_account = mix_effects(kw_rows, by=None)
    mix_campaign = mix_effects(kw_rows, by="campaign_id")
    timings["cpc_index"] = time.perf_counter() - started
    common: dict[str, Any] = {
        "as_of": ev.as_of, "calendar": ev.cal, "config": cfg.anomalies,
        "seasonality": cfg.seasonality, "min_maturity": cfg.lag.min_maturity,
    }  # fmt: skip
    found = detect_anomalies(
        account_daily, entity_level="account", entity_id=customer_id,
        cpc_mix=mix_series(mix_account, 0), **common,
    )  # fmt: skip
    if campaigns and "campaign" in ev.present:
        for cid, grp in rows[ev.is_campaign].groupby("entity_id", sort=True):
            found += detect_anomalies(
                _daily(grp), entity_level="campaign", entity_id=int(cid),
                cpc_mix=mix_series(mix_campaign, int(cid)), **common,
            )  # fmt: skip
    return anomalies_frame(found)


def _significance(ev: _Evidence) -> tuple[pd.DataFrame, dict[str, tuple[dt.date, dt.date]]]:
    """Every entity's tests over the recent windows, BH-adjusted across the whole batch."""
    cfg, rows, as_of = ev.cfg, ev.rows, ev.as_of
    assert ev.conversions_until is not None  # the lag step ran
    recent_rows = rows[rows["date"] > pd.Timestamp(as_of) - pd.Timedelta(days=sc_days(cfg))]
    tests, windows = entity_tests(
        recent_rows, as_of=as_of, conversions_until=ev.conversions_until, config=cfg,
        calendar=ev.cal,
    )  # fmt: skip
    meta = recent_rows.drop_duplicates(KEY)[[*KEY, "campaign_id"]]
    tests = tests.merge(meta, on=KEY, how="left")
    verdicts = apply_fdr(tests, alpha=cfg.significance.alpha, method=cfg.significance.fdr_method)
    return verdicts, windows


def _change_effects(ev: _Evidence, changes: pd.DataFrame | None) -> pd.DataFrame:
    """Conversions and CPA effects of the applied campaign changes."""
    effects = pd.DataFrame(columns=["metric_family", *EFFECT_COLUMNS])
    if changes is None or changes.empty or "campaign" not in ev.present:
        return effects
    panel = ev.rows[ev.is_campaign][["entity_id", "date", "cost_micros", "conversions"]]
    common: dict[str, Any] = {
        "mature_until": ev.conversions_until, "config": ev.cfg.effects, "calendar": ev.cal,
    }  # fmt: skip
    conv = estimate_change_effects(panel, changes, metric="conversions", **common)
    cpa = estimate_change_effects(
        panel, changes, metric="cpa", value="cost_micros", denominator="conversions",
        higher_is_better=False, **common,
    )  # fmt: skip
    return pd.concat([conv, cpa], ignore_index=True)


def _response_curves(ev: _Evidence, camp: pd.DataFrame) -> dict[int, ResponseCurve | None]:
    """One value-vs-spend curve per campaign (budget-limited where impression shares exist)."""
    with_shares = all(c in camp.columns for c in SHARE_COLUMNS)
    curves: dict[int, ResponseCurve | None] = {}
    for cid, grp in camp.groupby("entity_id", sort=True):
        grp = grp.sort_values("date")
        spend = grp["cost_micros"].to_numpy(dtype=float) / 1e6
        value = grp["conversions_value_micros"].to_numpy(dtype=float) / 1e6
        try:
            if with_shares and grp[SHARE_COLUMNS[0]].notna().mean() >= 0.5:
                curves[int(cid)] = fit_budget_curve(
                    spend,
                    value,
                    grp[SHARE_COLUMNS[0]].to_numpy(dtype=float),
                    grp[SHARE_COLUMNS[1]].to_numpy(dtype=float),
                    demand_days=ev.cfg.allocation.demand_days,
                )
            else:
                curves[int(cid)] = fit_response_curve(spend, value)
        except ValueError:
            curves[int(cid)] = None
    return curves


def _allocation(
    ev: _Evidence,
    *,
    budgets_micros: Mapping[int, int] | None,
    total_budget_micros: int | None,
    bounds_micros: Mapping[int, tuple[int, int]] | None,
) -> pd.DataFrame:
    """Response curves and the portfolio plan: one budget envelope per campaign."""
    allocation = pd.DataFrame(columns=ALLOCATION_COLUMNS)
    if "campaign" not in ev.present:
        return allocation
    cfg, rows, as_of = ev.cfg, ev.rows, ev.as_of
    hist_start = pd.Timestamp(as_of) - pd.Timedelta(days=cfg.allocation.history_days)
    camp_all = rows[ev.is_campaign & (rows["date"] > hist_start)]
    # Value needs completed conversions; holiday days are not what the next weeks look like.
    ordinary = ~camp_all["date"].isin(ev.holiday_days)
    curves = _response_curves(
        ev, camp_all[ordinary & (camp_all["maturity"] >= cfg.lag.min_maturity)]
    )
    ev.curves = curves
    if budgets_micros is None:
        # Spend is not lag-affected: every recent day counts.
        last7 = camp_all[camp_all["date"] > pd.Timestamp(as_of) - pd.Timedelta(days=7)]
        budgets_micros = {
            int(k): int(v) for k, v in (last7.groupby("entity_id")["cost_micros"].sum() / 7).items()
        }
        ev.warnings.append("no current budgets given: the last 7 days' mean spend stands in")
    if not budgets_micros:
        return allocation
    allocation = plan_portfolio(
        curves, budgets_micros, total_budget_micros=total_budget_micros,
        bounds_micros=bounds_micros, config=cfg.allocation,
        billable_unit_micros=ev.money.billable_unit_micros,
    )  # fmt: skip
    fits = pd.DataFrame(
        {
            "campaign_id": list(curves),
            "curve_kind": [c.kind if c else None for c in curves.values()],
            "curve_params": [c.params if c else None for c in curves.values()],
            "curve_r2": [c.r2 if c else np.nan for c in curves.values()],
            "curve_rel_se": [c.rel_se if c else np.nan for c in curves.values()],
        }
    )
    return allocation.merge(fits, on="campaign_id", how="left")


def _bid_envelopes(
    ev: _Evidence,
    keyword_bids_micros: Mapping[tuple[int, int], int] | None,
    smart_bidding_campaigns: Collection[int],
    bid_in_force_since: Mapping[tuple[int, int], dt.date] | None = None,
    bid_history: Mapping[tuple[int, int], Sequence[BidChange]] | None = None,
) -> pd.DataFrame:
    """Keyword bid envelopes of the manual-CPC keywords with evidence (only the days each
    keyword's current bid has been in force)."""
    if not keyword_bids_micros or "keyword" not in ev.present:
        return pd.DataFrame(columns=ENVELOPE_COLUMNS)
    cfg, rows = ev.cfg, ev.rows
    assert ev.conversions_until is not None  # the lag step ran
    cols = [
        "entity_id", "campaign_id", "ad_group_id", "date", "clicks", "cost_micros",
        "conversions", "conversions_value_micros",
    ]  # fmt: skip
    shares = ["impressions", "search_impression_share", "search_rank_lost_impression_share"]
    cols += [c for c in shares if c in rows.columns]
    keep = _evidence_days(
        rows, ev.masks["keyword"], until=ev.conversions_until, days=cfg.bids.evidence_days,
        holidays=ev.holiday_days,
    )  # fmt: skip
    if ev.cpc_shocks:
        keep &= _after_shocks(rows, ev.cpc_shocks, "campaign_id")
    return keyword_bid_envelopes(
        rows.loc[keep, cols], keyword_bids_micros,
        smart_bidding_campaigns=smart_bidding_campaigns, config=cfg.bids,
        billable_unit_micros=ev.money.billable_unit_micros,
        max_bid_micros=ev.money.from_usd(cfg.bids.max_bid_micros),
        bid_in_force_since=bid_in_force_since, bid_history=bid_history,
    )  # fmt: skip


def _target_envelopes(
    ev: _Evidence,
    bidding_targets: Mapping[int, CampaignTarget] | None,
    target_in_force_since: Mapping[int, dt.date] | None = None,
) -> pd.DataFrame:
    """Smart Bidding target envelopes of the campaigns with a target CPA or ROAS (only the
    days each campaign's current target has been in force)."""
    if not bidding_targets or "campaign" not in ev.present:
        return pd.DataFrame(columns=TARGET_COLUMNS)
    assert ev.conversions_until is not None  # the lag step ran
    cols = [
        "entity_id", "date", "clicks", "cost_micros", "conversions", "conversions_value_micros",
    ]  # fmt: skip
    keep = _evidence_days(
        ev.rows, ev.masks["campaign"], until=ev.conversions_until,
        days=ev.cfg.targets.evidence_days, holidays=ev.holiday_days,
    )  # fmt: skip
    if ev.cpc_shocks:
        keep &= _after_shocks(ev.rows, ev.cpc_shocks, "entity_id")
    return target_envelopes(
        ev.rows.loc[keep, cols], bidding_targets, config=ev.cfg.targets,
        billable_unit_micros=ev.money.billable_unit_micros,
        target_in_force_since=target_in_force_since,
    )  # fmt: skip


def _spend_growth(
    bid_envelopes: pd.DataFrame, target_frame: pd.DataFrame, cfg: AnalyticsConfig
) -> dict[int, float]:
    """Per campaign, an upper bound of the spend today's raises add, as a share of its spend:
    the raised keywords' share of the campaign's cost times ``(1 + step)^2 - 1`` (clicks and
    price each grow at most in proportion to the bid), a loosened target the same on all of it.
    """
    out: dict[int, float] = {}
    if not bid_envelopes.empty:
        bids = bid_envelopes.assign(
            raised=np.where(
                bid_envelopes["direction"] == "increase", bid_envelopes["cost_micros"], 0.0
            )
        )
        g = bids.groupby("campaign_id")[["raised", "cost_micros"]].sum()
        share = (g["raised"] / g["cost_micros"].where(g["cost_micros"] > 0)).fillna(0.0)
        grow = (1 + cfg.bids.max_step) ** 2 - 1
        out.update({int(k): float(v) * grow for k, v in share.items() if v > 0})
    if not target_frame.empty:
        for row in target_frame.itertuples():
            cur, nxt = float(row.current_micros), float(row.next_micros)
            if cur <= 0 or nxt <= 0 or nxt == cur:
                continue
            loosen = nxt / cur if row.strategy == TARGET_CPA else cur / nxt
            if loosen > 1:
                cid = int(row.campaign_id)
                out[cid] = max(out.get(cid, 0.0), loosen**2 - 1)
    return out


def analyze_account(
    perf: pd.DataFrame,
    snapshots: pd.DataFrame | None,
    *,
    as_of: dt.date,
    config: AnalyticsConfig | None = None,
    lag_buckets: pd.DataFrame | None = None,
    changes: pd.DataFrame | None = None,
    budgets_micros: Mapping[int, int] | None = None,
    total_budget_micros: int | None = None,
    bounds_micros: Mapping[int, tuple[int, int]] | None = None,
    calendar: HolidayCalendar | None = None,
    campaign_anomalies: bool = True,
    keyword_bids_micros: Mapping[tuple[int, int], int] | None = None,
    smart_bidding_campaigns: Collection[int] = (),
    cpc_index_rows: pd.DataFrame | None = None,
    account_currency: Currency | None = None,
    bidding_targets: Mapping[int, CampaignTarget] | None = None,
    bid_in_force_since: Mapping[tuple[int, int], dt.date] | None = None,
    bid_history: Mapping[tuple[int, int], Sequence[BidChange]] | None = None,
    target_in_force_since: Mapping[int, dt.date] | None = None,
    past_cpc_shocks: Mapping[int, Collection[dt.date]] | None = None,
) -> AnalysisResult:
    """Lag completion, seasonality, tests with FDR, anomalies, change effects, allocation and
    keyword bid envelopes.

    perf: one account's performance_daily rows (see PERF_COLUMNS; campaign rows may carry the
    impression-share columns, which enable budget-limited response curves); snapshots:
    click_date, report_date, conversions, conversions_value_micros; lag_buckets: the run's
    conversion-lag histogram (``fit_lag_curve``: usable snapshots win and take the histogram's
    measured tail; until a week of pulls the histogram completes; with neither, recent days
    are marked too immature, with a warning). changes: applied changes (entity_id, change_date) at
    campaign level. budgets_micros: current daily budgets per campaign (else recent mean spend).
    keyword_bids_micros: effective max CPC per keyword, keyed (ad group id, criterion id)
    (enables bid envelopes); smart_bidding_campaigns: campaign ids whose keywords have no
    manual bid; bidding_targets: the current target CPA / ROAS per Smart Bidding campaign
    (enables target envelopes); bid_in_force_since: per keyword, the day its current bid
    took effect (its bid evidence starts there); bid_history: per keyword, its applied bid
    changes (older days stay evidence, re-priced at the current bid); target_in_force_since: the same per Smart
    Bidding campaign and its current target. past_cpc_shocks: per campaign, the days earlier
    runs flagged its CPC going up (with today's, :func:`cpc_shocks`: bid and target evidence
    starts at the latest shock). account_currency: the account's currency (default USD): next budgets and bids
    are whole billable units of it, and the bid cap is scaled to it.
    cpc_index_rows: keyword rows (date, campaign_id, ad_group_id, entity_id, clicks,
    cost_micros) of past holiday windows (``cpc_index.keyword_ranges``); with the keyword rows
    of ``perf`` they make CPC anomalies judge prices at a fixed keyword mix.
    """
    cfg = config or AnalyticsConfig()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def timed(step: str, started: float) -> float:
        now = time.perf_counter()
        timings[step] = now - started
        return now

    ev = _evidence(
        perf, as_of=as_of, cfg=cfg, calendar=calendar, money=account_currency or currency("USD")
    )
    tenant_id = str(ev.rows["tenant_id"].iloc[0])
    customer_id = int(ev.rows["customer_id"].iloc[0])
    curve, nowcast_frame = _complete_lag(ev, snapshots, lag_buckets)
    assert ev.conversions_until is not None
    t = timed("lag", t0)
    ev.index_levels()
    account_daily = _daily(ev.rows[ev.masks[ev.present[0]]])
    seasonal_frame = _seasonality(ev, account_daily)
    t = timed("seasonality", t)
    anomalies = _anomalies(
        ev, account_daily, customer_id=customer_id, campaigns=campaign_anomalies,
        cpc_index_rows=cpc_index_rows, timings=timings,
    )  # fmt: skip
    t = timed("anomalies", t)  # cpc_index included, as before
    ev.cpc_shocks = cpc_shocks(anomalies, past_cpc_shocks)
    verdicts, win = _significance(ev)
    t = timed("significance", t)
    effects = _change_effects(ev, changes)
    t = timed("effects", t)
    allocation = _allocation(
        ev, budgets_micros=budgets_micros, total_budget_micros=total_budget_micros,
        bounds_micros=bounds_micros,
    )  # fmt: skip
    t = timed("allocation", t)
    bid_envelopes = _bid_envelopes(
        ev, keyword_bids_micros, smart_bidding_campaigns, bid_in_force_since, bid_history
    )
    t = timed("bids", t)
    target_frame = _target_envelopes(ev, bidding_targets, target_in_force_since)
    allocation = headroom_for_raises(
        allocation, ev.curves, _spend_growth(bid_envelopes, target_frame, ev.cfg),
        bounds_micros=bounds_micros, config=ev.cfg.allocation,
        billable_unit_micros=ev.money.billable_unit_micros,
    )  # fmt: skip
    timed("targets", t)
    timings["total"] = time.perf_counter() - t0

    return AnalysisResult(
        tenant_id=tenant_id,
        customer_id=customer_id,
        as_of=as_of,
        lag_curve=curve,
        nowcast=nowcast_frame,
        seasonality=seasonal_frame,
        anomalies=anomalies,
        verdicts=verdicts,
        effects=effects,
        allocation=allocation,
        bid_envelopes=bid_envelopes,
        target_envelopes=target_frame,
        test_window=win.get("traffic_test", (as_of, as_of)),
        baseline_window=win.get("traffic_baseline", (as_of, as_of)),
        conversion_test_window=win.get("conversions_test", (as_of, as_of)),
        conversion_baseline_window=win.get("conversions_baseline", (as_of, as_of)),
        conversions_until=ev.conversions_until,
        warnings=tuple(ev.warnings),
        timings=timings,
    )
