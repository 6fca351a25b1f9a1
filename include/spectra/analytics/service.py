"""The analyze step: one account's day, from the warehouse's clean rows to stored results.

``analyze_and_store(engine, tenant_id=..., customer_id=..., logical_date=...)`` is what the DAG's
``analyze`` task calls. It

1. reads the account's rows from ``performance_daily_clean`` (quarantined rows and
   tracking-outage days are not evidence): campaign rows for ``campaign_history_days`` (a year
   back, so last year's holidays size this year's), ad-group and keyword rows only as far back
   as the tests reach;
2. stores this run's lag snapshots — every clean campaign row of the re-pull window with the
   ``reported_as_of`` it carries. ``performance_daily`` keeps only the latest pull of a day, so
   the click-day x report-day triangle the lag curve needs exists only if each run keeps its
   diagonal; one run adds ~30 cells per campaign, and two runs already give every age link;
3. reads the account's snapshots, its latest conversion-lag histogram (ingest pulls one a
   run; it completes recent days until a week of snapshots makes their curve usable), its
   campaigns (budgets, bidding strategy, spend limits), its keyword bids and the changes
   applied to it (campaign versions), and runs ``engine.analyze_account``;
4. replaces the day's results in one transaction: the rows of (tenant, account, logical day) in
   every per-day analytics table are deleted and written again, so a re-run or a backfill of
   the day leaves exactly one set of results.

Returns counts (ids and numbers only, for XCom).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Table

from spectra.analytics.bids import BREAK_EVEN_EVIDENCE, BidChange
from spectra.analytics.config import AnalyticsConfig
from spectra.analytics.cpc_index import keyword_ranges
from spectra.analytics.engine import (
    CPC_INDEX_COLUMNS,
    PERF_COLUMNS,
    SHARE_COLUMNS,
    AnalysisResult,
    analyze_account,
    sc_days,
)
from spectra.analytics.seasonality import HolidayCalendar
from spectra.analytics.significance import DECREASE, INCREASE
from spectra.analytics.targets import MANUAL_BIDDING, TARGET_CPA, TARGET_ROAS, CampaignTarget
from spectra.domain.money import Currency
from spectra.domain.money import currency as currency_of
from spectra.warehouse import analytics_store as store
from spectra.warehouse import models as m
from spectra.warehouse.db import reader
from spectra.warehouse.ingest_store import ingest_complete_through
from spectra.warehouse.repositories import account_currency

log = logging.getLogger(__name__)

# What analytics reads: the columns the engine requires, then the optional impression shares
# (campaign rows: budget curves; keyword rows: whether a raised bid can buy anything).
RANK_LOST = "search_rank_lost_impression_share"
PERF_READ_COLUMNS = (*PERF_COLUMNS, *SHARE_COLUMNS, RANK_LOST)


@dataclass(frozen=True)
class ServiceConfig:
    """How much history the step reads (the engine's thresholds live in AnalyticsConfig)."""

    campaign_history_days: int = 400  # a year back: holiday factors from last year's windows
    snapshot_days: int = 180  # lag cohorts older than this weigh < 1/4 (90-day half-life)


@dataclass
class AnalyzeOutcome:
    tenant_id: str
    customer_id: int
    logical_date: dt.date
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "customer_id": self.customer_id,
            "logical_date": self.logical_date.isoformat(),
            "counts": dict(self.counts),
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }


class SumOverflow(ValueError):
    """The clean rows' totals would not fit int64 (they cannot, below the screen's ceilings)."""


class NothingToAnalyze(LookupError):
    """The account has no clean performance rows on or before the day (nothing was ingested)."""


# --------------------------------------------------------------------------- reading
def _frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=list(columns))


def read_clean_performance(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    as_of: dt.date,
    campaign_from: dt.date,
    detail_from: dt.date,
) -> pd.DataFrame:
    """Campaign rows from ``campaign_from``, ad-group and keyword rows from ``detail_from``."""
    campaign_rows, detail_rows = store.clean_performance(
        conn, PERF_READ_COLUMNS, tenant_id=tenant_id, customer_id=customer_id, as_of=as_of,
        campaign_from=campaign_from, detail_from=detail_from,
    )  # fmt: skip
    campaign = _frame(campaign_rows, PERF_READ_COLUMNS)
    detail = _frame(detail_rows, PERF_READ_COLUMNS)
    frames = [f for f in (campaign, detail) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(PERF_READ_COLUMNS))
    perf = pd.concat(frames, ignore_index=True)
    for col in ("impressions", "clicks", "cost_micros", "conversions_value_micros"):
        perf[col] = perf[col].fillna(0).astype(np.int64)
        # Values are non-negative (ingest's screen), so when the whole column's total fits
        # int64 every sum over a part of it does too; numpy's int64 sums wrap silently.
        # spectra.quality.bounds keeps rows far below this: it is the proof, not a filter.
        total = float(perf[col].to_numpy(dtype=np.float64).sum())
        if total >= 2**63:
            raise SumOverflow(
                f"{tenant_id}/{customer_id}: {col} totals {total:.3g} over the rows read, "
                "beyond int64; a row above quality.bounds' ceilings reached the warehouse"
            )
    perf["conversions"] = perf["conversions"].astype(float)
    perf["ad_group_id"] = perf["ad_group_id"].astype("Int64")
    for col in (*SHARE_COLUMNS, RANK_LOST):
        perf[col] = pd.to_numeric(perf[col], errors="coerce")
    return perf


def store_snapshots(conn: Connection, perf: pd.DataFrame, *, since: dt.date, until: dt.date) -> int:
    """Upsert the campaign rows of [since, until] as lag snapshots (same values, same cell)."""
    camp = perf[(perf["level"] == "campaign") & (perf["date"] >= since) & (perf["date"] <= until)]
    rows = [
        {
            "tenant_id": r.tenant_id,
            "customer_id": int(r.customer_id),
            "campaign_id": int(r.entity_id),
            "click_date": r.date,
            "report_date": r.reported_as_of,
            "clicks": int(r.clicks),
            "conversions": float(r.conversions),
            "conversions_value_micros": int(r.conversions_value_micros),
        }
        for r in camp.itertuples(index=False)
    ]
    store.store_lag_snapshots(conn, rows)
    return len(rows)


def read_snapshots(
    conn: Connection, *, tenant_id: str, customer_id: int, since: dt.date, until: dt.date
) -> pd.DataFrame:
    cols = (
        "campaign_id", "click_date", "report_date", "clicks", "conversions",
        "conversions_value_micros",
    )  # fmt: skip
    rows = store.lag_snapshots(
        conn, tenant_id=tenant_id, customer_id=customer_id, since=since, until=until
    )
    return _frame(rows, cols)


def read_cpc_index_rows(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    ranges: Sequence[tuple[dt.date, dt.date]],
) -> pd.DataFrame | None:
    """Keyword clicks and cost over past holiday windows (``cpc_index.keyword_ranges``): the
    CPC anomalies' holiday factors are then measured at a fixed keyword mix as well."""
    if not ranges:
        return None
    frame = _frame(
        store.keyword_rows_in_ranges(
            conn, CPC_INDEX_COLUMNS, tenant_id=tenant_id, customer_id=customer_id, ranges=ranges
        ),
        CPC_INDEX_COLUMNS,
    )
    if frame.empty:
        return None
    frame["date"] = pd.to_datetime(frame["date"])
    for col in ("clicks", "cost_micros"):
        frame[col] = frame[col].fillna(0).astype(np.int64)
    return frame


def read_lag_buckets(
    conn: Connection, *, tenant_id: str, customer_id: int, until: dt.date
) -> pd.DataFrame:
    """The account's latest lag histogram pulled for a day up to ``until`` (a backfill never
    reads a later one), per campaign and bucket, with the ages its click days had on the pull:
    ``fit_lag_curve`` corrects the buckets the younger days cannot have filled and reads the
    tail from them. Empty when ingest has pulled none."""
    cols = (
        "campaign_id", "conversion_lag_bucket", "conversions", "conversions_value_micros",
        "date_from", "date_to", "reported_as_of", "pulled_for",
    )  # fmt: skip
    frame = _frame(
        store.latest_lag_buckets(
            conn, cols, tenant_id=tenant_id, customer_id=customer_id, until=until
        ),
        cols,
    )
    reported = pd.to_datetime(frame["reported_as_of"])
    frame["min_age_days"] = (reported - pd.to_datetime(frame["date_to"])).dt.days
    frame["max_age_days"] = (reported - pd.to_datetime(frame["date_from"])).dt.days
    return frame


def held_lag_cells(
    conn: Connection, *, tenant_id: str, customer_id: int, pulled_for: dt.date
) -> list[str]:
    """Why cells of the day's lag histogram were held back at ingest (active quarantine
    entries): the curve is then fitted without them, and the run says so."""
    rows = store.held_lag_cells(
        conn, tenant_id=tenant_id, customer_id=customer_id, pulled_for=pulled_for
    )
    return [f"campaign {entity_id}: {reason}" for entity_id, reason in rows]


@dataclass(frozen=True)
class AccountSettings:
    """What the account's entities are set to now (from the ingested structure tables)."""

    budgets_micros: dict[int, int]
    bounds_micros: dict[int, tuple[int, int]]
    smart_bidding_campaigns: frozenset[int]
    keyword_bids_micros: dict[tuple[int, int], int]  # (ad group id, criterion id) -> micros
    currency: Currency = field(default_factory=lambda: currency_of("USD"))
    # Smart Bidding campaigns with a target set (the target envelopes' current values)
    bidding_targets: dict[int, CampaignTarget] = field(default_factory=dict)


def read_settings(conn: Connection, *, tenant_id: str, customer_id: int) -> AccountSettings:
    """Budgets and bounds of enabled campaigns, bidding strategies and targets, effective
    keyword bids of enabled and paused keywords (per (ad group, criterion): one criterion id is
    shared by the ad groups that hold the same keyword), and the account's currency with its
    billable unit."""
    budgets: dict[int, int] = {}
    bounds: dict[int, tuple[int, int]] = {}
    smart: set[int] = set()
    targets: dict[int, CampaignTarget] = {}
    for cid, serving, bidding, budget, max_spend, tcpa, troas in store.campaign_settings(
        conn, tenant_id=tenant_id, customer_id=customer_id
    ):
        if (bidding or "MANUAL_CPC") not in MANUAL_BIDDING:
            smart.add(int(cid))
            # the strategy's own target (ingest stores only the set member's)
            if tcpa:
                targets[int(cid)] = CampaignTarget(TARGET_CPA, float(tcpa))
            elif troas:
                targets[int(cid)] = CampaignTarget(TARGET_ROAS, float(troas))
        if serving != "ENABLED" or not budget:
            continue
        budgets[int(cid)] = int(budget)
        if max_spend:
            bounds[int(cid)] = (0, int(max_spend))
    group_bid = store.ad_group_bids(conn, tenant_id=tenant_id, customer_id=customer_id)
    bids: dict[tuple[int, int], int] = {}
    for criterion_id, ad_group_id, bid, negative, serving in store.keyword_settings(
        conn, tenant_id=tenant_id, customer_id=customer_id
    ):
        # paused keywords keep an envelope from the days they ran (an enable option rests on it)
        if negative or serving not in ("ENABLED", "PAUSED"):
            continue
        effective = int(bid or 0) or int(group_bid.get(ad_group_id) or 0)
        if effective > 0:
            bids[(int(ad_group_id), int(criterion_id))] = effective
    stored = account_currency(conn, tenant_id=tenant_id, customer_id=customer_id)
    code, unit = stored or ("USD", None)
    return AccountSettings(
        budgets, bounds, frozenset(smart), bids, currency_of(code, unit), targets
    )


def read_changes(
    conn: Connection, *, tenant_id: str, customer_id: int, since: dt.date, until: dt.date
) -> pd.DataFrame:
    """Applied changes: every campaign version after a campaign's first marks a change on the
    day it was created (the apply step snapshots a version per applied change)."""
    rows = store.campaign_versions(conn, tenant_id=tenant_id, customer_id=customer_id)
    out = [
        {"entity_id": int(cid), "change_date": created.date()}
        for cid, _, created in rows
        if created is not None and since <= created.date() <= until
    ]
    frame = pd.DataFrame(out, columns=["entity_id", "change_date"])
    return frame.drop_duplicates().reset_index(drop=True)


def _ledger_first_days(
    conn: Connection, *, tenant_id: str, customer_id: int, until: dt.date, fields: Sequence[str]
) -> list[tuple[dict[str, Any], dt.date]]:
    """(entity, first whole day in force) of every applied change of ``fields`` that took
    effect on or before ``until``: the day after its effective day (the change lands during
    it, at the daily run's hour)."""
    rows = store.applied_changes(
        conn, tenant_id=tenant_id, customer_id=customer_id, until=until, fields=fields
    )
    return [
        ((payload or {}).get("entity") or {}, _day(effective) + dt.timedelta(days=1))
        for payload, effective in rows
    ]


def read_bid_changes(
    conn: Connection, *, tenant_id: str, customer_id: int, until: dt.date
) -> dict[tuple[int, int], dt.date]:
    """Per keyword (ad group id, criterion id), the first whole day of its current bid: the
    day after its newest bid change in the apply ledger took effect (on or before ``until``).
    Its evidence starts there."""
    out: dict[tuple[int, int], dt.date] = {}
    for entity, day in _ledger_first_days(
        conn, tenant_id=tenant_id, customer_id=customer_id, until=until,
        fields=("cpc_bid_micros",),
    ):  # fmt: skip
        if entity.get("kind") != "keyword" or not entity.get("criterion_id"):
            continue
        key = (int(entity["ad_group_id"]), int(entity["criterion_id"]))
        if key not in out or day > out[key]:
            out[key] = day
    return out


def read_bid_history(
    conn: Connection, *, tenant_id: str, customer_id: int, until: dt.date
) -> dict[tuple[int, int], list[BidChange]]:
    """Per keyword (ad group id, criterion id), its recorded bid changes (effective day, bid
    before, bid after) that took effect on or before ``until``: the bid envelope re-prices
    older days at the current bid (``bids.keyword_bid_envelopes``)."""
    rows = store.recorded_bid_changes(
        conn, tenant_id=tenant_id, customer_id=customer_id, until=until
    )
    out: dict[tuple[int, int], list[BidChange]] = {}
    for payload, effective, before, after in rows:
        entity = (payload or {}).get("entity") or {}
        if entity.get("kind") != "keyword" or not entity.get("criterion_id"):
            continue
        if not isinstance(before, int | float) or not isinstance(after, int | float):
            continue
        key = (int(entity["ad_group_id"]), int(entity["criterion_id"]))
        out.setdefault(key, []).append(BidChange(_day(effective), int(before), int(after)))
    return out


def read_target_changes(
    conn: Connection, *, tenant_id: str, customer_id: int, until: dt.date
) -> dict[int, dt.date]:
    """Per Smart Bidding campaign, the first whole day of its current target CPA / ROAS (the
    day after its newest target change took effect): its target evidence starts there, as a
    keyword's bid evidence starts at its current bid. Days under an older target say how
    that target did, not this one; judging them again after every loosening ratchets it."""
    out: dict[int, dt.date] = {}
    for entity, day in _ledger_first_days(
        conn, tenant_id=tenant_id, customer_id=customer_id, until=until,
        fields=("target_cpa_micros", "target_roas_micros"),
    ):  # fmt: skip
        if not entity.get("campaign_id"):
            continue
        key = int(entity["campaign_id"])
        if key not in out or day > out[key]:
            out[key] = day
    return out


def read_cpc_shocks(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    since: dt.date,
    until: dt.date,
    runs_before: dt.date,
) -> dict[int, list[dt.date]]:
    """Per campaign, the days in [since, until] that earlier runs (logical date before
    ``runs_before``: a re-run or backfill sees what it saw the first time) flagged as its CPC going up: with today's anomalies, the engine finds each
    campaign's latest CPC shock (``engine.cpc_shocks``)."""
    rows = store.flagged_cpc_rises(
        conn, tenant_id=tenant_id, customer_id=customer_id, since=since, until=until,
        runs_before=runs_before,
    )  # fmt: skip
    out: dict[int, list[dt.date]] = {}
    for entity_id, day in rows:
        out.setdefault(int(entity_id), []).append(_day(day))
    return out


# --------------------------------------------------------------------------- writing
def _py(value: Any) -> Any:
    """numpy / pandas scalars -> plain Python; NaN, NA and NaT -> None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def _json(mapping: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        v = _py(value)
        if isinstance(v, dt.date):
            v = v.isoformat()
        elif isinstance(v, tuple | list):
            v = [_py(x) for x in v]
        out[key] = v
    return out


def _day(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


def result_rows(res: AnalysisResult, *, logical_date: dt.date) -> dict[Table, list[dict[str, Any]]]:
    """The analysis as rows of the per-day tables (every row keyed to tenant, account, day)."""
    key = {"tenant_id": res.tenant_id, "customer_id": res.customer_id, "logical_date": logical_date}
    out: dict[Table, list[dict[str, Any]]] = {}

    curve = res.lag_curve.to_frame()
    out[m.LagCurveRow.__table__] = [
        {
            **key,
            "fit_date": res.lag_curve.fit_date,
            "source": res.lag_curve.source,
            "usable": bool(res.lag_curve.usable),
            "age_days": int(r.age_days),
            "cdf_conversions": float(r.cdf_conversions),
            "cdf_value": float(r.cdf_value),
            "se_cdf_conversions": float(r.se_cdf_conversions),
            "se_cdf_value": float(r.se_cdf_value),
            "tail_factor": float(res.lag_curve.tail_factor),
            "tail_factor_value": float(res.lag_curve.tail_factor_value),
        }
        for r in curve.itertuples(index=False)
    ]

    now = res.nowcast[res.nowcast["level"] == "campaign"]
    out[m.Nowcast.__table__] = [
        {
            **key,
            "campaign_id": int(r.entity_id),
            "date": _day(r.date),
            "age_days": int(r.age_days),
            "maturity": float(r.maturity),
            "lag_status": str(r.lag_status),
            "conversions_observed": float(r.conversions),
            "conversions_nowcast": float(r.conversions_nowcast),
            "conversions_nowcast_se": float(r.conversions_nowcast_se),
            "conversions_value_observed_micros": int(r.conversions_value_micros),
            "conversions_value_nowcast_micros": int(r.conversions_value_nowcast_micros),
            "conversions_value_nowcast_se_micros": int(r.conversions_value_nowcast_se_micros),
        }
        for r in now.itertuples(index=False)
    ]

    tests = res.verdicts[res.verdicts["p_value"].notna()]
    windows = {
        "traffic": (res.baseline_window, res.test_window),
        "conversions": (res.conversion_baseline_window, res.conversion_test_window),
    }
    verdict_rows = []
    for r in tests.itertuples(index=False):
        (b0, b1), (t0, t1) = windows["traffic" if r.metric in ("ctr", "cpc") else "conversions"]
        verdict_rows.append(
            {
                **key,
                "level": str(r.level),
                "entity_id": int(r.entity_id),
                "campaign_id": _py(r.campaign_id),
                # the keyword's or ad group's ad group; none for a campaign
                "ad_group_id": None if r.level == "campaign" else _py(r.ad_group_id),
                "metric": str(r.metric),
                "test": str(r.test),
                "baseline_start": b0,
                "baseline_end": b1,
                "test_start": t0,
                "test_end": t1,
                "estimate_baseline": _py(r.estimate_a),
                "estimate_test": _py(r.estimate_b),
                "effect": _py(r.effect),
                "effect_kind": str(r.effect_kind),
                "relative_effect": _py(r.relative_effect),
                "ci_low": _py(r.ci_low),
                "ci_high": _py(r.ci_high),
                "p_value": float(r.p_value),
                "p_adjusted": float(r.p_adjusted),
                "verdict": str(r.verdict),
            }
        )
    out[m.Verdict.__table__] = verdict_rows

    out[m.AnomalyRow.__table__] = [
        {
            **key,
            "entity_level": str(a.entity_level),
            "entity_id": int(a.entity_id),
            "metric": str(a.metric),
            "date": _day(a.date),
            "observed": float(a.observed),
            "expected": float(a.expected),
            "score": float(a.score),
            "severity": str(a.severity),
            "direction": str(a.direction),
            "adverse": bool(a.adverse),
            "flagged": bool(a.flagged),
            "method": str(a.method),
            "holiday_window": str(a.holiday_window),
            "reason": str(a.reason),
            "evidence": _json(
                {
                    "log_residual": a.log_residual,
                    "baseline_start": a.baseline_start,
                    "baseline_end": a.baseline_end,
                    "window_start": a.window_start,
                    "window_end": a.window_end,
                    "suppressed": a.suppressed,
                }
            ),
        }
        for a in res.anomalies.itertuples(index=False)
    ]

    out[m.ChangeEffectRow.__table__] = [
        {
            **key,
            "campaign_id": int(e.entity_id),
            "change_date": _day(e.change_date),
            "metric": str(e.metric),
            "look": str(e.look),
            "did_pct": _py(e.did_pct),
            "did_ci_low": _py(e.did_ci_low),
            "did_ci_high": _py(e.did_ci_high),
            "did_p": _py(e.did_p),
            "vs_expectation_pct": _py(e.vs_expectation_pct),
            "sequential_p": _py(e.sequential_p),
            "n_controls": int(e.n_controls),
            "verdict": str(e.verdict),
            "reason": str(e.reason),
            "evidence": _json(
                {
                    "pre_start": e.pre_start,
                    "pre_end": e.pre_end,
                    "post_start": e.post_start,
                    "post_end": e.post_end,
                    "vs_expectation_ci_low": e.vs_expectation_ci_low,
                    "vs_expectation_ci_high": e.vs_expectation_ci_high,
                    "vs_expectation_p": e.vs_expectation_p,
                    "placebo_p": e.placebo_p,
                    "pretrend_z": e.pretrend_z,
                    "sequential_ci_low": e.sequential_ci_low,
                    "sequential_ci_high": e.sequential_ci_high,
                }
            ),
        }
        for e in res.effects.itertuples(index=False)
    ]

    envelopes = []
    for r in res.allocation.itertuples(index=False):
        envelopes.append(
            {
                **key,
                "kind": "budget",
                "entity_id": int(r.campaign_id),
                "campaign_id": int(r.campaign_id),
                "ad_group_id": None,
                "current_micros": int(r.current_budget_micros),
                "target_micros": int(r.target_budget_micros),
                "next_micros": int(r.next_budget_micros),
                "direction": str(r.direction),
                "max_change_pct": float(r.max_change_pct),
                "expected_value_delta_micros": int(r.expected_value_delta_micros),
                "reason": str(r.reason),
                "evidence": _json(
                    {
                        "curve_kind": r.curve_kind,
                        "curve_params": list(r.curve_params) if r.curve_params else None,
                        "curve_r2": r.curve_r2,
                        "curve_rel_se": r.curve_rel_se,
                    }
                ),
            }
        )
    bids = res.bid_envelopes[res.bid_envelopes["direction"] != "hold"]
    for r in bids.itertuples(index=False):
        envelopes.append(
            {
                **key,
                "kind": "bid",
                "entity_id": int(r.keyword_id),
                "campaign_id": int(r.campaign_id),
                "ad_group_id": _py(r.ad_group_id),
                "current_micros": int(r.current_bid_micros),
                "target_micros": None,
                "next_micros": int(r.next_bid_micros),
                "direction": str(r.direction),
                "max_change_pct": float(r.max_change_pct),
                "expected_value_delta_micros": None,
                "reason": str(r.reason),
                "evidence": _json({name: getattr(r, name) for name in BREAK_EVEN_EVIDENCE}),
            }
        )
    for r in res.target_envelopes.itertuples(index=False):
        envelopes.append(
            {
                **key,
                "kind": "target",
                "entity_id": int(r.campaign_id),
                "campaign_id": int(r.campaign_id),
                "ad_group_id": None,
                "current_micros": int(r.current_micros),
                "target_micros": int(r.target_micros),
                "next_micros": int(r.next_micros),
                "direction": str(r.direction),
                "max_change_pct": float(r.max_change_pct),
                "expected_value_delta_micros": None,
                "reason": str(r.reason),
                "evidence": _json(
                    {
                        "strategy": r.strategy,
                        "break_even_target_micros": r.target_micros,
                        "conversions_value_micros": r.conversions_value_micros,
                        **{name: getattr(r, name) for name in BREAK_EVEN_EVIDENCE},
                    }
                ),
            }
        )
    out[m.Envelope.__table__] = envelopes
    return out


def result_counts(res: AnalysisResult, rows: Mapping[Table, Sequence[Any]]) -> dict[str, int]:
    v = res.verdicts
    a = res.anomalies
    alloc = res.allocation
    bids = res.bid_envelopes
    targets = res.target_envelopes
    return {
        "tests": int(v["p_value"].notna().sum()),
        "significant": int(v["verdict"].isin([INCREASE, DECREASE]).sum()),
        "insufficient": int((v["verdict"] == "insufficient_data").sum()),
        "anomalies_flagged": int(a["flagged"].sum()) if len(a) else 0,
        "anomalies_suppressed": int(a["suppressed"].sum()) if len(a) else 0,
        "change_effects": len(res.effects),
        "nowcast_days": len(rows.get(m.Nowcast.__table__, ())),
        "budget_moves": int((alloc["direction"] != "hold").sum()) if len(alloc) else 0,
        "bid_increases": int((bids["direction"] == "increase").sum()) if len(bids) else 0,
        "bid_decreases": int((bids["direction"] == "decrease").sum()) if len(bids) else 0,
        "target_moves": int((targets["direction"] != "hold").sum()) if len(targets) else 0,
    }


# --------------------------------------------------------------------------- the step
def analyze_and_store(
    engine: Engine,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    gate: str = "",
    dag_run_id: str | None = None,
    config: AnalyticsConfig | None = None,
    service: ServiceConfig | None = None,
) -> AnalyzeOutcome:
    """Analyze one account's day from the warehouse and replace its stored results.

    Raises NothingToAnalyze when the account has no clean rows up to the day.
    """
    cfg = config or AnalyticsConfig()
    svc = service or ServiceConfig()
    started = time.perf_counter()
    # Judge only complete days: the newest may have been partial when pulled (the account's
    # time zone had not finished it, plus Google's reporting delay; ingest_runs says).
    reads = reader(engine)  # no write lock on SQLite while the engine reads
    with reads.connect() as conn:
        complete = ingest_complete_through(
            conn, tenant_id=tenant_id, customer_id=customer_id, logical_date=logical_date
        )
    as_of = min(logical_date, complete) if complete is not None else logical_date
    window = cfg.lag.window_days
    detail_from = as_of - dt.timedelta(days=sc_days(cfg) + 1)
    campaign_from = as_of - dt.timedelta(days=svc.campaign_history_days)

    with reads.connect() as conn:
        perf = read_clean_performance(
            conn, tenant_id=tenant_id, customer_id=customer_id, as_of=as_of,
            campaign_from=campaign_from, detail_from=detail_from,
        )  # fmt: skip
    if perf.empty:
        raise NothingToAnalyze(
            f"no clean performance rows for {tenant_id}/{customer_id} <= {as_of}"
        )

    with engine.begin() as conn:
        stored = store_snapshots(
            conn, perf, since=as_of - dt.timedelta(days=window + 1), until=as_of
        )
    fit_date = max(as_of, max(perf["reported_as_of"]))
    with reads.connect() as conn:
        snapshots = read_snapshots(
            conn, tenant_id=tenant_id, customer_id=customer_id,
            since=fit_date - dt.timedelta(days=svc.snapshot_days), until=fit_date,
        )  # fmt: skip
        lag_buckets = read_lag_buckets(
            conn, tenant_id=tenant_id, customer_id=customer_id, until=logical_date
        )
        held = (
            held_lag_cells(
                conn, tenant_id=tenant_id, customer_id=customer_id,
                pulled_for=_day(lag_buckets["pulled_for"].iloc[0]),
            )
            if not lag_buckets.empty
            else []
        )  # fmt: skip
        settings = read_settings(conn, tenant_id=tenant_id, customer_id=customer_id)
        # The same past holiday windows the engine will index (the recent ones are in perf).
        past_ranges = keyword_ranges(
            as_of=as_of, first_day=_day(min(perf["date"])), recent_from=detail_from,
            calendar=HolidayCalendar.for_market(cfg.seasonality.market),
            level_window_days=cfg.seasonality.level_window_days,
        )[:-1]  # fmt: skip
        cpc_index_rows = read_cpc_index_rows(
            conn, tenant_id=tenant_id, customer_id=customer_id, ranges=past_ranges
        )
        bid_changes = read_bid_changes(
            conn, tenant_id=tenant_id, customer_id=customer_id, until=as_of
        )
        bid_history = read_bid_history(
            conn, tenant_id=tenant_id, customer_id=customer_id, until=as_of
        )
        target_changes = read_target_changes(
            conn, tenant_id=tenant_id, customer_id=customer_id, until=as_of
        )
        past_shocks = read_cpc_shocks(
            conn, tenant_id=tenant_id, customer_id=customer_id,
            since=as_of - dt.timedelta(days=max(cfg.bids.evidence_days, cfg.targets.evidence_days)),
            until=as_of, runs_before=logical_date,
        )  # fmt: skip
        changes = read_changes(
            conn, tenant_id=tenant_id, customer_id=customer_id,
            since=as_of - dt.timedelta(days=cfg.effects.post_days + window + 7), until=as_of,
        )  # fmt: skip

    res = analyze_account(
        perf,
        snapshots if not snapshots.empty else None,
        as_of=as_of,
        config=cfg,
        lag_buckets=lag_buckets if not lag_buckets.empty else None,
        changes=changes if not changes.empty else None,
        budgets_micros=settings.budgets_micros or None,
        bounds_micros=settings.bounds_micros or None,
        keyword_bids_micros=settings.keyword_bids_micros or None,
        smart_bidding_campaigns=settings.smart_bidding_campaigns,
        bidding_targets=settings.bidding_targets or None,
        bid_in_force_since=bid_changes or None,
        bid_history=bid_history or None,
        target_in_force_since=target_changes or None,
        past_cpc_shocks=past_shocks or None,
        cpc_index_rows=cpc_index_rows,
        account_currency=settings.currency,
    )
    rows = result_rows(res, logical_date=logical_date)
    warnings = list(res.warnings)
    if held:
        warnings.append(
            f"lag histogram fitted without {len(held)} cell(s) held at ingest: " + "; ".join(held)
        )
    index_rows = 0 if cpc_index_rows is None else len(cpc_index_rows)
    counts = {
        "rows_read": len(perf) + index_rows,
        "cpc_index_rows_read": index_rows,
        "snapshots_stored": stored,
        **result_counts(res, rows),
    }
    run = {
        "tenant_id": tenant_id,
        "customer_id": customer_id,
        "logical_date": logical_date,
        "gate": gate,
        "rows_read": len(perf),
        "lag_source": res.lag_curve.source,
        "lag_usable": bool(res.lag_curve.usable),
        "tail_factor": float(res.lag_curve.tail_factor),
        "conversions_until": res.conversions_until,
        "windows": {
            name: [d.isoformat() for d in window_days]
            for name, window_days in {
                "traffic_baseline": res.baseline_window,
                "traffic_test": res.test_window,
                "conversions_baseline": res.conversion_baseline_window,
                "conversions_test": res.conversion_test_window,
            }.items()
        },
        "seasonality": [_json(r) for r in res.seasonality.to_dict("records")],
        "counts": counts,
        "warnings": warnings,
        "timings": {k: round(float(v), 3) for k, v in res.timings.items()},
        "dag_run_id": dag_run_id,
        "analyzed_at": m.utcnow(),
    }
    with engine.begin() as conn:
        store.replace_day(
            conn, rows, tenant_id=tenant_id, customer_id=customer_id, logical_date=logical_date
        )
        store.record_analytics_run(conn, run)
    outcome = AnalyzeOutcome(
        tenant_id, customer_id, logical_date, counts, warnings,
        time.perf_counter() - started,
    )  # fmt: skip
    log.info(
        "analyzed %s/%s for %s in %.1f s (%s)",
        tenant_id, customer_id, logical_date, outcome.seconds,
        ", ".join(f"{name} {n}" for name, n in counts.items()),
    )  # fmt: skip
    return outcome
