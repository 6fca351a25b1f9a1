"""Spend-monitor benchmark: no campaign spends past its limit, over 30 days and 200 campaigns.

The market: two accounts of 100 campaigns each (New York and Seoul time), Google's
overdelivery on (up to two budgets a day, 30.4 a month), three hours of reporting delay. Limits:
20 % of the campaigns have a daily limit between 1.05 and 1.5 budgets (a real risk: Google may
spend two), 10 % a total limit that their spend reaches inside the 30 days; the rest a daily
limit of three budgets (never reached). The monitor runs at every hour of the 30 days for each
account, through the real client, the sandbox and the apply executor.

Figures (added to ``results``):
- ``monitors: largest overshoot past a limit``: the most any campaign spent past its daily
  limit on any day or past its total limit, as read from the market afterwards (target 0);
  baseline = the same with a monitor that pauses only on *reported* spend, over the first
  ``NAIVE_DAYS`` days (what the projection saves);
- ``monitors: limit breaches``: campaign-days past a limit (target 0), baseline = naive;
- ``monitors: run time per account``: median seconds of one hourly run for one account
  (p95 in the unit string's companion figure).
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

DAYS = 30
NAIVE_DAYS = 10
START = dt.date(2026, 11, 1)
TENANT = "bench"
SCENARIO: dict[str, Any] = {
    "name": "bench-monitors",
    "seed": 1919,
    "reference_date": START.isoformat(),
    "history_days": 60,
    "structure": {
        "accounts": 2,
        "campaigns_per_account": 100,
        "ad_groups_per_campaign": 2,
        "keywords_per_ad_group": 4,
        "ads_per_ad_group": 1,
    },
    "accounts": [
        {"name": "Northwind Outdoor", "vertical": "outdoor", "time_zone": "America/New_York"},
        {"name": "Summit Gear", "vertical": "outdoor", "time_zone": "Asia/Seoul"},
    ],
}


def _fig(
    results: dict[str, Any], name: str, value: float, unit: str, baseline: float | None
) -> None:
    ratio = value / baseline if baseline else None
    results[name] = {"value": value, "unit": unit, "baseline": baseline, "ratio": ratio}
    print(f"   {name}: {value:,.3f} {unit} (baseline {baseline}, ratio {ratio})", flush=True)


def _market() -> Any:
    from spectra.sandbox.market import Market
    from spectra.sandbox.market.scenario import scenario_from_dict

    return Market(scenario_from_dict(SCENARIO))


def _limits(market: Any) -> dict[int, dict[int, dict[str, Any]]]:
    """Per account and campaign: the limits (see the module docstring), seeded."""
    import numpy as np

    st = market.struct
    rng = np.random.default_rng(19)
    state = market.state_at(START.toordinal() - 1)
    before = _spend(market, market.history_start, START - dt.timedelta(days=1), START)
    out: dict[int, dict[int, dict[str, Any]]] = {}
    for c in range(st.n_campaigns):
        cid = int(st.customer_id[st.campaign_account[c]])
        camp = int(st.campaign_id[c])
        budget = int(state.campaign_budget[c])
        draw = rng.random()
        if draw < 0.2:
            limits = {"max_daily_spend_micros": int(budget * rng.uniform(1.05, 1.5))}
        elif draw < 0.3:
            days = rng.uniform(3, 25)  # reached after this many days of spending a budget
            limits = {
                "total_spend_limit_micros": int(before.get((cid, camp), 0) + days * budget),
                "max_daily_spend_micros": 3 * budget,
            }
        else:
            limits = {"max_daily_spend_micros": 3 * budget}
        out.setdefault(cid, {})[camp] = limits
    return out


def _spend(
    market: Any, first: dt.date, last: dt.date, as_of: dt.date
) -> dict[tuple[int, int], int]:
    fields = frozenset({"campaign.id", "metrics.cost_micros", "segments.date"})
    out: dict[tuple[int, int], int] = {}
    for cid in market.customer_ids():
        for row in market.rows(
            "campaign", customer_id=cid, date_from=first, date_to=last, as_of=as_of, fields=fields
        ):
            key = (cid, int(row["campaign.id"]))
            out[key] = out.get(key, 0) + int(row["metrics.cost_micros"])
    return out


def _overshoot(
    market: Any, limits: dict[int, dict[int, dict[str, int]]], days: int
) -> tuple[int, int]:
    """(largest micros past a limit, campaign-days past a limit) over the run's days."""
    later = START + dt.timedelta(days=days + 3)
    worst, breaches = 0, 0
    for d in range(days):
        day = START + dt.timedelta(days=d)
        for (cid, camp), cost in _spend(market, day, day, later).items():
            daily = limits[cid][camp].get("max_daily_spend_micros")
            if daily is not None and cost > daily:
                worst, breaches = max(worst, cost - daily), breaches + 1
    last = START + dt.timedelta(days=days - 1)
    for (cid, camp), cost in _spend(market, market.history_start, last, later).items():
        total = limits[cid][camp].get("total_spend_limit_micros")
        if total is not None and cost > total:
            worst, breaches = max(worst, cost - total), breaches + 1
    return worst, breaches


def _simulate(days: int, *, project: bool) -> tuple[int, int, list[float], int]:
    """Run the monitor hourly for ``days``; (worst overshoot, breaches, run seconds, pauses)."""
    from spectra.ads.client import AdsCredentials, build_client
    from spectra.domain.campaign_state import CampaignState
    from spectra.monitors.config import SpendMonitorConfig
    from spectra.monitors.spend import check_spend
    from spectra.sandbox.server import SandboxServer
    from spectra.warehouse.db import make_engine, migrate
    from spectra.warehouse.repositories import add_campaign, register_account, register_tenant

    market = _market()
    limits = _limits(market)
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-monitors-')) / 'w.db'}"
    engine = make_engine(url)
    migrate(engine)
    st = market.struct
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Bench")
        for a, cid in enumerate(market.customer_ids()):
            register_account(conn, tenant_id=TENANT, customer_id=cid, time_zone=st.time_zone[a])
            for camp, lim in limits[cid].items():
                add_campaign(
                    conn, tenant_id=TENANT, customer_id=cid, campaign_id=camp, name=f"c{camp}",
                    status=CampaignState.ACTIVE, **lim,
                )  # fmt: skip
    config = SpendMonitorConfig(project=project)
    timings: list[float] = []
    pauses = 0
    with SandboxServer(market, clock=START) as server:
        creds = AdsCredentials(
            developer_token="b", access_token="b", endpoint=server.endpoint,
            ca_cert_path=str(server.ca_cert), sandbox_clock=True,
        )  # fmt: skip
        client = build_client(creds)
        # from a day before to a day after (UTC), so every local day START.. of both time
        # zones is watched from its first hour to its last
        first = dt.datetime.combine(START - dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
        for hour in range((days + 2) * 24):
            clock = first + dt.timedelta(hours=hour)
            for cid in market.customer_ids():
                started = time.perf_counter()
                report = check_spend(
                    engine, client, tenant_id=TENANT, customer_id=cid, clock=clock,
                    creds=creds, config=config,
                )  # fmt: skip
                timings.append(time.perf_counter() - started)
                pauses += len(report.paused)
    worst, breaches = _overshoot(market, limits, days)
    engine.dispose()
    return worst, breaches, timings, pauses


def run(results: dict[str, Any]) -> None:
    worst, breaches, timings, pauses = _simulate(DAYS, project=True)
    naive_worst, naive_breaches, _, _ = _simulate(NAIVE_DAYS, project=False)
    print(f"   {pauses} pauses over {DAYS} days", flush=True)
    _fig(
        results,
        "monitors: largest overshoot past a limit",
        worst / 1e6,
        "currency units",
        naive_worst / 1e6,
    )
    _fig(
        results, "monitors: limit breaches", float(breaches), "campaign-days", float(naive_breaches)
    )
    timings.sort()
    _fig(
        results,
        "monitors: run time per account",
        statistics.median(timings),
        "s (median)",
        None,
    )
    _fig(
        results,
        "monitors: run time per account p95",
        timings[int(0.95 * (len(timings) - 1))],
        "s",
        None,
    )
