"""Great Expectations context and Data Docs: the HTML report users open.

An *ephemeral* context (nothing of GX's own config on disk, suites live in code) whose
validation-results store is a folder, plus one custom Data Docs site, so every account and
day ever validated stays listed in one index:

    $SPECTRA_HOME/var/quality/
        gx/validations/…     validation results (JSON), one per suite × account × day
        data_docs/index.html the site (``data_docs_index()``)

A validation's run id is derived from (tenant, account, logical date) with a fixed run
time, so re-validating a day overwrites its pages instead of adding new ones. Mapped
validate tasks run in parallel processes and all rebuild the same index, so storing results,
pruning old ones and rebuilding the site happen under an exclusive file lock.

Retention (``QualityConfig.data_docs_retention_days``) is measured from the newest logical
date present in the store, not from the day being published: a backfill of an old day never
deletes newer days, and a day older than the window is stored and pruned again in the same
publish (it never reaches the index). Only the docs rotate; the warehouse keeps every result.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from spectra.quality.checks import QualityConfig
from spectra.settings import spectra_home

SITE = "spectra_quality"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def quality_dir(config: QualityConfig | None = None) -> Path:
    """Where the gate keeps Data Docs and GX results (``$SPECTRA_HOME/var/quality``)."""
    if config is not None and config.quality_dir is not None:
        return Path(config.quality_dir)
    return spectra_home() / "var" / "quality"


def data_docs_dir(config: QualityConfig | None = None) -> Path:
    return quality_dir(config) / "data_docs"


def data_docs_index(config: QualityConfig | None = None) -> Path:
    """The Data Docs entry page (exists once a validation has run)."""
    return data_docs_dir(config) / "index.html"


def run_name(tenant_id: str, customer_id: int, logical_date: dt.date) -> str:
    """The validation's run id: stable per (tenant, account, day), safe as a path segment."""
    return f"{_UNSAFE.sub('_', tenant_id)}-{customer_id}-{logical_date.isoformat()}"


def make_context(config: QualityConfig | None = None) -> Any:
    """An ephemeral GX context with on-disk validation results and the Spectra docs site."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    root = quality_dir(config)
    project = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
    )
    project.stores["validation_results_store"] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(root / "gx" / "validations"),
        },
    }
    project.data_docs_sites = {
        SITE: {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(root / "data_docs"),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    }
    context = gx.get_context(mode="ephemeral", project_config=project)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@contextmanager
def _docs_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".docs.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish(
    context: Any,
    results: Sequence[tuple[str, Any]],
    *,
    run: str,
    logical_date: dt.date,
    config: QualityConfig | None = None,
) -> Path:
    """Store (suite name, suite result) pairs under ``run`` and rebuild their pages + index.

    Results are trimmed first: the complete lists of failing rows were needed to quarantine
    them, but the report only needs the partial lists GX renders (20 rows).
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run_id = RunIdentifier(
        run_name=run,
        run_time=dt.datetime(
            logical_date.year, logical_date.month, logical_date.day, tzinfo=dt.UTC
        ),
    )
    keys = []
    for suite_name, result in results:
        _trim(result)
        result.meta["run_id"] = run_id
        result.meta["validation_time"] = run_id.run_time
        suite_id = ExpectationSuiteIdentifier(name=suite_name)
        keys.append(suite_id)
        keys.append(
            ValidationResultIdentifier(
                expectation_suite_identifier=suite_id,
                run_id=run_id,
                batch_identifier=result.batch_id,
            )
        )
    root = quality_dir(config)
    retention_days = (config or QualityConfig()).data_docs_retention_days
    with _docs_lock(root), _render_errors() as errors:
        for key in keys:
            if isinstance(key, ValidationResultIdentifier):
                result = dict(results)[key.expectation_suite_identifier.name]
                context.validation_results_store.set(key, result)
        expired = prune_validation_results(context, retention_days=retention_days)
        live = [key for key in keys if key not in expired]
        # GX's index builder drops (and deletes) every page whose result is gone from the store.
        context.build_data_docs(site_names=[SITE], resource_identifiers=live)
        _remove_empty_run_dirs(root, expired)
    if errors:
        raise DataDocsError(f"Data Docs rendered with {len(errors)} error(s): {errors[0]}")
    return data_docs_index(config)


def prune_validation_results(context: Any, *, retention_days: int) -> list[Any]:
    """Remove stored results older than the retention window; returns their keys.

    The window ends at the newest logical date in the store (a backfill never moves it back),
    and a result's logical date is its run time, which ``publish`` pins to midnight UTC of
    the day. Must run under ``_docs_lock``: parallel publishers list and delete the same files.
    """
    if retention_days <= 0:
        return []
    store = context.validation_results_store
    keys = store.list_keys()
    if not keys:
        return []
    newest = max(key.run_id.run_time.date() for key in keys)
    cutoff = newest - dt.timedelta(days=retention_days)
    expired = [key for key in keys if key.run_id.run_time.date() < cutoff]
    for key in expired:
        store.remove_key(key)
    if expired:
        logging.getLogger(__name__).info(
            "Data Docs retention: removed %d validation result(s) before %s (newest %s)",
            len(expired),
            cutoff,
            newest,
        )
    return expired


def _remove_empty_run_dirs(root: Path, expired: Sequence[Any]) -> None:
    """Drop the folders GX leaves behind (its own empty-dir cleanup never fires in 1.x).

    Only the ``suite/run/run_time`` folders of removed keys below the two quality folders are
    touched, and ``rmdir`` refuses a folder that is not empty, so nothing live can go.
    """
    bases = (root / "gx" / "validations", root / "data_docs" / "validations")
    for key in expired:
        segments = key.to_tuple()[:-1]  # the file's folders; the last item is the batch id
        for base in bases:
            folder = base.joinpath(*segments)
            for _ in segments:
                try:
                    folder.rmdir()
                except OSError:  # not there, or still holds live files
                    break
                folder = folder.parent


class DataDocsError(RuntimeError):
    """Great Expectations failed to render part of the report (it only logs such errors)."""


@contextmanager
def _render_errors() -> Iterator[list[str]]:
    """Collect the errors GX's site builder logs instead of raising, so none goes unseen."""
    errors: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            errors.append(record.getMessage()[:500])

    handler = _Collect(level=logging.ERROR)
    logger = logging.getLogger("great_expectations.render")
    logger.addHandler(handler)
    try:
        yield errors
    finally:
        logger.removeHandler(handler)


_HEAVY = ("unexpected_index_list", "unexpected_index_query", "unexpected_list")


def _trim(suite_result: Any) -> None:
    for r in suite_result.results:
        for name in _HEAVY:
            r.result.pop(name, None)


def validation_page(
    suite_name: str, run: str, logical_date: dt.date, config: QualityConfig | None = None
) -> Path | None:
    """The Data Docs page of one suite's validation for (run, day), if it was built."""
    folder = data_docs_dir(config) / "validations" / suite_name / run
    stamp = f"{logical_date:%Y%m%d}T000000.000000Z"
    pages = sorted((folder / stamp).glob("*.html")) if (folder / stamp).is_dir() else []
    return pages[0] if pages else None
