"""Spectra's pages inside the Airflow UI: Data Docs behind Airflow's own login, run notes.

A FastAPI app mounted by the Airflow 3 plugin at ``/spectra``:

- ``/spectra/docs/…`` serves the Data Docs folder (Spectra's day pages, GX's pages, the
  vendored assets), linked from Browse → Data Docs;
- ``/spectra/runs/{dag_id}/{run_id}`` redirects to the page of that run's report day; it is
  the "Data Docs" tab of every DAG run page.

Airflow mounts plugin apps without its authentication (a Starlette mount inherits none of the
core API's dependencies), so the app declares Airflow's own check itself: the user's JWT (the
UI's ``_token`` cookie or an ``Authorization: Bearer`` header) must be valid and allow reading
``spectra_daily``'s runs; without one the answer is 401.

The listener sets each finished ``spectra_daily`` run's note to the day's verdicts (pass /
warn / block per account, with a link to the day's page), so a warned day shows on the run
itself. It runs in the scheduler, which owns the run row; a note a user wrote is kept.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import requires_access_dag
from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from spectra.airflow.local import DAG_ID
from spectra.quality.docs import UI_DOCS_PATH, day_page_route

URL_PREFIX = "/spectra"
NOTE_MARK = "Spectra quality"


def _docs_root() -> Path:
    from spectra.quality.docs import data_docs_dir

    return data_docs_dir().resolve()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Spectra",
        dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN, DAG_ID))],
    )

    # UI_DOCS_PATH is URL_PREFIX + "/docs": the routes below serve it.
    @app.get("/docs/", include_in_schema=False)
    def docs_home() -> RedirectResponse:
        return RedirectResponse(f"{UI_DOCS_PATH}/spectra/index.html")

    @app.get("/docs/{path:path}")
    def docs_file(path: str) -> FileResponse:
        root = _docs_root()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(404, f"no Data Docs page {path!r} (has validate run yet?)")
        return FileResponse(target)

    @app.get("/runs/{dag_id}/{run_id}", response_model=None)
    def run_docs(dag_id: str, run_id: str) -> RedirectResponse | HTMLResponse:
        if dag_id != DAG_ID:
            return HTMLResponse(f"<p>Spectra keeps Data Docs for {DAG_ID} only.</p>")
        day = _report_day(dag_id, run_id)
        if day is None:
            raise HTTPException(404, f"no run {run_id!r} of {dag_id}")
        return RedirectResponse(f"{UI_DOCS_PATH}/{day_page_route(day)}")

    return app


def _report_day(dag_id: str, run_id: str) -> dt.date | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        logical = session.scalar(
            select(DagRun.logical_date).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        )
    return logical.date() if logical is not None else None


# --------------------------------------------------------------------------- run notes


def run_note(day: dt.date) -> str | None:
    """The note for the run of ``day``: verdicts per account (worst first), Markdown."""
    from spectra.quality.report import gate_report
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        rows = gate_report(engine, logical_dates=[day])
    finally:
        engine.dispose()
    if not rows:
        return None
    order = {"missing": 0, "block": 1, "warn": 2, "pass": 3}
    rows = sorted(rows, key=lambda r: (order.get(r.status, 9), r.tenant_id, r.customer_id))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    head = ", ".join(f"{n} {s.upper() if s != 'pass' else s}" for s, n in counts.items())
    lines = [f"**{NOTE_MARK} {day}: {head}**", ""]
    for row in rows:
        if row.status == "pass":
            continue
        reason = row.reasons[0] if row.reasons else ""
        lines.append(f"- {row.status.upper()} {row.tenant_id}/{row.customer_id}: {reason[:160]}")
    lines.append(f"\n[Data Docs for {day}]({UI_DOCS_PATH}/{day_page_route(day)})")
    return "\n".join(lines)[:1000]


# Heavy modules the task bodies import (Great Expectations alone takes ~6 s on an idle core).
# Not the Google Ads client: gRPC must not be initialised before a fork.
PRELOAD_MODULES = ("spectra.quality.runner", "great_expectations", "spectra.analytics.service")


def preload_task_modules() -> list[str]:
    """Import the task bodies' heavy modules in the scheduler before its LocalExecutor forks.

    LocalExecutor forks its worker processes from the scheduler and each task process from a
    worker, so what the scheduler imported first is already loaded in every task: a validate
    task then no longer pays the GX import. Off with ``SPECTRA_PRELOAD_TASK_MODULES=0``.
    """
    import importlib
    import os

    if os.environ.get("SPECTRA_PRELOAD_TASK_MODULES", "1") == "0":
        return []
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in PRELOAD_MODULES:
        importlib.import_module(name)
    return list(PRELOAD_MODULES)


def _local_scheduler() -> bool:
    import sys

    from airflow.configuration import conf

    executor = conf.get("core", "executor", fallback="")
    return sys.argv[1:2] == ["scheduler"] and "LocalExecutor" in executor


class RunNoteListener:
    """Airflow listener: a finished spectra_daily run gets the day's verdicts as its note;
    a LocalExecutor scheduler preloads the task modules before it forks its workers."""

    @hookimpl
    def on_starting(self, component: Any) -> None:
        if _local_scheduler():
            preload_task_modules()

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        self._note(dag_run)

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        self._note(dag_run)

    @staticmethod
    def _note(dag_run: Any) -> None:
        if dag_run.dag_id != DAG_ID or dag_run.logical_date is None:
            return
        current = dag_run.note
        if current and not current.startswith(f"**{NOTE_MARK}"):
            return  # a user's own note stays
        note = run_note(dag_run.logical_date.date())
        if note:
            dag_run.note = note


class SpectraPlugin(AirflowPlugin):
    name = "spectra"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Spectra"}]
    external_views = [
        {
            "name": "Data Docs",
            "href": "spectra/docs/",
            "destination": "nav",
            "category": "browse",
            "url_route": "spectra-data-docs",
        },
        {
            "name": "Data Docs",
            "href": "spectra/runs/{DAG_ID}/{RUN_ID}",
            "destination": "dag_run",
            "url_route": "spectra-run-docs",
        },
    ]
    listeners = [RunNoteListener()]
