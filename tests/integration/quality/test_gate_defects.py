"""Each defect class, injected into the sandbox market, is caught with the right severity."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from quality_defects import (
    CurrencyChange,
    DefectMarket,
    DropDay,
    DuplicateRows,
    SetField,
    clicks_over_impressions,
    missing_key,
    nan_conversions,
    negative_cost,
    tracking_outage,
)
from quality_gate import Gate
from sqlalchemy import select

from spectra.quality.checks import STRUCTURE_TABLES, GateStatus
from spectra.warehouse import models as m
from spectra.warehouse.clean_views import clean_performance_query


def failed(outcome: Any) -> set[str]:
    return {o.key for o in outcome.expectations if not o.success}


def quarantine(gate: Gate, **where: Any) -> list[Any]:
    q = m.QualityQuarantine.__table__
    stmt = select(q).where(*(q.c[k] == v for k, v in where.items())).order_by(q.c.check_name)
    with gate.engine.connect() as conn:
        return list(conn.execute(stmt).all())


def test_clean_day_passes(gate: Gate, account: int, ref_day: dt.date) -> None:
    outcome = gate.run(account, ref_day)
    assert outcome.status is GateStatus.PASS, outcome.blocking + outcome.warnings
    assert failed(outcome) == set()
    assert outcome.quarantined_rows == 0 and outcome.excluded_days == []
    assert outcome.rows_validated > 1000


@pytest.mark.parametrize(
    ("make_defect", "status", "checks"),
    [
        pytest.param(
            lambda c, d: DuplicateRows(c, (d - dt.timedelta(days=4),)),
            GateStatus.BLOCK,
            {"perf.keys_unique"},
            id="duplicate-rows",
        ),
        pytest.param(
            lambda c, d: DropDay(c, (d - dt.timedelta(days=6),)),
            GateStatus.BLOCK,
            {"perf.day_present"},
            id="missing-day",
        ),
        pytest.param(
            lambda c, d: DropDay(c, (d,)),
            GateStatus.BLOCK,
            {"perf.fresh", "perf.day_present"},
            id="logical-date-missing",
        ),
        pytest.param(
            lambda c, d: negative_cost(c, d - dt.timedelta(days=2)),
            GateStatus.BLOCK,
            {"perf.non_negative:cost_micros"},
            id="negative-cost",
        ),
        pytest.param(
            lambda c, d: nan_conversions(c, d - dt.timedelta(days=3)),
            GateStatus.BLOCK,
            {"perf.metrics_present:conversions"},
            id="nan-conversions",
        ),
        pytest.param(
            lambda c, d: missing_key(c, d - dt.timedelta(days=3)),
            GateStatus.BLOCK,
            {"perf.keys_present:entity_id"},
            id="malformed-row",
        ),
        pytest.param(
            lambda c, d: clicks_over_impressions(c, d - dt.timedelta(days=5)),
            GateStatus.WARN,
            {"perf.clicks_le_impressions"},
            id="clicks-over-impressions",
        ),
        pytest.param(
            lambda c, d: tracking_outage(c, [d - dt.timedelta(days=k) for k in (12, 11, 10)]),
            GateStatus.WARN,
            {"perf.tracking_ok"},
            id="tracking-outage",
        ),
    ],
)
def test_defect_is_caught_with_its_severity(
    gate: Gate,
    defect_market: DefectMarket,
    account: int,
    ref_day: dt.date,
    make_defect: Any,
    status: GateStatus,
    checks: set[str],
) -> None:
    defect_market.defects.append(make_defect(account, ref_day))
    outcome = gate.run(account, ref_day)  # ingest must not crash on any of these
    assert outcome.status is status
    assert checks <= failed(outcome), outcome.blocking + outcome.warnings
    reasons = outcome.blocking if status is GateStatus.BLOCK else outcome.warnings
    assert any(r.startswith(next(iter(sorted(checks)))) for r in reasons)
    if status is GateStatus.WARN:
        assert outcome.blocking == []  # a warning never escalates on its own


def test_bad_api_rows_are_quarantined_with_their_reason(
    gate: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date
) -> None:
    bad_day = ref_day - dt.timedelta(days=2)
    defect_market.defects += [negative_cost(account, bad_day), nan_conversions(account, bad_day)]
    result = gate.ingest(account, ref_day)
    assert result.rows["quality_quarantine.keyword_performance"] == 2
    entries = quarantine(gate, stage="ingest", customer_id=account)
    assert {e.check_name for e in entries} == {
        "perf.non_negative:cost_micros",
        "perf.metrics_present:conversions",
    }
    for entry in entries:
        assert entry.active and entry.date == bad_day and entry.level == "keyword"
        assert entry.severity == "block" and entry.reason
        row = json.loads(entry.payload)["row"]
        assert row["segments.date"] == bad_day.isoformat()
    # Held back, not written: the warehouse has every other keyword row of that day (a keyword
    # is (ad group, criterion): the same criterion in another ad group is another keyword).
    p = m.PerformanceDaily
    with gate.engine.connect() as conn:
        held = {(e.ad_group_id, e.entity_id) for e in entries}
        stored = [
            r
            for r in conn.execute(
                select(p.ad_group_id, p.entity_id).where(p.date == bad_day, p.level == "keyword")
            )
            if (r.ad_group_id, r.entity_id) in held
        ]
    assert stored == []


def test_warning_rows_are_held_at_ingest_and_hidden_from_analytics(
    gate: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date
) -> None:
    """A warn-level row is held by ingest's screen (never written, so it can never replace a
    stored good version: test_gate_hostile.py), and the gate still warns about it."""
    bad_day = ref_day - dt.timedelta(days=5)
    defect_market.defects.append(clicks_over_impressions(account, bad_day))
    outcome = gate.run(account, ref_day)
    assert outcome.status is GateStatus.WARN and outcome.quarantined_rows == 1
    assert quarantine(gate, stage="validate", customer_id=account) == []
    entries = quarantine(gate, stage="ingest", customer_id=account)
    # One row, kept once per check it failed (clicks above impressions, hence CTR above 1).
    assert {e.check_name for e in entries} == {
        "perf.clicks_le_impressions",
        "perf.ctr_plausible",
    }
    entry = entries[0]
    assert entry.active and entry.date == bad_day and entry.severity == "warn"
    p = m.PerformanceDaily
    with gate.engine.connect() as conn:
        raw = conn.execute(
            select(p.level, p.ad_group_id, p.entity_id).where(
                p.customer_id == account, p.date == bad_day
            )
        ).all()
        clean = conn.execute(
            clean_performance_query("acme", customer_id=account, date_from=bad_day, date_to=bad_day)
        ).all()
    assert len(clean) == len(raw)
    held = (entry.level, entry.ad_group_id, entry.entity_id)
    assert held not in {(r.level, r.ad_group_id, r.entity_id) for r in raw}


def test_tracking_outage_days_become_data_exclusions(
    gate: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date
) -> None:
    days = [ref_day - dt.timedelta(days=k) for k in (12, 11, 10)]
    defect_market.defects.append(tracking_outage(account, days))
    outcome = gate.run(account, ref_day)
    assert outcome.status is GateStatus.WARN
    assert outcome.excluded_days == [d.isoformat() for d in days]
    e = m.DataExclusion
    with gate.engine.connect() as conn:
        excluded = conn.execute(
            select(e.date, e.kind, e.clicks, e.expected_conversions).where(e.active.is_(True))
        ).all()
        clean_days = {
            r.date for r in conn.execute(clean_performance_query("acme", customer_id=account)).all()
        }
    assert {x.date for x in excluded} == set(days)
    assert all(x.kind == "tracking_outage" and x.clicks > 0 for x in excluded)
    # the three days are one run: it is judged on the conversions it was due in all (a day of a
    # small account alone may be due fewer than the threshold)
    assert sum(x.expected_conversions for x in excluded) >= gate.config.outage_min_expected
    assert clean_days.isdisjoint(days)


def test_currency_change_blocks(
    gate: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date
) -> None:
    first = gate.run(account, ref_day - dt.timedelta(days=1))  # pins USD / the time zone
    assert first.status is GateStatus.PASS
    defect_market.defects.append(CurrencyChange(account))
    outcome = gate.run(account, ref_day)
    assert outcome.status is GateStatus.BLOCK
    assert "account.currency_expected" in failed(outcome)


def test_raw_market_serves_one_search_term_row_per_ad_group_and_term(
    gate: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date
) -> None:
    """Google serves one search_term_view row per (ad group, term) unless the query segments by
    keyword; the sandbox market does the same, so its raw rows pass the key check (a duplicated
    key is still caught: see below)."""
    outcome = gate.run(account, ref_day)
    assert "st.keys_unique" not in failed(outcome)


def test_duplicated_search_terms_are_blocked(
    gate: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date
) -> None:
    """Upserting duplicated search-term rows would silently keep only the last copy; the
    screen holds every copy back and the gate blocks the account."""
    day = ref_day - dt.timedelta(days=3)
    defect_market.defects.append(
        DuplicateRows(account, (day,), resources=frozenset({"search_term_view"}))
    )
    outcome = gate.run(account, ref_day)
    assert outcome.status is GateStatus.BLOCK
    assert "st.keys_unique" in failed(outcome)
    assert outcome.quarantined_rows > 0


def test_the_markets_own_tracking_outage_becomes_data_exclusions(
    gate: Gate, market: Any, ref_day: dt.date
) -> None:
    """The tiny scenario breaks auto-tagging for its second account for three days (clicks
    lose attribution, so their conversions never arrive): no injection, the market itself."""
    outages = [ev for ev in market.scenario.events if ev.type == "tracking_outage"]
    (event,) = outages
    account = int(market.customer_ids()[event.account])
    days = {event.start + dt.timedelta(days=k) for k in range((event.end - event.start).days + 1)}
    assert ref_day - dt.timedelta(days=29) <= min(days)  # inside the validated window
    outcome = gate.run(account, ref_day)
    assert outcome.status is GateStatus.WARN, outcome.blocking + outcome.warnings
    assert "perf.tracking_ok" in failed(outcome)
    excluded = {dt.date.fromisoformat(d) for d in outcome.excluded_days}
    assert excluded and excluded <= days


@pytest.mark.parametrize(
    ("make_defect", "check_key"),
    [
        pytest.param(
            lambda c: DuplicateRows(c, (), resources=frozenset({"ad_group_criterion"})),
            "struct.keys_unique",
            id="duplicated-keywords",
        ),
        pytest.param(
            lambda c: SetField(
                c,
                (),
                values={"campaign_budget.amount_micros": -10_000_000},
                resources=frozenset({"campaign"}),
            ),
            "struct.non_negative:money_micros",
            id="negative-budget",
        ),
        pytest.param(
            lambda c: SetField(
                c, (), values={"ad_group.id": 0}, resources=frozenset({"ad_group_ad"})
            ),
            "struct.keys_present:parent_id",
            id="ad-without-ad-group",
        ),
    ],
)
def test_structure_defects_block(
    gate: Gate,
    defect_market: DefectMarket,
    account: int,
    ref_day: dt.date,
    make_defect: Any,
    check_key: str,
) -> None:
    """Campaigns, ad groups, keywords and ads go through the same screen and a suite of their
    own: a structure the optimizer cannot trust blocks the account."""
    defect_market.defects.append(make_defect(account))
    outcome = gate.run(account, ref_day)
    assert outcome.status is GateStatus.BLOCK
    assert check_key in failed(outcome), outcome.blocking
    held = quarantine(gate, stage="ingest", customer_id=account)
    assert held and all(e.date is None and e.source_table in STRUCTURE_TABLES for e in held)
