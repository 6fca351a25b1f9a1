"""spectra.analytics.targets: Smart Bidding target envelopes — direction, the 15 % cap, and
the break-even line no target crosses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spectra.analytics.config import MAX_TARGET_STEP, TargetConfig
from spectra.analytics.targets import (
    TARGET_CPA,
    TARGET_ROAS,
    CampaignTarget,
    target_envelopes,
)

DAYS = pd.date_range("2026-04-01", periods=28, freq="D")


def _campaign(cid: int, *, clicks: int, cpc: float, cvr: float, value: float) -> pd.DataFrame:
    """28 days of one campaign: ``value`` per conversion, so its ROAS is ~cvr x value / cpc."""
    rng = np.random.default_rng(cid)
    c = rng.poisson(clicks, len(DAYS))
    conv = rng.binomial(c, cvr).astype(float)
    return pd.DataFrame(
        {
            "entity_id": cid,
            "date": DAYS,
            "clicks": c,
            "cost_micros": np.rint(c * cpc * 1e6).astype(np.int64),
            "conversions": conv,
            "conversions_value_micros": np.rint(conv * value * 1e6).astype(np.int64),
        }
    )


PAYING = {"clicks": 200, "cpc": 1.0, "cvr": 0.10, "value": 50.0}  # ROAS ~5: loosen
LOSING = {"clicks": 200, "cpc": 1.0, "cvr": 0.01, "value": 50.0}  # ROAS ~0.5: tighten
GAP = {"clicks": 200, "cpc": 1.0, "cvr": 0.03, "value": 50.0}  # ROAS ~1.5: hold


def _rows(**specs: dict[str, float]) -> pd.DataFrame:
    return pd.concat(
        [_campaign(int(cid[1:]), **spec) for cid, spec in specs.items()],  # type: ignore[arg-type]
        ignore_index=True,
    )


def _env(rows: pd.DataFrame, targets: dict[int, CampaignTarget], **cfg: float) -> pd.DataFrame:
    config = TargetConfig(**cfg) if cfg else None  # type: ignore[arg-type]
    return target_envelopes(rows, targets, config=config).set_index("campaign_id")


def test_directions_follow_break_even_evidence() -> None:
    """Paying campaigns loosen (tCPA up, tROAS down), losing ones tighten, the gap holds."""
    rows = _rows(c1=PAYING, c2=LOSING, c3=GAP, c4=PAYING, c5=LOSING)
    env = _env(
        rows,
        {
            1: CampaignTarget(TARGET_CPA, 8_000_000),  # vpc 50: far from break-even
            2: CampaignTarget(TARGET_CPA, 40_000_000),
            3: CampaignTarget(TARGET_CPA, 20_000_000),
            4: CampaignTarget(TARGET_ROAS, 4.0),
            5: CampaignTarget(TARGET_ROAS, 2.0),
        },
    )
    assert env.loc[1, "direction"] == "increase" and env.loc[1, "next_micros"] == 9_200_000
    assert env.loc[2, "direction"] == "decrease" and env.loc[2, "next_micros"] == 34_000_000
    assert env.loc[3, "direction"] == "hold" and env.loc[3, "next_micros"] == 20_000_000
    assert env.loc[4, "direction"] == "decrease" and env.loc[4, "next_micros"] == 3_400_000
    assert env.loc[5, "direction"] == "increase" and env.loc[5, "next_micros"] == 2_300_000
    assert set(env["strategy"]) == {TARGET_CPA, TARGET_ROAS}
    assert (env.loc[[1, 2, 4, 5], "p_adjusted"] <= 0.05).all()


@pytest.mark.parametrize("current", [8_000_000, 33_330_000, 1_230_000])
def test_no_move_exceeds_fifteen_percent(current: int) -> None:
    rows = _rows(c1=PAYING, c2=LOSING, c3=PAYING, c4=LOSING)
    roas = current / 1e7  # 0.8 .. 3.3
    env = _env(
        rows,
        {
            1: CampaignTarget(TARGET_CPA, current),
            2: CampaignTarget(TARGET_CPA, current),
            3: CampaignTarget(TARGET_ROAS, roas + 1.0),
            4: CampaignTarget(TARGET_ROAS, roas + 1.0),
        },
    )
    moved = env[env["direction"] != "hold"]
    assert len(moved) == 4
    change = (moved["next_micros"] / moved["current_micros"] - 1).abs()
    assert MAX_TARGET_STEP == 0.15
    assert (change <= 0.15 + 1e-12).all(), change
    assert (change > 0.10).all()  # the step is used, not a token move
    assert (moved["max_change_pct"] <= 0.15 + 1e-12).all()
    assert (moved["next_micros"] % 10_000 == 0).all()  # whole cents, two-decimal ROAS steps


def test_a_bigger_step_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 15 %"):
        TargetConfig(max_step=0.2)
    with pytest.raises(ValueError, match="below 1.0"):
        TargetConfig(break_even_roas=0.9)


def test_target_roas_is_never_lowered_below_break_even() -> None:
    """A paying campaign at tROAS 1.10 may go down to 1.00 (profit 0), not the 0.935 that
    15 % would allow; at or below 1.00 it holds."""
    rows = _rows(c1=PAYING, c2=PAYING, c3=PAYING)
    env = _env(
        rows,
        {
            1: CampaignTarget(TARGET_ROAS, 1.10),
            2: CampaignTarget(TARGET_ROAS, 1.00),
            3: CampaignTarget(TARGET_ROAS, 0.80),
        },
    )
    assert env.loc[1, "next_micros"] == 1_000_000 and env.loc[1, "direction"] == "decrease"
    assert env.loc[2, "direction"] == "hold" and env.loc[2, "next_micros"] == 1_000_000
    assert env.loc[3, "direction"] == "hold" and env.loc[3, "next_micros"] == 800_000
    assert (env["target_micros"] == 1_000_000).all()
    assert "break-even" in env.loc[2, "reason"]
    # a stricter line (a margin) holds the same way
    stricter = _env(rows, {1: CampaignTarget(TARGET_ROAS, 1.5)}, break_even_roas=1.4)
    assert stricter.loc[1, "next_micros"] == 1_400_000


def test_target_cpa_is_never_raised_above_value_per_conversion() -> None:
    """Value per conversion is 50.00: a tCPA of 48.00 may rise to 50.00, not 55.20."""
    rows = _rows(c1=PAYING, c2=PAYING)
    env = _env(
        rows,
        {1: CampaignTarget(TARGET_CPA, 48_000_000), 2: CampaignTarget(TARGET_CPA, 60_000_000)},
    )
    vpc = float(env.loc[1, "value_per_conversion_micros"])
    assert vpc == pytest.approx(50_000_000, rel=1e-6)
    assert env.loc[1, "next_micros"] == env.loc[1, "target_micros"] <= vpc
    assert env.loc[1, "next_micros"] == 50_000_000
    assert env.loc[2, "direction"] == "hold"  # already above break-even: nothing to loosen


def test_thin_or_unknown_campaigns_hold_or_are_left_out() -> None:
    rows = _rows(c1={"clicks": 2, "cpc": 1.0, "cvr": 0.5, "value": 50.0}, c2=PAYING)
    env = _env(rows, {1: CampaignTarget(TARGET_CPA, 10_000_000)})
    assert list(env.index) == [1]  # campaign 2 has no target: no envelope
    assert env.loc[1, "direction"] == "hold" and "fewer than" in env.loc[1, "reason"]
    assert target_envelopes(rows.iloc[0:0], {1: CampaignTarget(TARGET_CPA, 1)}).empty


def test_only_days_under_the_current_target_are_evidence() -> None:
    """A campaign that paid well under its old, tighter target is loosened once; after the
    change only the days of the new target count, so the same old days cannot loosen it
    again (the 24.9 -> 100.5 ratchet of a 28-day Smart Bidding run)."""
    old = _campaign(1, **PAYING)  # type: ignore[arg-type]
    new = _campaign(1, **GAP)  # type: ignore[arg-type]  # at the looser target: ROAS ~1.5
    changed = DAYS[21]
    rows = pd.concat([old[old["date"] < changed], new[new["date"] >= changed]])
    targets = {1: CampaignTarget(TARGET_CPA, 9_200_000)}
    everything = target_envelopes(rows, targets).set_index("campaign_id")
    assert everything.loc[1, "direction"] == "increase"  # the old days still say "loosen"
    since = target_envelopes(rows, targets, target_in_force_since={1: changed.date()}).set_index(
        "campaign_id"
    )
    assert since.loc[1, "direction"] == "hold"
    # a campaign without a change keeps its whole window
    both = pd.concat([rows, _campaign(2, **PAYING)])  # type: ignore[arg-type]
    env = target_envelopes(
        both, {**targets, 2: CampaignTarget(TARGET_CPA, 8_000_000)},
        target_in_force_since={1: changed.date()},
    ).set_index("campaign_id")  # fmt: skip
    assert env.loc[2, "direction"] == "increase" and env.loc[1, "direction"] == "hold"
