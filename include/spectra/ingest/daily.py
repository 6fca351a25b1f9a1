"""Daily ingest of one Google Ads account into the warehouse.

The logical date is the clock: the run for day D pulls D and the trailing re-pull window
(conversions are restated for weeks) exactly as Google reported them on D+1, and upserts them
by natural keys. Re-running D, or backfilling any range, converges to the same warehouse state;
re-running an old day never overwrites fresher numbers (``reported_as_of`` guard).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select

from spectra.ads.client import AdsCredentials
from spectra.ads.stream import load_query, stream_columns
from spectra.apply.retry import DEFAULT_RETRY, RetryPolicy, call_with_retry
from spectra.domain.campaign_state import CampaignState
from spectra.warehouse import models as m
from spectra.warehouse.upsert import bulk_upsert

log = logging.getLogger(__name__)

DEFAULT_REPULL_DAYS = 30
MICROS = 1_000_000

# Google's serving status → Spectra's lifecycle state, for campaigns first seen by ingest.
_LIFECYCLE_FOR_NEW = {
    "ENABLED": CampaignState.ACTIVE,
    "PAUSED": CampaignState.PAUSED,
    "REMOVED": CampaignState.ARCHIVED,
}


class IngestError(RuntimeError):
    """The account cannot be ingested (unknown to the warehouse, or misconfigured)."""


@dataclass
class IngestResult:
    tenant_id: str
    customer_id: int
    logical_date: dt.date
    window_start: dt.date
    window_end: dt.date
    as_of: dt.date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "customer_id": self.customer_id,
            "logical_date": self.logical_date.isoformat(),
            "window": [self.window_start.isoformat(), self.window_end.isoformat()],
            "as_of": self.as_of.isoformat(),
            "rows": dict(self.rows),
            "seconds": round(self.seconds, 3),
        }


def ingest_window(logical_date: dt.date, repull_days: int) -> tuple[dt.date, dt.date, dt.date]:
    """(window_start, window_end, as_of) for the run of ``logical_date``."""
    if repull_days < 1:
        raise ValueError(f"repull_days must be at least 1, got {repull_days}")
    start = logical_date - dt.timedelta(days=repull_days - 1)
    return start, logical_date, logical_date + dt.timedelta(days=1)


def _rows(
    columns: Mapping[str, list[Any]], mapping: Mapping[str, str | Callable[[int], Any]]
) -> list[dict[str, Any]]:
    """Columnar query result → row dicts for the warehouse (``mapping``: column → field/fn)."""
    n = len(next(iter(columns.values()))) if columns else 0
    out_cols: dict[str, Any] = {}
    for target, source in mapping.items():
        if callable(source):
            out_cols[target] = [source(i) for i in range(n)]
        else:
            out_cols[target] = columns[source]
    names = list(out_cols)
    return [
        dict(zip(names, values, strict=True)) for values in zip(*out_cols.values(), strict=True)
    ]


def _value_micros(values: Sequence[float]) -> list[int]:
    return [int(round((v or 0.0) * MICROS)) for v in values]


class _Puller:
    """Runs the named GAQL files for one account with retries on transient errors."""

    def __init__(
        self,
        client: Any,
        creds: AdsCredentials,
        customer_id: int,
        as_of: dt.date,
        retry: RetryPolicy,
    ) -> None:
        self.client, self.creds, self.customer_id, self.as_of, self.retry = (
            client,
            creds,
            customer_id,
            as_of,
            retry,
        )

    def __call__(self, name: str, **params: Any) -> dict[str, list[Any]]:
        query = load_query(name)
        return call_with_retry(
            lambda: stream_columns(
                self.client,
                self.creds,
                customer_id=self.customer_id,
                query=query,
                as_of=self.as_of,
                **params,
            ),
            policy=self.retry,
        )


def account_tenant(conn: Connection, customer_id: int) -> str:
    tenant = conn.execute(
        select(m.AdAccount.tenant_id).where(m.AdAccount.customer_id == customer_id)
    ).scalar_one_or_none()
    if tenant is None:
        raise IngestError(f"Google Ads account {customer_id} is not registered to any tenant")
    return tenant


def ingest_account(
    engine: Engine,
    client: Any,
    creds: AdsCredentials,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    repull_days: int = DEFAULT_REPULL_DAYS,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> IngestResult:
    """Pull one account's structure and daily metrics for the window, and upsert them."""
    started = time.perf_counter()
    window_start, window_end, as_of = ingest_window(logical_date, repull_days)
    with engine.connect() as conn:
        owner = account_tenant(conn, customer_id)
    if owner != tenant_id:
        raise IngestError(f"account {customer_id} belongs to tenant {owner!r}, not {tenant_id!r}")

    pull = _Puller(client, creds, customer_id, as_of, retry)
    dates = {"date_from": window_start.isoformat(), "date_to": window_end.isoformat()}
    pulled = {
        "accounts": pull("accounts"),
        "campaigns": pull("campaigns"),
        "ad_groups": pull("ad_groups"),
        "keywords": pull("keywords"),
        "ads": pull("ads"),
        "campaign_performance": pull("campaign_performance", **dates),
        "ad_group_performance": pull("ad_group_performance", **dates),
        "keyword_performance": pull("keyword_performance", **dates),
        "search_terms": pull("search_terms", **dates),
    }
    result = IngestResult(tenant_id, customer_id, logical_date, window_start, window_end, as_of)
    with engine.begin() as conn:
        result.rows = write_pulled(
            conn, pulled, tenant_id=tenant_id, customer_id=customer_id, as_of=as_of
        )
        bulk_upsert(
            conn,
            m.IngestRun.__table__,
            [
                {
                    "tenant_id": tenant_id,
                    "customer_id": customer_id,
                    "logical_date": logical_date,
                    "window_start": window_start,
                    "window_end": window_end,
                    "rows_by_table": result.rows,
                    "status": "success",
                    "finished_at": m.utcnow(),
                }
            ],
            keys=["tenant_id", "customer_id", "logical_date"],
        )
    result.seconds = time.perf_counter() - started
    log.info("ingested %s", result.as_dict())
    return result


def write_pulled(
    conn: Connection,
    pulled: Mapping[str, Mapping[str, list[Any]]],
    *,
    tenant_id: str,
    customer_id: int,
    as_of: dt.date,
) -> dict[str, int]:
    """Upsert every pulled query result; returns rows written per warehouse table."""
    t, c = tenant_id, customer_id
    counts: dict[str, int] = {}

    acct = pulled["accounts"]
    if acct.get("customer.id"):
        conn.execute(
            m.AdAccount.__table__.update()
            .where(m.AdAccount.tenant_id == t, m.AdAccount.customer_id == c)
            .values(
                descriptive_name=acct["customer.descriptive_name"][0],
                currency_code=acct["customer.currency_code"][0],
                time_zone=acct["customer.time_zone"][0],
            )
        )

    camp = pulled["campaigns"]
    existing = dict(
        conn.execute(
            select(m.Campaign.campaign_id, m.Campaign.status).where(
                m.Campaign.tenant_id == t, m.Campaign.customer_id == c
            )
        ).all()
    )
    ids, serving = camp["campaign.id"], camp["campaign.status"]
    campaign_rows = _rows(
        camp,
        {
            "tenant_id": lambda i: t,
            "customer_id": lambda i: c,
            "campaign_id": "campaign.id",
            "name": "campaign.name",
            "serving_status": "campaign.status",
            "advertising_channel_type": "campaign.advertising_channel_type",
            "bidding_strategy_type": "campaign.bidding_strategy_type",
            "budget_micros": "campaign_budget.amount_micros",
            # The lifecycle state is Spectra's own: set once when first seen, never by ingest after.
            "status": lambda i: (
                existing.get(ids[i])
                or _LIFECYCLE_FOR_NEW.get(serving[i], CampaignState.ACTIVE).value
            ),
        },
    )
    counts["campaigns"] = bulk_upsert(
        conn, m.Campaign.__table__, campaign_rows, keys=["tenant_id", "customer_id", "campaign_id"]
    )

    counts["ad_groups"] = bulk_upsert(
        conn,
        m.AdGroup.__table__,
        _rows(
            pulled["ad_groups"],
            {
                "tenant_id": lambda i: t,
                "customer_id": lambda i: c,
                "campaign_id": "campaign.id",
                "ad_group_id": "ad_group.id",
                "name": "ad_group.name",
                "serving_status": "ad_group.status",
                "cpc_bid_micros": "ad_group.cpc_bid_micros",
            },
        ),
        keys=["tenant_id", "customer_id", "ad_group_id"],
    )

    kw = pulled["keywords"]
    qs = kw["ad_group_criterion.quality_info.quality_score"]
    counts["keywords"] = bulk_upsert(
        conn,
        m.Keyword.__table__,
        _rows(
            kw,
            {
                "tenant_id": lambda i: t,
                "customer_id": lambda i: c,
                "campaign_id": "campaign.id",
                "ad_group_id": "ad_group.id",
                "criterion_id": "ad_group_criterion.criterion_id",
                "text": "ad_group_criterion.keyword.text",
                "match_type": "ad_group_criterion.keyword.match_type",
                "serving_status": "ad_group_criterion.status",
                "negative": "ad_group_criterion.negative",
                "cpc_bid_micros": "ad_group_criterion.cpc_bid_micros",
                # 0 means "no score yet" on the wire; store it as unknown, not as a score of 0.
                "quality_score": lambda i: qs[i] or None,
            },
        ),
        keys=["tenant_id", "customer_id", "ad_group_id", "criterion_id"],
    )

    ads = pulled["ads"]
    heads = ads["ad_group_ad.ad.responsive_search_ad.headlines"]
    descs = ads["ad_group_ad.ad.responsive_search_ad.descriptions"]
    counts["ads"] = bulk_upsert(
        conn,
        m.Ad.__table__,
        _rows(
            ads,
            {
                "tenant_id": lambda i: t,
                "customer_id": lambda i: c,
                "campaign_id": "campaign.id",
                "ad_group_id": "ad_group.id",
                "ad_id": "ad_group_ad.ad.id",
                "ad_type": "ad_group_ad.ad.type",
                "serving_status": "ad_group_ad.status",
                "approval_status": "ad_group_ad.policy_summary.approval_status",
                "headlines": lambda i: [h.get("text", "") for h in heads[i]],
                "descriptions": lambda i: [d.get("text", "") for d in descs[i]],
            },
        ),
        keys=["tenant_id", "customer_id", "ad_group_id", "ad_id"],
    )

    perf_rows: list[dict[str, Any]] = []
    for level, name, entity, ad_group in (
        ("campaign", "campaign_performance", "campaign.id", None),
        ("ad_group", "ad_group_performance", "ad_group.id", "ad_group.id"),
        ("keyword", "keyword_performance", "ad_group_criterion.criterion_id", "ad_group.id"),
    ):
        cols = pulled[name]
        value = _value_micros(cols["metrics.conversions_value"])
        mapping: dict[str, str | Callable[[int], Any]] = {
            "tenant_id": lambda i: t,
            "customer_id": lambda i: c,
            "level": lambda i, lv=level: lv,
            "entity_id": entity,
            "campaign_id": "campaign.id",
            "ad_group_id": ad_group if ad_group else (lambda i: None),
            "date": lambda i, d=cols["segments.date"]: dt.date.fromisoformat(d[i]),
            "impressions": "metrics.impressions",
            "clicks": "metrics.clicks",
            "cost_micros": "metrics.cost_micros",
            "conversions": "metrics.conversions",
            "conversions_value_micros": lambda i, v=value: v[i],
            "reported_as_of": lambda i: as_of,
        }
        for share in (
            "search_impression_share",
            "search_budget_lost_impression_share",
            "search_rank_lost_impression_share",
        ):
            if f"metrics.{share}" in cols:
                mapping[share] = f"metrics.{share}"
        rows = _rows(cols, mapping)
        counts[f"performance_daily.{level}"] = len(rows)
        perf_rows.extend(rows)
    bulk_upsert(
        conn,
        m.PerformanceDaily.__table__,
        perf_rows,
        keys=["tenant_id", "customer_id", "level", "entity_id", "date"],
        freshness_column="reported_as_of",
    )

    st = pulled["search_terms"]
    st_value = _value_micros(st["metrics.conversions_value"])
    counts["search_terms_daily"] = bulk_upsert(
        conn,
        m.SearchTermDaily.__table__,
        _rows(
            st,
            {
                "tenant_id": lambda i: t,
                "customer_id": lambda i: c,
                "campaign_id": "campaign.id",
                "ad_group_id": "ad_group.id",
                "search_term": "search_term_view.search_term",
                "term_status": "search_term_view.status",
                "date": lambda i, d=st["segments.date"]: dt.date.fromisoformat(d[i]),
                "impressions": "metrics.impressions",
                "clicks": "metrics.clicks",
                "cost_micros": "metrics.cost_micros",
                "conversions": "metrics.conversions",
                "conversions_value_micros": lambda i: st_value[i],
                "reported_as_of": lambda i: as_of,
            },
        ),
        keys=["tenant_id", "customer_id", "ad_group_id", "search_term", "date"],
        freshness_column="reported_as_of",
    )
    return counts
