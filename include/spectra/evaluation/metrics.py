"""Scoring one run (scenario x seed x policy) from the market's truth and the apply ledger.

The money is the market's own: cost and the value of every conversion the clicks of the horizon
produced (including conversions a tracking outage hid from reporting and those that arrive
after the horizon), so a policy cannot look better by breaking its own measurement. Changes are
the apply ledger's recorded rows (what reached Google Ads), never the proposals.

The functions below the truth readers are pure (frames and lists in, numbers out): the tests
check them against independent computations.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from spectra.domain.money import MICROS
from spectra.warehouse import evaluation_store as store

if TYPE_CHECKING:
    from spectra.sandbox.market import Market

CAPS = {"cpc_bid_micros": 0.20, "budget_micros": 0.30, "target_cpa_micros": 0.15}
CAP_TOLERANCE = 0.005  # billable-unit rounding of a capped value
LEARNING_WINDOW_DAYS = 3
# cuts decided on the outage's days or up to 3 days after its last (their data held the gap);
# a change decided on day D is in force from D + 1 (the apply runs after D's daily run)
OUTAGE_TAIL_DAYS = 3
CUTTING_FIELDS = frozenset(CAPS)


@dataclass(frozen=True)
class Change:
    """One change that reached Google Ads (a recorded ledger row)."""

    campaign_id: int
    entity_key: str
    field: str
    before: Any
    after: Any
    effective_date: dt.date
    origin: str  # proposal | person (greedy, oracle) | monitor

    @property
    def relative(self) -> float | None:
        if isinstance(self.before, int | float) and isinstance(self.after, int | float):
            return (self.after - self.before) / self.before if self.before else None
        return None

    @property
    def is_cut(self) -> bool:
        """A bid, budget or target lowered, or an entity paused."""
        if self.field in CUTTING_FIELDS:
            rel = self.relative
            return rel is not None and rel < 0
        return self.field == "status" and self.after == "PAUSED"


# --------------------------------------------------------------------------- truth readers


def campaign_days(market: Market, customer_id: int, days: Sequence[dt.date]) -> pd.DataFrame:
    """Realised cost, conversions and conversion value per campaign-day (the market's truth:
    every conversion of the day's clicks, reported or not)."""
    st = market.struct
    account = market.account_index(customer_id)
    campaigns = np.flatnonzero(st.campaign_account == account)
    n = st.n_campaigns
    frames = []
    for day in days:
        res = market.day(day.toordinal())
        conv_campaign = st.term_campaign[res.conversion_term]
        frames.append(
            pd.DataFrame(
                {
                    "date": day,
                    "campaign_id": st.campaign_id[campaigns],
                    "cost_micros": np.bincount(
                        st.term_campaign, weights=res.cost_micros, minlength=n
                    )[campaigns],
                    "conversions": np.bincount(conv_campaign, minlength=n)[campaigns],
                    "value": np.bincount(conv_campaign, weights=res.conversion_value, minlength=n)[
                        campaigns
                    ],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def expected_profit(market: Market, customer_id: int, days: Sequence[dt.date]) -> float:
    """The truth's *expected* profit (value - cost, no noise) of the settings in force at the
    end of each day, summed over ``days``: the realised profit's noise differs between
    policies (their settings draw different clicks), and on one 28-day steady seed it was
    larger than spectra's effect (realised uplift 617, expected 3 393; the oracle's 8 007 and
    7 076), so a change is judged by this figure beside the realised one."""
    from spectra.sandbox.market.truth import Truth

    truth = Truth(market)
    account = market.account_index(customer_id)
    mine = market.struct.keyword_account == account
    total = 0.0
    for day in days:
        exp = truth._expected(day)
        per = truth._per_keyword(exp)
        profit = (per["conversions_value"] - per["cost_micros"] / MICROS) * exp.keyword_serving
        total += float(np.sum(profit[mine]))
    return total


# --------------------------------------------------------------------------- ledger readers


def ledger_changes(engine: Engine, tenant_id: str) -> list[Change]:
    """Recorded changes of the run, oldest first."""
    with engine.connect() as conn:
        rows = store.recorded_changes(conn, tenant_id=tenant_id)
    out = []
    for r in rows:
        out.append(
            Change(
                campaign_id=int(r.campaign_id),
                entity_key=str(r.entity_key),
                field=str(r.field),
                before=_scalar(r.before_value, r.field),
                after=_scalar(r.after_value, r.field) if r.after_value is not None else r.target,
                effective_date=r.effective_date,
                origin=str(r.origin_kind),
            )
        )
    return out


def _scalar(image: Any, field_name: str) -> Any:
    """A before/after image's value of the field (images may be the whole entity's fields)."""
    if isinstance(image, Mapping):
        return image.get(field_name)
    return image


def ai_cost_micros(engine: Engine, tenant_id: str) -> int:
    with engine.connect() as conn:
        return store.ai_cost_micros(conn, tenant_id=tenant_id)


def spend_limits(engine: Engine, tenant_id: str) -> dict[int, int]:
    with engine.connect() as conn:
        return store.spend_limits(conn, tenant_id=tenant_id)


# --------------------------------------------------------------------------- pure metrics


def profit(money: pd.DataFrame) -> float:
    """Conversion value minus cost (account currency)."""
    return float(money["value"].sum() - money["cost_micros"].sum() / MICROS)


def cpa_roas(money: pd.DataFrame) -> tuple[float, float]:
    cost = money["cost_micros"].sum() / MICROS
    conversions = money["conversions"].sum()
    cpa = cost / conversions if conversions else math.inf
    roas = money["value"].sum() / cost if cost else 0.0
    return float(cpa), float(roas)


def performance_changes(changes: Iterable[Change]) -> list[Change]:
    """The optimiser's own changes (a monitor's safety pause is not one)."""
    return [c for c in changes if c.origin != "monitor"]


def reversals(changes: Sequence[Change]) -> int:
    """Changes that undo the direction of the previous change to the same entity and field
    (a bid raised, then cut: the second is a reversal)."""
    last: dict[tuple[str, str], float] = {}
    count = 0
    for c in changes:
        rel = c.relative
        if rel is None or rel == 0:
            continue
        key = (c.entity_key, c.field)
        if key in last and (last[key] > 0) != (rel > 0):
            count += 1
        last[key] = rel
    return count


def guardrail_violations(
    changes: Sequence[Change], *, window_days: int = LEARNING_WINDOW_DAYS
) -> int:
    """Changes past a magnitude cap, plus changes made to a campaign inside the learning
    window of an earlier change on another day (Spectra's 72 h rule)."""
    count = 0
    first_day: dict[int, dt.date] = {}
    for c in changes:
        rel = c.relative
        cap = CAPS.get(c.field)
        if cap is not None and rel is not None and abs(rel) > cap + CAP_TOLERANCE:
            count += 1
        if c.field in CAPS:
            opened = first_day.get(c.campaign_id)
            if opened is not None and 0 < (c.effective_date - opened).days < window_days:
                count += 1
            elif opened is None or (c.effective_date - opened).days >= window_days:
                first_day[c.campaign_id] = c.effective_date
    return count


def limit_breaches(money: pd.DataFrame, limits: Mapping[int, int]) -> int:
    """Campaign-days whose true spend went past the campaign's daily spend limit."""
    if not limits:
        return 0
    limit = money["campaign_id"].map(lambda c: limits.get(int(c), np.inf))
    return int((money["cost_micros"] > limit).sum())


def per_ten_campaign_weeks(count: int, *, campaigns: int, days: int) -> float:
    weeks = campaigns * days / 7.0
    return 10.0 * count / weeks if weeks else 0.0


def days_to_react(
    changes: Sequence[Change], *, start: dt.date, campaigns: set[int] | None, last_day: dt.date
) -> float | None:
    """Days from a shock's start until the first change to a shocked campaign is in force
    (None: never; a change decided on the shock's first day is in force a day later: 1)."""
    for c in changes:
        if c.effective_date > start and (campaigns is None or c.campaign_id in campaigns):
            return float((c.effective_date - start).days)
    return None


def cuts_during(
    changes: Sequence[Change], *, start: dt.date, end: dt.date, tail_days: int = OUTAGE_TAIL_DAYS
) -> int:
    """Cuts decided from the outage's first day to ``tail_days`` after its last (in force the
    day after each decision)."""
    first = start + dt.timedelta(days=1)
    stop = end + dt.timedelta(days=1 + tail_days)
    return sum(1 for c in changes if c.is_cut and first <= c.effective_date <= stop)


@dataclass
class RunMetrics:
    """One (scenario, seed, policy): every figure of the table, plus the daily series."""

    scenario: str
    seed: int
    policy: str
    profit: float
    cost: float
    value: float
    cpa: float
    roas: float
    cpa_vs_target: float
    roas_vs_target: float
    changes: int
    reversed: int
    violations: int
    breaches: int
    aa_changes_per_10_campaign_weeks: float | None
    days_to_react: float | None
    cuts_during_outage: int | None
    ai_cost_per_campaign_day_usd: float
    approvals_requested: int
    seconds: float
    seconds_per_day: float
    campaign_days: int
    daily_profit: list[float] = field(default_factory=list)
    daily_spend: list[float] = field(default_factory=list)
    daily_limit: list[float] = field(default_factory=list)
    daily_changes: list[int] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)
    # the process's CPU seconds outside the loop: building the world (market, server, the
    # warm-up ingest) and scoring it; with the loop's ``step_seconds["cpu"]`` what a run costs
    setup_cpu_seconds: float = 0.0
    expected_profit: float | None = None  # the truth's noise-free profit of the settings

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


NUMERIC = (
    "profit", "cost", "value", "cpa", "roas", "cpa_vs_target", "roas_vs_target", "changes",
    "reversed", "violations", "breaches", "aa_changes_per_10_campaign_weeks", "days_to_react",
    "cuts_during_outage", "ai_cost_per_campaign_day_usd", "approvals_requested",
    "seconds_per_day", "expected_profit",
)  # fmt: skip
