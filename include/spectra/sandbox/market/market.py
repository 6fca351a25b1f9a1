"""The simulated Google Ads market: entities, the daily simulation, caches and GAQL-shaped rows.

Determinism: everything is a pure function of the scenario (seed included) and of the ordered list
of mutations applied so far. Each simulated day depends only on its own ordinal, the state in force
that day and counter-based random streams, so days can be computed in any order, independently,
and are cached (LRU) per day. What a query sees depends on ``as_of`` (the sandbox's clock): days
>= as_of do not exist yet, and conversions appear only as their lag elapses (restatement).
With an instant for a clock, today exists up to the account's local time less the reporting
delay, spread over the hours by the hourly profile, and mutations take effect from their local
hour on (intraday.py).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spectra.sandbox.market import tail
from spectra.sandbox.market.calendar import WEEKDAYS
from spectra.sandbox.market.economics import economics
from spectra.sandbox.market.editing import Editing
from spectra.sandbox.market.intraday import (
    blend,
    conversion_times,
    cumulative,
    month_overdelivery,
    normalised,
)
from spectra.sandbox.market.lag import LAG_BUCKETS, lag_bucket
from spectra.sandbox.market.model import FIRST_PAGE_POSITION, expected
from spectra.sandbox.market.mutations import CHANGE_RESOURCE_TYPE, Change, Record
from spectra.sandbox.market.scenario import Event, Scenario, load_scenario
from spectra.sandbox.market.simulate import DayResult, simulate_day
from spectra.sandbox.market.state import DayContext, State
from spectra.sandbox.market.structure import (
    BILLABLE_UNIT_MICROS,
    MANUAL_CPC,
    Structure,
    generate,
    round_bid,
    sum_by,
)
from spectra.sandbox.market.views import (
    ATTRIBUTE_KIND,
    ATTRIBUTES,
    DAY_SEGMENTS,
    METRICS,
    REACHABLE,
    RESOURCE_LEVEL,
    b64_text,
)

CACHE_BYTES = 384 * 1024 * 1024
# the topic of a disapproval event without a name (one of Google's policy topics)
DEFAULT_POLICY_TOPIC = "DESTINATION_NOT_WORKING"
OPEN_EVENT_DAYS = 3 * 366  # how far an open-ended event reaches past the reference date


class Snapshot:
    """The entities' attributes as of a day: state in force plus that day's conditions."""

    def __init__(self, market: Market, ordinal: int) -> None:
        self.struct: Structure = market.struct
        self.state: State = market.state_at(ordinal)
        self.ctx: DayContext = market.context(ordinal)
        self.history_start: dt.date = market.scenario.history_start
        self._columns: dict[str, NDArray[Any]] = {}

    @cached_property
    def first_page_cpc(self) -> NDArray[np.float64]:
        quality = self.struct.keyword_qs.astype(np.float64) / 7.0
        return (
            self.struct.keyword_cpc_scale * self.ctx.cpc_multiplier / quality * FIRST_PAGE_POSITION
        )

    @cached_property
    def below_first_page(self) -> NDArray[np.bool_]:
        st, s = self.struct, self.state
        bid = np.where(s.keyword_bid > 0, s.keyword_bid, s.ad_group_bid[st.keyword_ad_group])
        manual = s.campaign_bidding[st.keyword_campaign] == MANUAL_CPC
        return manual & (bid < self.first_page_cpc)

    @property
    def ad_approved(self) -> NDArray[np.bool_]:
        return self.ctx.ad_approved

    @cached_property
    def term_status(self) -> NDArray[Any]:
        st = self.struct
        added = np.array(
            [
                t == st.keyword_text[k]
                for t, k in zip(st.term_text, st.term_keyword.tolist(), strict=True)
            ]
        )
        out = np.where(added, "ADDED", "NONE").astype(object)
        out[self.state.term_blocked] = "EXCLUDED"
        return out

    def column(self, name: str) -> NDArray[Any]:
        col = self._columns.get(name)
        if col is None:
            col = np.asarray(ATTRIBUTES[name](self)) if name in ATTRIBUTES else None
            if col is None:
                raise KeyError(name)
            self._columns[name] = col
        return col


class Market(Editing):
    """A seeded, deterministic Google Ads market (see the package docstring for the model)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.seed = scenario.seed
        self._tail_share_cache: NDArray[np.float64] | None = None
        self.struct: Structure = generate(scenario)
        self._lock = threading.RLock()
        self._customer_index = {int(c): i for i, c in enumerate(self.struct.customer_id.tolist())}
        start = scenario.history_start.toordinal()
        self._created = {
            "campaign": np.full(self.struct.n_campaigns, start, np.int64),
            "ad_group": np.full(self.struct.n_ad_groups, start, np.int64),
            "keyword": np.full(self.struct.n_keywords, start, np.int64),
            "ad": np.full(self.struct.n_ads, start, np.int64),
        }
        self._records = []
        self._changes = []
        self._negatives = []
        self._pending_budgets = {}
        self._seq = 0
        self._state_cache: OrderedDict[tuple[Any, ...], State] = OrderedDict()
        self._mask_cache: dict[tuple[int, int], NDArray[np.int64]] = {}
        self._id_maps: dict[str, dict[Any, int]] = {}
        self.version = 0  # bumped by every accepted mutation (servers drop their query caches)
        self._events = [(ev, self._select(ev, i)) for i, ev in enumerate(scenario.events)]
        self._outage_days = self._resolve_outages()
        self._ctx_cache: OrderedDict[int, DayContext] = OrderedDict()
        self._factor_cache: OrderedDict[tuple[int, int, int], NDArray[np.float64]] = OrderedDict()
        self._day_cache: OrderedDict[int, DayResult] = OrderedDict()
        self._snap_cache: OrderedDict[int, Snapshot] = OrderedDict()
        self.hourly_profile = normalised(scenario.market.hourly_profile)
        # Google reports most statistics within three hours (support.google.com/google-ads/answer/2544985)
        self.reporting_delay = dt.timedelta(hours=scenario.market.reporting_delay_hours)
        self._partial_cache: OrderedDict[tuple[int, float], DayResult] = OrderedDict()
        self._base_state = self._initial_state()
        self._advertiser_pauses()
        self.simulated_days = 0  # how many days were computed (cache misses), for benchmarks

    @classmethod
    def from_scenario(cls, name_or_path: str | Path, **overrides: Any) -> Market:
        """A market from a packaged scenario name (``tiny``, ``demo``…) or a YAML path."""
        return cls(load_scenario(name_or_path, **overrides))

    # ----------------------------------------------------------------- identity and time
    def customer_ids(self) -> list[int]:
        return [int(c) for c in self.struct.customer_id.tolist()]

    def account_index(self, customer_id: int) -> int:
        try:
            return self._customer_index[int(customer_id)]
        except KeyError:
            raise KeyError(f"customer {customer_id} is not in this market") from None

    @property
    def history_start(self) -> dt.date:
        return self.scenario.history_start

    def _local(self, account: int, instant: dt.datetime) -> dt.datetime:
        from zoneinfo import ZoneInfo

        if instant.tzinfo is None:
            raise ValueError(f"{instant!r} has no time zone; the sandbox clock is a UTC instant")
        return instant.astimezone(ZoneInfo(self.struct.time_zone[account]))

    def account_clock(self, account: int, as_of: dt.date | dt.datetime) -> tuple[dt.date, float]:
        """(today, local time of day reported, as a fraction of 24 h) on the clock.

        An instant is read in the account's time zone, less Google's reporting delay: the
        day it falls on is "today", reported up to that time (its traffic by the hourly
        profile), every earlier day in full. A bare date is today with nothing of it reported.
        """
        if not isinstance(as_of, dt.datetime):
            return as_of, 0.0
        seen = self._local(account, as_of - self.reporting_delay)
        # the wall clock's time of day (a 23- or 25-hour day of a DST change still has 24
        # hours of profile, and mutations take effect by the wall clock's hour too)
        return seen.date(), (seen.hour * 3600 + seen.minute * 60 + seen.second) / 86_400

    def account_now(self, account: int, as_of: dt.date | dt.datetime) -> tuple[dt.date, int]:
        """(local day, local hour) a mutation made on the clock takes effect from (no
        reporting delay: a change is in force at once). A bare date is its hour 0."""
        if not isinstance(as_of, dt.datetime):
            return as_of, 0
        now = self._local(account, as_of)
        return now.date(), now.hour

    def account_today(self, customer_id: int, as_of: dt.date | dt.datetime) -> dt.date:
        return self.account_clock(self.account_index(customer_id), as_of)[0]

    @property
    def reference_date(self) -> dt.date:
        return self.scenario.reference_date

    # ----------------------------------------------------------------- state and conditions
    def _initial_state(self) -> State:
        """Budgets and target CPAs sized from the expected spend at the initial bids."""
        st = self.struct
        n_c = st.n_campaigns
        state = State(
            campaign_status=np.zeros(n_c, np.int8),
            campaign_budget=np.full(n_c, 10**15, np.int64),
            campaign_bidding=np.zeros(n_c, np.int8),
            campaign_target_cpa=np.zeros(n_c, np.int64),
            campaign_target_roas=np.zeros(n_c, np.float64),
            ad_group_status=np.zeros(st.n_ad_groups, np.int8),
            ad_group_bid=st.ad_group_bid0.copy(),
            keyword_status=np.zeros(st.n_keywords, np.int8),
            keyword_bid=st.keyword_bid0.copy(),
            ad_status=np.zeros(st.n_ads, np.int8),
            term_blocked=np.zeros(st.n_terms, np.bool_),
        )
        ctx = self._neutral_context(self.reference_date.toordinal())
        rng = np.random.default_rng([self.seed, 0xB0D])
        manual = expected(st, state, ctx, ignore_budget=True)
        conv = np.bincount(st.term_campaign, weights=manual.conversions, minlength=n_c)
        cost = np.bincount(st.term_campaign, weights=manual.cost, minlength=n_c)
        cpa = np.where(
            conv > 0, cost / np.maximum(conv, 1e-9), 50_000_000.0 * st.money_scale_of("campaign")
        )
        draw = rng.uniform(0.8, 1.3, n_c)
        state.campaign_target_cpa = round_bid(cpa * draw, st.unit_of("campaign"))
        value = np.bincount(st.term_campaign, weights=manual.value, minlength=n_c) * 1e6
        # the ROAS the initial bids reach, off by the same draw (a tighter target for draws
        # that loosened the CPA one), in Google's two-decimal steps (4.00 = 400 %)
        roas = np.where(cost > 0, value / np.maximum(cost, 1e-9), 2.0)
        state.campaign_target_roas = np.maximum(np.round(roas / draw, 2), 0.01)
        state.campaign_bidding = st.campaign_bidding0.copy()
        full = expected(st, state, ctx, ignore_budget=True)
        spend = np.bincount(st.term_campaign, weights=full.cost, minlength=n_c)
        spec = self.scenario.market.budget_headroom
        headroom = rng.uniform(spec.low, spec.high, n_c)
        state.campaign_budget = (
            np.maximum(np.rint(spend * headroom / 1_000_000), 1) * 1_000_000
        ).astype(np.int64)
        return state

    def _advertiser_pauses(self) -> None:
        """The advertisers' own pauses over the history (``advertiser_pause_rate``): a campaign
        paused for one to three days in the Google Ads web interface, then enabled again, with
        both changes in the change history. Google sends no row for the paused days. None
        falls in the last week before the reference date, so the state the tests and the
        optimizer start from is the scenario's."""
        rate = self.scenario.structure.advertiser_pause_rate
        if rate <= 0:
            return
        st = self.struct
        rng = np.random.default_rng([self.seed, 0x9A05E])
        first = self.history_start.toordinal() + 1
        last = self.reference_date.toordinal() - 8
        if last <= first:
            return
        days = last - first
        for c in range(st.n_campaigns):
            starts = np.flatnonzero(rng.random(days) < rate) + first
            cid = int(st.customer_id[st.campaign_account[c]])
            rn = f"customers/{cid}/campaigns/{int(st.campaign_id[c])}"
            brand = st.account_name[int(st.campaign_account[c])].split()[0].lower()
            free_from = first
            for start in starts.tolist():
                if start < free_from:
                    continue  # still paused by the previous pause
                end = start + int(rng.integers(1, 4))  # enabled again on this day
                for ordinal, code, old, new in (
                    (start, 1, "ENABLED", "PAUSED"),
                    (end, 0, "PAUSED", "ENABLED"),
                ):

                    def set_status(s: State, c: int = c, code: int = code) -> None:
                        s.campaign_status[c] = code

                    self._seq += 1
                    self._records.append(Record(ordinal, self._seq, set_status))
                    self._changes.append(
                        Change(
                            seq=self._seq,
                            as_of=dt.date.fromordinal(ordinal),
                            customer_id=cid,
                            resource="campaign",
                            resource_name=rn,
                            operation="UPDATE",
                            changed_fields=("status",),
                            client_type="GOOGLE_ADS_WEB_CLIENT",
                            user_email=f"owner@{brand}.example",
                            campaign_rn=rn,
                            ad_group_rn=None,
                            old={"status": old},
                            new={"status": new},
                        )
                    )
                free_from = end + 1
        self._records.sort(key=lambda r: r.key)
        self._changes.sort(key=lambda ch: ch.seq)

    def state_at(self, ordinal: int, hour: int = 23) -> State:
        """The advertiser's settings in force on a day (mutations effective on or before it),
        at its local ``hour`` (default the last: every change made that day)."""
        with self._lock:
            return self._state_for(ordinal, hour)

    def _neutral_context(self, ordinal: int) -> DayContext:
        st = self.struct
        return DayContext(
            ordinal=ordinal,
            demand_multiplier=np.ones(st.n_accounts),
            cvr_multiplier=np.ones(st.n_accounts),
            keyword_demand=np.ones(st.n_keywords),
            cpc_multiplier=np.ones(st.n_keywords),
            ad_approved=np.ones(st.n_ads, np.bool_),
            keyword_exists=np.ones(st.n_keywords, np.bool_),
            tracking_outage=np.zeros(st.n_accounts, np.bool_),
            max_impression_share=self.scenario.market.max_impression_share,
            smart_bidding_efficiency=self.scenario.market.smart_bidding_efficiency,
        )

    def context(self, ordinal: int) -> DayContext:
        """Seasonality and the scenario's events on a day."""
        with self._lock:
            ctx = self._ctx_cache.get(ordinal)
            if ctx is not None:
                self._ctx_cache.move_to_end(ordinal)
                return ctx
        day = dt.date.fromordinal(ordinal)
        season = self.scenario.seasonality
        st = self.struct
        ctx = self._neutral_context(ordinal)
        ctx.demand_multiplier = self._account_demand(day)
        ctx.cvr_multiplier = np.array([season.cvr(day, v) for v in st.account_vertical])
        # the auction's price level moves with the vertical's holidays (retail's peak days)
        ctx.cpc_multiplier = np.array([season.cpc(day, v) for v in st.account_vertical])[
            st.keyword_account
        ]
        ctx.cpc_level = self._account_inflation(ordinal)[st.keyword_account]
        ctx.keyword_exists = self._created["keyword"] <= ordinal
        ctx.ad_approved = self._created["ad"] <= ordinal
        for ev, sel in self._events:
            if not ev.active(day):
                continue
            if ev.type in ("competitor_entry", "below_first_page"):
                ctx.cpc_multiplier[sel] *= ev.cpc_multiplier
                if ev.demand_multiplier != 1.0:
                    ctx.keyword_demand[sel] *= ev.demand_multiplier
            elif ev.type == "demand_shock":
                ctx.keyword_demand[sel] *= ev.demand_multiplier
            elif ev.type == "ad_disapproval":
                ctx.ad_approved[sel] = False
                topic = ev.name or DEFAULT_POLICY_TOPIC
                ctx.ad_topics.update(dict.fromkeys(sel.tolist(), topic))
            elif ev.type == "tracking_outage":
                ctx.tracking_outage[sel] = True
        ctx.budget_factor = self._month_factors(day)[day.day - 1]
        with self._lock:
            self._ctx_cache[ordinal] = ctx
            while len(self._ctx_cache) > 1024:
                self._ctx_cache.popitem(last=False)
        return ctx

    def _account_demand(self, day: dt.date) -> NDArray[np.float64]:
        """Per account: the day's search demand from its vertical's weekday, yearly and
        holiday profiles."""
        season = self.scenario.seasonality
        return np.array([season.demand(day, v) for v in self.struct.account_vertical])

    def _account_inflation(self, ordinal: int) -> NDArray[np.float64]:
        """Per account: the auction's secular price level on a day, 1.0 at the reference date
        (CPCs grow 5-13 % a year: economics.py; ``market.cpc_inflation_per_year`` sets one
        rate for every vertical)."""
        fixed = self.scenario.market.cpc_inflation_per_year
        rates = np.array(
            [
                economics(v).cpc_inflation_per_year if fixed is None else fixed
                for v in self.struct.account_vertical
            ]
        )
        years = (ordinal - self.reference_date.toordinal()) / 365.25
        return (1.0 + rates) ** years

    def _month_factors(self, day: dt.date) -> NDArray[np.float64]:
        """Google's overdelivery factors for the day's month, (days, campaigns) (cached: every
        day of a month needs the whole month to keep it within 30.4 budgets)."""
        st = self.struct
        key = (day.year, day.month, st.n_campaigns)
        with self._lock:
            cached = self._factor_cache.get(key)
        if cached is not None:
            return cached
        spec = self.scenario.market
        factors = month_overdelivery(
            self.seed,
            st.campaign_id.astype(np.int64),
            day.year,
            day.month,
            sigma=spec.overdelivery_sigma,
            daily_max=spec.max_daily_overdelivery,
            monthly_days=spec.monthly_budget_days,
            demand=lambda d: self._account_demand(d)[st.campaign_account],
        )
        with self._lock:
            self._factor_cache[key] = factors
            while len(self._factor_cache) > 64:
                self._factor_cache.popitem(last=False)
        return factors

    def _select(self, ev: Event, index: int) -> NDArray[np.int64]:
        """Entity indexes an event touches: keywords, ads or accounts depending on its type."""
        st = self.struct
        rng = np.random.default_rng([self.seed, 0xE7, index])
        accounts = np.arange(st.n_accounts) if ev.account is None else np.array([ev.account])
        if ev.type == "tracking_outage":
            return accounts
        camps = np.flatnonzero(np.isin(st.campaign_account, accounts))
        if ev.campaigns is not None:
            camps = camps[[c for c in ev.campaigns if c < camps.size]]
        if ev.type == "ad_disapproval":
            groups = np.flatnonzero(np.isin(st.ad_group_campaign, camps))
            if ev.ad_groups is not None:
                groups = groups[[g for g in ev.ad_groups if g < groups.size]]
            if ev.fraction is not None:
                groups = np.sort(
                    rng.choice(groups, max(1, round(ev.fraction * groups.size)), replace=False)
                )
            return np.flatnonzero(np.isin(st.ad_ad_group, groups))
        if ev.type == "competitor_entry" and ev.fraction is not None and ev.campaigns is None:
            camps = np.sort(
                rng.choice(camps, max(1, round(ev.fraction * camps.size)), replace=False)
            )
        keywords = np.flatnonzero(np.isin(st.keyword_campaign, camps))
        if ev.ad_groups is not None:
            groups = np.flatnonzero(np.isin(st.ad_group_campaign, camps))[list(ev.ad_groups)]
            keywords = keywords[np.isin(st.keyword_ad_group[keywords], groups)]
        if ev.keywords is not None:
            keywords = keywords[[k for k in ev.keywords if k < keywords.size]]
        elif ev.fraction is not None and ev.type != "competitor_entry":
            keywords = np.sort(
                rng.choice(keywords, max(1, round(ev.fraction * keywords.size)), replace=False)
            )
        return keywords

    def _resolve_outages(self) -> dict[str, dict[int, frozenset[int]]]:
        """Outage days per mode ("click_date" / "conversion_date") and account index."""
        days: dict[str, dict[int, set[int]]] = {"click_date": {}, "conversion_date": {}}
        horizon = self.reference_date.toordinal() + OPEN_EVENT_DAYS
        for ev, sel in self._events:
            if ev.type != "tracking_outage":
                continue
            end = ev.end.toordinal() if ev.end else horizon
            for a in sel.tolist():
                days[ev.mode].setdefault(int(a), set()).update(range(ev.start.toordinal(), end + 1))
        return {mode: {a: frozenset(d) for a, d in per.items()} for mode, per in days.items()}

    # ----------------------------------------------------------------- simulation
    def _cache_days(self) -> int:
        per_day = max(1, self.struct.n_terms * 48 + self.struct.n_keywords * 8)
        return int(max(16, min(1000, CACHE_BYTES // per_day)))

    def _simulate(self, ordinal: int, hour: int) -> DayResult:
        res, _ = simulate_day(
            self.struct,
            self.state_at(ordinal, hour),
            self.context(ordinal),
            seed=self.seed,
            outage_days=self._outage_days,
            value_sigma=self.scenario.market.per_conversion_value_sigma,
            max_overdelivery=self.scenario.market.max_daily_overdelivery,
        )
        self.simulated_days += 1
        return res

    def _hours_changed(self, ordinal: int) -> list[int]:
        """Local hours (> 0) of the day at which settings changed: where its segments start."""
        return sorted({r.hour for r in self._records if r.ordinal == ordinal and r.hour > 0})

    def _blended(self, ordinal: int, until: float) -> DayResult:
        """The day up to local time ``until`` (fraction of 24 h): each hour segment's
        settings for its share of the hourly profile (intraday.py)."""
        starts = [0, *self._hours_changed(ordinal)]
        if len(starts) == 1:
            if until >= 1.0:
                return self._simulate(ordinal, 23)
            res = self.day(ordinal)  # one segment: the cached whole day, cut at ``until``
            f_until = float(cumulative(self.hourly_profile, until))
            return blend(
                [(res, 0.0, f_until)], [conversion_times(self.seed, res, self.struct.term_id)]
            )
        bounds = [*(h / 24 for h in starts), 1.0]
        f_until = float(cumulative(self.hourly_profile, until))
        parts = []
        times = []
        for i in range(len(starts)):
            lo = float(cumulative(self.hourly_profile, bounds[i]))
            if lo >= f_until and i > 0:
                break
            hi = min(float(cumulative(self.hourly_profile, bounds[i + 1])), f_until)
            # the segment's settings: every change made before its next boundary hour
            res = self._simulate(ordinal, (starts[i + 1] - 1) if i + 1 < len(starts) else 23)
            parts.append((res, lo, hi))
            times.append(conversion_times(self.seed, res, self.struct.term_id))
        return blend(parts, times)

    def day(self, ordinal: int) -> DayResult:
        """The realised metrics of one whole day (cached)."""
        with self._lock:
            res = self._day_cache.get(ordinal)
            if res is not None:
                self._day_cache.move_to_end(ordinal)
                return res
            res = self._blended(ordinal, 1.0)
            self._day_cache[ordinal] = res
            limit = self._cache_days()
            while len(self._day_cache) > limit:
                self._day_cache.popitem(last=False)
            return res

    def day_until(self, ordinal: int, until: float) -> DayResult:
        """The day's metrics up to local time ``until`` (a fraction of 24 h; cached a little)."""
        if until >= 1.0:
            return self.day(ordinal)
        key = (ordinal, round(until, 6))
        with self._lock:
            res = self._partial_cache.get(key)
            if res is None:
                res = self._blended(ordinal, until)
                self._partial_cache[key] = res
                while len(self._partial_cache) > 8:
                    self._partial_cache.popitem(last=False)
            return res

    def snapshot(self, as_of: dt.date) -> Snapshot:
        ordinal = as_of.toordinal()
        with self._lock:
            snap = self._snap_cache.get(ordinal)
            if snap is None:
                snap = Snapshot(self, ordinal)
                self._snap_cache[ordinal] = snap
                while len(self._snap_cache) > 8:
                    self._snap_cache.popitem(last=False)
            else:
                self._snap_cache.move_to_end(ordinal)
            return snap

    # ----------------------------------------------------------------- rows
    def _entities(self, level: str, account: int) -> NDArray[np.int64]:
        st = self.struct
        owner = {
            "account": np.arange(st.n_accounts),
            "campaign": st.campaign_account,
            "ad_group": st.ad_group_account,
            "keyword": st.keyword_account,
            "ad": st.ad_account,
            "term": st.term_account,
        }[level]
        return np.flatnonzero(owner == account)

    def _to_kind(self, level: str, kind: str, idx: NDArray[np.int64]) -> NDArray[np.int64]:
        if level == kind:
            return idx
        st = self.struct
        maps: dict[tuple[str, str], NDArray[np.int64]] = {
            ("campaign", "account"): st.campaign_account,
            ("ad_group", "account"): st.ad_group_account,
            ("ad_group", "campaign"): st.ad_group_campaign,
            ("keyword", "account"): st.keyword_account,
            ("keyword", "campaign"): st.keyword_campaign,
            ("keyword", "ad_group"): st.keyword_ad_group,
            ("ad", "account"): st.ad_account,
            ("ad", "campaign"): st.ad_campaign,
            ("ad", "ad_group"): st.ad_ad_group,
            ("term", "account"): st.term_account,
            ("term", "campaign"): st.term_campaign,
            ("term", "ad_group"): st.term_ad_group,
            ("term", "keyword"): st.term_keyword,
        }
        return maps[(level, kind)][idx]

    def _level_metrics(
        self, res: DayResult, level: str, age: int
    ) -> dict[str, NDArray[np.float64]]:
        """Day metrics summed to a level (all entities of that level)."""
        st = self.struct
        conv, value = res.reported(age, st.n_terms)
        term = {
            "impressions": res.impressions.astype(np.float64),
            "clicks": res.clicks.astype(np.float64),
            "cost": res.cost_micros.astype(np.float64),
            "conversions": conv,
            "value": value,
            "exp_impressions": res.expected_impressions.astype(np.float64),
            "searches": res.searches.astype(np.float64),
            "rank_lost": res.rank_lost.astype(np.float64),
            "budget_lost": res.budget_lost.astype(np.float64),
        }
        if level == "term":
            return term
        group_level = "ad_group" if level == "ad" else level
        index = {
            "account": st.term_account,
            "campaign": st.term_campaign,
            "ad_group": st.term_ad_group,
            "keyword": st.term_keyword,
        }[group_level]
        n = {
            "account": st.n_accounts,
            "campaign": st.n_campaigns,
            "ad_group": st.n_ad_groups,
            "keyword": st.n_keywords,
        }[group_level]
        out = {k: sum_by(index, v, n) for k, v in term.items()}
        if level == "ad":
            out = self._split_to_ads(out, res.ad_serving)
        return out

    def _split_to_ads(
        self, groups: dict[str, NDArray[np.float64]], serving: NDArray[np.bool_]
    ) -> dict[str, NDArray[np.float64]]:
        """Ad group metrics shared among its serving ads by weight; integer metrics stay whole."""
        st = self.struct
        w = st.ad_weight * serving
        total = np.bincount(st.ad_ad_group, weights=w, minlength=st.n_ad_groups)
        share = np.divide(
            w, total[st.ad_ad_group], out=np.zeros_like(w), where=total[st.ad_ad_group] > 0
        )
        # the ad with the largest share in each group takes integer remainders
        order = np.lexsort((-share, st.ad_ad_group))
        first = np.ones(order.size, np.bool_)
        first[1:] = st.ad_ad_group[order][1:] != st.ad_ad_group[order][:-1]
        primary = np.zeros(st.n_ads, np.bool_)
        primary[order[first]] = True
        out: dict[str, NDArray[np.float64]] = {}
        for name, arr in groups.items():
            raw = arr[st.ad_ad_group] * share
            if name in ("impressions", "clicks", "cost", "conversions"):
                whole = np.floor(raw)
                rest = arr - np.bincount(st.ad_ad_group, weights=whole, minlength=st.n_ad_groups)
                whole = whole + np.where(
                    primary & (total[st.ad_ad_group] > 0), rest[st.ad_ad_group], 0.0
                )
                out[name] = whole
            else:
                out[name] = raw
        return out

    def rows(
        self,
        resource: str,
        *,
        customer_id: int,
        date_from: dt.date | None,
        date_to: dt.date | None,
        as_of: dt.date,
        fields: frozenset[str],
    ) -> Iterator[dict[str, Any]]:
        """GAQL-shaped rows (see the package docstring). Raises KeyError for unknown resources.

        ``as_of`` is the clock (:meth:`account_clock`): with an instant, today's rows are
        served too, with what had happened by then (Google's partial day)."""
        # statistics are seen with the reporting delay; settings (statuses, budgets, entities,
        # the change history) as they are right now in the account's time zone
        today, partial = self.account_clock(self.account_index(customer_id), as_of)
        settings_day = self.account_now(self.account_index(customer_id), as_of)[0]
        as_of = today
        if resource in SPECIAL_RESOURCES:
            account = self.account_index(customer_id)
            yield from getattr(self, f"_rows_{resource}")(account, settings_day)
            return
        if resource not in RESOURCE_LEVEL:
            raise KeyError(resource)
        level = RESOURCE_LEVEL[resource]
        account = self.account_index(customer_id)
        # Google serves one search_term_view row per (ad group, term) unless the query
        # segments by keyword; our terms hang off keywords, so merge them per ad group.
        merge_terms = resource == "search_term_view" and not any(
            f.startswith("segments.keyword.") for f in fields
        )
        if merge_terms:
            fields = fields | _TERM_KEY
        reachable = REACHABLE[level]
        attrs = [f for f in sorted(fields) if f in ATTRIBUTES and ATTRIBUTE_KIND[f] in reachable]
        with self._lock:
            snap = self.snapshot(settings_day)
            entities = self._existing(
                level, self._entities(level, account), settings_day.toordinal()
            )
        if date_from is None or date_to is None:
            with self._lock:
                cols = self._attr_columns(snap, level, attrs, entities)
            yield from _emit(cols, len(entities))
            if resource == "ad_group_criterion":
                yield from self._negative_rows(account, settings_day, "ad_group")
            if resource == "campaign_budget":
                with self._lock:
                    orphans = self._pending_budget_rows(account, settings_day)
                yield from orphans
            return
        metrics = [f for f in sorted(fields) if f in METRICS]
        segments = [f for f in sorted(fields) if f in DAY_SEGMENTS]
        by_lag = "segments.conversion_lag_bucket" in fields
        first = max(date_from, self.history_start)
        last = min(date_to, as_of if partial > 0 else as_of - dt.timedelta(days=1))
        if first > last:
            return
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            # each day's block is built under the lock (a concurrent mutation may grow the
            # structure); rows are yielded outside it
            until = partial if ordinal == as_of.toordinal() else 1.0
            with self._lock:
                cols, n = self._day_block(
                    snap, level, attrs, metrics, entities, ordinal, as_of, by_lag, until
                )
            if n == 0:
                continue
            if merge_terms:
                cols, n = _merge_by_key(cols, n, _TERM_KEY)
            day = dt.date.fromordinal(ordinal)
            for seg in segments:
                cols[seg] = [_segment(seg, day)] * n
            yield from _emit(cols, n)

    def _day_block(
        self,
        snap: Snapshot,
        level: str,
        attrs: list[str],
        metrics: list[str],
        entities: NDArray[np.int64],
        ordinal: int,
        as_of: dt.date,
        by_lag: bool,
        until: float = 1.0,
    ) -> tuple[dict[str, Any], int]:
        """One day's rows. ``until`` < 1: the day so far (today, partial): what had happened
        by that local time of day (intraday.py)."""
        res = self.day_until(ordinal, until)
        age = as_of.toordinal() - ordinal
        if by_lag and level == "term":
            return self._tail_lag_block(snap, attrs, metrics, entities, res, age)
        if by_lag:
            cols, n = self._lag_bucket_columns(res, level, age, entities, metrics)
            if n == 0:
                return {}, 0
            idx = cols.pop("__idx__")
            cols.update(self._attr_columns(snap, level, attrs, idx))
            return cols, n
        values = self._level_metrics(res, level, age)
        idx = entities[values["impressions"][entities] > 0]
        if idx.size == 0:
            return {}, 0
        if level == "term":
            return self._tail_block(snap, attrs, metrics, idx, res, age, values)
        cols = self._attr_columns(snap, level, attrs, idx)
        cols.update(_metric_columns(values, metrics, idx))
        return cols, int(idx.size)

    # ------------------------------------------------------------------ the search-term tail
    def term_tail_share(self) -> NDArray[np.float64]:
        """Per simulated term: the share of its clicks its long-tail variants take (tail.py)."""
        st = self.struct
        cached = self._tail_share_cache
        if cached is None or cached.size != st.n_terms:
            head = np.array(
                [
                    t == st.keyword_text[k]
                    for t, k in zip(st.term_text, st.term_keyword.tolist(), strict=True)
                ],
                np.bool_,
            )
            cached = tail.tail_share(st.keyword_match[st.term_keyword], head)
            self._tail_share_cache = cached
        return cached

    def _reported_events(
        self, res: DayResult, age: int, idx: NDArray[np.int64]
    ) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]:
        """The day's conversions reported by ``age`` whose term is in ``idx``: (mask over the
        day's conversions, their row in ``idx``, the query each came from)."""
        st = self.struct
        share = self.term_tail_share()
        variant = tail.conversion_variants(
            self.seed, res.ordinal, st.term_id, res.clicks, share, res.conversion_term
        )
        pos = np.full(st.n_terms, -1, np.int64)
        pos[idx] = np.arange(idx.size)
        row = pos[res.conversion_term]
        mask = (res.conversion_lag < age) & ~res.conversion_lost & (row >= 0)
        return mask, row[mask], variant[mask]

    def _name_variants(
        self, cols: dict[str, list[Any]], terms: NDArray[np.int64], variant: NDArray[np.int64]
    ) -> None:
        """Give the variant rows (``variant`` >= 0) their own query text, resource name and
        status (a variant is never a keyword, so NONE)."""
        st = self.struct
        rows = np.flatnonzero(variant >= 0).tolist()
        if not rows:
            return
        texts = {r: tail.variant_text(st.term_text[int(terms[r])], int(variant[r])) for r in rows}
        if "search_term_view.search_term" in cols:
            col = cols["search_term_view.search_term"]
            for r, text in texts.items():
                col[r] = text
        if "search_term_view.resource_name" in cols:
            col = cols["search_term_view.resource_name"]
            for r, text in texts.items():
                col[r] = f"{col[r].rsplit('~', 1)[0]}~{b64_text(text)}"
        if "search_term_view.status" in cols:
            col = cols["search_term_view.status"]
            for r in rows:
                col[r] = "NONE"

    def _tail_block(
        self,
        snap: Snapshot,
        attrs: list[str],
        metrics: list[str],
        idx: NDArray[np.int64],
        res: DayResult,
        age: int,
        values: dict[str, NDArray[np.float64]],
    ) -> tuple[dict[str, Any], int]:
        """A day's search_term_view rows: each simulated term split into its own text and its
        long-tail variants (tail.py), totals unchanged."""
        st = self.struct
        share = self.term_tail_share()
        mask, ev_row, ev_variant = self._reported_events(res, age, idx)
        sp = tail.split_day(
            self.seed,
            res.ordinal,
            st.term_id[idx],
            share[idx],
            res.impressions[idx],
            res.clicks[idx],
            res.cost_micros[idx],
            ev_row,
            ev_variant,
            res.conversion_value[mask],
        )
        terms = idx[sp.row]
        cols = self._attr_columns(snap, "term", attrs, terms)
        self._name_variants(cols, terms, sp.variant)
        out = {
            "impressions": sp.impressions.astype(np.float64),
            "clicks": sp.clicks.astype(np.float64),
            "cost": sp.cost.astype(np.float64),
            "conversions": sp.conversions,
            "value": sp.value,
        }
        for name in ("exp_impressions", "searches", "rank_lost", "budget_lost"):
            out[name] = values[name][terms]
        cols.update(_metric_columns(out, metrics, np.arange(terms.size)))
        return cols, int(terms.size)

    def _tail_lag_block(
        self,
        snap: Snapshot,
        attrs: list[str],
        metrics: list[str],
        entities: NDArray[np.int64],
        res: DayResult,
        age: int,
    ) -> tuple[dict[str, Any], int]:
        """search_term_view rows per (query, conversion lag bucket): each conversion on the
        query its click came from, as in the unsegmented rows (no single catch-all row)."""
        mask, row, variant = self._reported_events(res, age, entities)
        if row.size == 0:
            return {}, 0
        bucket = lag_bucket(res.conversion_lag[mask])
        nb = len(LAG_BUCKETS)
        key = (row * (tail.POOL + 1) + variant + 1) * nb + bucket
        uniq, inverse = np.unique(key, return_inverse=True)
        conv = np.bincount(inverse, minlength=uniq.size).astype(np.float64)
        value = np.bincount(inverse, weights=res.conversion_value[mask], minlength=uniq.size)
        terms = entities[uniq // nb // (tail.POOL + 1)]
        variants = (uniq // nb) % (tail.POOL + 1) - 1
        cols: dict[str, Any] = self._attr_columns(snap, "term", attrs, terms)
        self._name_variants(cols, terms, variants)
        cols["segments.conversion_lag_bucket"] = [LAG_BUCKETS[b][0] for b in (uniq % nb).tolist()]
        cols.update(_lag_metric_columns(metrics, conv, value))
        return cols, int(uniq.size)

    def _existing(self, level: str, idx: NDArray[np.int64], ordinal: int) -> NDArray[np.int64]:
        """Entities created on or before the day (mutations may add entities later)."""
        kind = "keyword" if level == "term" else level
        if kind not in self._created:
            return idx
        created = self._created[kind]
        if level == "term":
            return idx[created[self.struct.term_keyword[idx]] <= ordinal]
        return idx[created[idx] <= ordinal]

    def _lag_bucket_columns(
        self,
        res: DayResult,
        level: str,
        age: int,
        entities: NDArray[np.int64],
        metrics: list[str],
    ) -> tuple[dict[str, Any], int]:
        """Rows per (entity, conversion lag bucket) with the conversions reported so far."""
        st = self.struct
        mask = (res.conversion_lag < age) & ~res.conversion_lost
        terms = res.conversion_term[mask]
        to_level = {
            "account": st.term_account,
            "campaign": st.term_campaign,
            "ad_group": st.term_ad_group,
            "keyword": st.term_keyword,
            "term": np.arange(st.n_terms),
        }.get(level)
        if to_level is None:
            raise KeyError("segments.conversion_lag_bucket")
        ent = to_level[terms]
        bucket = lag_bucket(res.conversion_lag[mask])
        key = ent * len(LAG_BUCKETS) + bucket
        uniq, inverse = np.unique(key, return_inverse=True)
        conv = np.bincount(inverse, minlength=uniq.size).astype(np.float64)
        value = np.bincount(inverse, weights=res.conversion_value[mask], minlength=uniq.size)
        ent_u = uniq // len(LAG_BUCKETS)
        keep = np.isin(ent_u, entities)
        ent_u, bucket_u, conv, value = (
            ent_u[keep],
            (uniq % len(LAG_BUCKETS))[keep],
            conv[keep],
            value[keep],
        )
        cols: dict[str, Any] = {"__idx__": ent_u}
        cols["segments.conversion_lag_bucket"] = [LAG_BUCKETS[b][0] for b in bucket_u.tolist()]
        cols.update(_lag_metric_columns(metrics, conv, value))
        return cols, int(ent_u.size)

    def _negative_rows(self, account: int, as_of: dt.date, level: str) -> Iterator[dict[str, Any]]:
        st = self.struct
        cid = int(st.customer_id[account])
        ordinal = as_of.toordinal()
        for neg in self._negatives:
            if neg.account != account or neg.level != level or neg.created > ordinal:
                continue
            status = "ENABLED" if neg.active(ordinal) else "REMOVED"
            match = ("EXACT", "PHRASE", "BROAD")[neg.match]
            if level == "ad_group":
                g = neg.parent
                c = int(st.ad_group_campaign[g])
                prefix = "ad_group_criterion"
                rn = f"customers/{cid}/adGroupCriteria/{int(st.ad_group_id[g])}~{neg.criterion_id}"
                extra = {
                    "ad_group.id": int(st.ad_group_id[g]),
                    "ad_group_criterion.ad_group": f"customers/{cid}/adGroups/{int(st.ad_group_id[g])}",
                }
            else:
                c = neg.parent
                prefix = "campaign_criterion"
                rn = f"customers/{cid}/campaignCriteria/{int(st.campaign_id[c])}~{neg.criterion_id}"
                extra = {
                    "campaign_criterion.campaign": f"customers/{cid}/campaigns/{int(st.campaign_id[c])}"
                }
            yield {
                "customer.id": cid,
                "campaign.id": int(st.campaign_id[c]),
                f"{prefix}.criterion_id": neg.criterion_id,
                f"{prefix}.type": "KEYWORD",
                f"{prefix}.keyword.text": neg.text,
                f"{prefix}.keyword.match_type": match,
                f"{prefix}.negative": True,
                f"{prefix}.status": status,
                f"{prefix}.resource_name": rn,
                **extra,
            }

    def _rows_campaign_criterion(self, account: int, as_of: dt.date) -> Iterator[dict[str, Any]]:
        yield from self._negative_rows(account, as_of, "campaign")
        yield from self._ad_schedule_rows(account)

    def _ad_schedule_rows(self, account: int) -> Iterator[dict[str, Any]]:
        """A campaign's ad schedule as Google lists it: one AD_SCHEDULE criterion per weekday it
        may serve (whole days here); a campaign without any serves every day."""
        st = self.struct
        cid = int(st.customer_id[account])
        for c in np.flatnonzero(st.campaign_account == account).tolist():
            days = st.campaign_weekdays[c]
            if days.all():
                continue
            camp = int(st.campaign_id[c])
            for wd in np.flatnonzero(days).tolist():
                crit = 1_000_000 + 10 * c + wd  # stable per (campaign, weekday)
                yield {
                    "customer.id": cid,
                    "campaign.id": camp,
                    "campaign_criterion.criterion_id": crit,
                    "campaign_criterion.type": "AD_SCHEDULE",
                    "campaign_criterion.negative": False,
                    "campaign_criterion.status": "ENABLED",
                    "campaign_criterion.resource_name": f"customers/{cid}/campaignCriteria/{camp}~{crit}",
                    "campaign_criterion.campaign": f"customers/{cid}/campaigns/{camp}",
                    "campaign_criterion.ad_schedule.day_of_week": WEEKDAY_NAMES[wd],
                    "campaign_criterion.ad_schedule.start_hour": 0,
                    "campaign_criterion.ad_schedule.start_minute": "ZERO",
                    "campaign_criterion.ad_schedule.end_hour": 24,
                    "campaign_criterion.ad_schedule.end_minute": "ZERO",
                }

    def _rows_change_event(self, account: int, as_of: dt.date) -> Iterator[dict[str, Any]]:
        """Accepted changes up to the clock (Google keeps 30 days; the query must filter dates)."""
        cid = int(self.struct.customer_id[account])
        for ch in self._changes:
            if ch.customer_id != cid or ch.as_of > as_of:
                continue
            stamp = _stamp(ch)
            yield {
                "customer.id": cid,
                "change_event.resource_name": f"customers/{cid}/changeEvents/{ch.seq}",
                "change_event.change_date_time": stamp,
                "change_event.change_resource_type": CHANGE_RESOURCE_TYPE[ch.resource],
                "change_event.change_resource_name": ch.resource_name,
                "change_event.resource_change_operation": ch.operation,
                "change_event.client_type": ch.client_type,
                "change_event.user_email": ch.user_email,
                "change_event.campaign": ch.campaign_rn or "",
                "change_event.ad_group": ch.ad_group_rn or "",
                "change_event.changed_fields": {"paths": list(ch.changed_fields)},
            }

    def _rows_change_status(self, account: int, as_of: dt.date) -> Iterator[dict[str, Any]]:
        """The latest change per resource (no diffs), like change_status."""
        cid = int(self.struct.customer_id[account])
        latest: dict[str, Any] = {}
        created: set[str] = set()
        for ch in self._changes:
            if ch.customer_id != cid or ch.as_of > as_of:
                continue
            latest[ch.resource_name] = ch
            if ch.operation == "CREATE":
                created.add(ch.resource_name)
        for rn, ch in latest.items():
            status = (
                "REMOVED" if ch.operation == "REMOVE" else ("ADDED" if rn in created else "CHANGED")
            )
            row = {
                "customer.id": cid,
                "change_status.resource_name": f"customers/{cid}/changeStatus/{ch.seq}",
                "change_status.last_change_date_time": _stamp(ch),
                "change_status.resource_type": CHANGE_RESOURCE_TYPE[ch.resource],
                "change_status.resource_status": status,
                "change_status.campaign": ch.campaign_rn or "",
                "change_status.ad_group": ch.ad_group_rn or "",
            }
            row[f"change_status.{ch.resource}"] = rn
            yield row

    def _attr_columns(
        self, snap: Snapshot, level: str, attrs: list[str], idx: NDArray[np.int64]
    ) -> dict[str, list[Any]]:
        cols: dict[str, list[Any]] = {}
        by_kind: dict[str, NDArray[np.int64]] = {}
        for name in attrs:
            kind = ATTRIBUTE_KIND[name]
            kidx = by_kind.get(kind)
            if kidx is None:
                kidx = by_kind[kind] = self._to_kind(level, kind, idx)
            cols[name] = snap.column(name)[kidx].tolist()
        return cols


WEEKDAY_NAMES = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
SPECIAL_RESOURCES = frozenset({"campaign_criterion", "change_event", "change_status"})


def _stamp(ch: Any) -> str:
    """Changes made on a clock day get increasing times that day (seq keeps their order)."""
    seconds = 9 * 3600 + ch.seq
    return f"{ch.as_of.isoformat()} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.000000"


_TERM_KEY = frozenset({"ad_group.id", "search_term_view.search_term"})


def _merge_by_key(cols: dict[str, Any], n: int, key: frozenset[str]) -> tuple[dict[str, Any], int]:
    """Sum metric columns over rows sharing ``key`` (first row's attributes win)."""
    names = sorted(key)
    keys = list(zip(*(list(cols[k]) for k in names), strict=True))
    first: dict[tuple[Any, ...], int] = {}
    group = np.empty(n, dtype=np.int64)
    for i, k in enumerate(keys):
        group[i] = first.setdefault(k, len(first))
    if len(first) == n:
        return cols, n
    # group ids follow first appearance, so the leader of group g is its first row
    leaders = np.zeros(len(first), dtype=np.int64)
    leaders[group[::-1]] = np.arange(n - 1, -1, -1)
    merged: dict[str, Any] = {}
    for name, values in cols.items():
        if name.startswith("metrics."):
            arr = np.asarray(values)
            sums = np.bincount(group, weights=arr.astype(np.float64), minlength=len(first))
            merged[name] = (
                sums.round().astype(arr.dtype) if arr.dtype.kind in "iu" else sums
            ).tolist()
        else:
            merged[name] = [values[j] for j in leaders]
    return merged, len(first)


def _segment(name: str, day: dt.date) -> Any:
    if name == "segments.date":
        return day.isoformat()
    if name == "segments.day_of_week":
        return WEEKDAYS[day.weekday()]
    if name == "segments.week":
        return (day - dt.timedelta(days=day.weekday())).isoformat()
    if name == "segments.month":
        return day.replace(day=1).isoformat()
    if name == "segments.year":
        return day.year
    raise KeyError(name)


def _metric_columns(
    values: dict[str, NDArray[np.float64]], metrics: list[str], idx: NDArray[np.int64]
) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {}
    imps = values["impressions"][idx]
    clicks = values["clicks"][idx]
    cost = values["cost"][idx]
    conv = values["conversions"][idx]
    searches = values["searches"][idx]
    for name in metrics:
        if name == "metrics.impressions":
            col: NDArray[Any] = imps.astype(np.int64)
        elif name == "metrics.clicks":
            col = clicks.astype(np.int64)
        elif name == "metrics.cost_micros":
            col = cost.astype(np.int64)
        elif name in ("metrics.conversions", "metrics.all_conversions"):
            col = conv
        elif name in ("metrics.conversions_value", "metrics.all_conversions_value"):
            col = np.round(values["value"][idx], 2)
        elif name == "metrics.ctr":
            col = np.divide(clicks, imps, out=np.zeros_like(clicks), where=imps > 0)
        elif name == "metrics.average_cpc":
            col = np.divide(cost, clicks, out=np.zeros_like(cost), where=clicks > 0)
        elif name == "metrics.cost_per_conversion":
            col = np.divide(cost, conv, out=np.zeros_like(cost), where=conv > 0)
        elif name == "metrics.search_impression_share":
            col = _share(values["exp_impressions"][idx], searches)
        elif name == "metrics.search_budget_lost_impression_share":
            col = _share(values["budget_lost"][idx], searches)
        elif name == "metrics.search_rank_lost_impression_share":
            col = _share(values["rank_lost"][idx], searches)
        else:
            continue
        cols[name] = col.tolist()
    return cols


def _share(part: NDArray[np.float64], whole: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.clip(np.divide(part, whole, out=np.zeros_like(part), where=whole > 0), 0.0, 1.0)


def _emit(cols: dict[str, list[Any]], n: int) -> Iterator[dict[str, Any]]:
    names = list(cols)
    if not names:
        for _ in range(n):
            yield {}
        return
    for values in zip(*cols.values(), strict=True):
        yield dict(zip(names, values, strict=True))


__all__ = ["BILLABLE_UNIT_MICROS", "Market", "Snapshot"]


def _lag_metric_columns(
    metrics: list[str], conv: NDArray[np.float64], value: NDArray[Any]
) -> dict[str, list[Any]]:
    """The metric columns of rows segmented by conversion lag bucket: conversions and their
    value per row; every other selected metric is 0 there (the lag bucket segments
    conversions, not the clicks or cost behind them). One piece for every level's rows."""
    cols: dict[str, list[Any]] = {}
    for name in metrics:
        if name in ("metrics.conversions", "metrics.all_conversions"):
            cols[name] = conv.tolist()
        elif name in ("metrics.conversions_value", "metrics.all_conversions_value"):
            cols[name] = np.round(value, 2).tolist()
        else:
            cols[name] = [0] * conv.size
    return cols
