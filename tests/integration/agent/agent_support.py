"""Test support for the proposal agent: a warehouse as the daily pipeline leaves it after
``analyze`` (facts and structure replayed from the tiny market through ``Market.rows``, the
function the sandbox serves, then the real analytics step), and search-term rows.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from spectra.analytics.service import analyze_and_store
from spectra.evaluation.replay import as_records, replay_account, structure_rows
from spectra.warehouse import agent_store as store
from spectra.warehouse import models as m
from spectra.warehouse.db import make_engine, migrate, sqlite_checkpoint
from spectra.warehouse.repositories import register_account, register_tenant
from spectra.warehouse.upsert import bulk_upsert

TENANT = "acme"
OTHER = "globex"
DAY = dt.date(2026, 11, 20)  # tiny market: history from 2025-10-07, reference 2026-12-01
PERF_KEYS = list(m.PERFORMANCE_DAILY_KEY)
SNAP_KEYS = ["tenant_id", "customer_id", "campaign_id", "click_date", "report_date"]
TERM_KEYS = ["tenant_id", "customer_id", "ad_group_id", "search_term", "date"]


def analysed_account(
    engine: Engine, market: Any, customer_id: int, *, tenant_id: str, day: dt.date = DAY
) -> None:
    """Register, load 400 days of history and run the real analyze step for ``day``."""
    with engine.begin() as conn:
        if (
            conn.execute(select(m.Tenant.tenant_id).where(m.Tenant.tenant_id == tenant_id)).first()
            is None
        ):
            register_tenant(conn, tenant_id=tenant_id, name=tenant_id.title())
        register_account(conn, tenant_id=tenant_id, customer_id=customer_id)
    acc = replay_account(
        market, customer_id, last_day=day, first_day=day - dt.timedelta(days=400),
        detail_days=90, snapshot_runs=40, tenant_id=tenant_id,
    )  # fmt: skip
    structure = structure_rows(
        market, customer_id, as_of=day + dt.timedelta(days=1), tenant_id=tenant_id
    )
    with engine.begin() as conn:
        bulk_upsert(conn, m.Campaign.__table__, structure["campaigns"], keys=m.natural_key(m.Campaign))  # fmt: skip
        bulk_upsert(conn, m.AdGroup.__table__, structure["ad_groups"], keys=m.natural_key(m.AdGroup))  # fmt: skip
        bulk_upsert(
            conn, m.Keyword.__table__, structure["keywords"],
            keys=m.natural_key(m.Keyword),
        )  # fmt: skip
        bulk_upsert(
            conn, m.PerformanceDaily.__table__, as_records(acc.perf), keys=PERF_KEYS,
            freshness_column="reported_as_of",
        )  # fmt: skip
        snaps = acc.snapshots.assign(tenant_id=tenant_id, customer_id=customer_id)
        if not snaps.empty:
            bulk_upsert(conn, m.LagSnapshot.__table__, as_records(snaps), keys=SNAP_KEYS)
    analyze_and_store(engine, tenant_id=tenant_id, customer_id=customer_id, logical_date=day)


def analysed_template(path: Path, market: Any, tenants: Mapping[int, str]) -> Path:
    """A migrated SQLite warehouse at ``path`` with each account (id -> tenant) analysed for
    DAY: built once per session or module, copied per test by :func:`warehouse_copy`."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    for customer_id, tenant_id in tenants.items():
        analysed_account(engine, market, int(customer_id), tenant_id=tenant_id)
    with engine.connect() as conn:
        sqlite_checkpoint(conn)
    engine.dispose()
    return path


@contextmanager
def warehouse_copy(template: Path, directory: Path) -> Iterator[Engine]:
    """A fresh copy of an analysed template warehouse."""
    path = directory / "spectra.db"
    shutil.copyfile(template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def add_search_terms(
    engine: Engine,
    *,
    tenant_id: str,
    customer_id: int,
    terms: Iterable[Mapping[str, Any]],
    day: dt.date = DAY,
) -> None:
    """Search-term rows as ingest stores them (one day each)."""
    rows = [
        {
            "tenant_id": tenant_id, "customer_id": customer_id, "date": day,
            "reported_as_of": day + dt.timedelta(days=1), "term_status": "NONE",
            "impressions": 100, "conversions": 0.0, "conversions_value_micros": 0, **t,
        }
        for t in terms
    ]  # fmt: skip
    with engine.begin() as conn:
        bulk_upsert(conn, m.SearchTermDaily.__table__, rows, keys=TERM_KEYS)


def first_ad_group(engine: Engine, *, tenant_id: str, customer_id: int, campaign_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.min(m.AdGroup.ad_group_id)).where(
                    m.AdGroup.tenant_id == tenant_id,
                    m.AdGroup.customer_id == customer_id,
                    m.AdGroup.campaign_id == campaign_id,
                )
            ).scalar_one()
        )


def campaign_ids(engine: Engine, tenant_id: str) -> list[int]:
    with engine.connect() as conn:
        return [
            int(c)
            for c in conn.execute(
                select(m.Campaign.campaign_id).where(m.Campaign.tenant_id == tenant_id)
            ).scalars()
        ]


def proposals(engine: Engine, tenant: str = TENANT) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return store.day_proposals(conn, tenant_id=tenant, logical_date=DAY)


def calls(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(select(*m.AiCall.__table__.columns).order_by(m.AiCall.id))
        ]


def envelopes(engine: Engine) -> dict[tuple[str, int], dict[str, Any]]:
    """The day's envelopes as analytics wrote them (read directly, not via the agent)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(*m.Envelope.__table__.columns).where(m.Envelope.logical_date == DAY)
        )
        return {(r.kind, int(r.entity_id)): dict(r._mapping) for r in rows}


def assert_inside_envelopes(engine: Engine, tenant: str, account: int) -> None:
    """Every money proposal is the tenant's own entity and inside that day's envelope."""
    envelopes_ = envelopes(engine)
    own = set(campaign_ids(engine, tenant))
    for p in proposals(engine, tenant):
        assert p["customer_id"] == account and p["campaign_id"] in own
        if p["kind"] == "campaign_budget":
            env = envelopes_[("budget", p["campaign_id"])]
        elif p["kind"] == "keyword_bid":
            env = envelopes_[("bid", p["criterion_id"])]
        elif p["kind"] in ("target_cpa", "target_roas"):
            env = envelopes_[("target", p["campaign_id"])]
            strategy = "TARGET_ROAS" if p["kind"] == "target_roas" else "TARGET_CPA"
            assert env["evidence"]["strategy"] == strategy, p
        else:
            continue
        # a target ROAS is the ratio; its envelope holds the ratio in micros
        scale = 1_000_000 if p["kind"] == "target_roas" else 1
        assert env["tenant_id"] == tenant and env["direction"] != "hold"
        lo, hi = sorted((env["current_micros"], env["next_micros"]))
        assert lo <= round(p["new_value"] * scale) <= hi, p
        assert round(p["current_value"] * scale) == env["current_micros"]
