"""What Spectra found: per account and day, from the warehouse (``spectra report``, the demo)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from spectra.report.findings import AccountFindings, Report, build_report, newest_day
from spectra.report.render import findings_screens, render_json, render_markdown

__all__ = [
    "AccountFindings",
    "Report",
    "build_report",
    "findings_text",
    "newest_day",
    "render_json",
    "render_markdown",
]


def findings_text(days: Sequence[dt.date], *, ui_url: str) -> str:
    """The demo's closing screens: each account's findings for the last day, then where to look."""
    from spectra.quality.docs import UI_DOCS_PATH, data_docs_index, day_page_route
    from spectra.warehouse.db import make_engine

    last = max(days)
    engine = make_engine()
    try:
        report = build_report(engine, day=last, days=days)
    finally:
        engine.dispose()
    warned = [(a.label, g.day) for a in report.accounts for g in a.gate if g.status != "pass"]
    lines = [f"What Spectra found (gate over {min(days)} .. {last}; analytics as of {last})", ""]
    lines.append(findings_screens(report))
    lines += ["", "Where to look:"]
    lines.append(f"  Airflow UI    {ui_url}  (make up; login admin / admin)")
    lines.append(
        f"    runs        {ui_url}/dags/spectra_daily/runs  (notes say pass / warn / block)"
    )
    if warned:
        label, day = warned[-1]
        lines.append(f"    a warn      {label} on {day}: open that run, task 'validate', its log")
    lines.append(
        f"  Data Docs     {ui_url}{UI_DOCS_PATH}/{day_page_route(last)}  (Browse → Data Docs)"
    )
    lines.append(f"                offline copy: {data_docs_index()}")
    lines.append(f"  full tables   spectra report --day {last} [--account ID] [--format json]")
    return "\n".join(lines)
