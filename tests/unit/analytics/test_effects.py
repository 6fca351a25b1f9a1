"""spectra.analytics.effects: before/after vs seasonal expectation and DiD with placebo p-values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from spectra.analytics.effects import (
    comparable_controls,
    estimate_change_effect,
    estimate_change_effects,
)
from spectra.analytics.seasonality import HolidayCalendar

CHANGE = dt.date(2025, 3, 17)  # a Monday: whole weeks on both sides
NO_HOLIDAYS = HolidayCalendar.for_market("NONE")


def _panel(
    seed: int, *, lift: float, entities: int = 25, common_shock: float = 1.0
) -> pd.DataFrame:
    """Entities share weekday and slow seasonality; entity 0 gets ``lift`` from CHANGE; all get
    ``common_shock`` from CHANGE (e.g. a market-wide event that DiD must cancel)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-01-01", periods=100, freq="D")
    weekday = np.array([0.10, 0.05, 0.0, 0.0, -0.05, -0.20, -0.15])[dates.day_of_week]
    after = dates >= pd.Timestamp(CHANGE)
    frames = []
    for e in range(entities):
        mu = rng.lognormal(4.0, 0.5) * np.exp(weekday + 0.1 * np.sin(np.arange(100) / 15))
        mu = mu * np.where(after, common_shock, 1.0)
        if e == 0:
            mu = mu * np.where(after, lift, 1.0)
        conversions = rng.poisson(mu * rng.gamma(20, 1 / 20, 100))
        cost = rng.poisson(mu * 30) * 1_000_000
        frames.append(
            pd.DataFrame(
                {"entity_id": e, "date": dates, "conversions": conversions, "cost_micros": cost}
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_planted_lift_is_recovered_and_judged_improved() -> None:
    eff = estimate_change_effect(
        _panel(1, lift=1.3), treated_id=0, change_date=CHANGE, calendar=NO_HOLIDAYS
    )
    assert eff.verdict == "improved"
    assert eff.did_ci_low < 0.3 < eff.did_ci_high
    assert eff.did_pct == pytest.approx(0.3, abs=0.15)
    assert eff.vs_expectation_pct == pytest.approx(0.3, abs=0.15)
    assert eff.n_controls == 24
    assert eff.placebo_p <= 0.08
    assert (eff.pre_start, eff.post_end) == (dt.date(2025, 2, 17), dt.date(2025, 3, 30))


def test_no_change_gives_no_detectable_effect() -> None:
    eff = estimate_change_effect(
        _panel(2, lift=1.0), treated_id=0, change_date=CHANGE, calendar=NO_HOLIDAYS
    )
    assert eff.verdict == "no_detectable_effect"
    assert eff.did_ci_low < 0 < eff.did_ci_high


def test_market_wide_shift_cancels_in_did_but_not_vs_expectation() -> None:
    eff = estimate_change_effect(
        _panel(3, lift=1.0, common_shock=1.5),
        treated_id=0,
        change_date=CHANGE,
        calendar=NO_HOLIDAYS,
    )
    assert eff.verdict == "no_detectable_effect"  # the DiD, which controls exist for, decides
    assert abs(eff.did_pct) < 0.15
    assert eff.vs_expectation_pct > 0.3  # the own-expectation view sees the market-wide lift


def test_lower_is_better_metric_direction() -> None:
    panel = _panel(4, lift=1.0)
    post = (panel["entity_id"] == 0) & (panel["date"] >= pd.Timestamp(CHANGE))
    panel.loc[post, "cost_micros"] = (panel.loc[post, "cost_micros"] * 0.6).astype(np.int64)
    eff = estimate_change_effect(
        panel, treated_id=0, change_date=CHANGE, metric="cpa", value="cost_micros",
        denominator="conversions", higher_is_better=False, calendar=NO_HOLIDAYS,
    )  # fmt: skip
    assert eff.did_pct == pytest.approx(-0.4, abs=0.1)
    assert eff.verdict == "improved"


def test_too_few_mature_post_days_is_insufficient() -> None:
    eff = estimate_change_effect(
        _panel(5, lift=1.3), treated_id=0, change_date=CHANGE, mature_until=CHANGE + dt.timedelta(days=4),
        calendar=NO_HOLIDAYS,
    )  # fmt: skip
    assert eff.verdict == "insufficient_data"
    assert "post days" in eff.reason


def test_without_controls_the_seasonal_expectation_decides() -> None:
    panel = _panel(6, lift=1.4, entities=2)
    eff = estimate_change_effect(panel, treated_id=0, change_date=CHANGE, calendar=NO_HOLIDAYS)
    assert eff.n_controls == 1
    assert "controls" in eff.reason
    assert eff.verdict == "improved"


def test_changed_entities_are_not_controls_and_batch_runs() -> None:
    panel = _panel(7, lift=1.3)
    controls = comparable_controls(
        panel, 0, before=pd.Timestamp(CHANGE), changed_ids=[3, 4], value="conversions"
    )
    assert 0 not in controls and 3 not in controls and 4 not in controls
    changes = pd.DataFrame({"entity_id": [0, 3], "change_date": [CHANGE, CHANGE]})
    frame = estimate_change_effects(panel, changes, calendar=NO_HOLIDAYS)
    assert list(frame["entity_id"]) == [0, 3]
    assert frame.loc[0, "verdict"] == "improved"
    assert frame.loc[0, "n_controls"] == 23


def test_interim_looks_use_the_always_valid_p_and_stay_honest() -> None:
    """Re-judging a change every day while its post-period fills: with the always-valid
    (mSPRT) p the chance of ever calling a non-effect "improved" stays under its alpha."""
    calls = 0
    for seed in range(40):
        panel = _panel(100 + seed, lift=1.0)
        for days in (7, 9, 11, 13):
            eff = estimate_change_effect(
                panel, treated_id=0, change_date=CHANGE, calendar=NO_HOLIDAYS,
                mature_until=CHANGE + dt.timedelta(days=days - 1),
            )  # fmt: skip
            assert eff.look == "interim"
            if eff.verdict in ("improved", "worsened"):
                calls += 1
                break
    assert calls / 40 <= 0.05


def test_final_look_uses_the_fixed_horizon_test() -> None:
    eff = estimate_change_effect(
        _panel(1, lift=1.3), treated_id=0, change_date=CHANGE, calendar=NO_HOLIDAYS
    )
    assert eff.look == "final" and eff.verdict == "improved"
    assert eff.sequential_ci_low < 0.3 < eff.sequential_ci_high
