"""Seasonality: weekday profiles, a yearly cycle and holiday profiles per vertical (demand,
conversion rate and the auction's price level).

Holidays move with the calendar (Black Friday is the day after the fourth Thursday of November), so
windows are named by anchors and resolved per year rather than hard-coded as dates.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from spectra.sandbox.market.economics import VERTICAL_WEEKLY_DEMAND

WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def black_friday(year: int) -> dt.date:
    """The day after US Thanksgiving (fourth Thursday of November)."""
    first = dt.date(year, 11, 1)
    first_thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + dt.timedelta(days=21 + 1)


def cyber_monday(year: int) -> dt.date:
    return black_friday(year) + dt.timedelta(days=3)


def resolve_anchor(anchor: str, year: int) -> dt.date:
    """``black_friday``, ``cyber_monday``, ``thanksgiving`` or ``MM-DD``, optionally ``+N``/``-N`` days."""
    offset = 0
    base = anchor.strip()
    for sign in ("+", "-"):
        head, sep, tail = base.rpartition(sign)
        if sep and head and tail.strip().isdigit() and not _is_month_day(base):
            offset = int(tail) * (1 if sign == "+" else -1)
            base = head.strip()
            break
    if base == "black_friday":
        day = black_friday(year)
    elif base == "cyber_monday":
        day = cyber_monday(year)
    elif base == "thanksgiving":
        day = black_friday(year) - dt.timedelta(days=1)
    else:
        month, mday = (int(p) for p in base.split("-"))
        day = dt.date(year, month, mday)
    return day + dt.timedelta(days=offset)


def _is_month_day(text: str) -> bool:
    parts = text.split("-")
    return len(parts) == 2 and all(p.strip().isdigit() for p in parts)


@dataclass(frozen=True)
class Holiday:
    """A window [start, end] (inclusive) with multipliers on search demand, conversion rate and
    the auction's price level (competitors bid up on retail's peak days)."""

    name: str
    start: str
    end: str
    demand: float
    cvr: float = 1.0
    cpc: float = 1.0

    def window(self, year: int) -> tuple[dt.date, dt.date]:
        return resolve_anchor(self.start, year), resolve_anchor(self.end, year)


def _day(name: str, anchor: str, demand: float, cvr: float = 1.0, cpc: float = 1.0) -> Holiday:
    return Holiday(name, anchor, anchor, demand, cvr, cpc)


# Holiday profiles per vertical, day by day, on top of the weekday and yearly profiles (the
# first window covering a day wins, so single days come before the spans around them).
#
# Retail e-commerce (Adobe Digital Economy Index, US holiday season 2024, online spend vs an
# early-November day; business.adobe.com/resources/holiday-shopping-report.html): Thanksgiving
# ~1.9x, Black Friday ~3.4x, the Saturday and Sunday ~1.7x each, Cyber Monday ~4.1x; retail
# paid-search spend rises 50-105 % on those peak days; after the shipping cut-off online spend
# falls about 20 % a day from Dec 19 to Dec 24, and rebounds on Dec 26. Revenue is demand x
# conversion rate here: searches rise less than spend (deal-day shoppers convert more), and
# the auction's price level rises 5-15 %, so cost (clicks x CPC) grows by about the
# paid-search figure.
RETAIL_HOLIDAYS: tuple[Holiday, ...] = (
    _day("thanksgiving", "thanksgiving", demand=1.35, cvr=1.35, cpc=1.08),
    _day("black_friday", "black_friday", demand=1.65, cvr=2.05, cpc=1.12),
    _day("black_friday_saturday", "black_friday+1", demand=1.45, cvr=1.35, cpc=1.08),
    _day("black_friday_sunday", "black_friday+2", demand=1.40, cvr=1.32, cpc=1.08),
    _day("cyber_monday", "cyber_monday", demand=1.5, cvr=2.4, cpc=1.1),
    Holiday("cyber_week", "cyber_monday+1", "cyber_monday+4", demand=1.2, cvr=1.15, cpc=1.05),
    Holiday("pre_black_friday", "thanksgiving-7", "thanksgiving-1", demand=1.1, cvr=1.05),
    _day("shipping_cutoff_1", "12-19", demand=1.10, cvr=1.05),
    _day("shipping_cutoff_2", "12-20", demand=0.95, cvr=0.98),
    _day("shipping_cutoff_3", "12-21", demand=0.82, cvr=0.92),
    _day("shipping_cutoff_4", "12-22", demand=0.72, cvr=0.85),
    _day("shipping_cutoff_5", "12-23", demand=0.62, cvr=0.78),
    _day("christmas_eve", "12-24", demand=0.55, cvr=0.70),
    _day("christmas_day", "12-25", demand=0.55, cvr=0.75),
    _day("after_christmas_sales", "12-26", demand=1.05, cvr=1.05),
    Holiday("christmas_shopping", "12-01", "12-18", demand=1.25, cvr=1.10, cpc=1.05),
    Holiday("after_christmas", "12-27", "12-31", demand=0.95, cvr=0.95),
)

# Lead-generation services (a dental practice): nobody books a crown on Thanksgiving or
# Christmas; the shopping days are flat to slightly down (the practice is open, the patients
# are shopping), the week after Christmas a little down.
LEAD_GEN_HOLIDAYS: tuple[Holiday, ...] = (
    _day("thanksgiving", "thanksgiving", demand=0.45, cvr=0.9),
    _day("black_friday", "black_friday", demand=0.8, cvr=0.95),
    Holiday("black_friday_weekend", "black_friday+1", "black_friday+2", demand=0.85, cvr=0.95),
    _day("cyber_monday", "cyber_monday", demand=0.85),
    _day("christmas_eve", "12-24", demand=0.45, cvr=0.85),
    _day("christmas_day", "12-25", demand=0.3, cvr=0.8),
    _day("after_christmas", "12-26", demand=0.7, cvr=0.9),
    Holiday("year_end", "12-27", "12-31", demand=0.85, cvr=0.95),
    _day("new_year", "01-01", demand=0.5, cvr=0.9),
)

# B2B software: offices close for Thanksgiving and the last week of the year; SaaS Cyber
# Monday deals lift that one day a little.
B2B_HOLIDAYS: tuple[Holiday, ...] = (
    _day("thanksgiving", "thanksgiving", demand=0.4, cvr=0.9),
    _day("black_friday", "black_friday", demand=0.55, cvr=0.95),
    _day("cyber_monday", "cyber_monday", demand=1.05, cvr=1.1),
    Holiday("pre_christmas", "12-21", "12-23", demand=0.75, cvr=0.95),
    _day("christmas_eve", "12-24", demand=0.4, cvr=0.9),
    _day("christmas_day", "12-25", demand=0.25, cvr=0.85),
    _day("boxing_day", "12-26", demand=0.45, cvr=0.9),
    Holiday("year_end", "12-27", "12-31", demand=0.6, cvr=0.9),
    _day("new_year", "01-01", demand=0.35, cvr=0.85),
)

# Travel: Black Friday and Cyber Monday deals and the "Travel Tuesday" after them lift
# bookings; Thanksgiving and Christmas themselves are quiet; the days after Christmas are
# spent planning the next trip.
TRAVEL_HOLIDAYS: tuple[Holiday, ...] = (
    _day("thanksgiving", "thanksgiving", demand=0.8),
    _day("black_friday", "black_friday", demand=1.25, cvr=1.2, cpc=1.05),
    Holiday("black_friday_weekend", "black_friday+1", "black_friday+2", demand=1.1, cvr=1.05),
    _day("cyber_monday", "cyber_monday", demand=1.35, cvr=1.3, cpc=1.08),
    _day("travel_tuesday", "cyber_monday+1", demand=1.45, cvr=1.35, cpc=1.08),
    _day("christmas_eve", "12-24", demand=0.6, cvr=0.8),
    _day("christmas_day", "12-25", demand=0.55, cvr=0.8),
    Holiday("trip_planning", "12-26", "12-31", demand=1.15, cvr=1.05),
)

# The profile of a vertical without its own (and of a scenario that names one for all).
DEFAULT_HOLIDAYS: tuple[Holiday, ...] = RETAIL_HOLIDAYS
VERTICAL_HOLIDAYS: tuple[tuple[str, tuple[Holiday, ...]], ...] = (
    ("outdoor", RETAIL_HOLIDAYS),
    ("dental", LEAD_GEN_HOLIDAYS),
    ("software", B2B_HOLIDAYS),
    ("travel", TRAVEL_HOLIDAYS),
    ("legal", LEAD_GEN_HOLIDAYS),
)


@dataclass(frozen=True)
class Seasonality:
    """Multiplicative demand, conversion-rate and price profiles; 1.0 is an ordinary day.

    ``holidays`` and ``weekly_demand`` are the profiles of any vertical without its own in
    ``vertical_holidays`` / ``vertical_weekly_demand`` (a scenario that sets them for all
    clears the per-vertical ones)."""

    weekly_demand: tuple[float, ...] = (1.06, 1.08, 1.07, 1.04, 0.97, 0.86, 0.92)
    weekly_cvr: tuple[float, ...] = (1.02, 1.03, 1.02, 1.0, 0.98, 0.96, 0.99)
    yearly_amplitude: float = 0.12
    yearly_peak_day: int = 330  # day of year with the highest baseline demand (late November)
    holidays: tuple[Holiday, ...] = field(default=DEFAULT_HOLIDAYS)
    vertical_holidays: tuple[tuple[str, tuple[Holiday, ...]], ...] = VERTICAL_HOLIDAYS
    vertical_weekly_demand: tuple[tuple[str, tuple[float, ...]], ...] = VERTICAL_WEEKLY_DEMAND

    def __post_init__(self) -> None:
        weekly = [self.weekly_demand, self.weekly_cvr, *(w for _, w in self.vertical_weekly_demand)]
        if any(len(w) != 7 for w in weekly):
            raise ValueError("weekly profiles need 7 values, Monday first")

    def holidays_of(self, vertical: str | None) -> tuple[Holiday, ...]:
        for name, profile in self.vertical_holidays:
            if name == vertical:
                return profile
        return self.holidays

    def weekly(self, vertical: str | None) -> tuple[float, ...]:
        for name, profile in self.vertical_weekly_demand:
            if name == vertical:
                return profile
        return self.weekly_demand

    def yearly(self, day: dt.date) -> float:
        doy = day.timetuple().tm_yday
        return 1.0 + self.yearly_amplitude * math.cos(
            2 * math.pi * (doy - self.yearly_peak_day) / 365.25
        )

    def holiday(self, day: dt.date, vertical: str | None = None) -> tuple[float, float, str | None]:
        """(demand, cvr, name) of the holiday window covering ``day``, or (1, 1, None)."""
        demand, cvr, _, name = _holiday_lookup(self.holidays_of(vertical), day)
        return demand, cvr, name

    def demand(self, day: dt.date, vertical: str | None = None) -> float:
        return (
            self.weekly(vertical)[day.weekday()]
            * self.yearly(day)
            * _holiday_lookup(self.holidays_of(vertical), day)[0]
        )

    def cvr(self, day: dt.date, vertical: str | None = None) -> float:
        return self.weekly_cvr[day.weekday()] * _holiday_lookup(self.holidays_of(vertical), day)[1]

    def cpc(self, day: dt.date, vertical: str | None = None) -> float:
        """The auction's price level on ``day`` from the holiday (1.0 outside any)."""
        return _holiday_lookup(self.holidays_of(vertical), day)[2]


@lru_cache(maxsize=16384)
def _holiday_lookup(
    holidays: Sequence[Holiday], day: dt.date
) -> tuple[float, float, float, str | None]:
    for h in holidays:
        for year in (day.year - 1, day.year):
            start, end = h.window(year)
            if start <= day <= end:
                return h.demand, h.cvr, h.cpc, h.name
    return 1.0, 1.0, 1.0, None
