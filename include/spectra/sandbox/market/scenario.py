"""Scenario files: a market's size, seed, curve parameters, seasonality, lag and events (YAML).

Every field has a default, so a scenario file states only what makes it different. Event dates may
be ISO dates or integers (days relative to ``reference_date``), so a scenario stays meaningful when
its reference date moves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from spectra.sandbox.market.calendar import (
    DEFAULT_HOLIDAYS,
    VERTICAL_HOLIDAYS,
    Holiday,
    Seasonality,
)
from spectra.sandbox.market.intraday import DEFAULT_HOURLY_PROFILE, normalised
from spectra.sandbox.market.lag import LagDistribution

EVENT_TYPES = frozenset(
    {"competitor_entry", "tracking_outage", "ad_disapproval", "below_first_page", "demand_shock"}
)


class ScenarioError(ValueError):
    """A scenario file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class LogNormal:
    """A positive parameter spread across entities: median and log-space sigma."""

    median: float
    sigma: float = 0.0


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float


@dataclass(frozen=True)
class StructureSpec:
    accounts: int = 1
    campaigns_per_account: int = 2
    ad_groups_per_campaign: int = 2
    keywords_per_ad_group: int = 5
    ads_per_ad_group: int = 2
    match_type_mix: tuple[tuple[str, float], ...] = (
        ("EXACT", 0.4),
        ("PHRASE", 0.35),
        ("BROAD", 0.25),
    )
    # a long tail per keyword (structure.py): broad keywords match many more queries
    search_terms_per_keyword: tuple[tuple[str, int, int], ...] = (
        ("EXACT", 1, 2),
        ("PHRASE", 2, 6),
        ("BROAD", 4, 10),
    )
    target_cpa_share: float = 0.25
    # campaigns bidding with target ROAS (Smart Bidding on conversion value); 0 by default so
    # the markets the existing tests build stay the ones their expectations measure
    target_roas_share: float = 0.0
    # Keywords that repeat a keyword (text and match type) of another ad group of the account,
    # so they share its criterion id as on Google. Real accounts do this routinely (the same
    # term in an exact and a phrase campaign, geo-split campaigns); 0 turns it off.
    shared_keyword_share: float = 0.1
    # Days Google leaves out (it sends no row for an entity with zero impressions that day).
    # On in the shipped demo and bench scenarios at realistic rates; 0 here, so the small
    # markets unit tests and truth checks build stay the ones their expectations measure:
    # - campaigns whose ad schedule is Monday to Friday (B2B advertisers do this), so they
    #   never serve on weekends (each campaign with this probability, never all of an account);
    weekday_only_share: float = 0.0
    # - advertisers pausing a campaign for one to three days (a stock-out, a site outage),
    #   recorded in Google's change history; a campaign-day probability;
    advertiser_pause_rate: float = 0.0
    # - tiny keywords: a share of keywords with a hundredth of the usual search volume, so they
    #   get no impressions on most days.
    tiny_keyword_share: float = 0.0


@dataclass(frozen=True)
class MarketSpec:
    """The latent response curves' parameters (see model.py for how they combine)."""

    searches_per_keyword: LogNormal = LogNormal(250.0, 1.0)
    cpc_micros: LogNormal = LogNormal(1_200_000.0, 0.45)
    rank_steepness: Uniform = Uniform(1.3, 2.4)
    max_impression_share: float = 0.95
    ctr: LogNormal = LogNormal(0.045, 0.35)
    cvr: LogNormal = LogNormal(0.035, 0.45)
    value_per_conversion: LogNormal = LogNormal(90.0, 0.5)
    per_conversion_value_sigma: float = 0.6
    # the chance a matched query (past the keyword's own text) is irrelevant, scaled per match
    # type by structure.IRRELEVANCE_BY_MATCH (broad >> phrase > exact; 0 = none)
    irrelevant_term_share: float = 0.35
    # spread (log-space sigma) of the tail terms' traffic shares: a few heavy, most light
    term_share_sigma: float = 1.3
    irrelevant_cvr_multiplier: float = 0.04
    irrelevant_ctr_multiplier: float = 1.25
    budget_headroom: Uniform = Uniform(0.55, 1.6)
    bid_to_cpc: Uniform = Uniform(0.7, 1.9)
    smart_bidding_efficiency: float = 0.92
    # Intraday (intraday.py): the share of a day's traffic per local hour; how long Google
    # takes to report statistics (most arrive within three hours,
    # support.google.com/google-ads/answer/2544985); and overdelivery: up to
    # ``max_daily_overdelivery`` budgets on a day, at most ``monthly_budget_days`` budgets in a
    # calendar month (support.google.com/google-ads/answer/2375423); sigma 0 turns it off.
    hourly_profile: tuple[float, ...] = DEFAULT_HOURLY_PROFILE
    reporting_delay_hours: float = 3.0
    overdelivery_sigma: float = 0.25
    max_daily_overdelivery: float = 2.0
    monthly_budget_days: float = 30.4
    # the auction's secular price growth per year, one rate for every vertical; None: each
    # vertical's own (economics.py: 6-11 %, the published 5-13 %)
    cpc_inflation_per_year: float | None = None


@dataclass(frozen=True)
class NoiseSpec:
    """Gamma shapes k of the day-level shocks: Var(clicks) = mu + mu^2 / k (negative binomial)."""

    click_dispersion: float = 8.0
    conversion_dispersion: float = 12.0
    cpc_sigma: float = 0.07


@dataclass(frozen=True)
class Limits:
    """Google's documented account structure limits (support.google.com/google-ads/answer/6372658)."""

    campaigns_per_account: int = 10_000
    ad_groups_per_campaign: int = 20_000
    keywords_per_ad_group: int = 20_000
    criteria_per_account: int = 5_000_000
    negatives_per_campaign: int = 10_000
    enabled_rsas_per_ad_group: int = 3


@dataclass(frozen=True)
class AccountSpec:
    name: str | None = None
    vertical: str | None = None
    currency_code: str = "USD"
    time_zone: str = "America/New_York"
    lag: LagDistribution | None = None
    noise: NoiseSpec | None = None


@dataclass(frozen=True)
class Event:
    """Something that happens to the market on a date (range), independent of anyone's actions.

    ``account``/``campaigns``/``ad_groups``/``keywords`` are indexes within the account (None =
    all); ``fraction`` picks a seeded random subset instead of listing indexes.
    """

    type: str
    start: dt.date
    end: dt.date | None = None
    account: int | None = None
    campaigns: tuple[int, ...] | None = None
    ad_groups: tuple[int, ...] | None = None
    keywords: tuple[int, ...] | None = None
    fraction: float | None = None
    cpc_multiplier: float = 1.0
    demand_multiplier: float = 1.0
    name: str = ""
    # tracking_outage: "click_date" = clicks in the window lose attribution (gclid stripped,
    # auto-tagging off): their conversions never appear; "conversion_date" = the tag is down, so
    # conversions happening in the window (from earlier clicks too) are lost
    mode: str = "click_date"

    def active(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int = 1
    reference_date: dt.date = dt.date(2026, 12, 1)
    history_days: int = 400
    structure: StructureSpec = field(default_factory=StructureSpec)
    market: MarketSpec = field(default_factory=MarketSpec)
    noise: NoiseSpec = field(default_factory=NoiseSpec)
    seasonality: Seasonality = field(default_factory=Seasonality)
    lag: LagDistribution = field(default_factory=LagDistribution)
    accounts: tuple[AccountSpec, ...] = ()
    events: tuple[Event, ...] = ()
    limits: Limits = field(default_factory=Limits)
    chaos: dict[str, Any] = field(default_factory=dict)  # see spectra.sandbox.chaos.ChaosConfig

    @property
    def history_start(self) -> dt.date:
        """The first day the market has data for (the accounts' creation)."""
        return self.reference_date - dt.timedelta(days=self.history_days)

    def account_spec(self, index: int) -> AccountSpec:
        return self.accounts[index] if index < len(self.accounts) else AccountSpec()


def scenario_path(name_or_path: str | Path) -> Path:
    """A packaged scenario by name (``tiny``) or a YAML file path."""
    candidate = Path(name_or_path)
    # Only YAML files are paths: a bare name is always a packaged scenario, even when a
    # folder of that name (e.g. ./bench) happens to be in the working directory.
    if candidate.suffix in {".yaml", ".yml"} or candidate.is_file():
        if not candidate.exists():
            raise ScenarioError(f"scenario file not found: {candidate}")
        return candidate
    packaged = resources.files("spectra.sandbox").joinpath("scenarios", f"{name_or_path}.yaml")
    path = Path(str(packaged))
    if not path.exists():
        raise ScenarioError(f"no packaged scenario named {name_or_path!r} ({path})")
    return path


def packaged_scenarios() -> list[str]:
    folder = Path(str(resources.files("spectra.sandbox").joinpath("scenarios")))
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_scenario(name_or_path: str | Path, **overrides: Any) -> Scenario:
    """Parse a scenario YAML; keyword overrides replace top-level fields (e.g. ``seed=3``)."""
    path = scenario_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: top level must be a mapping")
    raw.setdefault("name", path.stem)
    scenario = scenario_from_dict(raw)
    return replace(scenario, **overrides) if overrides else scenario


def scenario_from_dict(raw: dict[str, Any]) -> Scenario:
    known = {f.name for f in fields(Scenario)}
    unknown = set(raw) - known
    if unknown:
        raise ScenarioError(f"unknown scenario keys: {sorted(unknown)}")
    raw_reference = raw.get(
        "reference_date", Scenario.__dataclass_fields__["reference_date"].default
    )
    # "today": events stay inside the last days whenever the demo runs (deterministic per date)
    reference = dt.datetime.now(dt.UTC).date() if raw_reference == "today" else _date(raw_reference)
    seasonality = _seasonality(raw.get("seasonality") or {})
    return Scenario(
        name=str(raw["name"]),
        seed=int(raw.get("seed", 1)),
        reference_date=reference,
        history_days=int(raw.get("history_days", 400)),
        structure=_structure(raw.get("structure") or {}),
        market=_market(raw.get("market") or {}),
        noise=_simple(NoiseSpec, raw.get("noise") or {}),
        seasonality=seasonality,
        lag=_simple(LagDistribution, raw.get("lag") or {}),
        accounts=tuple(_account(a) for a in raw.get("accounts") or ()),
        events=tuple(_event(e, reference) for e in raw.get("events") or ()),
        limits=_simple(Limits, raw.get("limits") or {}),
        chaos=dict(raw.get("chaos") or {}),
    )


def _date(value: Any, reference: dt.date | None = None) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int) and reference is not None:
        return reference + dt.timedelta(days=value)
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ScenarioError(f"bad date {value!r}") from exc


def _simple(cls: Any, raw: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(raw) - names
    if unknown:
        raise ScenarioError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    return cls(**raw)


def _lognormal(raw: Any, default: LogNormal) -> LogNormal:
    if raw is None:
        return default
    if isinstance(raw, int | float):
        return LogNormal(float(raw), 0.0)
    return LogNormal(
        float(raw.get("median", default.median)), float(raw.get("sigma", default.sigma))
    )


def _uniform(raw: Any, default: Uniform) -> Uniform:
    if raw is None:
        return default
    if isinstance(raw, list | tuple):
        return Uniform(float(raw[0]), float(raw[1]))
    return Uniform(float(raw.get("low", default.low)), float(raw.get("high", default.high)))


def _structure(raw: dict[str, Any]) -> StructureSpec:
    raw = dict(raw)
    base = StructureSpec()
    mix = raw.pop("match_type_mix", None)
    terms = raw.pop("search_terms_per_keyword", None)
    spec = _simple(StructureSpec, raw)
    if mix is not None:
        spec = replace(spec, match_type_mix=tuple((str(k), float(v)) for k, v in mix.items()))
    if terms is not None:
        spec = replace(
            spec,
            search_terms_per_keyword=tuple(
                (str(k), int(v[0]), int(v[1])) for k, v in terms.items()
            ),
        )
    for match, _ in spec.match_type_mix:
        if match not in {"EXACT", "PHRASE", "BROAD"}:
            raise ScenarioError(f"unknown match type {match!r}")
    del base
    return spec


def _market(raw: dict[str, Any]) -> MarketSpec:
    base = MarketSpec()
    kwargs: dict[str, Any] = {}
    for f in fields(MarketSpec):
        if f.name not in raw:
            continue
        default = getattr(base, f.name)
        value = raw[f.name]
        if isinstance(default, LogNormal):
            kwargs[f.name] = _lognormal(value, default)
        elif isinstance(default, Uniform):
            kwargs[f.name] = _uniform(value, default)
        elif isinstance(default, tuple):
            try:
                kwargs[f.name] = tuple(float(v) for v in normalised(value))
            except (TypeError, ValueError) as exc:
                raise ScenarioError(f"market.{f.name}: {exc}") from exc
        else:
            kwargs[f.name] = float(value)
    unknown = set(raw) - {f.name for f in fields(MarketSpec)}
    if unknown:
        raise ScenarioError(f"unknown market keys: {sorted(unknown)}")
    return replace(base, **kwargs)


def _holidays(raw: Any) -> tuple[Holiday, ...]:
    return tuple(
        Holiday(
            name=str(h["name"]),
            start=str(h["start"]),
            end=str(h["end"]),
            demand=float(h.get("demand", 1.0)),
            cvr=float(h.get("cvr", 1.0)),
            cpc=float(h.get("cpc", 1.0)),
        )
        for h in raw
    )


def _seasonality(raw: dict[str, Any]) -> Seasonality:
    """``holidays``/``weekly_demand`` set one profile for every vertical (the per-vertical
    defaults are dropped); ``holiday_profiles``/``vertical_weekly_demand`` set them per vertical."""
    raw = dict(raw)
    holidays_raw = raw.pop("holidays", None)
    profiles_raw = raw.pop("holiday_profiles", None)
    weekly_raw = raw.pop("vertical_weekly_demand", None)
    kwargs: dict[str, Any] = {}
    for key in ("weekly_demand", "weekly_cvr"):
        if key in raw:
            kwargs[key] = tuple(float(v) for v in raw.pop(key))
    if "weekly_demand" in kwargs:
        kwargs["vertical_weekly_demand"] = ()
    for key in ("yearly_amplitude",):
        if key in raw:
            kwargs[key] = float(raw.pop(key))
    if "yearly_peak_day" in raw:
        kwargs["yearly_peak_day"] = int(raw.pop("yearly_peak_day"))
    if raw:
        raise ScenarioError(f"unknown seasonality keys: {sorted(raw)}")
    if holidays_raw is not None:
        kwargs["holidays"] = _holidays(holidays_raw)
        kwargs["vertical_holidays"] = ()
    else:
        kwargs["holidays"] = DEFAULT_HOLIDAYS
    if profiles_raw is not None:
        base = dict(kwargs.get("vertical_holidays", VERTICAL_HOLIDAYS))
        base.update({str(v): _holidays(h) for v, h in profiles_raw.items()})
        kwargs["vertical_holidays"] = tuple(base.items())
    if weekly_raw is not None:
        base_w = dict(kwargs.get("vertical_weekly_demand", Seasonality().vertical_weekly_demand))
        base_w.update({str(v): tuple(float(x) for x in w) for v, w in weekly_raw.items()})
        kwargs["vertical_weekly_demand"] = tuple(base_w.items())
    try:
        return Seasonality(**kwargs)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from exc


def _account(raw: dict[str, Any]) -> AccountSpec:
    raw = dict(raw)
    lag = raw.pop("lag", None)
    noise = raw.pop("noise", None)
    spec = _simple(AccountSpec, raw)
    return replace(
        spec,
        lag=_simple(LagDistribution, lag) if lag else None,
        noise=_simple(NoiseSpec, noise) if noise else None,
    )


def _event(raw: dict[str, Any], reference: dt.date) -> Event:
    raw = dict(raw)
    kind = str(raw.pop("type", ""))
    if kind not in EVENT_TYPES:
        raise ScenarioError(f"unknown event type {kind!r}; known: {sorted(EVENT_TYPES)}")
    if "date" in raw and "start" not in raw:
        raw["start"] = raw.pop("date")
    start = _date(raw.pop("start"), reference)
    end_raw = raw.pop("end", None)
    end = _date(end_raw, reference) if end_raw is not None else None
    tuples = {
        k: tuple(int(v) for v in raw.pop(k))
        for k in ("campaigns", "ad_groups", "keywords")
        if raw.get(k) is not None
    }
    for k in ("campaigns", "ad_groups", "keywords"):
        raw.pop(k, None)
    event = _simple(Event, {"type": kind, "start": start, "end": end, **raw, **tuples})
    if event.mode not in ("click_date", "conversion_date"):
        raise ScenarioError(f"event mode {event.mode!r} is not click_date or conversion_date")
    if event.end is not None and event.end < event.start:
        raise ScenarioError(f"event {kind} ends before it starts")
    return event
