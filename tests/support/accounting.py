"""Row accounting for ingest tests: every row the server sent is written or held, none lost.

``served_rows`` pulls what the sandbox serves for one ingest through the real client (the same
queries and slices ingest runs). ``account_for`` then places each served fact or keyword row:
written (the warehouse holds that key with the same values, as of this pull), held (an active
ingest quarantine entry of this day carries it, with a reason), or unaccounted. A row may not
be both. ``clean_snapshot`` reads what analytics sees, so a test can check that earlier good
values survive a hostile pull.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select

from spectra.ads.client import AdsCredentials
from spectra.ads.stream import load_query, stream_columns
from spectra.domain.windows import ingest_window
from spectra.ingest.daily import planned_pulls
from spectra.quality.checks import RECORD_ONLY
from spectra.warehouse import models as m
from spectra.warehouse.clean_views import clean_performance_query, clean_search_terms_query

# query → (level, GAQL field of the entity id) for the performance table
PERF_QUERIES = {
    "campaign_performance": ("campaign", "campaign.id"),
    "ad_group_performance": ("ad_group", "ad_group.id"),
    "keyword_performance": ("keyword", "ad_group_criterion.criterion_id"),
}
ACCOUNTED = (*PERF_QUERIES, "search_terms", "keywords")
Row = dict[str, Any]


def served_rows(
    client: Any, creds: AdsCredentials, customer_id: int, logical_date: dt.date, repull_days: int
) -> dict[str, list[Row]]:
    """The rows the server sends for one ingest of ``logical_date``, by query."""
    start, end, as_of = ingest_window(logical_date, repull_days)
    out: dict[str, list[Row]] = {}
    for name, params in planned_pulls(start, end):
        if name not in ACCOUNTED:
            continue
        cols = stream_columns(
            client, creds, customer_id=customer_id, query=load_query(name), as_of=as_of, **params
        )
        n = len(next(iter(cols.values()), []))
        out.setdefault(name, []).extend({f: cols[f][i] for f in cols} for i in range(n))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _canonical(row: Mapping[str, Any]) -> str:
    """A row as the quarantine payload spells it (NaN/inf as strings), for comparison."""
    from spectra.quality.screen import payload_of

    return json.loads(payload_of("", row))["row"].__repr__()


@dataclass
class Accounting:
    written: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    unaccounted: list[tuple[str, Row]] = field(default_factory=list)
    both: list[tuple[str, Row]] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)  # query -> held rows' reasons

    @property
    def total(self) -> int:
        return sum(self.written.values()) + sum(self.held.values())


def _held(conn: Connection, tenant_id: str, customer_id: int, day: dt.date) -> dict[str, Any]:
    q = m.QualityQuarantine
    out: dict[str, dict[str, list[str]]] = {}
    for query, payload, reason in conn.execute(
        select(q.source_query, q.payload, q.reason).where(
            q.tenant_id == tenant_id,
            q.customer_id == customer_id,
            q.stage == "ingest",
            q.logical_date == day,
            q.active.is_(True),
            q.check_name.not_in(sorted(RECORD_ONLY)),
        )
    ):
        row = json.loads(payload)["row"]
        out.setdefault(query, {}).setdefault(repr(row), []).append(reason)
    return out


def account_for(
    engine: Engine,
    served: Mapping[str, list[Row]],
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    repull_days: int,
) -> Accounting:
    """Place every served row: written as of this pull, held with a reason, or neither."""
    _, _, as_of = ingest_window(logical_date, repull_days)
    acc = Accounting()
    p, s, k = m.PerformanceDaily, m.SearchTermDaily, m.Keyword
    with engine.connect() as conn:
        held = _held(conn, tenant_id, customer_id, logical_date)
        mine = (p.tenant_id == tenant_id, p.customer_id == customer_id)
        perf = {
            (r.level, r.entity_id, r.ad_group_id, r.date.isoformat()): r
            for r in conn.execute(select(p).where(*mine))
        }
        terms = {
            (r.ad_group_id, r.search_term, r.date.isoformat()): r
            for r in conn.execute(
                select(s).where(s.tenant_id == tenant_id, s.customer_id == customer_id)
            )
        }
        keywords = {
            (r.ad_group_id, r.criterion_id): r
            for r in conn.execute(
                select(k).where(k.tenant_id == tenant_id, k.customer_id == customer_id)
            )
        }
    for name, rows in served.items():
        held_rows = held.get(name, {})
        for row in rows:
            is_held = _canonical(row) in held_rows
            if is_held:
                acc.reasons.setdefault(name, []).extend(held_rows[_canonical(row)])
            stored = _stored(name, row, perf, terms, keywords, as_of)
            if is_held and stored:
                acc.both.append((name, row))
            elif is_held:
                acc.held[name] = acc.held.get(name, 0) + 1
            elif stored:
                acc.written[name] = acc.written.get(name, 0) + 1
            else:
                acc.unaccounted.append((name, row))
    return acc


def _stored(
    name: str,
    row: Row,
    perf: Mapping[Any, Any],
    terms: Mapping[Any, Any],
    keywords: Mapping[Any, Any],
    as_of: dt.date,
) -> bool:
    """The warehouse holds this row's key with the row's own values, as of this pull."""
    if name == "keywords":
        kw = keywords.get((row["ad_group.id"], row["ad_group_criterion.criterion_id"]))
        return kw is not None and kw.text == row["ad_group_criterion.keyword.text"]
    if name in PERF_QUERIES:
        level, entity = PERF_QUERIES[name]
        ad_group = 0 if level == "campaign" else row["ad_group.id"]
        stored = perf.get((level, row[entity], ad_group, row["segments.date"]))
    else:
        stored = terms.get(
            (row["ad_group.id"], row["search_term_view.search_term"], row["segments.date"])
        )
    if stored is None or stored.reported_as_of != as_of:
        return False
    value = row["metrics.conversions_value"]
    return (
        stored.impressions == row["metrics.impressions"]
        and stored.clicks == row["metrics.clicks"]
        and stored.cost_micros == row["metrics.cost_micros"]
        and _same(float(stored.conversions), row["metrics.conversions"])
        and stored.conversions_value_micros == round(value * 1_000_000)
    )


def clean_snapshot(engine: Engine, tenant_id: str, customer_id: int) -> dict[tuple[Any, ...], Any]:
    """What analytics reads: performance and search-term rows by key, with their metrics."""
    out: dict[tuple[Any, ...], Any] = {}
    with engine.connect() as conn:
        for r in conn.execute(clean_performance_query(tenant_id, customer_id=customer_id)):
            out[("perf", r.level, r.entity_id, r.ad_group_id, r.date)] = _metrics(r)
        for r in conn.execute(clean_search_terms_query(tenant_id, customer_id=customer_id)):
            out[("st", r.ad_group_id, r.search_term, r.date)] = _metrics(r)
    return out


def _metrics(r: Any) -> tuple[Any, ...]:
    return (r.impressions, r.clicks, r.cost_micros, r.conversions, r.conversions_value_micros)
