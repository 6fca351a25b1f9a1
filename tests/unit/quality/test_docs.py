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


def _publish_day(
    config: QualityConfig, logical_date: dt.date, verdict: dict[str, object] | None = None
) -> str:
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
    frame = pd.DataFrame({"clicks": [1, None, 3]})
    result = definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
    run = run_name("acme", 1, logical_date)
    if verdict is not None:
        verdict = {**verdict, "run": run, "logical_date": logical_date.isoformat()}
    publish(
        context, [(SUITE, result)], run=run, logical_date=logical_date, config=config,
        verdict=verdict,
    )  # fmt: skip
    return run


WARN_REASON = "perf.metrics_present:clicks [warn]: 1 of 3 rows: keyword 9 on 2026-11-20"


def _warn_verdict() -> dict[str, object]:
    return {
        "tenant_id": "acme", "customer_id": 1, "account": "acme/1", "status": "warn",
        "blocking": [], "warnings": [WARN_REASON],
        "expectations": [{
            "suite": SUITE, "key": "perf.metrics_present:clicks", "severity": "warn",
            "success": False, "unexpected": 1, "judged": 3, "rows": 3, "reason": WARN_REASON,
        }],
    }  # fmt: skip


CDN_HOSTS = ("unpkg.com", "cdnjs.", "jsdelivr", "code.jquery", "bootstrapcdn")


def _local_refs(page: Path) -> list[Path]:
    import re

    text = page.read_text()
    assert not any(host in text for host in CDN_HOSTS), page
    refs = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', text)
    return [(page.parent / ref).resolve() for ref in refs]


def test_pages_load_vendored_assets_and_say_spectras_verdict(tmp_path: Path) -> None:
    from spectra.quality.docs import day_page, spectra_index

    config = QualityConfig(quality_dir=tmp_path)
    run = _publish_day(config, REF_DAY, _warn_verdict())
    gx_page = validation_page(SUITE, run, REF_DAY, config)
    assert gx_page is not None
    for page in (data_docs_index(config), gx_page, day_page(REF_DAY, config)):
        refs = _local_refs(page)
        assert refs and all(ref.is_file() for ref in refs), (page, refs)
    gx = gx_page.read_text()
    # GX's suite status, put in context.
    assert "Spectra: WARN" in gx and 'aria-hidden="true"></i> Failed' not in gx
    assert 'id="spectra-verdict"' in gx and WARN_REASON in gx
    day = day_page(REF_DAY, config).read_text()
    assert 'data-account="acme/1" data-status="warn"' in day
    assert WARN_REASON in day and "1 / 3" in day
    assert f"days/{REF_DAY}.html" in spectra_index(config).read_text()
    # Re-publishing converges: one banner, one row.
    _publish_day(config, REF_DAY, _warn_verdict())
    assert gx_page.read_text().count('id="spectra-verdict"') == 1
    assert day_page(REF_DAY, config).read_text().count('data-account="acme/1" data-status') == 1


def _stored_results(config: QualityConfig) -> list[Path]:
    return sorted((quality_dir(config) / "gx" / "validations").rglob("*.json"))


def test_retention_rotates_docs_relative_to_the_newest_day(tmp_path: Path) -> None:
    config = QualityConfig(quality_dir=tmp_path, data_docs_retention_days=60)
    days = [REF_DAY - dt.timedelta(days=100), REF_DAY - dt.timedelta(days=50), REF_DAY]
    old, mid, new = (_publish_day(config, day, _warn_verdict()) for day in days)

    index = data_docs_index(config).read_text()
    assert old not in index and mid in index and new in index
    assert validation_page(SUITE, old, days[0], config) is None
    assert validation_page(SUITE, mid, days[1], config) is not None
    assert validation_page(SUITE, new, days[2], config) is not None
    assert [p.parent.parent.name for p in _stored_results(config)] == [mid, new]
    # Nothing of the removed run is left behind, not even empty folders.
    assert not any(old in str(p) for p in tmp_path.rglob("*"))
    from spectra.quality.docs import day_page

    assert not day_page(days[0], config).exists()

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
