"""What Spectra found for one day, per account, read back from the warehouse.

One ``AccountFindings`` per account: the quality gate's verdicts (over the days asked for),
the tracking outages the gate excluded and when it caught them, the anomalies with their
reasons, the significant test verdicts, the budget and bid envelopes with their expected
value, and the lag completion of the last days. ``spectra report`` renders it in full,
``spectra demo`` as one screen per account. Every query is scoped by tenant and account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from spectra.quality.checks import QualityConfig
from spectra.warehouse import models as m
from spectra.warehouse import report_store as store

SIGNIFICANT = ("increase", "decrease")
LAG_DAYS = 7


@dataclass
class GateDay:
    day: dt.date
    status: str
    reasons: list[str]
    quarantined_rows: int
    excluded_days: list[str]


@dataclass
class OutageDay:
    date: dt.date
    clicks: int
    conversions: float
    expected_conversions: float
    reason: str
    first_caught: dt.date  # the first report day whose validation excluded it
    expected_when_caught: float


@dataclass
class AccountFindings:
    tenant_id: str
    customer_id: int
    day: dt.date
    currency: str
    gate: list[GateDay] = field(default_factory=list)
    outages: list[OutageDay] = field(default_factory=list)
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    tests: int = 0
    verdicts: list[dict[str, Any]] = field(default_factory=list)  # every test (full report)
    budgets: list[dict[str, Any]] = field(default_factory=list)
    bids: list[dict[str, Any]] = field(default_factory=list)
    lag: list[dict[str, Any]] = field(default_factory=list)
    analytics_warnings: list[str] = field(default_factory=list)
    analyzed: bool = False

    @property
    def label(self) -> str:
        return f"{self.tenant_id}/{self.customer_id}"

    @property
    def significant(self) -> list[dict[str, Any]]:
        return [v for v in self.verdicts if v["verdict"] in SIGNIFICANT]

    @property
    def flagged_anomalies(self) -> list[dict[str, Any]]:
        return [a for a in self.anomalies if a["flagged"]]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["label"] = self.label
        return out


@dataclass
class Report:
    day: dt.date
    days: list[dt.date]
    accounts: list[AccountFindings]
    outage_rule: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "days": self.days,
            "outage_rule": self.outage_rule,
            "accounts": [a.as_dict() for a in self.accounts],
        }


def newest_day(bind: Engine | Connection) -> dt.date | None:
    """The newest report day with a quality verdict (the default day of a report)."""
    with _connect(bind) as conn:
        return store.newest_quality_day(conn)


def build_report(
    bind: Engine | Connection,
    *,
    day: dt.date,
    days: Sequence[dt.date] | None = None,
    tenant_id: str | None = None,
    customer_id: int | None = None,
) -> Report:
    """Findings for ``day`` (gate verdicts over ``days``, default the day alone)."""
    days = sorted(days or [day])
    config = QualityConfig()
    with _connect(bind) as conn:
        accounts = _accounts(conn, days, tenant_id, customer_id)
        found = [_account(conn, t, c, day, days) for t, c in accounts]
    rule = {
        "min_expected_run": config.outage_min_expected,
        "min_expected_one_day": config.outage_min_expected_one_day,
        "collapse_ratio": config.outage_collapse_ratio,
    }
    return Report(day=day, days=list(days), accounts=found, outage_rule=rule)


class _connect:
    """A connection for an engine (closed afterwards) or the caller's own connection."""

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind
        self.conn: Connection | None = None

    def __enter__(self) -> Connection:
        if isinstance(self.bind, Connection):
            return self.bind
        self.conn = self.bind.connect()
        return self.conn

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()


def _accounts(
    conn: Connection, days: Sequence[dt.date], tenant_id: str | None, customer_id: int | None
) -> list[tuple[str, int]]:
    return store.quality_accounts(conn, days, tenant_id, customer_id)


def _account(
    conn: Connection, tenant_id: str, customer_id: int, day: dt.date, days: Sequence[dt.date]
) -> AccountFindings:
    currency = store.expected_currency(conn, tenant_id=tenant_id, customer_id=customer_id)
    out = AccountFindings(
        tenant_id=tenant_id, customer_id=customer_id, day=day, currency=currency or ""
    )
    out.gate = _gate(conn, tenant_id, customer_id, days)
    out.outages = _outages(conn, tenant_id, customer_id, day)
    run = store.analytics_run(conn, tenant_id=tenant_id, customer_id=customer_id, logical_date=day)
    if run is None:
        return out
    out.analyzed = True
    out.analytics_warnings = list(run.warnings or [])
    out.tests = int((run.counts or {}).get("tests", 0))
    out.anomalies = _rows(conn, m.AnomalyRow, tenant_id, customer_id, day, order=("date",))
    out.verdicts = _rows(
        conn, m.Verdict, tenant_id, customer_id, day, order=("p_adjusted", "entity_id")
    )
    envelopes = _rows(conn, m.Envelope, tenant_id, customer_id, day, order=("entity_id",))
    out.budgets = [e for e in envelopes if e["kind"] == "budget"]
    out.bids = [e for e in envelopes if e["kind"] == "bid"]
    out.lag = _lag(conn, tenant_id, customer_id, day)
    return out


def _rows(
    conn: Connection,
    model: Any,
    tenant_id: str,
    customer_id: int,
    day: dt.date,
    *,
    order: Sequence[str],
) -> list[dict[str, Any]]:
    return store.day_rows(
        conn, model, tenant_id=tenant_id, customer_id=customer_id, logical_date=day, order=order
    )


def _gate(
    conn: Connection, tenant_id: str, customer_id: int, days: Sequence[dt.date]
) -> list[GateDay]:
    rows = store.quality_runs(conn, tenant_id=tenant_id, customer_id=customer_id, days=days)
    return [
        GateDay(
            day=row.logical_date,
            status=row.status,
            reasons=list(row.blocking or []) + list(row.warnings or []),
            quarantined_rows=int(row.quarantined_rows or 0),
            excluded_days=list(row.excluded_days or []),
        )
        for row in rows
    ]


def _outages(conn: Connection, tenant_id: str, customer_id: int, day: dt.date) -> list[OutageDay]:
    """Days excluded as tracking outages as of ``day``, with the run that first caught each."""
    current, history = store.tracking_outages(
        conn, tenant_id=tenant_id, customer_id=customer_id, day=day
    )
    if not current and not history:
        return []
    first: dict[dt.date, tuple[dt.date, float]] = {}
    for date, logical, expected in sorted(history, key=lambda h: (h[0], h[1])):
        first.setdefault(date, (logical, float(expected)))
    return [
        OutageDay(
            date=row.date,
            clicks=int(row.clicks),
            conversions=float(row.conversions),
            expected_conversions=float(row.expected_conversions),
            reason=row.reason,
            first_caught=first[row.date][0],
            expected_when_caught=first[row.date][1],
        )
        for row in current
    ]


def _lag(conn: Connection, tenant_id: str, customer_id: int, day: dt.date) -> list[dict[str, Any]]:
    """The last days' conversions as reported and as completed for lag, summed over campaigns."""
    since = day - dt.timedelta(days=LAG_DAYS - 1)
    rows = store.nowcast_totals(
        conn, tenant_id=tenant_id, customer_id=customer_id, logical_date=day, since=since
    )
    out = []
    for date, observed, nowcast, variance, age, status in rows:
        observed, nowcast = float(observed or 0), float(nowcast or 0)
        out.append(
            {
                "date": date,
                "age_days": int(age),
                "observed": observed,
                "completed": nowcast,
                "completed_se": float(variance or 0) ** 0.5,
                "reported_share": observed / nowcast if nowcast > 0 else None,
                "status": status,
            }
        )
    return out
