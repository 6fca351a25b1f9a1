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

from sqlalchemy import Connection, Engine, func, select

from spectra.quality.checks import QualityConfig
from spectra.warehouse import models as m

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
        return conn.execute(select(func.max(m.QualityRun.logical_date))).scalar_one_or_none()


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
    r = m.QualityRun
    stmt = select(r.tenant_id, r.customer_id).where(r.logical_date.in_(list(days))).distinct()
    if tenant_id is not None:
        stmt = stmt.where(r.tenant_id == tenant_id)
    if customer_id is not None:
        stmt = stmt.where(r.customer_id == customer_id)
    return sorted((t, int(c)) for t, c in conn.execute(stmt).all())


def _account(
    conn: Connection, tenant_id: str, customer_id: int, day: dt.date, days: Sequence[dt.date]
) -> AccountFindings:
    currency = conn.execute(
        select(m.AccountExpectation.currency_code).where(
            m.AccountExpectation.tenant_id == tenant_id,
            m.AccountExpectation.customer_id == customer_id,
        )
    ).scalar_one_or_none()
    out = AccountFindings(
        tenant_id=tenant_id, customer_id=customer_id, day=day, currency=currency or ""
    )
    out.gate = _gate(conn, tenant_id, customer_id, days)
    out.outages = _outages(conn, tenant_id, customer_id, day)
    run = conn.execute(
        select(m.AnalyticsRun.warnings, m.AnalyticsRun.counts).where(
            m.AnalyticsRun.tenant_id == tenant_id,
            m.AnalyticsRun.customer_id == customer_id,
            m.AnalyticsRun.logical_date == day,
        )
    ).first()
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
    table = model.__table__
    skip = {"id", "tenant_id", "customer_id", "logical_date"}
    columns = [c for c in table.c if c.name not in skip]
    stmt = (
        select(*columns)
        .where(
            table.c.tenant_id == tenant_id,
            table.c.customer_id == customer_id,
            table.c.logical_date == day,
        )
        .order_by(*(table.c[name] for name in order))
    )
    return [dict(row._mapping) for row in conn.execute(stmt)]


def _gate(
    conn: Connection, tenant_id: str, customer_id: int, days: Sequence[dt.date]
) -> list[GateDay]:
    r = m.QualityRun
    rows = conn.execute(
        select(
            r.logical_date, r.status, r.blocking, r.warnings, r.quarantined_rows, r.excluded_days
        )
        .where(r.tenant_id == tenant_id, r.customer_id == customer_id)
        .where(r.logical_date.in_(list(days)))
        .order_by(r.logical_date)
    ).all()
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
    x = m.DataExclusion
    scope = (
        x.tenant_id == tenant_id,
        x.customer_id == customer_id,
        x.kind == "tracking_outage",
        x.logical_date <= day,
    )
    latest = conn.execute(select(func.max(x.logical_date)).where(*scope)).scalar_one_or_none()
    if latest is None:
        return []
    current = conn.execute(
        select(x.date, x.clicks, x.conversions, x.expected_conversions, x.reason)
        .where(*scope, x.logical_date == latest, x.active.is_(True))
        .order_by(x.date)
    ).all()
    history = conn.execute(
        select(x.date, x.logical_date, x.expected_conversions).where(*scope)
    ).all()
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
    n = m.Nowcast
    since = day - dt.timedelta(days=LAG_DAYS - 1)
    rows = conn.execute(
        select(
            n.date,
            func.sum(n.conversions_observed),
            func.sum(n.conversions_nowcast),
            func.sum(n.conversions_nowcast_se * n.conversions_nowcast_se),
            func.min(n.age_days),
            func.max(n.lag_status),
        )
        .where(
            n.tenant_id == tenant_id,
            n.customer_id == customer_id,
            n.logical_date == day,
            n.date >= since,
        )
        .group_by(n.date)
        .order_by(n.date.desc())
    ).all()
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
