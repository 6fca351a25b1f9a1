"""0006 keeps every existing row while putting the ad group into the keyword key (both backends).

A warehouse at 0005 holds what ingest wrote before: campaign rows without an ad group, keyword
rows keyed by criterion alone, a quarantined keyword row the clean view hides. After 0006 the
same rows are there (campaign rows with ad group 0), the view still hides exactly the held row,
and one criterion id can carry a row per ad group on the same day, which the old key refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import IntegrityError

from spectra.warehouse.db import alembic_config, make_engine, migrate
from spectra.warehouse.models import Base

DAY = dt.date(2026, 11, 20)
PERF_0005 = [
    "tenant_id", "customer_id", "level", "entity_id", "campaign_id", "ad_group_id", "date",
    "impressions", "clicks", "cost_micros", "conversions", "conversions_value_micros",
    "reported_as_of",
]  # fmt: skip


def _upgrade_to(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def _row(level: str, entity: int, ad_group: int | None, clicks: int) -> dict[str, Any]:
    values = ["acme", 42, level, entity, 7, ad_group, DAY, 100, clicks, clicks * 10_000]
    return dict(zip(PERF_0005, [*values, 1.0, 0, DAY + dt.timedelta(days=1)], strict=True))


def _tenant(conn: Any) -> None:
    conn.execute(
        text("INSERT INTO tenants (tenant_id, name, created_at) VALUES ('acme', 'Acme', :t)"),
        {"t": dt.datetime(2026, 11, 1, tzinfo=dt.UTC)},
    )


def _perf(engine: Engine, view: str = "performance_daily") -> set[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT level, entity_id, ad_group_id, clicks FROM {view}")).all()
    return {tuple(r) for r in rows}


def test_upgrade_keeps_rows_and_keys_keywords_by_ad_group(database_url: str) -> None:
    _upgrade_to(database_url, "0005")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            _tenant(conn)
            conn.execute(
                text(
                    "INSERT INTO performance_daily ({}) VALUES ({})".format(
                        ", ".join(PERF_0005), ", ".join(f":{c}" for c in PERF_0005)
                    )
                ),  # fmt: skip
                [_row("campaign", 7, None, 30), _row("keyword", 900, 11, 20)]
                + [_row("keyword", 901, 11, 5)],
            )
            conn.execute(
                text(
                    "INSERT INTO quality_quarantine (tenant_id, customer_id, source_table, "
                    "source_query, stage, logical_date, reported_as_of, check_name, severity, "
                    "reason, date, level, entity_id, ad_group_id, row_fingerprint, payload, "
                    "active, quarantined_at) VALUES ('acme', 42, 'performance_daily', "
                    "'keyword_performance', 'validate', :day, :as_of, 'perf.cpc_plausible', "
                    "'warn', 'x', :day, 'keyword', 901, 11, 'f1', '{}', :t, :now)"
                ),
                {"day": DAY, "as_of": DAY + dt.timedelta(days=1), "t": True,
                 "now": dt.datetime(2026, 11, 21, tzinfo=dt.UTC)},
            )  # fmt: skip
        _upgrade_to(database_url, "0006")  # this revision, whatever the head is now
        assert _perf(engine) == {
            ("campaign", 7, 0, 30),
            ("keyword", 900, 11, 20),
            ("keyword", 901, 11, 5),
        }
        assert _perf(engine, "performance_daily_clean") == {
            ("campaign", 7, 0, 30),
            ("keyword", 900, 11, 20),
        }
        perf = Base.metadata.tables["performance_daily"]
        shared = {**_row("keyword", 900, 12, 9), "ad_group_id": 12}
        with engine.begin() as conn:
            conn.execute(insert(perf), [shared])  # the same criterion in another ad group
        assert ("keyword", 900, 12, 9) in _perf(engine, "performance_daily_clean")
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(perf), [shared])  # but still once per (ad group, criterion, day)
        with engine.connect() as conn:
            assert conn.execute(select(perf.c.ad_group_id).where(perf.c.level == "campaign")).all()
    finally:
        engine.dispose()


def test_downgrade_keeps_one_row_per_old_key(database_url: str) -> None:
    migrate(database_url)
    engine = make_engine(database_url)
    perf = Base.metadata.tables["performance_daily"]
    try:
        with engine.begin() as conn:
            _tenant(conn)
            rows = [_row("campaign", 7, 0, 30), _row("keyword", 900, 11, 20)]
            rows.append(_row("keyword", 900, 12, 9))
            conn.execute(insert(perf), [{**r, "search_impression_share": None} for r in rows])
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
        assert _perf(engine) == {("campaign", 7, None, 30), ("keyword", 900, 12, 9)}
    finally:
        engine.dispose()
