"""The constrained oracle's steps stay inside Spectra's magnitude caps after rounding to the
billable unit (the metric ``guardrail_violations`` counts any step past a cap)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from spectra.evaluation import metrics
from spectra.evaluation.policies import BILLABLE_UNIT, CAPS, _capped


@given(
    current=st.integers(min_value=BILLABLE_UNIT, max_value=10**10).map(
        lambda v: v // BILLABLE_UNIT * BILLABLE_UNIT
    ),
    factor=st.floats(min_value=0.0, max_value=5.0),
    cap=st.sampled_from(sorted(CAPS.values())),
)
def test_a_capped_step_never_passes_the_cap(current: int, factor: float, cap: float) -> None:
    new = _capped(current, current * factor, cap)
    assert new % BILLABLE_UNIT == 0 and new >= BILLABLE_UNIT
    if current >= 10 * BILLABLE_UNIT:  # one unit is more than the cap below that
        assert abs(new - current) / current <= cap + 1e-12
    # never moves the other way, and goes as far as the cap allows toward what it wanted
    if factor >= 1:
        assert current <= new <= max(current, current * factor + BILLABLE_UNIT / 2)
    else:
        assert min(current, current * factor - BILLABLE_UNIT / 2) <= new <= current


def test_the_cap_bound_rounds_toward_the_current_value() -> None:
    # 0.58 raised 20 % is 0.696: the nearest cent (0.70) is 20.7 %, past the cap
    assert _capped(580_000, 10**9, CAPS["bid"]) == 690_000
    assert _capped(500_000, 0, CAPS["bid"]) == 400_000  # exactly 20 % is inside
    assert _capped(500_000, 510_000, CAPS["bid"]) == 510_000  # inside the cap: as wanted
    changes = [
        metrics.Change(1, "k", "cpc_bid_micros", 580_000, _capped(580_000, 10**9, 0.2),
                       dt.date(2026, 6, 1), "person")
    ]  # fmt: skip
    assert metrics.guardrail_violations(changes) == 0
