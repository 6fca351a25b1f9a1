"""The Great Expectations suites on hand-made frames: each check catches its defect, and only it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from spectra.quality.checks import (
    CHECKS,
    INGEST_ONLY,
    SCREEN_ONLY,
    GateStatus,
    QualityConfig,
    Severity,
    check,
)
from spectra.quality.docs import make_context
from spectra.quality.frames import (
    ACCOUNT,
    PERF_COVERAGE,
    PERF_DAYS,
    PERF_ROWS,
    ST_DAYS,
    ST_ROWS,
    STRUCTURE,
    Batch,
    derive_rates,
)
from spectra.quality.outage import score_tracking
from spectra.quality.runner import ExpectationOutcome, judge, status_of
from spectra.quality.suites import build_suites

DAY = dt.date(2026, 11, 20)
CONFIG = QualityConfig()


def perf_rows(n: int = 6, **overrides: Any) -> pd.DataFrame:
    """Keyword rows on the logical day, all plausible; overrides replace column values."""
    frame = pd.DataFrame(
        {
            "level": ["keyword"] * n,
            "entity_id": np.arange(100, 100 + n, dtype=float),
            "campaign_id": [1.0] * n,
            "ad_group_id": [10.0] * n,
            "date": pd.to_datetime([DAY] * n),
            "impressions": [1000] * n,
            "clicks": [40] * n,
            "cost_micros": [40_000_000] * n,
            "conversions": [2.0] * n,
            "conversions_value_micros": [90_000_000] * n,
            "search_impression_share": [0.5] * n,
            "reported_as_of": [DAY + dt.timedelta(days=1)] * n,
            "_origin": ["warehouse"] * n,
        }
    )
    for column, value in overrides.items():
        frame[column] = value
    derive_rates(frame, CONFIG)
    frame["_row"] = np.arange(len(frame))
    return frame


def term_rows() -> pd.DataFrame:
    frame = perf_rows(3).drop(columns=["level", "entity_id", "search_impression_share"])
    frame["search_term"] = ["boots", "tents", "stoves"]
    return frame


def days_frame(**overrides: Any) -> pd.DataFrame:
    n = 10
    days = pd.to_datetime([DAY - dt.timedelta(days=k) for k in range(n - 1, -1, -1)])
    frame = pd.DataFrame(
        {
            "date": days,
            "rows": [100] * n,
            "trailing_median_rows": [100.0] * n,
            "row_count_ratio": [1.0] * n,
            "age_days": list(range(n, 0, -1)),
            "clicks": [400] * n,
            "conversions": [12.0] * n,
        }
    )
    for column, value in overrides.items():
        frame[column] = value
    frame = score_tracking(frame, CONFIG)
    frame["_row"] = np.arange(n)
    return frame


def structure(**overrides: Any) -> pd.DataFrame:
    """A campaign, its ad group, a keyword and an ad: a consistent account structure."""
    frame = pd.DataFrame(
        {
            "entity_id": [1.0, 10.0, 100.0, 500.0],
            "parent_id": [7.0, 1.0, 10.0, 10.0],
            "money_micros": [50_000_000.0, 1_000_000.0, 1_200_000.0, 0.0],
            "level": ["campaign", "ad_group", "keyword", "ad"],
            "_origin": ["warehouse"] * 4,
            "key": ["campaign:1", "ad_group:10", "keyword:10:100", "ad:10:500"],
            "parent_known": [True] * 4,
        }
    )
    for column, value in overrides.items():
        frame[column] = value
    frame["_row"] = np.arange(len(frame))
    return frame


def batch(**frames: pd.DataFrame) -> Batch:
    b = Batch("acme", 1, DAY, DAY - dt.timedelta(days=29), DAY + dt.timedelta(days=1))
    coverage = pd.DataFrame(
        {
            "level": ["account"], "entity_id": [1], "date": pd.to_datetime([DAY]), "rows": [6],
            "expected_rows": [1],
        }
    )  # fmt: skip
    coverage["_row"] = [0]
    b.frames = {
        PERF_ROWS: perf_rows(),
        PERF_COVERAGE: coverage,
        PERF_DAYS: days_frame(),
        ST_ROWS: term_rows(),
        ST_DAYS: days_frame().drop(columns=["clicks", "conversions"]),
        ACCOUNT: pd.DataFrame({"currency_code": ["USD"], "time_zone": ["UTC"], "_row": [0]}),
        STRUCTURE: structure(),
    }
    b.frames.update(frames)
    b.expected_currency, b.expected_time_zone = "USD", "UTC"
    return b


def validate_frames(b: Batch, config: QualityConfig) -> list[ExpectationOutcome]:
    """The gate's judgement of ``b`` (what validate_account runs after loading the batch)."""
    _, outcomes = judge(make_context(config), b, config)
    return outcomes


def failed(b: Batch) -> dict[str, list[int]]:
    return {o.key: o.rows for o in validate_frames(b, CONFIG) if not o.success}


def test_clean_batch_passes() -> None:
    outcomes = validate_frames(batch(), CONFIG)
    assert [o.reason for o in outcomes if not o.success] == []
    assert status_of(outcomes) is GateStatus.PASS


@pytest.mark.parametrize(
    ("frame", "make", "expected"),
    [
        (PERF_ROWS, lambda: perf_rows(clicks=[40, 40, 900, 40, 40, 40]), "perf.ctr_plausible"),
        (
            PERF_ROWS,
            lambda: perf_rows(cost_micros=[40_000_000] * 5 + [40_000_000_000]),
            "perf.cpc_plausible",
        ),
        (PERF_ROWS, lambda: perf_rows(conversions=[2.0] * 5 + [80.0]), "perf.cvr_plausible"),
        (
            PERF_ROWS,
            lambda: perf_rows(search_impression_share=[0.5] * 5 + [1.7]),
            "perf.impression_share_range:search_impression_share",
        ),
        (PERF_DAYS, lambda: days_frame(row_count_ratio=[1.0] * 9 + [0.2]), "perf.row_count_stable"),
        (
            PERF_DAYS,
            lambda: days_frame(conversions=[12.0] * 5 + [0.0] + [12.0] * 4),
            "perf.tracking_ok",
        ),
        (ST_DAYS, lambda: days_frame(row_count_ratio=[1.0] * 9 + [3.5]), "st.row_count_stable"),
    ],
)
def test_warning_checks(frame: str, make: Any, expected: str) -> None:
    b = batch(**{frame: make()})
    found = failed(b)
    assert set(found) == {expected}
    assert check(expected).severity is Severity.WARN
    assert status_of(validate_frames(b, CONFIG)) is GateStatus.WARN


@pytest.mark.parametrize(
    ("frame", "make", "expected"),
    [
        (PERF_ROWS, lambda: perf_rows(cost_micros=[-1] + [40_000_000] * 5), "perf.non_negative:cost_micros"),
        (PERF_ROWS, lambda: perf_rows(conversions=[np.nan] + [2.0] * 5), "perf.metrics_present:conversions"),
        (PERF_ROWS, lambda: perf_rows(entity_id=[np.nan] + [101.0 + k for k in range(5)]), "perf.keys_present:entity_id"),
        (PERF_ROWS, lambda: perf_rows(entity_id=[100.0] * 2 + [102.0 + k for k in range(4)]), "perf.keys_unique"),
        (PERF_ROWS, lambda: perf_rows(date=pd.to_datetime([DAY - dt.timedelta(days=1)] * 6)), "perf.fresh"),
        (PERF_ROWS, lambda: perf_rows(level=["keyword"] * 5 + ["banner"]), "perf.level_known"),
        (ACCOUNT, lambda: pd.DataFrame({"currency_code": ["EUR"], "time_zone": ["UTC"], "_row": [0]}), "account.currency_expected"),
        (ACCOUNT, lambda: pd.DataFrame({"currency_code": ["USD"], "time_zone": ["Europe/Paris"], "_row": [0]}), "account.time_zone_expected"),
        (STRUCTURE, lambda: structure(key=["campaign:1", "ad_group:10", "ad_group:10", "ad:10:500"]), "struct.keys_unique"),
        (STRUCTURE, lambda: structure(money_micros=[50_000_000.0, -1.0, 1_200_000.0, 0.0]), "struct.non_negative:money_micros"),
        (STRUCTURE, lambda: structure(parent_known=[True, True, False, True]), "struct.parent_known"),
        (STRUCTURE, lambda: structure(entity_id=[1.0, np.nan, 100.0, 500.0]), "struct.keys_present:entity_id"),
    ],
)  # fmt: skip
def test_blocking_checks(frame: str, make: Any, expected: str) -> None:
    b = batch(**{frame: make()})
    assert expected in failed(b)
    assert status_of(validate_frames(b, CONFIG)) is GateStatus.BLOCK


def test_rates_are_only_judged_on_enough_volume() -> None:
    # 3 impressions and 2 clicks: a CTR of 67% says nothing, so it is not a warning.
    rows = perf_rows(impressions=[3] + [1000] * 5, clicks=[2] + [40] * 5)
    assert failed(batch(**{PERF_ROWS: rows})) == {}


def test_failing_rows_are_reported_by_position() -> None:
    rows = perf_rows(clicks=[40, 40, 1200, 40, 40, 1500], impressions=[1000] * 6)
    found = failed(batch(**{PERF_ROWS: rows}))
    assert found["perf.clicks_le_impressions"] == [2, 5]


def test_duplicate_keys_name_every_copy_but_ignore_missing_keys() -> None:
    ids = [100.0, 100.0, np.nan, np.nan, 104.0, 105.0]
    found = failed(batch(**{PERF_ROWS: perf_rows(entity_id=ids)}))
    assert found["perf.keys_unique"] == [0, 1]
    assert found["perf.keys_present:entity_id"] == [2, 3]


def test_missing_day_blocks() -> None:
    coverage = pd.DataFrame(
        {
            "level": ["account", "account"],
            "entity_id": [1, 1],
            "date": pd.to_datetime([DAY - dt.timedelta(days=1), DAY]),
            "rows": [0, 6],
            "expected_rows": [1, 1],
            "_row": [0, 1],
        }
    )
    b = batch(**{PERF_COVERAGE: coverage})
    outcomes = validate_frames(b, CONFIG)
    (day,) = [o for o in outcomes if o.key == "perf.day_present"]
    assert not day.success and day.rows == [0]
    assert "has no rows on" in day.reason
    assert status_of(outcomes) is GateStatus.BLOCK


def test_a_day_google_left_out_is_not_missing() -> None:
    """No rows on a day nothing could serve (expected_rows 0: paused, outside the ad
    schedule) passes; the same day with a row expected blocks (above)."""
    coverage = pd.DataFrame(
        {
            "level": ["campaign", "campaign"],
            "entity_id": [7, 7],
            "date": pd.to_datetime([DAY - dt.timedelta(days=1), DAY]),
            "rows": [0, 1],
            "expected_rows": [0, 1],
            "_row": [0, 1],
        }
    )
    outcomes = validate_frames(batch(**{PERF_COVERAGE: coverage}), CONFIG)
    (day,) = [o for o in outcomes if o.key == "perf.day_present"]
    assert day.success


def test_every_expectation_is_a_registered_check_with_its_severity() -> None:
    specs = build_suites(batch(), CONFIG)
    keys = [key for spec in specs for key, _ in spec.expectations]
    assert len(keys) == len(set(keys)), "expectation ids must be unique"
    for spec in specs:
        for key, expectation in spec.expectations:
            assert expectation.meta == {"check": key, "severity": check(key).severity.value}
            assert key.split(":")[0] in CHECKS
    used = {k.split(":")[0] for k in keys}
    # The lag histogram's checks run in ingest's screen only (test_screen.py), and so do the
    # bounds, text and re-pull checks (reported from the screen's entries).
    assert used == set(CHECKS) - INGEST_ONLY - SCREEN_ONLY, "every other check is in a suite"


def test_a_column_family_reports_each_column_with_its_own_rows() -> None:
    """metrics_present and non_negative are one expectation each over the five metrics: a
    row failing two of them is reported under each column's key, with only its rows, and a
    missing value is not judged by non_negative (metrics_present reports it)."""
    rows = perf_rows(conversions=[np.nan, np.nan] + [2.0] * 4, clicks=[40, -3, 40, 40, -2, 40])
    outcomes = {o.key: o for o in validate_frames(batch(**{PERF_ROWS: rows}), CONFIG)}
    assert outcomes["perf.metrics_present:conversions"].rows == [0, 1]
    assert outcomes["perf.non_negative:clicks"].rows == [1, 4]
    assert outcomes["perf.non_negative:clicks"].sample == [-3, -2]
    assert outcomes["perf.non_negative:conversions"].success
    assert outcomes["perf.non_negative:conversions"].missing_count == 2
    assert outcomes["perf.metrics_present:clicks"].success
    assert outcomes["perf.non_negative:clicks"].reason.startswith(
        "perf.non_negative:clicks [block]: 2 of 6 rows: keyword 101 (ad group 10) on 2026-11-20"
    )
