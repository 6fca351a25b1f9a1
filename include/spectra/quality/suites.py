"""The Great Expectations suites, defined in code, one per frame of the batch.

Thresholds that depend on the day (the logical date, the pinned currency) are filled in when
the suites are built, so a suite is rebuilt for every validation; its expectations, ids and
severities never change between runs. Each expectation carries ``meta = {"check", "severity"}``
(read back by the gate) and Markdown ``notes`` saying why it exists (shown in Data Docs).

Great Expectations is imported inside :func:`build_suites` only: the import costs ~6 s, and
neither DAG parsing nor ingest may pay it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from spectra.quality.checks import QualityConfig, check
from spectra.quality.frames import (
    ACCOUNT,
    LEVELS,
    METRICS,
    PERF_COVERAGE,
    PERF_DAYS,
    PERF_KEY,
    PERF_ROWS,
    ST_DAYS,
    ST_KEY,
    ST_ROWS,
    STRUCTURE,
    Batch,
)

# Suites whose failing rows are fact rows (and can be quarantined one by one).
ROW_SUITES = {PERF_ROWS: "performance_daily", ST_ROWS: "search_terms_daily"}


@dataclass
class SuiteSpec:
    """A suite name and its expectations as (check key, expectation) pairs."""

    name: str
    expectations: list[tuple[str, Any]] = field(default_factory=list)


Add = Callable[[str, str | None, Any], None]


def build_suites(batch: Batch, config: QualityConfig) -> list[SuiteSpec]:
    """The suites for this batch (imports Great Expectations)."""
    import great_expectations.expectations as gxe

    # fresh: the logical date is loaded, even while partial in the account's time zone (at
    # the 06:00 UTC run every time zone has reported at least 15 hours of it)
    day = pd.Timestamp(batch.logical_date)
    specs: list[SuiteSpec] = []

    def suite(name: str) -> Add:
        spec = SuiteSpec(name)
        specs.append(spec)

        def add(name_: str, column: str | None, make: Any) -> None:
            c = check(name_)
            key = c.key(column)
            expectation = make(
                meta={"check": key, "severity": c.severity.value},
                notes=f"**{c.severity.value.upper()}** `{key}`: {c.why}.",
            )
            spec.expectations.append((key, expectation))

        return add

    def rows_suite(add: Add, prefix: str, keys: list[str], id_columns: list[str]) -> None:
        for column in [*id_columns, "date"]:
            add(
                f"{prefix}.keys_present",
                column,
                lambda column=column, **kw: gxe.ExpectColumnValuesToNotBeNull(column=column, **kw),
            )
        add(
            f"{prefix}.keys_unique",
            None,
            lambda **kw: gxe.ExpectCompoundColumnsToBeUnique(
                column_list=keys, ignore_row_if="any_value_is_missing", **kw
            ),
        )
        for column in METRICS:
            add(
                f"{prefix}.metrics_present",
                column,
                lambda column=column, **kw: gxe.ExpectColumnValuesToNotBeNull(column=column, **kw),
            )
        for column in METRICS:
            add(
                f"{prefix}.non_negative",
                column,
                lambda column=column, **kw: gxe.ExpectColumnValuesToBeBetween(
                    column=column, min_value=0, **kw
                ),
            )
        add(
            f"{prefix}.clicks_le_impressions",
            None,
            lambda **kw: gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="impressions",
                column_B="clicks",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                **kw,
            ),
        )
        for name, column, high in (
            ("ctr_plausible", "ctr", config.max_ctr),
            # in the account's currency: 500 dollars is 75 000 yen
            ("cpc_plausible", "cpc_micros", config.max_cpc_for(batch.expected_currency)),
            ("cvr_plausible", "cvr", config.max_cvr),
        ):
            add(
                f"{prefix}.{name}",
                None,
                lambda column=column, high=high, **kw: gxe.ExpectColumnValuesToBeBetween(
                    column=column, min_value=0, max_value=high, **kw
                ),
            )
        add(
            f"{prefix}.fresh",
            None,
            lambda **kw: gxe.ExpectColumnMaxToBeBetween(
                column="date", min_value=day, max_value=day, **kw
            ),
        )

    add = suite(PERF_ROWS)
    rows_suite(add, "perf", PERF_KEY, ["level", "entity_id", "ad_group_id", "campaign_id"])
    add(
        "perf.level_known",
        None,
        lambda **kw: gxe.ExpectColumnValuesToBeInSet(column="level", value_set=list(LEVELS), **kw),
    )
    add(
        "perf.impression_share_range",
        "search_impression_share",
        lambda **kw: gxe.ExpectColumnValuesToBeBetween(
            column="search_impression_share", min_value=0, max_value=1, **kw
        ),
    )

    add = suite(PERF_COVERAGE)
    # rows >= expected_rows: 0 on a day Google left out (nothing could serve), else 1
    add(
        "perf.day_present",
        None,
        lambda **kw: gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="rows", column_B="expected_rows", or_equal=True, **kw
        ),
    )

    add = suite(PERF_DAYS)
    _row_count_stable(add, "perf", config, gxe)
    add(
        "perf.tracking_ok",
        None,
        lambda **kw: gxe.ExpectColumnValuesToBeBetween(
            column="conversion_ratio", min_value=config.outage_collapse_ratio, **kw
        ),
    )

    add = suite(ST_ROWS)
    rows_suite(add, "st", ST_KEY, ["ad_group_id", "campaign_id", "search_term"])

    add = suite(ST_DAYS)
    _row_count_stable(add, "st", config, gxe)

    add = suite(STRUCTURE)
    for column in ("entity_id", "parent_id"):
        add(
            "struct.keys_present",
            column,
            lambda column=column, **kw: gxe.ExpectColumnValuesToNotBeNull(column=column, **kw),
        )
    add(
        "struct.keys_unique",
        None,
        lambda **kw: gxe.ExpectColumnValuesToBeUnique(column="key", **kw),
    )
    add(
        "struct.metrics_present",
        "money_micros",
        lambda **kw: gxe.ExpectColumnValuesToNotBeNull(column="money_micros", **kw),
    )
    add(
        "struct.non_negative",
        "money_micros",
        lambda **kw: gxe.ExpectColumnValuesToBeBetween(column="money_micros", min_value=0, **kw),
    )
    add(
        "struct.parent_known",
        None,
        lambda **kw: gxe.ExpectColumnValuesToBeInSet(column="parent_known", value_set=[True], **kw),
    )

    add = suite(ACCOUNT)
    add(
        "account.currency_expected",
        None,
        lambda **kw: gxe.ExpectColumnValuesToBeInSet(
            column="currency_code", value_set=[batch.expected_currency], **kw
        ),
    )
    add(
        "account.time_zone_expected",
        None,
        lambda **kw: gxe.ExpectColumnValuesToBeInSet(
            column="time_zone", value_set=[batch.expected_time_zone], **kw
        ),
    )
    return specs


def _row_count_stable(add: Add, prefix: str, config: QualityConfig, gxe: Any) -> None:
    add(
        f"{prefix}.row_count_stable",
        None,
        lambda **kw: gxe.ExpectColumnValuesToBeBetween(
            column="row_count_ratio",
            min_value=config.row_count_min_ratio,
            max_value=config.row_count_max_ratio,
            **kw,
        ),
    )
