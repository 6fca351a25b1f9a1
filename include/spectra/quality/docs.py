"""Great Expectations context and Data Docs: the HTML report users open.

An *ephemeral* context (nothing of GX's own config on disk, suites live in code) whose
validation-results store is a folder, plus one custom Data Docs site, so every account and
day ever validated stays listed in one index:

    $SPECTRA_HOME/var/quality/
        gx/validations/…     validation results (JSON), one per suite × account × day
        data_docs/index.html GX's site index (``data_docs_index()``)
        data_docs/spectra/index.html      Spectra's index: every day, every verdict
        data_docs/spectra/days/D.html     the day's page (``day_page(D)``): each account's
                                          verdict, reasons, checks and links to GX's pages
        data_docs/static/vendor/          the scripts and styles GX's pages load from CDNs,
                                          vendored (``assets/vendor``) so pages work offline

GX grades a suite "Failed" when any expectation fails; Spectra grades by the failed checks'
severity (pass / warn / block). So every page GX builds is post-processed: CDN references
point at the vendored copies, and the status line and a banner say Spectra's verdict with
its counts (failing rows of the rows that could be judged) and the failing days.

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
import html
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from spectra.quality.checks import QualityConfig
from spectra.settings import spectra_home

SITE = "spectra_quality"
# GX logs its import, stores, site builder and batches at INFO (213 of a validate log's 232
# lines): set before GX is first imported; its warnings and errors still reach the log.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
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
    verdict: Mapping[str, Any] | None = None,
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
    keys: list[ExpectationSuiteIdentifier | ValidationResultIdentifier] = []
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
        site = data_docs_dir(config)
        _vendor_assets(site)
        pages = [site / "index.html"]
        pages += [site / "expectations" / f"{name}.html" for name, _ in results]
        built = {name: validation_page(name, run, logical_date, config) for name, _ in results}
        pages += [p for p in built.values() if p is not None]
        for page in pages:
            localize_page(page, site)
        if verdict is not None and not any(run == k.run_id.run_name for k in expired):
            record = _verdict_record(verdict, built, site)
            for name, built_page in built.items():
                if built_page is not None:
                    _annotate_validation_page(built_page, record, name, site)
            _write_record(site, record)
        _rebuild_spectra_pages(site, retention_days=retention_days)
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


# --------------------------------------------------------------------------- offline assets

VENDOR = Path(__file__).with_name("assets") / "vendor"
# Every CDN reference in GX 1.x's page templates, and the vendored file that replaces it.
CDN_ASSETS = {
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table.min.css"
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": "bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": "bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": "bootstrap-prefers-dark.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "fontawesome/css/all.min.css"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": "bootstrap-table-filter-control.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker.min.js",
}
# Vega renders GX's profiling charts; no Spectra suite produces one, so the tags are dropped
# rather than 1.5 MB vendored.
DROPPED_SCRIPTS = (
    "https://cdn.jsdelivr.net/npm/vega@5",
    "https://cdn.jsdelivr.net/npm/vega-lite@5",
    "https://cdn.jsdelivr.net/npm/vega-embed@6",
)
_SRI = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*")')


def _vendor_assets(site: Path) -> None:
    """Copy the vendored scripts and styles into the site (once per package version)."""
    target = site / "static" / "vendor"
    stamp = target / ".source"
    source = str(VENDOR.resolve())
    if stamp.exists() and stamp.read_text() == source:
        return
    shutil.copytree(VENDOR, target, dirs_exist_ok=True)
    stamp.write_text(source)


def localize_page(page: Path, site: Path) -> None:
    """Point a page's CDN references at the vendored copies (relative, so files work too)."""
    if not page.is_file():
        return
    text = page.read_text()
    if "https://" not in text:
        return
    vendor = os.path.relpath(site / "static" / "vendor", page.parent)
    for url in DROPPED_SCRIPTS:
        text = text.replace(f'<script src="{url}"></script>', "")
    for url, local in CDN_ASSETS.items():
        text = text.replace(f'"{url}"', f'"{vendor}/{local}"')
    # Subresource-integrity attributes only make sense for the CDN copies.
    text = re.sub(
        r"<(script|link)\b[^>]*>",
        lambda m: _SRI.sub("", m.group(0)) if f"{vendor}/" in m.group(0) else m.group(0),
        text,
    )
    page.write_text(text)


# --------------------------------------------------------------------------- Spectra's pages

SPECTRA_DIR = "spectra"
_STATUS_CLASS = {"pass": "success", "warn": "warning", "block": "danger"}
_GX_FAILED = (
    '<span class="h6" >Status:</span> <i class="fas fa-times text-danger" aria-hidden="true">'
    "</i> Failed"
)


# Where the Airflow plugin serves the Data Docs folder, and a day page's place inside it.
UI_DOCS_PATH = "/spectra/docs"


def day_page_route(logical_date: dt.date | str) -> str:
    """A day page relative to the Data Docs folder (and to ``UI_DOCS_PATH`` in the UI)."""
    return f"{SPECTRA_DIR}/days/{logical_date}.html"


def spectra_index(config: QualityConfig | None = None) -> Path:
    """Spectra's Data Docs entry page: every validated day and account with its verdict."""
    return data_docs_dir(config) / SPECTRA_DIR / "index.html"


def day_page(logical_date: dt.date, config: QualityConfig | None = None) -> Path:
    """The page of one report day (every account validated that day)."""
    return data_docs_dir(config) / day_page_route(logical_date)


def _verdict_record(
    verdict: Mapping[str, Any], built: Mapping[str, Path | None], site: Path
) -> dict[str, Any]:
    """The verdict as stored beside the docs: JSON-able, with each suite's page (relative)."""
    record = json.loads(json.dumps(dict(verdict), default=str))
    record["pages"] = {
        name: page.relative_to(site).as_posix() for name, page in built.items() if page
    }
    return record


def _record_dir(site: Path) -> Path:
    return site / SPECTRA_DIR / "verdicts"


def _write_record(site: Path, record: Mapping[str, Any]) -> None:
    folder = _record_dir(site) / str(record["logical_date"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{_UNSAFE.sub('_', str(record['run']))}.json").write_text(
        json.dumps(record, indent=1, sort_keys=True)
    )


def _records(site: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    root = _record_dir(site)
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir()):
        rows = [json.loads(f.read_text()) for f in sorted(folder.glob("*.json"))]
        if rows:
            out[folder.name] = sorted(rows, key=lambda r: (r["tenant_id"], r["customer_id"]))
    return out


def _annotate_validation_page(
    page: Path, record: Mapping[str, Any], suite: str, site: Path
) -> None:
    """Say Spectra's verdict on a GX page: the status line and a banner with the counts."""
    text = page.read_text()
    status = str(record["status"])
    failed = [e for e in record["expectations"] if e["suite"] == suite and not e["success"]]
    worst = "block" if any(e["severity"] == "block" for e in failed) else "warn"
    suite_status = worst if failed else "pass"
    text = text.replace(
        _GX_FAILED,
        f'<span class="h6" >Status:</span> GX: failed expectations &middot; '
        f"<strong>Spectra: {suite_status.upper()}</strong>",
    )
    day_link = os.path.relpath(day_page_path(site, str(record["logical_date"])), page.parent)
    items = "".join(f"<li>{html.escape(e['reason'])}</li>" for e in failed)
    banner = (
        f'<div class="alert alert-{_STATUS_CLASS.get(status, "secondary")} m-3" '
        f'id="spectra-verdict"><strong>Spectra verdict for {html.escape(record["account"])} on '
        f"{record['logical_date']}: {status.upper()}</strong> &mdash; "
        f"{html.escape(_EFFECT[status])}. This suite: "
        + (f"{len(failed)} failed check(s), severity {worst}:<ul class='mb-0'>{items}</ul>"
           if failed else "every check passed.")
        + f' <a href="{day_link}">The day&#39;s page</a>.</div>'
    )  # fmt: skip
    if 'id="spectra-verdict"' not in text:
        text = text.replace("<body>", f"<body>{banner}", 1)
    page.write_text(text)


def day_page_path(site: Path, day: str) -> Path:
    return site / day_page_route(day)


_EFFECT = {
    "pass": "downstream steps read this account's data",
    "warn": "the run continued; quarantined rows and excluded days are hidden from analytics",
    "block": "downstream steps skipped this account for the day",
}


def _rebuild_spectra_pages(site: Path, *, retention_days: int) -> None:
    """Rewrite every day page and the index from the stored verdicts (pruned like GX's)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    records = _records(site)
    if records and retention_days > 0:
        newest = max(dt.date.fromisoformat(d) for d in records)
        cutoff = newest - dt.timedelta(days=retention_days)
        for day in [d for d in records if dt.date.fromisoformat(d) < cutoff]:
            shutil.rmtree(_record_dir(site) / day, ignore_errors=True)
            day_page_path(site, day).unlink(missing_ok=True)
            del records[day]
    env = Environment(
        loader=PackageLoader("spectra.quality", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    env.globals.update(status_class=_STATUS_CLASS, effect=_EFFECT)
    days_dir = site / SPECTRA_DIR / "days"
    days_dir.mkdir(parents=True, exist_ok=True)
    page = env.get_template("day.html")
    for day, rows in records.items():
        day_page_path(site, day).write_text(
            page.render(day=day, accounts=rows, vendor="../../static/vendor", root="../../")
        )
    index = env.get_template("index.html")
    (site / SPECTRA_DIR / "index.html").write_text(
        index.render(days=sorted(records.items(), reverse=True), vendor="../static/vendor")
    )
