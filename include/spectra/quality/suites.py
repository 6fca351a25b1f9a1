"""The Great Expectations suites, defined in code, one per frame of the batch.

Thresholds that depend on the day (the logical date, the pinned currency) are filled in when
the suites are built, so a suite is rebuilt for every validation; its expectations, ids and
severities never change between runs. Each expectation carries ``meta = {"check", "severity"}``
(read back by the gate) and Markdown ``notes`` saying why it exists (shown in Data Docs).

A check applied column by column (keys present, metrics present, non-negative) is one
expectation over a flag column (:class:`ColumnFamily`): bit ``i`` of a row's flags says its
``i``-th column fails the rule, the expectation requires every row's flags to be 0, and the
runner reports it as one outcome per column (``perf.non_negative:cost_micros``) with that
column's failing rows. Great Expectations' cost is per expectation, not per row (each one
builds its own metric graph, ~10 ms): one per column made up half the gate's time.

Great Expectations is imported inside :func:`build_suites` only: the import costs ~6 s, and
neither DAG parsing nor ingest may pay it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
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


@dataclass(frozen=True)
class ColumnFamily:
    """One check over several columns, validated as one expectation on a flag column.

    ``present``: a value is there (not None, NaN or NaT), as ``ExpectColumnValuesToNotBeNull``
    judges; ``non_negative``: a present value is a number >= 0, as
    ``ExpectColumnValuesToBeBetween(min_value=0)`` judges (a missing value is not judged
    there: ``present`` reports it; a value that is no number fails).
    """

    check: str  # the check's name: perf.metrics_present
    columns: tuple[str, ...]
    rule: Literal["present", "non_negative"]

    @property
    def flag_column(self) -> str:
        return "_fails__" + self.check.replace(".", "__")

    def flags(self, frame: pd.DataFrame) -> pd.Series:
        """Per row, bit ``i`` set where ``columns[i]`` fails the rule (0: the row passes)."""
        bits = np.zeros(len(frame), dtype=np.int64)
        for i, column in enumerate(self.columns):
            values = frame[column]
            if self.rule == "present":
                bad = values.isna().to_numpy()
            else:
                number = pd.to_numeric(values, errors="coerce")
                bad = ((number < 0) | (number.isna() & values.notna())).to_numpy(dtype=bool)
            bits |= bad.astype(np.int64) << i
        return pd.Series(bits, index=frame.index)

    def missing(self, frame: pd.DataFrame, column: str) -> int | None:
        """Rows without a value, which the rule does not judge (GX's ``missing_count``)."""
        return None if self.rule == "present" else int(frame[column].isna().sum())


@dataclass
class SuiteSpec:
    """A suite name and its expectations as (check key, expectation) pairs; a family's
    expectation has the check's name as key and is reported per column."""

    name: str
    expectations: list[tuple[str, Any]] = field(default_factory=list)
    families: dict[str, ColumnFamily] = field(default_factory=dict)  # by check name

    def frame_for(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the families' flag columns (a copy; the batch stays as loaded)."""
        if not self.families:
            return frame
        flags = {f.flag_column: f.flags(frame) for f in self.families.values()}
        return frame.assign(**flags)


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
            fam = spec.families.get(key)
            columns = f" (one bit per column: {', '.join(fam.columns)})" if fam else ""
            expectation = make(
                meta={"check": key, "severity": c.severity.value},
                notes=f"**{c.severity.value.upper()}** `{key}`{columns}: {c.why}.",
            )
            spec.expectations.append((key, expectation))

        return add

    def family(add: Add, name: str, columns: list[str], rule: Any) -> None:
        fam = ColumnFamily(name, tuple(columns), rule)
        specs[-1].families[name] = fam
        add(
            name,
            None,
            lambda **kw: gxe.ExpectColumnValuesToBeInSet(
                column=fam.flag_column, value_set=[0], **kw
            ),
        )

    def rows_suite(add: Add, prefix: str, keys: list[str], id_columns: list[str]) -> None:
        family(add, f"{prefix}.keys_present", [*id_columns, "date"], "present")
        add(
            f"{prefix}.keys_unique",
            None,
            lambda **kw: gxe.ExpectCompoundColumnsToBeUnique(
                column_list=keys, ignore_row_if="any_value_is_missing", **kw
            ),
        )
        family(add, f"{prefix}.metrics_present", METRICS, "present")
        family(add, f"{prefix}.non_negative", METRICS, "non_negative")
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
    family(add, "struct.keys_present", ["entity_id", "parent_id"], "present")
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
