"""spectra.analytics.allocation: curves, water-filling vs a numerical optimum, envelopes."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from spectra.analytics.allocation import (
    MICROS,
    AllocationInfeasible,
    ResponseCurve,
    allocate_budget,
    budget_envelope,
    curve_trust,
    fit_response_curve,
    hill,
    plan_portfolio,
)
from spectra.analytics.config import AllocationConfig


def test_hill_reference_values_from_notes() -> None:
    # notes/statistics.md §7 (Jin et al. 2017 Hill): Hill(50; K=100, S=2, beta=1000) = 200,
    # Hill(100) = 500 — by hand: 1000 * 2500 / (2500 + 10000) = 200; 1000 * 1e4 / 2e4 = 500.
    assert float(hill(50, beta=1000, K=100, S=2)) == pytest.approx(200.0)
    assert float(hill(100, beta=1000, K=100, S=2)) == pytest.approx(500.0)
    h = ResponseCurve("hill", (1000.0, 100.0, 2.0))
    # f'(x) = beta S K^S x^(S-1) / (x^S + K^S)^2; at 100: 1000*2*1e4*100/(2e4)^2 = 5.
    assert float(h.marginal(100)) == pytest.approx(5.0)
    x = h.spend_at_marginal(2.0)
    assert float(h.marginal(x)) == pytest.approx(2.0, rel=1e-8)
    assert x > 100 * (1 / 3) ** 0.5  # on the concave branch, past the inflection point


def test_log_and_power_closed_forms() -> None:
    log = ResponseCurve("log", (1000.0, 50.0))
    assert float(log.value(50)) == pytest.approx(1000 * np.log(2))
    assert float(log.marginal(50)) == pytest.approx(10.0)
    assert log.spend_at_marginal(10.0) == pytest.approx(50.0)
    assert log.spend_at_marginal(100.0) == 0.0  # even the first unit returns less
    power = ResponseCurve("power", (10.0, 0.5))
    assert float(power.value(400)) == pytest.approx(200.0)
    assert float(power.marginal(400)) == pytest.approx(0.25)
    assert power.spend_at_marginal(0.25) == pytest.approx(400.0)


def _curves(seed: int, n: int) -> dict[int, ResponseCurve]:
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n):
        if i % 2:
            out[i] = ResponseCurve("log", (rng.uniform(200, 2000), rng.uniform(20, 300)))
        else:
            out[i] = ResponseCurve("power", (rng.uniform(5, 40), rng.uniform(0.3, 0.8)))
    return out


def test_allocation_matches_slsqp_optimum_within_one_percent() -> None:
    curves = _curves(3, 10)
    total, lo, hi = 2_000, 20, 600
    alloc = allocate_budget(
        curves, total * MICROS, bounds_micros={k: (lo * MICROS, hi * MICROS) for k in curves}
    )
    budgets = np.array([alloc.budgets_micros[k] for k in curves]) / MICROS
    assert sum(alloc.budgets_micros.values()) == total * MICROS  # exact, integer micros
    assert budgets.min() >= lo and budgets.max() <= hi

    def neg(b: np.ndarray) -> float:
        return -float(sum(curves[k].value(x) for k, x in zip(curves, b, strict=True)))

    ref = optimize.minimize(
        neg, np.full(10, total / 10), method="SLSQP", bounds=[(lo, hi)] * 10,
        constraints=[{"type": "eq", "fun": lambda b: b.sum() - total}], options={"ftol": 1e-12, "maxiter": 500},
    )  # fmt: skip
    assert ref.success
    ours = alloc.total_value_micros / MICROS
    assert ours >= -ref.fun * 0.99
    assert ours == pytest.approx(-ref.fun, rel=1e-4)
    # KKT: unconstrained campaigns share one marginal return.
    free = [k for k, b in zip(curves, budgets, strict=True) if lo + 0.01 < b < hi - 0.01]
    margins = [alloc.marginal_return[k] for k in free]
    assert max(margins) == pytest.approx(min(margins), rel=1e-3)


def test_allocation_matches_brute_force_grid() -> None:
    curves = _curves(8, 3)
    total = 300
    best = max(
        (sum(float(curves[i].value(b)) for i, b in enumerate((a, c, total - a - c))), (a, c))
        for a, c in itertools.product(range(0, total + 1), repeat=2)
        if a + c <= total
    )
    alloc = allocate_budget(curves, total * MICROS)
    assert alloc.total_value_micros / MICROS >= best[0] * 0.99
    assert alloc.total_value_micros / MICROS >= best[0] - 1e-6  # the grid cannot beat the optimum


def test_infeasible_and_saturated_bounds() -> None:
    curves = _curves(1, 3)
    with pytest.raises(AllocationInfeasible):
        allocate_budget(
            curves, 100 * MICROS, bounds_micros={k: (50 * MICROS, 80 * MICROS) for k in curves}
        )
    alloc = allocate_budget(
        curves, 1_000 * MICROS, bounds_micros={k: (0, 100 * MICROS) for k in curves}
    )
    assert all(v == 100 * MICROS for v in alloc.budgets_micros.values())


def test_fit_recovers_curves_and_chooses_the_right_kind() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(20, 400, 90)
    log = ResponseCurve("log", (1500.0, 120.0))
    fitted = fit_response_curve(x, log.value(x) * rng.lognormal(0, 0.03, 90))
    assert fitted.kind == "log"
    assert fitted.params[1] == pytest.approx(120.0, rel=0.2)
    assert fitted.r2 > 0.9
    power = ResponseCurve("power", (12.0, 0.45))
    fitted = fit_response_curve(x, power.value(x) * rng.lognormal(0, 0.03, 90))
    assert fitted.kind == "power"
    assert fitted.params[1] == pytest.approx(0.45, abs=0.05)
    with pytest.raises(ValueError):
        fit_response_curve([1.0, 2.0], [1.0, 2.0])


def test_envelope_caps_holds_and_guards_extrapolation() -> None:
    curve = ResponseCurve("log", (1500.0, 120.0), r2=0.9, spend_min=20.0, spend_max=400.0)
    up = budget_envelope(
        1, current_budget_micros=100 * MICROS, target_budget_micros=200 * MICROS, curve=curve
    )
    assert (up.direction, up.max_change_pct, up.next_budget_micros) == (
        "increase",
        pytest.approx(0.2),
        120 * MICROS,
    )
    assert up.expected_value_delta_micros > 0
    down = budget_envelope(
        1, current_budget_micros=100 * MICROS, target_budget_micros=90 * MICROS, curve=curve
    )
    assert (down.direction, down.next_budget_micros) == ("decrease", 90 * MICROS)
    hold = budget_envelope(
        1, current_budget_micros=100 * MICROS, target_budget_micros=103 * MICROS, curve=curve
    )
    assert hold.direction == "hold" and hold.next_budget_micros == 100 * MICROS
    edge = budget_envelope(
        1, current_budget_micros=550 * MICROS, target_budget_micros=900 * MICROS, curve=curve
    )
    assert edge.next_budget_micros == 600 * MICROS  # 1.5 x the largest observed spend
    weak = ResponseCurve("log", (1500.0, 120.0), r2=0.1, spend_min=20.0, spend_max=400.0)
    assert (
        budget_envelope(
            1, current_budget_micros=100 * MICROS, target_budget_micros=200 * MICROS, curve=weak
        ).direction
        == "hold"
    )
    linear = ResponseCurve("power", (3.0, 0.99), r2=0.95, spend_min=100.0, spend_max=120.0)
    assert "diminishing" in curve_trust(linear, AllocationConfig())


def test_plan_portfolio_moves_budget_toward_the_better_campaign() -> None:
    good = ResponseCurve("log", (3000.0, 100.0), r2=0.9, spend_min=20.0, spend_max=400.0)
    poor = ResponseCurve("log", (600.0, 100.0), r2=0.9, spend_min=20.0, spend_max=400.0)
    plan = plan_portfolio(
        {"a": good, "b": poor, "c": None}, {"a": 100 * MICROS, "b": 100 * MICROS, "c": 50 * MICROS}
    )
    rows = plan.set_index("campaign_id")
    assert rows.loc["a", "direction"] == "increase"
    assert rows.loc["b", "direction"] == "decrease"
    assert rows.loc["c", "direction"] == "hold"
    assert rows["max_change_pct"].max() <= 0.2 + 1e-12
    assert (
        rows.loc["a", "target_budget_micros"] + rows.loc["b", "target_budget_micros"]
        == 200 * MICROS
    )


# --------------------------------------------------------------------------- budget-limited
def test_budget_curve_matches_monte_carlo_and_inverts() -> None:
    from spectra.analytics.allocation import ResponseCurve

    curve = ResponseCurve("budget", (3.0, np.log(200.0), 0.3))
    rng = np.random.default_rng(0)
    demand = np.exp(rng.normal(np.log(200.0), 0.3, 400_000))
    for budget in (100.0, 200.0, 300.0):
        # value = r E[min(b, S)]; marginal = r P(S > b)
        assert float(curve.value(budget)) == pytest.approx(
            3.0 * np.minimum(budget, demand).mean(), rel=2e-3
        )
        assert float(curve.marginal(budget)) == pytest.approx(
            3.0 * (demand > budget).mean(), abs=3e-3
        )
        mu = float(curve.marginal(budget))
        assert curve.spend_at_marginal(mu) == pytest.approx(budget, rel=1e-9)
    assert curve.spend_at_marginal(3.0) == 0.0  # nothing returns more than r
    assert float(curve.value(1e6)) == pytest.approx(3.0 * 200.0 * np.exp(0.045), rel=1e-9)


def test_budget_curve_is_read_from_impression_share_lost_to_budget() -> None:
    from spectra.analytics.allocation import fit_budget_curve

    rng = np.random.default_rng(1)
    demand = np.exp(rng.normal(np.log(150.0), 0.2, 60))  # what the campaign could spend
    budget = 130.0
    spend = np.minimum(demand, budget)
    served = spend / demand
    share = 0.6 * served  # impression share: rank share 0.6, throttled by the budget
    lost = 0.6 * (1 - served)
    value = 2.5 * spend * rng.lognormal(0, 0.05, 60)
    curve = fit_budget_curve(spend, value, share, lost)
    r, m, s = curve.params
    assert r == pytest.approx(2.5, rel=0.03)
    assert np.exp(m) == pytest.approx(150.0, rel=0.05)
    assert s == pytest.approx(0.2, rel=0.25)
    assert curve.rel_se < 0.05 and curve_trust(curve) == ""
    # More budget buys demand only on the days it exceeds the budget.
    assert 0 < float(curve.marginal(budget)) < r


def test_budget_curves_move_money_to_the_limited_campaign() -> None:
    from spectra.analytics.allocation import ResponseCurve

    limited = ResponseCurve("budget", (4.0, np.log(300.0), 0.15), n_days=60, rel_se=0.05)
    slack = ResponseCurve("budget", (2.0, np.log(100.0), 0.15), n_days=60, rel_se=0.05)
    noisy = ResponseCurve("budget", (9.0, np.log(300.0), 0.15), n_days=60, rel_se=0.6)
    assert "uncertain" in curve_trust(noisy)
    assert "days" in curve_trust(ResponseCurve("budget", (4.0, 5.0, 0.2), n_days=10, rel_se=0.01))
    plan = plan_portfolio(
        {"a": limited, "b": slack, "c": noisy},
        {"a": 200 * MICROS, "b": 200 * MICROS, "c": 100 * MICROS},
    ).set_index("campaign_id")
    assert plan.loc["a", "direction"] == "increase"
    assert plan.loc["b", "direction"] == "decrease"  # half its budget is never spent
    assert plan.loc["c", "direction"] == "hold"
    assert (
        plan.loc["a", "target_budget_micros"] + plan.loc["b", "target_budget_micros"]
        == 400 * MICROS
    )
    assert (plan["next_budget_micros"] % 10_000 == 0).all()


# --------------------------------------------------------------------------- growing the total
def _limited_days(
    rng: np.random.Generator, *, r: float, demand: float, budget: float, n: int = 60
) -> tuple[np.ndarray, ...]:
    """Daily spend, value and impression shares of a campaign whose budget caps its demand."""
    potential = np.exp(rng.normal(np.log(demand), 0.2, n))
    spend = np.minimum(potential, budget)
    served = spend / potential
    value = r * spend * rng.lognormal(-(0.25**2) / 2, 0.25, n)  # mean r per unit of spend
    return spend, value, 0.6 * served, 0.6 * (1 - served)


def test_a_profitable_limited_campaign_grows_past_the_total_under_its_spend_limit() -> None:
    from spectra.analytics.allocation import fit_budget_curve, growth_targets

    rng = np.random.default_rng(3)
    curves = {
        "limited": fit_budget_curve(*_limited_days(rng, r=3.0, demand=200.0, budget=100.0)),
        "slack": fit_budget_curve(*_limited_days(rng, r=3.0, demand=50.0, budget=150.0)),
        "unlimited": fit_budget_curve(*_limited_days(rng, r=3.0, demand=200.0, budget=100.0)),
        "losing": fit_budget_curve(*_limited_days(rng, r=0.8, demand=200.0, budget=100.0)),
    }
    current = {k: (150 if k == "slack" else 100) * MICROS for k in curves}
    limits = {k: (0, 400 * MICROS) for k in ("limited", "slack", "losing")}
    grown = growth_targets(curves, current, bounds_micros=limits)
    # only the limited, profitable campaign with a person's limit grows: toward the budget that
    # serves its demand on 9 days in 10 (200 e^(0.2 z_0.9) = 259), under 80 % of the limit
    assert set(grown) == {"limited"}
    assert 230 * MICROS < grown["limited"] < 290 * MICROS
    tight = {**limits, "limited": (0, 200 * MICROS)}
    assert growth_targets(curves, current, bounds_micros=tight)["limited"] == 160 * MICROS
    off = growth_targets(
        curves, current, bounds_micros=limits, config=AllocationConfig(growth=False)
    )
    assert off == {}

    plan = plan_portfolio(curves, current, bounds_micros=limits).set_index("campaign_id")
    assert plan.loc["limited", "direction"] == "increase"
    assert plan.loc["limited", "next_budget_micros"] == 120 * MICROS  # one 20 % step
    # the total grew, so nothing needs the slack campaign's money: its cut holds
    assert plan.loc["slack", "direction"] == "hold"
    assert "grows the account's total" in plan.loc["slack", "reason"]
    # a given total is a person's cap: no growth past it
    capped = plan_portfolio(
        curves, current, total_budget_micros=sum(current.values()), bounds_micros=limits
    ).set_index("campaign_id")
    assert capped["target_budget_micros"].sum() <= sum(current.values())


def test_no_growth_in_a_null_world_where_spend_only_breaks_even() -> None:
    """Budget-limited campaigns whose clicks return exactly what they cost: growing them earns
    nothing, so growth must stay at the test's false-positive rate (one-sided 5 %, BH across
    each account's four campaigns): measured over 300 accounts."""
    from spectra.analytics.allocation import fit_budget_curve, growth_targets

    rng = np.random.default_rng(11)
    accounts_grown = 0
    for _ in range(300):
        curves = {
            i: fit_budget_curve(*_limited_days(rng, r=1.0, demand=200.0, budget=100.0))
            for i in range(4)
        }
        current = dict.fromkeys(curves, 100 * MICROS)
        limits = dict.fromkeys(curves, (0, 400 * MICROS))
        accounts_grown += bool(growth_targets(curves, current, bounds_micros=limits))
    assert accounts_grown / 300 <= 0.06


# --------------------------------------------------------------------------- room for raises
def test_budget_demand_is_read_from_the_recent_days() -> None:
    """Demand that rose three weeks before the end (bids raised, say): over 60 days the mean
    potential spend is ~117; the last 14 days say 150, and only the demand moves with them
    (the return per unit of spend keeps every day)."""
    from spectra.analytics.allocation import fit_budget_curve

    rng = np.random.default_rng(8)
    old = _limited_days(rng, r=3.0, demand=100.0, budget=300.0, n=40)
    new = _limited_days(rng, r=3.0, demand=150.0, budget=300.0, n=20)
    days = [np.concatenate([a, b]) for a, b in zip(old, new, strict=True)]
    whole = fit_budget_curve(*days)
    recent = fit_budget_curve(*days, demand_days=14)
    assert np.exp(whole.params[1]) < 125
    assert 135 < np.exp(recent.params[1]) < 165
    assert recent.params[0] == whole.params[0] and recent.n_days == whole.n_days == 60


def test_raised_bids_get_the_budget_their_demand_needs() -> None:
    """A profitable campaign whose budget serves its demand today (200 at a median demand of
    100) gets room when today's raises may add 60 % to its spend: toward the 90 % quantile
    of its demand x1.6, one 20 % step, under 80 % of the spend limit. Nothing moves without
    raises, without a person's limit, or when its return is not clearly above break-even."""
    from spectra.analytics.allocation import fit_budget_curve, headroom_for_raises

    rng = np.random.default_rng(4)
    curves = {
        "paying": fit_budget_curve(*_limited_days(rng, r=3.0, demand=150.0, budget=400.0)),
        "no_limit": fit_budget_curve(*_limited_days(rng, r=3.0, demand=150.0, budget=400.0)),
        "even": fit_budget_curve(*_limited_days(rng, r=1.0, demand=150.0, budget=400.0)),
        "no_raise": fit_budget_curve(*_limited_days(rng, r=3.0, demand=150.0, budget=400.0)),
    }
    current = {k: 200 * MICROS for k in curves}
    limits = {k: (0, 400 * MICROS) for k in ("paying", "even", "no_raise")}
    plan = pd.DataFrame(
        [
            budget_envelope(
                k, current_budget_micros=v, target_budget_micros=v, curve=curves[k]
            ).__dict__
            for k, v in current.items()
        ]
    )
    assert set(plan["direction"]) == {"hold"}  # demand is served: nothing to do at these bids
    growth = {"paying": 0.6, "no_limit": 0.6, "even": 0.6}
    out = headroom_for_raises(plan, curves, growth, bounds_micros=limits).set_index("campaign_id")
    assert out.loc["paying", "direction"] == "increase"
    assert out.loc["paying", "next_budget_micros"] == 240 * MICROS  # one 20 % step
    _, m, sd = curves["paying"].params
    wanted = min(np.exp(m + sd * 1.2815515655446004) * 1.6, 320.0)
    assert out.loc["paying", "target_budget_micros"] == pytest.approx(wanted * MICROS, rel=1e-6)
    for k in ("no_limit", "even", "no_raise"):
        assert out.loc[k, "direction"] == "hold", k
    small = headroom_for_raises(plan, curves, {"paying": 0.01}, bounds_micros=limits)
    assert set(small["direction"]) == {"hold"}  # demand x1.01 still fits in the budget
    off = headroom_for_raises(
        plan, curves, growth, bounds_micros=limits, config=AllocationConfig(growth=False)
    )
    assert set(off["direction"]) == {"hold"}
