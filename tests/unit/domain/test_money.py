"""spectra.domain.money: billable units and dollar-denominated bounds per currency."""

from __future__ import annotations

import pytest

from spectra.domain.money import Currency, currency, round_to_unit, round_toward


def test_units_default_to_the_iso_minor_unit_and_google_overrides_them() -> None:
    assert currency("USD").billable_unit_micros == 10_000
    assert currency("jpy").billable_unit_micros == 1_000_000  # no minor unit
    assert currency("KWD").billable_unit_micros == 1_000  # three decimals
    # what Google's currency_constant says wins over the table
    assert currency("KRW", 10_000_000).billable_unit_micros == 10_000_000
    unknown = currency("XYZ")
    assert unknown.billable_unit_micros == 10_000 and unknown.from_usd(1_000_000) is None


def test_dollar_bounds_scale_to_the_currency_in_whole_units() -> None:
    jpy = currency("JPY")
    cap = jpy.from_usd(500_000_000)  # "500 per click" written for dollars
    assert cap == 75_000_000_000  # 75 000 yen
    assert jpy.is_billable(cap) and not jpy.is_billable(cap + 500_000)
    assert currency("USD").from_usd(500_000_000) == 500_000_000


def test_rounding_stays_on_the_current_side_and_is_never_zero() -> None:
    assert round_toward(1_234_567, 1_000_000, 10_000) == 1_230_000  # increase: floor
    assert round_toward(876_543, 1_000_000, 10_000) == 880_000  # decrease: ceil
    assert round_toward(123_400_000, 100_000_000, 1_000_000) == 123_000_000
    assert round_toward(10, 1_000_000, 1_000_000) == 1_000_000  # at least one unit
    assert round_to_unit(1_499_999, 1_000_000) == 1_000_000
    assert round_to_unit(1, 10_000) == 10_000


def test_a_unit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="billable unit"):
        Currency("JPY", 0)
