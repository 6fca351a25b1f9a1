"""Hours in the market: today accrues by the hourly profile, is served as of the clock less the
reporting delay, and a pause made at an hour stops spend from that hour on."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from spectra.sandbox.market import Market, Mutation
from spectra.sandbox.market.intraday import cumulative, normalised, overdelivery

DAY = dt.date(2026, 11, 25)
FIELDS = frozenset({"campaign.id", "segments.date", "metrics.cost_micros", "metrics.clicks"})


def _instant(m: Market, account: int, day: dt.date, hour: float) -> dt.datetime:
    zone = ZoneInfo(m.struct.time_zone[account])
    local = dt.datetime.combine(day, dt.time(0), tzinfo=zone) + dt.timedelta(hours=hour)
    return local.astimezone(dt.UTC)


def _today_cost(m: Market, cid: int, clock: dt.datetime | dt.date, day: dt.date) -> dict[int, int]:
    rows = m.rows(
        "campaign", customer_id=cid, date_from=day, date_to=day, as_of=clock, fields=FIELDS
    )
    return {r["campaign.id"]: r["metrics.cost_micros"] for r in rows}


def _pause(m: Market, cid: int, campaign_id: int, clock: dt.datetime) -> None:
    rn = f"customers/{cid}/campaigns/{campaign_id}"
    m.apply_mutation(cid, Mutation("campaign", "update", rn, {"status": "PAUSED"}), as_of=clock)


def test_profile_is_a_distribution_and_its_cumulative_is_monotone() -> None:
    p = normalised([1.0] * 24)
    assert cumulative(p, 0.5) == pytest.approx(0.5)
    assert cumulative(p, 1.0) == pytest.approx(1.0)
    assert cumulative(p, 0.0) == 0.0
    with pytest.raises(ValueError, match="24 non-negative"):
        normalised([1.0] * 23)


def test_today_accrues_by_the_profile_less_the_reporting_delay() -> None:
    m = Market.from_scenario("tiny", events=())
    cid = m.customer_ids()[0]
    full = _today_cost(m, cid, DAY + dt.timedelta(days=1), DAY)  # the whole day, seen later
    camp = max(full, key=lambda c: full[c])
    seen = []
    for hour in range(4, 24):
        part = _today_cost(m, cid, _instant(m, 0, DAY, hour), DAY).get(camp, 0)
        # at local hour h, Google has reported up to h - 3 (the delay)
        share = float(cumulative(m.hourly_profile, (hour - 3) / 24))
        assert part == pytest.approx(full[camp] * share, rel=0.01, abs=2)
        seen.append(part)
    assert seen == sorted(seen) and seen[-1] < full[camp]
    # a shorter delay shows more of today at the same instant
    m.reporting_delay = dt.timedelta(hours=1)
    assert _today_cost(m, cid, _instant(m, 0, DAY, 12), DAY)[camp] > seen[12 - 4]


def test_a_pause_at_hour_h_stops_spend_from_h_on() -> None:
    m = Market.from_scenario("tiny", events=())
    cid = m.customer_ids()[0]
    full = _today_cost(m, cid, DAY + dt.timedelta(days=1), DAY)
    camp, other = sorted(full, key=lambda c: -full[c])[:2]
    _pause(m, cid, camp, _instant(m, 0, DAY, 14.25))  # 14:15: in force from 14:00
    after = _today_cost(m, cid, DAY + dt.timedelta(days=1), DAY)
    by_14 = full[camp] * float(cumulative(m.hourly_profile, 14 / 24))
    assert after[camp] == pytest.approx(by_14, rel=0.01)
    assert after[other] == full[other]  # another campaign's day is untouched
    # what was reported before the pause stays reported, nothing accrues after it
    at_16 = _today_cost(m, cid, _instant(m, 0, DAY, 16), DAY)[camp]
    at_22 = _today_cost(m, cid, _instant(m, 0, DAY, 22), DAY)[camp]
    assert at_16 == pytest.approx(
        full[camp] * float(cumulative(m.hourly_profile, 13 / 24)), rel=0.01
    )
    assert at_22 == pytest.approx(after[camp], rel=0.01)
    # the next day it spends nothing while paused; the day before is the same as ever
    next_day = DAY + dt.timedelta(days=1)
    assert _today_cost(m, cid, next_day + dt.timedelta(days=1), next_day).get(camp, 0) == 0
    before = DAY - dt.timedelta(days=1)
    assert _today_cost(m, cid, DAY, before) == _today_cost(
        Market.from_scenario("tiny", events=()), cid, DAY, before
    )


def test_enabling_again_at_an_hour_resumes_spend_from_then() -> None:
    m = Market.from_scenario("tiny", events=())
    cid = m.customer_ids()[0]
    full = _today_cost(m, cid, DAY + dt.timedelta(days=1), DAY)
    camp = max(full, key=lambda c: full[c])
    rn = f"customers/{cid}/campaigns/{camp}"
    _pause(m, cid, camp, _instant(m, 0, DAY, 10))
    m.apply_mutation(
        cid,
        Mutation("campaign", "update", rn, {"status": "ENABLED"}),
        as_of=_instant(m, 0, DAY, 18),
    )
    after = _today_cost(m, cid, DAY + dt.timedelta(days=1), DAY)[camp]
    f = m.hourly_profile
    on_share = float(cumulative(f, 10 / 24)) + 1.0 - float(cumulative(f, 18 / 24))
    assert after == pytest.approx(full[camp] * on_share, rel=0.01)


def test_overdelivery_stays_within_googles_daily_and_monthly_bounds() -> None:
    ids = np.arange(1, 400, dtype=np.int64)
    days = range(dt.date(2026, 1, 1).toordinal(), dt.date(2026, 2, 1).toordinal())
    factors = np.stack(
        [overdelivery(7, ids, o, sigma=0.35, daily_max=2.0, monthly_days=30.4) for o in days]
    )
    assert factors.max() <= 2.0
    assert (factors.sum(axis=0) <= 30.4 + 1e-9).all()
    assert (factors > 1.5).mean() > 0.03  # days well above the budget happen
    assert (
        overdelivery(7, ids, days[0], sigma=0.0, daily_max=2.0, monthly_days=30.4).tolist()
        == [1.0] * ids.size
    )
