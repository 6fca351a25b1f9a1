"""Bad conversion-lag histogram cells, served by the real sandbox, are held back at ingest.

Each fault is injected into the market's per-day rows of one (campaign, bucket) cell; the
sandbox sums them over the histogram's range and serves them through the real client, so the
cell reaches ingest exactly as a faulty API would send it. An UNKNOWN bucket is no fault:
Google reports conversions it has no lag for that way, and the cell is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from typing import Any

from quality_defects import DefectMarket, LagCell
from quality_gate import TENANT, Gate
from sqlalchemy import select

from spectra.ingest.daily import lag_histogram_range
from spectra.quality.checks import GateStatus
from spectra.warehouse import models as m
from spectra.warehouse.checksums import table_checksums

LAG = m.ConversionLagBucket
QUARANTINE = m.QualityQuarantine
FIELDS = frozenset(
    {
        "campaign.id",
        "segments.conversion_lag_bucket",
        "metrics.conversions",
        "metrics.conversions_value",
        "segments.date",
    }
)
Cell = tuple[int, str]


def served_cells(market: Any, customer_id: int, day: dt.date) -> dict[Cell, float]:
    """Conversions per (campaign, bucket) the clean market serves for the run of ``day``."""
    first, last = lag_histogram_range(day)
    cells: dict[Cell, float] = defaultdict(float)
    for row in market.rows(
        "campaign", customer_id=customer_id, date_from=first, date_to=last,
        as_of=day + dt.timedelta(days=1), fields=FIELDS,
    ):  # fmt: skip
        cells[(int(row["campaign.id"]), row["segments.conversion_lag_bucket"])] += row[
            "metrics.conversions"
        ]
    return dict(cells)


def stored_cells(gate: Gate, customer_id: int, day: dt.date) -> dict[Cell, float]:
    with gate.engine.connect() as conn:
        rows = conn.execute(
            select(LAG.campaign_id, LAG.conversion_lag_bucket, LAG.conversions).where(
                LAG.tenant_id == TENANT, LAG.customer_id == customer_id, LAG.pulled_for == day
            )
        ).all()
    return {(campaign, bucket): conversions for campaign, bucket, conversions in rows}


def lag_entries(gate: Gate) -> list[Any]:
    q = QUARANTINE
    with gate.engine.connect() as conn:
        return list(
            conn.execute(
                select(q.__table__)
                .where(q.source_table == "conversion_lag_buckets")
                .order_by(q.check_name, q.reason)
            ).all()
        )


def checksums(gate: Gate) -> dict[str, str]:
    with gate.engine.connect() as conn:
        return table_checksums(
            conn,
            [LAG.__table__, QUARANTINE.__table__],
            tenant_id=TENANT,
            exclude_columns=("id", "quarantined_at", "resolved_at"),
        )


def test_bad_lag_cells_are_quarantined_good_ones_written_and_reruns_converge(
    gate: Gate, defect_market: DefectMarket, market: Any, account: int, ref_day: dt.date
) -> None:
    served = served_cells(market, account, ref_day)
    cells = sorted(served)
    assert len(cells) >= 12, "the market should serve a histogram worth screening"
    nan_cell, negative_cell, inf_cell, unset_cell, no_campaign_cell, unknown_cell = cells[::2][:6]
    faults = {
        nan_cell: {"metrics.conversions": math.nan},
        negative_cell: {"metrics.conversions_value": -5.0},
        inf_cell: {"metrics.conversions": math.inf},
        unset_cell: {"segments.conversion_lag_bucket": "UNSPECIFIED"},
        no_campaign_cell: {"campaign.id": 0},  # protobuf sends an unset id as 0
        unknown_cell: {"segments.conversion_lag_bucket": "UNKNOWN"},
    }
    defect_market.defects += [
        LagCell(account, campaign_id=c, bucket=b, values=v) for (c, b), v in faults.items()
    ]

    result = gate.ingest(account, ref_day)  # must not crash on any of them

    held = {nan_cell, negative_cell, inf_cell, unset_cell, no_campaign_cell}
    expected = {cell: n for cell, n in served.items() if cell not in held | {unknown_cell}}
    expected[(unknown_cell[0], "UNKNOWN")] = served[unknown_cell]  # stored: not a defect
    stored = stored_cells(gate, account, ref_day)
    assert stored.keys() == expected.keys()
    assert all(math.isclose(stored[c], expected[c], abs_tol=1e-9) for c in expected)
    assert result.rows["conversion_lag_buckets"] == len(expected)
    assert result.rows["quality_quarantine.conversion_lag"] == len(held)

    entries = lag_entries(gate)
    by_check = {
        e.check_name: e for e in entries if e.check_name != "lag.metrics_present:conversions"
    }
    assert len(entries) == len(held)
    assert all(e.active and e.stage == "ingest" and e.severity == "warn" for e in entries)
    assert all(e.source_query == "conversion_lag" and e.level == "campaign" for e in entries)
    assert {e.reason for e in entries if e.check_name == "lag.metrics_present:conversions"} == {
        "metrics.conversions is nan: not a finite number",
        "metrics.conversions is inf: not a finite number",
    }
    negative = by_check["lag.non_negative:conversions_value_micros"]
    assert negative.entity_id == negative_cell[0]
    assert negative.reason.startswith("metrics.conversions_value is -")
    assert negative.reason.endswith(": negative")
    unset = by_check["lag.bucket_known:conversion_lag_bucket"]
    assert unset.reason == (
        "segments.conversion_lag_bucket is 'UNSPECIFIED': the API left the segment unset"
    )
    assert unset.entity_id == unset_cell[0]
    missing = by_check["lag.keys_present:campaign_id"]
    assert missing.reason == "campaign.id is 0: not a valid id" and missing.entity_id is None
    # The payload is the cell as the API sent it, so nothing is lost.
    payload = json.loads(missing.payload)
    assert payload["query"] == "conversion_lag"
    assert payload["row"]["segments.conversion_lag_bucket"] == no_campaign_cell[1]
    assert math.isclose(payload["row"]["metrics.conversions"], served[no_campaign_cell])

    # The gate's suites do not read the histogram: a held cell neither blocks nor breaks them.
    assert gate.validate(account, ref_day).status is GateStatus.PASS

    # Re-running the day with the same faults changes nothing.
    before = checksums(gate)
    again = gate.ingest(account, ref_day)
    assert again.rows["conversion_lag_buckets"] == len(expected)
    assert checksums(gate) == before

    # The API fixed itself: the re-run stores the whole histogram as served, and the entries
    # are kept, inactive.
    defect_market.defects.clear()
    gate.ingest(account, ref_day)
    stored = stored_cells(gate, account, ref_day)
    assert stored.keys() == served.keys()
    assert all(math.isclose(stored[c], served[c], abs_tol=1e-9) for c in served)
    assert [e.active for e in lag_entries(gate)] == [False] * len(held)


def test_analyze_says_its_lag_histogram_lacks_the_held_cells(
    gate: Gate, defect_market: DefectMarket, market: Any, account: int, ref_day: dt.date
) -> None:
    """A held cell is not silently missing from the curve: the analyze run names it."""
    from spectra.analytics.service import analyze_and_store

    cell = sorted(served_cells(market, account, ref_day))[0]
    defect_market.defects.append(
        LagCell(account, campaign_id=cell[0], bucket=cell[1], values={"metrics.conversions": -1.0})
    )
    gate.ingest(account, ref_day)
    out = analyze_and_store(
        gate.engine, tenant_id=TENANT, customer_id=account, logical_date=ref_day
    )
    held = [w for w in out.warnings if w.startswith("lag histogram fitted without 1 cell(s)")]
    assert len(held) == 1 and f"campaign {cell[0]}: metrics.conversions is -" in held[0], out
    with gate.engine.connect() as conn:
        stored = conn.execute(
            select(m.AnalyticsRun.warnings).where(
                m.AnalyticsRun.tenant_id == TENANT, m.AnalyticsRun.logical_date == ref_day
            )
        ).scalar_one()
    assert held[0] in stored
    # Once the fault is gone, a re-run of the day stores the whole histogram and says nothing.
    defect_market.defects.clear()
    gate.ingest(account, ref_day)
    again = analyze_and_store(
        gate.engine, tenant_id=TENANT, customer_id=account, logical_date=ref_day
    )
    assert not any(w.startswith("lag histogram fitted without") for w in again.warnings)
