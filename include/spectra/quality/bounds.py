"""Plausibility bounds for one account's daily fact rows, applied by ingest's screen.

Two kinds, per metric:

- **ceilings** (``<prefix>.within_bounds:<column>``, block): the most one entity can report
  for one day anywhere (10^10 impressions, USD 10M of spend, ...), money scaled to the
  account's currency, and never above ``MAX_EXACT`` (2^53). A value above it is corrupt
  (``cost_micros = 2**63 - 1``), never business, and must not reach a table whose sums it
  would wrap.
- **history** (``<prefix>.history_plausible:<column>``, warn): ``history_factor`` times the
  largest value the account itself reported for that level in the last ``history_days`` days
  (at least a floor, so a quiet account may still grow). Only once the account has
  ``history_min_days`` days stored; before that there is no history to compare with.

Besides, the row checks the gate's suites judge (clicks above impressions, CTR, CPC and CVR
outside plausible bounds; thresholds from :class:`QualityConfig`) are applied by the screen
too: a flagged row is held at ingest, so it never overwrites the stored good version of the
same row (a warn-level defect must not destroy the last good value).

Why 2^53: every stored count and micros value is then exact in float64 (pandas, numpy,
JSON), and a sum of up to 1024 rows at the ceiling fits int64. SQLite's ``SUM`` raises on
int64 overflow and pandas' int64 sums wrap silently, so the ceilings are what keep both
honest; ``analytics.service.read_clean_performance`` checks the total of every frame it
reads, which bounds every sum over it (values are non-negative).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from spectra.ads.fields import METRIC_COLUMNS
from spectra.domain.money import MICROS, currency
from spectra.quality.checks import QualityConfig
from spectra.warehouse import models as m
from spectra.warehouse.quality_reads import account_currency, metric_maxima, pinned_settings

MAX_EXACT = 2**53


@dataclass(frozen=True)
class Bounds:
    """What one account's fact rows may plausibly hold (see the module docstring).

    ``ceilings`` and ``history`` are keyed by GAQL metric field, in the field's own unit
    (``metrics.conversions_value`` in currency units, not micros). ``history`` is keyed by
    (level, field); search terms have level ``None``.
    """

    ceilings: Mapping[str, float]
    history: Mapping[tuple[str | None, str], float] = field(default_factory=dict)
    max_ctr: float = 0.6
    ctr_min_impressions: int = 50
    max_cpc_micros: int | None = 500_000_000
    max_cvr: float = 1.0
    cvr_min_clicks: int = 10
    currency_code: str = "USD"
    # The account's pinned settings (quality_account_expectations; None before the first
    # validation pinned them): a pull reporting others is held until a person accepts it.
    pinned_currency: str | None = None
    pinned_time_zone: str | None = None
    pinned_on: dt.date | None = None
    tenant_id: str = ""
    customer_id: int = 0


def ceilings_for(config: QualityConfig, currency_code: str) -> dict[str, float]:
    """Per-entity-day ceilings in the account's currency, each at most ``MAX_EXACT``."""
    money = currency(currency_code or "USD")
    scale = money.units_per_usd or 1.0  # unknown size: the dollar figure, capped below anyway
    return {
        "metrics.impressions": min(config.max_impressions_per_day, MAX_EXACT),
        "metrics.clicks": min(config.max_clicks_per_day, MAX_EXACT),
        "metrics.cost_micros": min(config.max_cost_usd_micros_per_day * scale, MAX_EXACT),
        "metrics.conversions": min(config.max_conversions_per_day, MAX_EXACT),
        # stored as micros: the value in units times 10^6 must stay exact too
        "metrics.conversions_value": min(
            config.max_conversions_value_usd_per_day * scale, MAX_EXACT / MICROS
        ),
    }


def _floors(config: QualityConfig, currency_code: str) -> dict[str, float]:
    scale = currency(currency_code or "USD").units_per_usd or 1.0
    return {
        "metrics.impressions": config.history_floor_impressions,
        "metrics.clicks": config.history_floor_clicks,
        "metrics.cost_micros": config.history_floor_cost_usd_micros * scale,
        "metrics.conversions": config.history_floor_conversions,
        "metrics.conversions_value": config.history_floor_value_usd * scale,
    }


def account_bounds(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    config: QualityConfig | None = None,
    reported_currency: str | None = None,
) -> Bounds:
    """The bounds for one account's pull for ``logical_date``, from what the warehouse holds.

    The currency is the pinned one (``quality_account_expectations``) when there is a pin,
    else the one the pull reports (``reported_currency``), else the account's: a pull that
    relabels a pinned account cannot move its own bounds.
    """
    config = config or QualityConfig()
    scope: dict[str, Any] = {"tenant_id": tenant_id, "customer_id": customer_id}
    pin = pinned_settings(conn, **scope)
    pinned = pin[0] if pin else None
    code = pinned or reported_currency or account_currency(conn, **scope) or "USD"
    since = logical_date - dt.timedelta(days=config.history_days)
    history: dict[tuple[str | None, str], float] = {}
    floors = _floors(config, code)
    for model, by_level in ((m.PerformanceDaily, True), (m.SearchTermDaily, False)):
        for name, days, tops in metric_maxima(
            conn,
            model,
            list(METRIC_COLUMNS.values()),
            by_level=by_level,
            **scope,
            first=since,
            last=logical_date,
        ):
            if not days or days < config.history_min_days:
                continue
            for f, top in zip(METRIC_COLUMNS, tops, strict=True):
                top = float(top or 0)
                if f == "metrics.conversions_value":
                    top /= MICROS
                history[(name, f)] = config.history_factor * max(top, floors[f])
    return dataclasses.replace(
        default_bounds(code, config),
        history=history,
        pinned_currency=pinned,
        pinned_time_zone=pin[1] if pin else None,
        pinned_on=pin[2] if pin else None,
        tenant_id=tenant_id,
        customer_id=customer_id,
    )


def default_bounds(currency_code: str = "USD", config: QualityConfig | None = None) -> Bounds:
    """Bounds without history (a new account, or a pull screened without a warehouse)."""
    config = config or QualityConfig()
    return Bounds(
        ceilings=ceilings_for(config, currency_code),
        max_ctr=config.max_ctr,
        ctr_min_impressions=config.ctr_min_impressions,
        max_cpc_micros=config.max_cpc_for(currency_code),
        max_cvr=config.max_cvr,
        cvr_min_clicks=config.cvr_min_clicks,
        currency_code=currency_code,
    )
