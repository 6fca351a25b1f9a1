"""Data Docs plumbing: paths, run ids, and rendering errors GX would only log."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from spectra.quality import data_docs_index
from spectra.quality.checks import QualityConfig
from spectra.quality.docs import (
    _render_errors,
    make_context,
    publish,
    quality_dir,
    run_name,
    validation_page,
)


def test_paths_follow_spectra_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPECTRA_HOME", str(tmp_path))
    assert data_docs_index() == tmp_path / "var" / "quality" / "data_docs" / "index.html"
    config = QualityConfig(quality_dir=tmp_path / "elsewhere")
    assert quality_dir(config) == tmp_path / "elsewhere"
    assert data_docs_index(config) == tmp_path / "elsewhere" / "data_docs" / "index.html"


def test_run_name_is_stable_and_path_safe() -> None:
    name = run_name("acme/eu west", 123, dt.date(2026, 11, 20))
    assert name == "acme_eu_west-123-2026-11-20"
    assert "/" not in name


def test_missing_page_is_none(tmp_path: Path) -> None:
    config = QualityConfig(quality_dir=tmp_path)
    assert validation_page("performance_daily_rows", "x", dt.date(2026, 1, 1), config) is None


def test_rendering_errors_logged_by_gx_are_collected() -> None:
    with _render_errors() as errors:
        logging.getLogger("great_expectations.render.renderer.site_builder").error("boom")
        logging.getLogger("great_expectations.render.renderer.site_builder").warning("meh")
    assert errors == ["boom"]


REF_DAY = dt.date(2026, 11, 20)
SUITE = "performance_daily_rows"


def _publish_day(config: QualityConfig, logical_date: dt.date) -> str:
    """Validate a tiny frame and publish it as account 1's run for ``logical_date``."""
    import great_expectations as gx
    import pandas as pd

    context = make_context(config)
    source = context.data_sources.add_pandas(name="spectra_warehouse")
    definition = source.add_dataframe_asset(name=SUITE).add_batch_definition_whole_dataframe(
        "batch"
    )
    suite = context.suites.add(
        gx.ExpectationSuite(
            name=SUITE,
            expectations=[gx.expectations.ExpectColumnValuesToNotBeNull(column="clicks")],
        )
    )
    frame = pd.DataFrame({"clicks": [1, 2, 3]})
    result = definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
    run = run_name("acme", 1, logical_date)
    publish(context, [(SUITE, result)], run=run, logical_date=logical_date, config=config)
    return run


def _stored_results(config: QualityConfig) -> list[Path]:
    return sorted((quality_dir(config) / "gx" / "validations").rglob("*.json"))


def test_retention_rotates_docs_relative_to_the_newest_day(tmp_path: Path) -> None:
    config = QualityConfig(quality_dir=tmp_path, data_docs_retention_days=60)
    days = [REF_DAY - dt.timedelta(days=100), REF_DAY - dt.timedelta(days=50), REF_DAY]
    old, mid, new = (_publish_day(config, day) for day in days)

    index = data_docs_index(config).read_text()
    assert old not in index and mid in index and new in index
    assert validation_page(SUITE, old, days[0], config) is None
    assert validation_page(SUITE, mid, days[1], config) is not None
    assert validation_page(SUITE, new, days[2], config) is not None
    assert [p.parent.parent.name for p in _stored_results(config)] == [mid, new]
    # Nothing of the removed run is left behind, not even empty folders.
    assert not any(old in str(p) for p in tmp_path.rglob("*"))

    # Backfilling the old day again: the window still ends at the newest day, so the old
    # day is pruned at once and newer days stay.
    _publish_day(config, days[0])
    index = data_docs_index(config).read_text()
    assert old not in index and mid in index and new in index
    assert validation_page(SUITE, old, days[0], config) is None
    assert [p.parent.parent.name for p in _stored_results(config)] == [mid, new]

    # A backfill inside the window is kept, and re-publishing is idempotent.
    inside = _publish_day(config, REF_DAY - dt.timedelta(days=60))
    _publish_day(config, REF_DAY)
    index = data_docs_index(config).read_text()
    assert all(run in index for run in (inside, mid, new))
    assert len(_stored_results(config)) == 3


def test_zero_retention_keeps_every_day(tmp_path: Path) -> None:
    config = QualityConfig(quality_dir=tmp_path, data_docs_retention_days=0)
    days = [REF_DAY - dt.timedelta(days=400), REF_DAY]
    runs = [_publish_day(config, day) for day in days]
    index = data_docs_index(config).read_text()
    assert all(run in index for run in runs)
    assert all(validation_page(SUITE, r, d, config) for r, d in zip(runs, days, strict=True))
    assert len(_stored_results(config)) == 2
