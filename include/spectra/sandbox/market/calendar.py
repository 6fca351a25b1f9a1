"""Seasonality: weekday profile, a yearly cycle and holiday windows (demand and conversion rate).

Holidays move with the calendar (Black Friday is the day after the fourth Thursday of November), so
windows are named by anchors and resolved per year rather than hard-coded as dates.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

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
    """A window [start, end] (inclusive) with multipliers on search demand and conversion rate."""

    name: str
    start: str
    end: str
    demand: float
    cvr: float = 1.0

    def window(self, year: int) -> tuple[dt.date, dt.date]:
        return resolve_anchor(self.start, year), resolve_anchor(self.end, year)


DEFAULT_HOLIDAYS: tuple[Holiday, ...] = (
    Holiday("black_friday_cyber_monday", "black_friday", "cyber_monday", demand=1.9, cvr=1.35),
    Holiday("christmas_shopping", "12-01", "12-21", demand=1.25, cvr=1.10),
    Holiday("christmas", "12-24", "12-26", demand=0.55, cvr=0.80),
)


@dataclass(frozen=True)
class Seasonality:
    """Multiplicative demand and conversion-rate profiles; 1.0 is an ordinary day."""

    weekly_demand: tuple[float, ...] = (1.06, 1.08, 1.07, 1.04, 0.97, 0.86, 0.92)
    weekly_cvr: tuple[float, ...] = (1.02, 1.03, 1.02, 1.0, 0.98, 0.96, 0.99)
    yearly_amplitude: float = 0.12
    yearly_peak_day: int = 330  # day of year with the highest baseline demand (late November)
    holidays: tuple[Holiday, ...] = field(default=DEFAULT_HOLIDAYS)

    def __post_init__(self) -> None:
        if len(self.weekly_demand) != 7 or len(self.weekly_cvr) != 7:
            raise ValueError("weekly profiles need 7 values, Monday first")

    def yearly(self, day: dt.date) -> float:
        doy = day.timetuple().tm_yday
        return 1.0 + self.yearly_amplitude * math.cos(
            2 * math.pi * (doy - self.yearly_peak_day) / 365.25
        )

    def holiday(self, day: dt.date) -> tuple[float, float, str | None]:
        """(demand, cvr, name) of the holiday window covering ``day``, or (1, 1, None)."""
        return _holiday_lookup(self.holidays, day)

    def demand(self, day: dt.date) -> float:
        return self.weekly_demand[day.weekday()] * self.yearly(day) * self.holiday(day)[0]

    def cvr(self, day: dt.date) -> float:
        return self.weekly_cvr[day.weekday()] * self.holiday(day)[1]


@lru_cache(maxsize=4096)
def _holiday_lookup(holidays: Sequence[Holiday], day: dt.date) -> tuple[float, float, str | None]:
    for h in holidays:
        for year in (day.year - 1, day.year):
            start, end = h.window(year)
            if start <= day <= end:
                return h.demand, h.cvr, h.name
    return 1.0, 1.0, None
