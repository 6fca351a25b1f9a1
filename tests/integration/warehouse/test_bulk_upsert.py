"""bulk_upsert on SQLite and PostgreSQL: insert, update, idempotence, freshness, edge values."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from warehouse_factories import CUSTOMER_A, DAY, PERF_KEYS, TENANT_A, perf_row

from spectra.warehouse.checksums import table_checksums
from spectra.warehouse.db import unit_of_work
from spectra.warehouse.models import Ad, Campaign, PerformanceDaily, SearchTermDaily
from spectra.warehouse.upsert import Columns, StagedUpserts, UpsertError, bulk_upsert

pytestmark = pytest.mark.usefixtures("tenants")

OLD, NEW = dt.date(2026, 3, 5), dt.date(2026, 3, 12)


def _load(engine: Engine, rows: list[dict[str, Any]], **kwargs: Any) -> int:
    kwargs.setdefault("keys", PERF_KEYS)
    kwargs.setdefault("freshness_column", "reported_as_of")
    with engine.begin() as conn:
        return bulk_upsert(conn, PerformanceDaily, rows, **kwargs)


def _perf(engine: Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(PerformanceDaily).order_by(PerformanceDaily.entity_id))
        return {r.entity_id: r._asdict() for r in rows}


def test_inserts_then_updates(engine: Engine) -> None:
    assert _load(engine, [perf_row(i) for i in range(3)]) == 3
    assert _perf(engine)[1]["clicks"] == perf_row(1)["clicks"]
    changed = [perf_row(1, as_of=NEW, clicks=999), perf_row(7)]
    assert _load(engine, changed) == 2
    stored = _perf(engine)
    assert set(stored) == {0, 1, 2, 7}
    assert stored[1]["clicks"] == 999
    assert stored[1]["reported_as_of"] == NEW


def test_reloading_the_same_rows_writes_nothing(engine: Engine) -> None:
    rows = [perf_row(i, day) for i in range(50) for day in (DAY, DAY + dt.timedelta(days=1))]
    assert _load(engine, rows) == 100
    with engine.connect() as conn:
        before = table_checksums(conn, [PerformanceDaily])
    versions_before = _row_versions(engine)
    assert _load(engine, rows) == 0
    with engine.connect() as conn:
        assert table_checksums(conn, [PerformanceDaily]) == before
    # PostgreSQL gives every rewritten row a new xmin: none may have been rewritten.
    assert _row_versions(engine) == versions_before


def _row_versions(engine: Engine) -> set[str]:
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        return {v for (v,) in conn.exec_driver_sql("SELECT xmin::text FROM performance_daily")}


def test_older_pull_never_regresses_fresher_data(engine: Engine) -> None:
    _load(engine, [perf_row(1, as_of=NEW, conversions=7.5)])
    assert _load(engine, [perf_row(1, as_of=OLD, conversions=1.0)]) == 0
    assert _perf(engine)[1]["conversions"] == 7.5
    assert _perf(engine)[1]["reported_as_of"] == NEW


def test_equally_fresh_pull_overwrites(engine: Engine) -> None:
    _load(engine, [perf_row(1, as_of=NEW, conversions=7.5)])
    assert _load(engine, [perf_row(1, as_of=NEW, conversions=8.0)]) == 1
    assert _perf(engine)[1]["conversions"] == 8.0


def test_without_freshness_last_write_wins(engine: Engine) -> None:
    _load(engine, [perf_row(1, as_of=NEW, clicks=5)])
    assert _load(engine, [perf_row(1, as_of=OLD, clicks=6)], freshness_column=None) == 1
    assert _perf(engine)[1]["clicks"] == 6


def test_duplicate_keys_in_one_batch_resolve_like_sequential_upserts(engine: Engine) -> None:
    rows = [
        perf_row(1, as_of=OLD, clicks=1),
        perf_row(1, as_of=NEW, clicks=2),
        perf_row(1, as_of=OLD, clicks=3),  # staler than the row before: ignored
        perf_row(2, as_of=OLD, clicks=4),
        perf_row(2, as_of=OLD, clicks=5),  # as fresh: later wins
    ]
    _load(engine, rows)
    stored = _perf(engine)
    assert (stored[1]["clicks"], stored[2]["clicks"]) == (2, 5)


def test_many_rows_cross_statement_chunks(engine: Engine) -> None:
    rows = [perf_row(i, DAY + dt.timedelta(days=d)) for i in range(401) for d in range(3)]
    assert _load(engine, rows) == len(rows)
    rows[777] = {**rows[777], "clicks": 123_456}
    assert _load(engine, rows) == 1
    with engine.connect() as conn:
        total = conn.scalar(
            select(PerformanceDaily.clicks).where(PerformanceDaily.clicks == 123_456)
        )
    assert total == 123_456


def test_columns_missing_from_rows_get_defaults_and_survive_updates(engine: Engine) -> None:
    keys = ("tenant_id", "customer_id", "campaign_id")
    row = {"tenant_id": TENANT_A, "customer_id": CUSTOMER_A, "campaign_id": 5, "name": "Shoes"}
    with engine.begin() as conn:
        assert bulk_upsert(conn, Campaign, [row], keys=keys) == 1
        conn.execute(Campaign.__table__.update().values(status="ACTIVE", budget_micros=42_000_000))
        assert bulk_upsert(conn, Campaign, [{**row, "name": "Shoes 2"}], keys=keys) == 1
    with engine.connect() as conn:
        stored = conn.execute(select(Campaign)).one()
    assert stored.name == "Shoes 2"
    # Not carried by the rows: defaults on insert, untouched on update.
    assert (stored.status, stored.budget_micros, stored.current_version) == (
        "ACTIVE",
        42_000_000,
        0,
    )


def test_json_and_hostile_text_round_trip(engine: Engine) -> None:
    text = 'tab\there, newline\nthere, back\\slash, "quotes", \\N, \\., ünïcødé'
    ad = {
        "tenant_id": TENANT_A,
        "customer_id": CUSTOMER_A,
        "campaign_id": 1,
        "ad_group_id": 2,
        "ad_id": 3,
        "ad_type": "RESPONSIVE_SEARCH_AD",
        "serving_status": "ENABLED",
        "headlines": [text, {"pinned": True}],
        "descriptions": [],
    }
    keys = ("tenant_id", "customer_id", "ad_group_id", "ad_id")
    term = {
        "tenant_id": TENANT_A,
        "customer_id": CUSTOMER_A,
        "campaign_id": 1,
        "ad_group_id": 2,
        "search_term": text,
        "date": DAY,
        "reported_as_of": NEW,
    }
    term_keys = ("tenant_id", "customer_id", "ad_group_id", "search_term", "date")
    with engine.begin() as conn:
        assert bulk_upsert(conn, Ad, [ad], keys=keys) == 1
        assert bulk_upsert(conn, SearchTermDaily, [term], keys=term_keys) == 1
        assert bulk_upsert(conn, Ad, [ad], keys=keys) == 0  # JSON compares equal
        assert bulk_upsert(conn, SearchTermDaily, [term], keys=term_keys) == 0
    with engine.connect() as conn:
        assert conn.scalar(select(Ad.headlines)) == [text, {"pinned": True}]
        assert conn.scalar(select(SearchTermDaily.search_term)) == text
        assert conn.scalar(select(SearchTermDaily.clicks)) == 0


def test_null_in_a_required_column_raises_sqlalchemy_integrity_error(engine: Engine) -> None:
    with pytest.raises(IntegrityError):
        _load(engine, [perf_row(1, clicks=None)])


def test_works_inside_a_unit_of_work_and_rolls_back_with_it(engine: Engine) -> None:
    with unit_of_work(engine) as uow:
        assert bulk_upsert(uow.session, PerformanceDaily, [perf_row(1)], keys=PERF_KEYS) == 1
    assert _perf(engine) == {}
    with unit_of_work(engine) as uow:
        bulk_upsert(uow.connection, PerformanceDaily, [perf_row(1)], keys=PERF_KEYS)
        uow.commit()
    assert set(_perf(engine)) == {1}


def test_commits_with_a_plain_connection(engine: Engine) -> None:
    with engine.connect() as conn:
        bulk_upsert(conn, "performance_daily", [perf_row(1)], keys=PERF_KEYS)
        conn.commit()
    assert set(_perf(engine)) == {1}


def test_rows_must_share_the_first_rows_columns(engine: Engine) -> None:
    ragged = [perf_row(1), {k: v for k, v in perf_row(2).items() if k != "clicks"}]
    with pytest.raises(UpsertError, match="lacks column 'clicks'"):
        _load(engine, ragged)


def test_empty_batch_is_a_no_op(engine: Engine) -> None:
    assert _load(engine, []) == 0


@pytest.mark.parametrize(
    ("rows", "kwargs", "message"),
    [
        ([{**perf_row(1), "clickz": 1}], {}, "unknown columns"),
        ([perf_row(1)], {"keys": ("tenant_id", "date")}, "no primary key or unique"),
        ([perf_row(1)], {"keys": ()}, "must not be empty"),
        ([perf_row(1)], {"freshness_column": "date"}, "cannot be part of the key"),
        ([perf_row(1)], {"freshness_column": "nope"}, "lack freshness column"),
    ],
)
def test_misuse_is_reported_before_touching_the_database(
    engine: Engine, rows: list[dict[str, Any]], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(UpsertError, match=message):
        _load(engine, rows, **kwargs)


def test_concurrent_overlapping_loads_converge_to_the_freshest(engine: Engine) -> None:
    # Backfilling day D and D+1 at once re-pulls overlapping windows from two tasks.
    older = [perf_row(i, as_of=OLD, clicks=1) for i in range(300)]
    newer = [perf_row(i, as_of=NEW, clicks=2) for i in range(150, 450)]

    def load(rows: list[dict[str, Any]]) -> int:
        return _load(engine, rows)

    for _ in range(3):
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(load, [older, newer]))
    stored = _perf(engine)
    assert len(stored) == 450
    assert {stored[i]["clicks"] for i in range(150)} == {1}
    assert {stored[i]["clicks"] for i in range(150, 450)} == {2}


def _columns(rows: list[dict[str, Any]]) -> Columns:
    return Columns({name: [r[name] for r in rows] for name in rows[0]})


def test_columns_input_writes_what_row_mappings_write(engine: Engine) -> None:
    """The columnar fast path (ingest's) and the mapping path give the same table, including
    updates, the freshness guard and in-batch duplicates (last one wins)."""
    first = [perf_row(i, DAY, as_of=OLD) for i in range(20)]
    assert _load(engine, _columns(first)) == 20  # type: ignore[arg-type]
    assert _load(engine, first) == 0  # the same content through the mapping path: no change
    restated = [
        {**r, "conversions": r["conversions"] + 1, "reported_as_of": NEW} for r in first[:5]
    ]
    changed = [{**r, "clicks": 0} for r in first[5:10]]  # same as_of: fresh enough, but changed
    assert _load(engine, _columns(restated + changed)) == 10  # type: ignore[arg-type]
    duplicate = [
        {**first[0], "conversions": 50.0, "reported_as_of": NEW},
        {**first[0], "conversions": 99.0, "reported_as_of": NEW},
    ]
    assert _load(engine, _columns(duplicate)) >= 1  # type: ignore[arg-type]
    older = [{**r, "clicks": 12345, "reported_as_of": dt.date(2026, 1, 1)} for r in first[:3]]
    assert _load(engine, _columns(older)) == 0  # type: ignore[arg-type]
    stored = _perf(engine)
    assert stored[0]["conversions"] == 99.0 and stored[0]["reported_as_of"] == NEW
    assert [stored[i]["conversions"] for i in (1, 2, 3, 4)] == [
        first[i]["conversions"] + 1 for i in (1, 2, 3, 4)
    ]
    assert all(stored[i]["clicks"] == 0 for i in range(5, 10))
    assert all(stored[i]["clicks"] == first[i]["clicks"] for i in range(10, 20))


def test_columns_of_unequal_length_are_refused() -> None:
    with pytest.raises(UpsertError, match="columns differ in length"):
        Columns({"clicks": [1, 2], "impressions": [3]})


def _with_constants(rows: list[dict[str, Any]], names: tuple[str, ...]) -> Columns:
    """``rows`` as columns, ``names`` (equal in every row) given once as constants."""
    constants = {n: rows[0][n] for n in names}
    assert all(r[n] == constants[n] for r in rows for n in names)
    varying = [n for n in rows[0] if n not in constants]
    return Columns({n: [r[n] for r in rows] for n in varying}, constants=constants)


def test_constant_columns_write_what_per_row_values_write(engine: Engine) -> None:
    """Constants (key columns and the freshness column among them, as ingest sends them)
    give the table per-row values give: inserts, no-op reloads, the freshness guard and
    in-batch duplicates."""
    fixed = ("tenant_id", "customer_id", "level", "reported_as_of")
    first = [perf_row(i, DAY, as_of=OLD) for i in range(30)]
    assert _load(engine, _with_constants(first, fixed)) == 30  # type: ignore[arg-type]
    with engine.connect() as conn:
        before = table_checksums(conn, [PerformanceDaily])
    assert _load(engine, first) == 0  # the same content per row: nothing to change
    assert _load(engine, _with_constants(first, fixed)) == 0  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert table_checksums(conn, [PerformanceDaily]) == before
    older = [{**r, "clicks": 4242, "reported_as_of": dt.date(2026, 1, 1)} for r in first[:4]]
    assert _load(engine, _with_constants(older, fixed)) == 0  # type: ignore[arg-type]
    restated = [{**r, "conversions": 40.0 + i, "reported_as_of": NEW} for i, r in enumerate(first)]
    assert _load(engine, _with_constants(restated, fixed)) == 30  # type: ignore[arg-type]
    duplicate = [{**restated[0], "conversions": 76.0}, {**restated[0], "conversions": 77.0}]
    assert _load(engine, _with_constants(duplicate, fixed)) >= 1  # type: ignore[arg-type]
    stored = _perf(engine)
    assert stored[0]["conversions"] == 77.0
    assert [stored[i]["conversions"] for i in range(1, 30)] == [40.0 + i for i in range(1, 30)]
    assert {s["reported_as_of"] for s in stored.values()} == {NEW}
    assert all(stored[i]["clicks"] == first[i]["clicks"] for i in range(30))


def test_a_column_given_per_row_and_as_constant_is_refused(engine: Engine) -> None:
    rows = [perf_row(i) for i in range(2)]
    columns = Columns({n: [r[n] for r in rows] for n in rows[0]}, constants={"tenant_id": TENANT_A})
    with pytest.raises(UpsertError, match="per row and as constants"):
        _load(engine, columns)  # type: ignore[arg-type]


def test_a_stored_row_inside_a_batch_of_new_keys_keeps_its_fresher_numbers(
    engine: Engine,
) -> None:
    """On PostgreSQL a batch whose first and last keys are not stored is COPYed straight
    into the table; a stored row in its middle must still meet the freshness guard, not
    abort the load or be overwritten by older numbers."""
    assert _load(engine, [perf_row(50, as_of=NEW, clicks=7)]) == 1
    batch = [perf_row(i, as_of=OLD, clicks=1) for i in range(100)]  # 50 is stored, fresher
    assert _load(engine, batch) == 99
    stored = _perf(engine)
    assert len(stored) == 100
    assert stored[50]["clicks"] == 7 and stored[50]["reported_as_of"] == NEW
    assert {stored[i]["clicks"] for i in stored if i != 50} == {1}
    # a batch of only new keys goes in whole; reloading it writes nothing
    new_keys = [perf_row(i, as_of=OLD) for i in range(100, 160)]
    assert _load(engine, new_keys) == 60
    assert _load(engine, new_keys) == 0
    assert len(_perf(engine)) == 160


def _staged(engine: Engine, batches: list[list[dict[str, Any]]]) -> int:
    """Stage every batch outside a transaction, then merge them in one write transaction."""
    with engine.connect() as conn:
        stage = StagedUpserts(conn)
        try:
            for rows in batches:
                assert stage.upsert(
                    conn,
                    PerformanceDaily,
                    _columns(rows),
                    keys=PERF_KEYS,
                    freshness_column="reported_as_of",
                ) == len(rows)
            with conn.begin():
                return stage.merge()
        finally:
            stage.discard()


def _sqlite_only(engine: Engine) -> Engine:
    if engine.dialect.name != "sqlite":
        pytest.skip("staged upserts are SQLite's (PostgreSQL's load holds row locks only)")
    return engine


def test_staged_upserts_write_what_bulk_upsert_writes(engine: Engine) -> None:
    """Merged in order, staged batches give bulk_upsert's table: updates, the freshness
    guard, in-batch duplicates (the later row wins) and unchanged rows left alone."""
    sqlite_engine = _sqlite_only(engine)
    first = [perf_row(i, DAY + dt.timedelta(days=d), as_of=OLD) for i in range(300) for d in (0, 1)]
    _load(sqlite_engine, first[:10])  # stored before: a staged load meets existing rows
    restated = [
        {**r, "conversions": r["conversions"] + 1, "reported_as_of": NEW} for r in first[:4]
    ]
    duplicate = [
        {**first[20], "clicks": 1, "reported_as_of": NEW},
        {**first[20], "clicks": 2, "reported_as_of": NEW},
    ]
    older = [{**first[0], "clicks": 98_765, "reported_as_of": dt.date(2026, 1, 1)}]
    # 600 new-or-same rows (10 stored unchanged), then 4 restated, the duplicate, one stale
    assert _staged(sqlite_engine, [first, restated, duplicate, older]) == 590 + 4 + 2
    stored = {
        (r["entity_id"], r["date"]): r
        for r in (
            row._asdict() for row in sqlite_engine.connect().execute(select(PerformanceDaily)).all()
        )
    }
    assert len(stored) == len(first)
    key = (first[0]["entity_id"], first[0]["date"])
    assert stored[key]["reported_as_of"] == NEW  # the stale row did not regress it
    assert stored[key]["conversions"] == first[0]["conversions"] + 1
    assert stored[(first[20]["entity_id"], first[20]["date"])]["clicks"] == 2
    assert stored[(first[599]["entity_id"], first[599]["date"])]["clicks"] == first[599]["clicks"]


def test_staging_takes_no_write_lock_and_a_failed_load_leaves_nothing(engine: Engine) -> None:
    """While rows are staged another writer commits (the file is not locked); a load
    discarded before its merge writes nothing and leaves no temp table behind."""
    sqlite_engine = _sqlite_only(engine)
    with sqlite_engine.connect() as conn:
        stage = StagedUpserts(conn)
        stage.upsert(conn, PerformanceDaily, _columns([perf_row(1)]), keys=PERF_KEYS)
        with sqlite_engine.begin() as other:  # BEGIN IMMEDIATE: fails if the lock were held
            bulk_upsert(other, PerformanceDaily, [perf_row(2)], keys=PERF_KEYS)
        with pytest.raises(UpsertError):
            stage.merge()  # outside a transaction: refused, nothing written
        stage.discard()
        temp = conn.exec_driver_sql("SELECT name FROM sqlite_temp_master").scalars().all()
        conn.rollback()
    assert temp == []
    assert set(_perf(sqlite_engine)) == {2}
