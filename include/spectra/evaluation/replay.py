"""What the warehouse holds after the daily pipeline ran over a simulated market.

The analytics engine is validated against the market simulator's truth. To make that
validation honest, the engine must see exactly what the pipeline would have stored — not
the simulator's internals — so this module replays the daily ingest through ``Market.rows``
(the very function the sandbox serves over gRPC):

* ``performance_daily``: every (level, entity, date) row as the *last* pull that covered it
  reported it. The run for logical day D pulls D-repull+1..D with the clock at D+1, so day d
  ends at ``reported_as_of = min(d + repull_days, last_day + 1)``;
* ``analytics_lag_snapshots``: what the analyze step stores from each run — campaign rows of
  the re-pull window with their ``reported_as_of`` (one diagonal of the click-day x
  report-day triangle per run).

Imports the sandbox lazily: nothing here runs in production code paths.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from spectra.ads.fields import (
    METRIC_COLUMNS,
    SHARE_FIELDS,
    TARGET_CPA_FIELDS,
    TARGET_ROAS_FIELDS,
    VALUE_FIELDS,
    bidding_target,
    share_column,
)
from spectra.domain.money import MICROS

if TYPE_CHECKING:
    from spectra.sandbox.market import Market

_METRICS = tuple(METRIC_COLUMNS)
_SHARES = SHARE_FIELDS
# level -> (GAQL resource, entity id field, carries ad_group.id, carries impression shares)
_LEVELS: dict[str, tuple[str, str, bool, bool]] = {
    "campaign": ("campaign", "campaign.id", False, True),
    "ad_group": ("ad_group", "ad_group.id", True, False),
    "keyword": ("keyword_view", "ad_group_criterion.criterion_id", True, False),
}
SNAPSHOT_COLUMNS = [
    "campaign_id",
    "click_date",
    "report_date",
    "clicks",
    "conversions",
    "conversions_value_micros",
]


@dataclass(frozen=True)
class ReplayedAccount:
    """One account's warehouse state after daily runs up to ``last_day``."""

    tenant_id: str
    customer_id: int
    last_day: dt.date
    perf: pd.DataFrame  # performance_daily rows (latest pull per day)
    snapshots: pd.DataFrame  # per-pull campaign rows: SNAPSHOT_COLUMNS


def _metric(values: pd.Series, field: str) -> pd.Series:
    """A metric column as ingest stores it: counts and micros as integers, conversions as
    floats, currency values as integer micros."""
    if field in VALUE_FIELDS:
        return pd.Series(
            np.rint(values.astype(float) * MICROS).astype(np.int64), index=values.index
        )
    return values.astype(float if field == "metrics.conversions" else np.int64)


def pull(
    market: Market,
    customer_id: int,
    *,
    level: str,
    date_from: dt.date,
    date_to: dt.date,
    as_of: dt.date,
    tenant_id: str = "t-replay",
) -> pd.DataFrame:
    """One GAQL-shaped pull, converted like ingest does (value to micros, reported_as_of)."""
    resource, id_field, with_group, with_shares = _LEVELS[level]
    fields = {"campaign.id", "segments.date", id_field, *_METRICS}
    if with_group:
        fields.add("ad_group.id")
    if with_shares:
        fields.update(_SHARES)
    rows = list(
        market.rows(
            resource,
            customer_id=customer_id,
            date_from=date_from,
            date_to=date_to,
            as_of=as_of,
            fields=frozenset(fields),
        )
    )
    cols = [
        "tenant_id", "customer_id", "level", "entity_id", "campaign_id", "ad_group_id", "date",
        "impressions", "clicks", "cost_micros", "conversions", "conversions_value_micros",
        "search_impression_share", "search_budget_lost_impression_share",
        "search_rank_lost_impression_share", "reported_as_of",
    ]  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=cols)
    raw = pd.DataFrame(rows)
    out = pd.DataFrame(
        {
            "tenant_id": tenant_id,
            "customer_id": int(customer_id),
            "level": level,
            "entity_id": raw[id_field].astype(np.int64),
            "campaign_id": raw["campaign.id"].astype(np.int64),
            # as ingest stores it: part of the key, 0 on campaign rows
            "ad_group_id": raw["ad_group.id"].astype(np.int64) if with_group else 0,
            "date": pd.to_datetime(raw["segments.date"]).dt.date,
            **{column: _metric(raw[f], f) for f, column in METRIC_COLUMNS.items()},
        }
    )
    for share in _SHARES:
        out[share_column(share)] = raw[share].astype(float) if with_shares else np.nan
    out["reported_as_of"] = as_of
    return out[cols]


def replay_account(
    market: Market,
    customer_id: int,
    *,
    last_day: dt.date,
    first_day: dt.date | None = None,
    repull_days: int = 30,
    levels: tuple[str, ...] = ("campaign", "ad_group", "keyword"),
    detail_days: int | None = None,
    snapshot_runs: int = 120,
    tenant_id: str = "t-replay",
) -> ReplayedAccount:
    """The warehouse after daily runs (ingest + analyze) for every day first_day..last_day.

    ``detail_days`` limits ad-group and keyword rows to the most recent days (analytics reads
    no older detail); campaign rows cover the whole history. ``snapshot_runs``: how many of the
    latest runs left their campaign snapshots (the lag fit weights older cohorts down anyway).
    """
    start = max(first_day or market.history_start, market.history_start)
    frames = []
    for level in levels:
        lo = start
        if level != "campaign" and detail_days is not None:
            lo = max(start, last_day - dt.timedelta(days=detail_days - 1))
        # Mature days: last pulled at age repull_days (one pull per day, as of d + repull).
        mature_to = min(last_day - dt.timedelta(days=repull_days), last_day)
        day = lo
        while day <= mature_to:
            frames.append(
                pull(
                    market, customer_id, level=level, date_from=day, date_to=day,
                    as_of=day + dt.timedelta(days=repull_days), tenant_id=tenant_id,
                )
            )  # fmt: skip
            day += dt.timedelta(days=1)
        recent_from = max(lo, mature_to + dt.timedelta(days=1))
        if recent_from <= last_day:
            frames.append(
                pull(
                    market, customer_id, level=level, date_from=recent_from, date_to=last_day,
                    as_of=last_day + dt.timedelta(days=1), tenant_id=tenant_id,
                )
            )  # fmt: skip
    perf = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    snaps = []
    first_run = max(start, last_day - dt.timedelta(days=snapshot_runs - 1))
    run = first_run
    while run <= last_day:
        rows = pull(
            market, customer_id, level="campaign",
            date_from=max(start, run - dt.timedelta(days=repull_days - 1)), date_to=run,
            as_of=run + dt.timedelta(days=1), tenant_id=tenant_id,
        )  # fmt: skip
        snaps.append(snapshots_from_rows(rows))
        run += dt.timedelta(days=1)
    snapshots = (
        pd.concat(snaps, ignore_index=True) if snaps else pd.DataFrame(columns=SNAPSHOT_COLUMNS)
    )
    return ReplayedAccount(tenant_id, int(customer_id), last_day, perf, snapshots)


def lag_buckets(market: Market, customer_id: int, *, last_day: dt.date) -> pd.DataFrame:
    """The conversion-lag histogram the run for ``last_day`` pulls (same click days as
    ``ingest.daily.lag_histogram_range``), as ``service.read_lag_buckets`` hands it on."""
    from spectra.ingest.daily import lag_histogram_range

    lo, hi = lag_histogram_range(last_day)
    report = last_day + dt.timedelta(days=1)
    rows = list(
        market.rows(
            "campaign",
            customer_id=customer_id,
            date_from=lo,
            date_to=hi,
            as_of=report,
            fields=frozenset(
                {
                    "campaign.id",
                    "segments.conversion_lag_bucket",
                    "metrics.conversions",
                    "metrics.conversions_value",
                }
            ),
        )
    )
    raw = pd.DataFrame(rows)
    if raw.empty:
        return pd.DataFrame(columns=["campaign_id", "conversion_lag_bucket", "conversions"])
    return pd.DataFrame(
        {
            "campaign_id": raw["campaign.id"].astype(np.int64),
            "conversion_lag_bucket": raw["segments.conversion_lag_bucket"].astype(str),
            "conversions": raw["metrics.conversions"].astype(float),
            "conversions_value_micros": np.rint(
                raw["metrics.conversions_value"].astype(float) * MICROS
            ).astype(np.int64),
            "min_age_days": (report - hi).days,
            "max_age_days": (report - lo).days,
        }
    )


def snapshots_from_rows(perf: pd.DataFrame) -> pd.DataFrame:
    """Campaign rows of performance_daily -> lag snapshots (click day x report day)."""
    camp = perf[perf["level"] == "campaign"]
    return pd.DataFrame(
        {
            "campaign_id": camp["entity_id"].astype(np.int64).to_numpy(),
            "click_date": pd.to_datetime(camp["date"]).dt.date.to_numpy(),
            "report_date": pd.to_datetime(camp["reported_as_of"]).dt.date.to_numpy(),
            "clicks": camp["clicks"].astype(np.int64).to_numpy(),
            "conversions": camp["conversions"].astype(float).to_numpy(),
            "conversions_value_micros": camp["conversions_value_micros"]
            .astype(np.int64)
            .to_numpy(),
        }
    )


def matured_by_campaign(
    market: Market, customer_id: int, date_from: dt.date, date_to: dt.date
) -> pd.DataFrame:
    """Truth: campaign-day conversions and value once every conversion has arrived."""
    from spectra.sandbox.market import Truth

    kw = Truth(market).matured(customer_id, date_from, date_to)
    kw["date"] = pd.to_datetime(kw["date"]).dt.date
    out = kw.groupby(["campaign_id", "date"], as_index=False)[
        ["clicks", "cost_micros", "conversions", "conversions_value"]
    ].sum()
    out["conversions_value_micros"] = np.rint(out.pop("conversions_value") * MICROS)
    return out


def current_budgets(market: Market, customer_id: int, day: dt.date) -> dict[int, int]:
    """Campaign daily budgets in force on ``day`` (what the campaigns table holds)."""
    st = market.struct
    state = market.state_at(day.toordinal())
    account = market.account_index(customer_id)
    idx = np.flatnonzero(st.campaign_account == account)
    return {int(st.campaign_id[i]): int(state.campaign_budget[i]) for i in idx}


def as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts with Python scalars (for warehouse inserts in tests)."""
    out = frame.astype(object).where(frame.notna(), None)
    return out.to_dict("records")


def structure_rows(
    market: Market, customer_id: int, *, as_of: dt.date, tenant_id: str = "t-replay"
) -> dict[str, list[dict[str, Any]]]:
    """Campaigns, ad groups and keywords as ingest stores them (``campaigns``, ``ad_groups``,
    ``keywords`` tables), from the same GAQL fields the ingest queries read."""
    fixed = {"tenant_id": tenant_id, "customer_id": int(customer_id)}

    def rows(resource: str, fields: set[str]) -> list[dict[str, Any]]:
        return list(
            market.rows(
                resource,
                customer_id=customer_id,
                date_from=None,
                date_to=None,
                as_of=as_of,
                fields=frozenset(fields),
            )
        )

    campaigns = [
        {
            **fixed,
            "campaign_id": int(r["campaign.id"]),
            "name": r["campaign.name"],
            "status": "ACTIVE",
            "serving_status": r["campaign.status"],
            "advertising_channel_type": r["campaign.advertising_channel_type"],
            "bidding_strategy_type": r["campaign.bidding_strategy_type"],
            "target_cpa_micros": bidding_target(r, TARGET_CPA_FIELDS),
            "target_roas": bidding_target(r, TARGET_ROAS_FIELDS),
            "budget_micros": int(r["campaign_budget.amount_micros"]),
        }
        for r in rows(
            "campaign",
            {
                "campaign.id",
                "campaign.name",
                "campaign.status",
                "campaign.advertising_channel_type",
                "campaign.bidding_strategy_type",
                "campaign_budget.amount_micros",
                *TARGET_CPA_FIELDS,
                *TARGET_ROAS_FIELDS,
            },
        )
    ]
    groups = [
        {
            **fixed,
            "campaign_id": int(r["campaign.id"]),
            "ad_group_id": int(r["ad_group.id"]),
            "name": r["ad_group.name"],
            "serving_status": r["ad_group.status"],
            "cpc_bid_micros": int(r["ad_group.cpc_bid_micros"]),
        }
        for r in rows(
            "ad_group",
            {
                "ad_group.id",
                "ad_group.name",
                "ad_group.status",
                "ad_group.cpc_bid_micros",
                "campaign.id",
            },
        )
    ]
    keywords = [
        {
            **fixed,
            "campaign_id": int(r["campaign.id"]),
            "ad_group_id": int(r["ad_group.id"]),
            "criterion_id": int(r["ad_group_criterion.criterion_id"]),
            "text": r["ad_group_criterion.keyword.text"],
            "match_type": r["ad_group_criterion.keyword.match_type"],
            "serving_status": r["ad_group_criterion.status"],
            "negative": bool(r["ad_group_criterion.negative"]),
            "cpc_bid_micros": int(r["ad_group_criterion.cpc_bid_micros"]),
            "quality_score": int(r["ad_group_criterion.quality_info.quality_score"]) or None,
        }
        for r in rows(
            "ad_group_criterion",
            {
                "ad_group_criterion.criterion_id",
                "ad_group_criterion.keyword.text",
                "ad_group_criterion.keyword.match_type",
                "ad_group_criterion.status",
                "ad_group_criterion.negative",
                "ad_group_criterion.cpc_bid_micros",
                "ad_group_criterion.quality_info.quality_score",
                "ad_group.id",
                "campaign.id",
            },
        )
    ]
    return {"campaigns": campaigns, "ad_groups": groups, "keywords": keywords}


def keyword_bids(market: Market, customer_id: int, day: dt.date) -> dict[tuple[int, int], int]:
    """Effective max CPC per (ad group id, criterion id) in force on ``day`` (keyword bid,
    else its ad group's)."""
    st = market.struct
    state = market.state_at(day.toordinal())
    account = market.account_index(customer_id)
    idx = np.flatnonzero(st.keyword_account == account)
    eff = np.where(
        state.keyword_bid > 0, state.keyword_bid, state.ad_group_bid[st.keyword_ad_group]
    )
    groups = st.ad_group_id[st.keyword_ad_group]
    return {(int(groups[i]), int(st.keyword_id[i])): int(eff[i]) for i in idx}


def smart_bidding_campaigns(market: Market, customer_id: int, day: dt.date) -> set[int]:
    """Campaigns whose bids Smart Bidding sets (target CPA or target ROAS) on ``day``."""
    from spectra.sandbox.market.structure import MANUAL_CPC

    st = market.struct
    state = market.state_at(day.toordinal())
    account = market.account_index(customer_id)
    idx = np.flatnonzero(st.campaign_account == account)
    return {int(st.campaign_id[i]) for i in idx if state.campaign_bidding[i] != MANUAL_CPC}
