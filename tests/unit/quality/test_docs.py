"""Data Docs plumbing: paths, run ids, and rendering errors GX would only log."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from spectra.quality import data_docs_index
from spectra.quality.checks import QualityConfig
from spectra.quality.docs import _render_errors, quality_dir, run_name, validation_page


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
