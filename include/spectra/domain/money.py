"""Money in an account's own currency: integer micros, billable units, plausibility scale.

Google Ads keeps every amount in micros (10^-6) of the account's currency, and bills (and
accepts budgets and bids) only in whole *billable units* of it: one cent for USD (10 000
micros), one yen for JPY (1 000 000 micros). A budget or bid that is not a multiple is
rejected (``currency_error.VALUE_NOT_MULTIPLE_OF_BILLABLE_UNIT``), so every amount Spectra
proposes is rounded here, to the unit of the account's currency.

The unit comes from Google (``currency_constant.billable_unit_micros``, pulled by ingest into
``ad_accounts.billable_unit_micros``); :data:`CURRENCIES` only stands in when it has not been
pulled yet (the ISO 4217 minor unit: 10^(6 - decimals) micros).

``units_per_usd`` is an order of magnitude (rounded 2025 exchange rates), used only to scale
bounds that were written in dollars — "a CPC above 500 is implausible", "never bid above 100" —
to a currency where 500 is a normal yen CPC. It is never used to convert money.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MICROS = 1_000_000
DEFAULT_BILLABLE_UNIT_MICROS = 10_000  # one cent: USD and most two-decimal currencies


@dataclass(frozen=True)
class Currency:
    """A currency as Spectra needs it: its billable unit and its rough size against USD."""

    code: str
    billable_unit_micros: int
    units_per_usd: float | None = None  # None: unknown, dollar-denominated bounds do not apply

    def __post_init__(self) -> None:
        if self.billable_unit_micros <= 0:
            raise ValueError(
                f"{self.code}: billable unit must be positive micros, "
                f"got {self.billable_unit_micros}"
            )

    def from_usd(self, usd_micros: int) -> int | None:
        """A dollar-denominated bound in this currency (whole units), or None when unknown."""
        if self.units_per_usd is None:
            return None
        return round_to_unit(usd_micros * self.units_per_usd, self.billable_unit_micros)

    def is_billable(self, micros: int) -> bool:
        return micros % self.billable_unit_micros == 0


# code: (ISO 4217 decimals, units per USD — an order of magnitude, see the module docstring)
_TABLE: dict[str, tuple[int, float]] = {
    "USD": (2, 1.0), "EUR": (2, 0.9), "GBP": (2, 0.8), "CHF": (2, 0.9), "CAD": (2, 1.4),
    "AUD": (2, 1.5), "NZD": (2, 1.7), "SEK": (2, 10.0), "NOK": (2, 10.5), "DKK": (2, 6.8),
    "PLN": (2, 4.0), "CZK": (2, 23.0), "HUF": (2, 360.0), "RON": (2, 4.6), "BGN": (2, 1.8),
    "ISK": (0, 138.0), "TRY": (2, 35.0), "RUB": (2, 90.0), "UAH": (2, 41.0), "ILS": (2, 3.7),
    "AED": (2, 3.7), "SAR": (2, 3.75), "QAR": (2, 3.64), "KWD": (3, 0.31), "BHD": (3, 0.376),
    "OMR": (3, 0.385), "JOD": (3, 0.71), "TND": (3, 3.1), "EGP": (2, 49.0), "MAD": (2, 10.0),
    "ZAR": (2, 18.0), "NGN": (2, 1500.0), "KES": (2, 130.0), "INR": (2, 84.0),
    "PKR": (2, 280.0), "BDT": (2, 120.0), "LKR": (2, 300.0), "JPY": (0, 150.0),
    "KRW": (0, 1400.0), "CNY": (2, 7.2), "HKD": (2, 7.8), "TWD": (2, 32.0), "SGD": (2, 1.35),
    "MYR": (2, 4.5), "THB": (2, 35.0), "IDR": (2, 16000.0), "PHP": (2, 57.0),
    "VND": (0, 25000.0), "BRL": (2, 5.5), "MXN": (2, 18.0), "ARS": (2, 950.0),
    "CLP": (0, 950.0), "COP": (2, 4100.0), "PEN": (2, 3.75), "UYU": (2, 40.0),
}  # fmt: skip

CURRENCIES: dict[str, Currency] = {
    code: Currency(code, 10 ** (6 - decimals), per_usd)
    for code, (decimals, per_usd) in _TABLE.items()
}


def currency(code: str, billable_unit_micros: int | None = None) -> Currency:
    """The currency ``code``, with Google's billable unit when known (else the ISO minor unit;
    a code outside the table gets one cent and no dollar scale)."""
    code = (code or "").upper()
    known = CURRENCIES.get(code)
    unit = billable_unit_micros or (
        known.billable_unit_micros if known else DEFAULT_BILLABLE_UNIT_MICROS
    )
    return Currency(code, int(unit), known.units_per_usd if known else None)


def round_to_unit(micros: float, unit: int) -> int:
    """The nearest whole multiple of ``unit`` (at least one unit)."""
    return max(1, round(micros / unit)) * unit


def round_toward(target: float, current: int, unit: int) -> int:
    """Whole units on the current amount's side of ``target`` (at least one unit): a step
    rounded this way is never larger than the one asked for."""
    units = target / unit
    units = math.floor(units) if target >= current else math.ceil(units)
    return max(units, 1) * unit
