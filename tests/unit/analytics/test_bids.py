"""spectra.analytics.bids: keyword bid envelopes from break-even tests."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spectra.analytics.bids import keyword_bid_envelopes
from spectra.analytics.config import BidConfig
from spectra.domain.money import currency

DAYS = pd.date_range("2026-04-01", periods=28, freq="D")


def _keyword(
    kid: int, *, clicks: int, cpc: float, cvr: float, value: float, campaign: int = 1, seed: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed + kid)
    n = len(DAYS)
    c = rng.poisson(clicks, n)
    conv = rng.binomial(c, cvr).astype(float)
    return pd.DataFrame(
        {
            "entity_id": kid,
            "campaign_id": campaign,
            "ad_group_id": 10 * campaign,
            "date": DAYS,
            "clicks": c,
            "cost_micros": np.rint(c * cpc * 1e6).astype(np.int64),
            "conversions": conv,
            "conversions_value_micros": np.rint(conv * value * 1e6).astype(np.int64),
        }
    )


@pytest.fixture
def rows() -> pd.DataFrame:
    return pd.concat(
        [
            _keyword(1, clicks=20, cpc=1.0, cvr=0.002, value=50.0),  # ROAS ~0.1: losing money
            _keyword(2, clicks=20, cpc=1.0, cvr=0.10, value=50.0),  # ROAS ~5: raise
            _keyword(3, clicks=20, cpc=1.0, cvr=0.03, value=50.0),  # ROAS ~1.5: in the gap
            _keyword(4, clicks=1, cpc=1.0, cvr=0.0, value=50.0),  # too few clicks
            _keyword(5, clicks=20, cpc=1.0, cvr=0.10, value=50.0, campaign=2),  # Smart Bidding
        ],
        ignore_index=True,
    )


def _bids(rows: pd.DataFrame, micros: int) -> dict[tuple[int, int], int]:
    """Every keyword of ``rows`` at one bid, keyed (ad group id, criterion id)."""
    keys = rows[["ad_group_id", "entity_id"]].drop_duplicates().itertuples(index=False)
    return {(int(g), int(k)): micros for g, k in keys}


def test_directions_follow_break_even_evidence(rows: pd.DataFrame) -> None:
    bids = _bids(rows, 1_500_000)
    env = keyword_bid_envelopes(rows, bids, smart_bidding_campaigns={2}).set_index("keyword_id")
    assert list(env.index) == [1, 2, 3, 4]  # the Smart Bidding keyword has no manual bid
    assert env.loc[1, "direction"] == "decrease"
    assert env.loc[2, "direction"] == "increase"
    assert env.loc[3, "direction"] == "hold" and env.loc[3, "max_change_pct"] == 0
    assert env.loc[4, "direction"] == "hold" and "clicks" in env.loc[4, "reason"]
    assert env.loc[2, "next_bid_micros"] == 1_800_000  # +20 %, whole cents
    assert env.loc[1, "next_bid_micros"] == 1_200_000
    assert (env["p_adjusted"].dropna() >= env["p_value"].dropna() - 1e-15).all()


def test_steps_never_exceed_the_cap_after_rounding_to_cents(rows: pd.DataFrame) -> None:
    bids = _bids(rows, 1_234_567)
    env = keyword_bid_envelopes(rows, bids, config=BidConfig(max_step=0.1))
    moved = env[env["direction"] != "hold"]
    assert len(moved) >= 2
    assert (moved["next_bid_micros"] % 10_000 == 0).all()
    change = (moved["next_bid_micros"] / moved["current_bid_micros"] - 1).abs()
    assert (change <= 0.1 + 1e-12).all() and (change > 0.09).all()


def test_poisson_tail_matches_scipy_for_an_undispersed_keyword() -> None:
    # One keyword, Poisson-like days: phi = 1, so p = P(X <= x | break-even) exactly.
    day = pd.DataFrame(
        {
            "entity_id": 7,
            "campaign_id": 1,
            "ad_group_id": 10,
            "date": DAYS[:4],
            "clicks": [100, 100, 100, 100],
            "cost_micros": [100_000_000] * 4,
            "conversions": [1.0, 1.0, 1.0, 1.0],
            "conversions_value_micros": [20_000_000] * 4,
        }
    )
    env = keyword_bid_envelopes(
        day, {(10, 7): 1_000_000}, config=BidConfig(value_prior_conversions=0)
    )
    row = env.iloc[0]
    # value per conversion 20, cost 400 -> break-even 20 conversions; 4 observed.
    assert row["break_even_conversions"] == pytest.approx(20.0)
    assert row["p_value"] == pytest.approx(stats.poisson.cdf(4, 20.0))
    assert row["direction"] == "decrease"


def test_empty_inputs_give_an_empty_frame() -> None:
    assert keyword_bid_envelopes(pd.DataFrame(), {(1, 1): 1}).empty


def test_one_criterion_in_two_ad_groups_is_two_keywords() -> None:
    # Google gives the same keyword one criterion id in every ad group: each ad group's copy
    # has its own traffic, its own bid and its own verdict.
    losing = _keyword(1, clicks=20, cpc=1.0, cvr=0.002, value=50.0)
    winning = _keyword(1, clicks=20, cpc=1.0, cvr=0.10, value=50.0, seed=5).assign(ad_group_id=11)
    rows = pd.concat([losing, winning], ignore_index=True)
    env = keyword_bid_envelopes(rows, {(10, 1): 1_500_000, (11, 1): 2_000_000})
    by_group = env.set_index("ad_group_id")
    assert list(env["keyword_id"]) == [1, 1]
    assert by_group.loc[10, "direction"] == "decrease"
    assert by_group.loc[10, "next_bid_micros"] == 1_200_000
    assert by_group.loc[11, "direction"] == "increase"
    assert by_group.loc[11, "next_bid_micros"] == 2_400_000


def test_next_bids_are_whole_yen_in_a_yen_account(rows: pd.DataFrame) -> None:
    # JPY has no minor unit: Google rejects a bid that is not a multiple of 1 000 000 micros.
    yen = rows.assign(
        cost_micros=rows["cost_micros"] * 150,
        conversions_value_micros=rows["conversions_value_micros"] * 150,
    )
    bids = _bids(yen, 123_000_000)  # 123 yen
    cfg = BidConfig(max_step=0.1)
    jpy = currency("JPY")  # the cap is written in dollars: ~15 000 yen, not 100
    env = keyword_bid_envelopes(
        yen, bids, config=cfg, billable_unit_micros=jpy.billable_unit_micros,
        max_bid_micros=jpy.from_usd(cfg.max_bid_micros),
    )  # fmt: skip
    moved = env[env["direction"] != "hold"]
    assert set(moved["direction"]) == {"increase", "decrease"}
    assert (moved["next_bid_micros"] % 1_000_000 == 0).all()
    # 123 yen +-10 % is 135.3 / 110.7 yen: whole yen on the current bid's side
    assert set(moved["next_bid_micros"]) == {135_000_000, 111_000_000}


def test_a_bid_cap_is_the_accounts_currency(rows: pd.DataFrame) -> None:
    bids = _bids(rows, 90_000_000)
    env = keyword_bid_envelopes(rows, bids, max_bid_micros=95_005_000)
    raised = env.loc[env["direction"] == "increase", "next_bid_micros"]
    assert len(raised) == 2 and (raised == 95_000_000).all()  # +20 % stops at the cap, in cents


def test_only_days_of_the_bid_in_force_are_evidence(rows: pd.DataFrame) -> None:
    """A keyword raised 2 days ago is judged on those 2 days only: too few clicks, so it holds
    (the 26 days before judged the old bid, and re-using them compounded raises every 72 h);
    a keyword never changed keeps its whole window; a change before the window changes
    nothing."""
    bids = _bids(rows, 1_500_000)
    raised = {(10, 2): DAYS[-2].date()}
    env = keyword_bid_envelopes(
        rows, bids, smart_bidding_campaigns={2}, bid_in_force_since=raised
    ).set_index("keyword_id")
    assert env.loc[2, "direction"] == "hold" and env.loc[2, "clicks"] < 50
    assert "clicks" in env.loc[2, "reason"]
    assert env.loc[1, "direction"] == "decrease"  # unchanged keyword: the whole window
    old = {(10, 2): (DAYS[0] - pd.Timedelta(days=30)).date()}
    again = keyword_bid_envelopes(
        rows, bids, smart_bidding_campaigns={2}, bid_in_force_since=old
    ).set_index("keyword_id")
    assert again.loc[2, "direction"] == "increase"


def _history_keyword(*, roas: float, seed: int = 7, clicks: int = 20) -> pd.DataFrame:
    """One keyword over 28 days: ``clicks`` a day at 1.00, conversions worth ``roas`` per unit
    of spend on average (value 50 each)."""
    return _keyword(9, clicks=clicks, cpc=1.0, cvr=roas / 50.0, value=50.0, seed=seed)


def test_older_days_stay_evidence_repriced_at_the_current_bid() -> None:
    """A keyword paying ROAS ~4 at 1.00, raised to 1.20 two days ago: the ledger's history
    keeps its older days as evidence with their cost re-priced x1.2 (ROAS 4 -> ~3.3, still
    significantly above 2x break-even), so it may rise again; the same keyword without
    history holds on its 2 new days. The day the change took effect is no evidence."""
    from spectra.analytics.bids import BidChange

    rows = _history_keyword(roas=4.0)
    key = (10, 9)
    effective = DAYS[-3].date()
    since = {key: DAYS[-2].date()}
    history = {key: [BidChange(effective, 1_000_000, 1_200_000)]}
    bids = {key: 1_200_000}
    dropped = keyword_bid_envelopes(rows, bids, bid_in_force_since=since).iloc[0]
    assert dropped["direction"] == "hold" and dropped["clicks"] < 50
    kept = keyword_bid_envelopes(rows, bids, bid_in_force_since=since, bid_history=history)
    row = kept.iloc[0]
    assert row["direction"] == "increase" and row["next_bid_micros"] == 1_440_000
    day_of_change = rows.loc[rows["date"] == pd.Timestamp(effective), "clicks"].sum()
    assert row["clicks"] == rows["clicks"].sum() - day_of_change


def test_repriced_evidence_stops_raising_at_its_own_margin() -> None:
    """The same days cannot compound: ROAS ~3.5 at 1.00 is worth raises while re-priced above
    2x break-even, but at 1.728 (three raises: 3.5 / 1.728 = 2.0) it is not significantly
    above any more, where the unscaled days would raise a fourth time."""
    from spectra.analytics.bids import BidChange

    rows = _history_keyword(roas=3.5, seed=11, clicks=60)
    key = (10, 9)
    first = keyword_bid_envelopes(rows, {key: 1_000_000}).iloc[0]
    assert first["direction"] == "increase"
    steps = [1_000_000, 1_200_000, 1_440_000, 1_728_000]
    history = {
        key: [
            BidChange(DAYS[i].date(), before, after)
            for i, (before, after) in zip((-9, -6, -3), itertools.pairwise(steps), strict=True)
        ]
    }
    since = {key: DAYS[-2].date()}
    third = keyword_bid_envelopes(
        rows, {key: 1_728_000}, bid_in_force_since=since, bid_history=history
    ).iloc[0]
    assert third["direction"] == "hold"
    # the unscaled days would still have said "raise"
    unscaled = {key: [BidChange(c.effective, 1_728_000, 1_728_000) for c in history[key]]}
    assert (
        keyword_bid_envelopes(
            rows, {key: 1_728_000}, bid_in_force_since=since, bid_history=unscaled
        ).iloc[0]["direction"]
        == "increase"
    )


def test_a_cut_keyword_is_not_raised_on_its_cheaper_old_days() -> None:
    """Cut from 1.00 to 0.80: for a raise the old days keep their full cost (a cut lowers the
    price, so ROAS at the old bid understates the new one: the bound that does not favour
    acting), so a ROAS ~1.6 keyword is not raised back; its cut is judged at cost x0.8."""
    from spectra.analytics.bids import BidChange

    rows = _history_keyword(roas=1.6, seed=5)
    key = (10, 9)
    history = {key: [BidChange(DAYS[-3].date(), 1_000_000, 800_000)]}
    env = keyword_bid_envelopes(
        rows, {key: 800_000}, bid_in_force_since={key: DAYS[-2].date()}, bid_history=history
    ).iloc[0]
    assert env["direction"] == "hold"
