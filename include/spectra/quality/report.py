"""The DAG-level report: per day and account, pass / warn / block, and why.

Built from ``quality_runs`` (one verdict per account and day). Accounts that were expected
but have no verdict for a day (their ingest failed, or validate never ran) are listed as
``missing`` rather than left out, so a gap in the gate cannot pass for a clean day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from spectra.warehouse.quality_reads import quality_runs

MISSING = "missing"


@dataclass(frozen=True)
class ReportRow:
    logical_date: dt.date
    tenant_id: str
    customer_id: int
    status: str  # pass | warn | block | missing
    reasons: list[str] = field(default_factory=list)
    quarantined_rows: int = 0
    excluded_days: list[str] = field(default_factory=list)
    data_docs_path: str = ""


def gate_report(
    bind: Engine | Connection,
    *,
    logical_dates: Sequence[dt.date] | None = None,
    tenant_id: str | None = None,
    expected_accounts: Iterable[tuple[str, int]] = (),
    only_expected: bool = False,
) -> list[ReportRow]:
    """Verdicts for the given days (default: every validated day), sorted by day and account.

    ``only_expected``: report the ``expected_accounts`` and nothing else, as a run limited to
    one tenant (or some accounts) must: another tenant's verdicts are not its to show.
    """
    expected_accounts = [(t, int(c)) for t, c in expected_accounts]
    wanted = set(expected_accounts)

    def read(conn: Connection) -> list[Any]:
        return quality_runs(
            conn,
            logical_dates=logical_dates,
            tenant_id=tenant_id,
            accounts=expected_accounts if only_expected else None,
        )

    if isinstance(bind, Engine):
        with bind.connect() as conn:
            found = read(conn)
    else:
        found = read(bind)
    rows = {
        (f.logical_date, f.tenant_id, int(f.customer_id)): ReportRow(
            logical_date=f.logical_date,
            tenant_id=f.tenant_id,
            customer_id=int(f.customer_id),
            status=f.status,
            reasons=list(f.blocking or []) + list(f.warnings or []),
            quarantined_rows=int(f.quarantined_rows or 0),
            excluded_days=list(f.excluded_days or []),
            data_docs_path=f.data_docs_path or "",
        )
        for f in found
        if not only_expected or (f.tenant_id, int(f.customer_id)) in wanted
    }
    days = sorted(set(logical_dates or ()) | {k[0] for k in rows})
    for day in days:
        for tenant, customer in expected_accounts:
            if tenant_id is not None and tenant != tenant_id:
                continue
            rows.setdefault(
                (day, tenant, int(customer)),
                ReportRow(day, tenant, int(customer), MISSING, ["no verdict: not validated"]),
            )
    return [rows[k] for k in sorted(rows)]


def render_report(rows: Sequence[ReportRow], *, max_reason: int = 110) -> str:
    """A plain-text table for the task log and the demo."""
    if not rows:
        return "(no quality verdicts yet)"
    lines = [f"{'day':<10}  {'account':<24}  {'gate':<7}  {'quar.':>5}  {'excl.':>5}  first reason"]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
        reason = row.reasons[0] if row.reasons else ""
        if len(reason) > max_reason:
            reason = reason[: max_reason - 1] + "…"
        account = f"{row.tenant_id}/{row.customer_id}"
        lines.append(
            f"{row.logical_date.isoformat():<10}  {account:<24}  {row.status:<7}  "
            f"{row.quarantined_rows:>5}  {len(row.excluded_days):>5}  {reason}"
        )
    lines.append("totals: " + ", ".join(f"{status} {n}" for status, n in sorted(counts.items())))
    return "\n".join(lines)


def gate_counts(day: dt.date, bind: Engine | Connection | None = None) -> str:
    """The day's verdicts in a few words, worst first: ``1 warn (demo/8863076022), 1 pass``."""
    from spectra.warehouse.db import make_engine

    if bind is not None:
        rows = gate_report(bind, logical_dates=[day])
    else:
        engine = make_engine()
        try:
            rows = gate_report(engine, logical_dates=[day])
        finally:
            engine.dispose()
    if not rows:
        return "no quality verdicts"
    parts = []
    for status in (MISSING, "block", "warn", "pass"):
        hits = [r for r in rows if r.status == status]
        if not hits:
            continue
        who = (
            ""
            if status == "pass"
            else f" ({', '.join(f'{r.tenant_id}/{r.customer_id}' for r in hits)})"
        )
        parts.append(f"{len(hits)} {status}{who}")
    return ", ".join(parts)
