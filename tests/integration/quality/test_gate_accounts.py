"""Real accounts through the real client, the sandbox, ingest and the gate (both backends).

Each test is one rule of real Google Ads data the product once assumed away:
- a keyword is (ad group, criterion): Google shares a keyword's criterion id across ad groups;
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from quality_gate import TENANT, Gate
from sqlalchemy import select

from spectra.quality.checks import GateStatus
from spectra.warehouse import models as m
from spectra.warehouse.clean_views import clean_performance_query


def _served_keyword_days(market: Any, customer_id: int, first: dt.date, last: dt.date) -> Counter:
    """(ad group, criterion) rows per day the sandbox serves, straight from the market."""
    rows = market.rows(
        "keyword_view",
        customer_id=customer_id,
        date_from=first,
        date_to=last,
        as_of=last + dt.timedelta(days=1),
        fields=frozenset({"ad_group.id", "ad_group_criterion.criterion_id", "segments.date"}),
    )
    return Counter((r["ad_group.id"], r["ad_group_criterion.criterion_id"]) for r in rows)


def test_a_keyword_in_two_ad_groups_is_two_keywords(
    gate_any_backend: Gate, market: Any, account: int, ref_day: dt.date
) -> None:
    """Two ad groups' rows for one criterion id and day are two keywords, not a duplicated
    key: both are stored, validated and readable, and the account passes."""
    st = market.struct
    ids = Counter(st.keyword_id[st.keyword_account == market.account_index(account)].tolist())
    shared = {cid for cid, n in ids.items() if n > 1}
    assert shared, "the tiny market shares criterion ids across ad groups"

    outcome = gate_any_backend.run(account, ref_day)
    assert outcome.status is GateStatus.PASS, outcome.blocking + outcome.warnings

    first = ref_day - dt.timedelta(days=29)
    with gate_any_backend.engine.connect() as conn:
        held = conn.execute(
            select(m.QualityQuarantine.check_name).where(m.QualityQuarantine.tenant_id == TENANT)
        ).all()
        stored = [
            r
            for r in conn.execute(
                clean_performance_query(
                    TENANT, customer_id=account, date_from=first, date_to=ref_day
                )
            ).mappings()
            if r["level"] == "keyword"
        ]
    assert held == []
    got = Counter((r["ad_group_id"], r["entity_id"]) for r in stored)
    served = _served_keyword_days(market, account, first, ref_day)
    # every (ad group, criterion)-day the API served is a row of its own
    assert got == served
    per_day = Counter((r["entity_id"], r["date"]) for r in stored if r["entity_id"] in shared)
    assert max(per_day.values()) == 2  # one criterion, one day, two ad groups
