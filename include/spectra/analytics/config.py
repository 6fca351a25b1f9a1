"""Tunable thresholds of the analytics engine, in one frozen tree with safe defaults.

Every number that decides whether evidence is strong enough lives here, so a reviewer can
read the policy in one place and a test can tighten or loosen it explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LagConfig:
    """Conversion-lag fitting and completion."""

    window_days: int = 30  # conversion window: a cohort is mature at this age
    half_life_days: float | None = 90.0  # recent cohorts weigh more (lag drifts)
    min_maturity: float = 0.5  # below this share reported, a day is too immature to judge
    mature_threshold: float = 0.9  # at or above, a day counts as (nearly) mature
    bootstrap_samples: int = 200  # cohort bootstrap for the CDF's uncertainty (0 = binomial)
    # Lag-bucket histograms: F(age a) = share of conversions with lag < a + offset. A row's age
    # is reported_as_of - click day, and a pull the morning after has what arrived by the end
    # of the day before: lags of whole days below the age, offset 0 (the sandbox's clock
    # exactly). Measured on the market (20 seeds each, new account's last week vs matured
    # truth): 0 -> mean error -0.8 % / -0.3 %; +0.5 -> -5.8 % / -7.3 % (3-day / 6-day lag).
    age_offset_days: float = 0.0
    # Fewer conversions make a histogram too coarse to complete from (one moves F by 2 %+).
    min_bucket_conversions: float = 50.0
    seed: int = 20140824  # bootstrap seed: results are deterministic
    # Ingest re-pulls 30 days, so later conversions never reach the warehouse; the tail past
    # the window is extrapolated (inverse power curve) up to Google's longest window, 90 days.
    tail_horizon_days: int = 90
    tail_fit_from_age: int = 7
    tail_min: float = 0.002  # a smaller extrapolated tail is noise: taken as none
    tail_max: float = 1.5
    tail_min_conversions: float = 1000.0  # mature conversions needed to read a tail at all
    # Completion needs link ratios from successive pulls: a week of daily runs at least.
    min_snapshot_runs: int = 7


@dataclass(frozen=True)
class SeasonalityConfig:
    """Seasonal baselines."""

    market: str = "US"
    min_days_mstl: int = 730  # weekly + yearly MSTL needs two full years
    min_days_stl: int = 28  # STL(period=7) needs four weeks
    level_window_days: int = 28  # trailing robust level (medians of deseasonalised log)
    level_trend: bool = True  # local slope from the two half-windows' medians
    max_level_slope: float = 0.02  # log units per day
    count_offset: float = 0.5  # log(y + offset) for counts and money
    mstl_robust: bool = True
    stl_outer_iter: int = 5  # robustness iterations of STL (statsmodels' default 15 is 2.5x slower)


@dataclass(frozen=True)
class MinVolume:
    """No verdict below these volumes (per arm)."""

    impressions: int = 1_000  # CTR tests
    clicks: int = 100  # CVR / CPC tests
    conversions: float = 30.0  # CPA / ROAS ratio tests (notes: >= 30 conv/arm)
    conversions_count_test: float = 10.0  # conversion-count (rate) tests: total over both arms
    days: int = 7  # day-level ratio tests need at least this many days per arm


@dataclass(frozen=True)
class SignificanceConfig:
    alpha: float = 0.05  # two-sided
    fdr_method: str = "fdr_bh"  # statsmodels multipletests method
    min_volume: MinVolume = field(default_factory=MinVolume)
    test_days: int = 14  # recent window (mature days only)
    baseline_days: int = 28  # the window before it


@dataclass(frozen=True)
class AnomalyConfig:
    threshold: float = 3.5  # robust z (Iglewicz & Hoaglin 1993)
    medium: float = 5.0
    high: float = 8.0
    baseline_days: int = 56  # residuals that set the robust scale
    eval_days: int = 1  # the most recent days scored
    poisson_below: float = 30.0  # expected conversions below this: Poisson tail, not MAD
    min_conversions_cpa: float = 5.0  # no CPA score when expected conversions are below
    min_clicks: int = 20  # no CPC/CTR score below this many clicks (impressions x20 for CTR)
    min_scale: float = 0.02  # floor of the robust scale (log units)
    # Out-of-sample residuals spread ~1.2x the in-sample baseline ones (STL's weekly term has
    # seen the baseline days); measured on synthetic accounts, see bench_analytics.
    scale_inflation: float = 1.2
    unknown_holiday_threshold: float = 8.0  # rates/prices in a holiday window never seen before


@dataclass(frozen=True)
class EffectConfig:
    pre_days: int = 28
    post_days: int = 14
    min_controls: int = 3
    # Interim looks (post-period still filling): mSPRT with mixing sd tau (log scale, ~ the
    # size of effect a change plausibly has) at half the alpha, so daily re-estimates cannot
    # inflate false alarms (the final fixed-horizon look spends the rest).
    sequential_tau: float = 0.10
    sequential_alpha: float = 0.025


@dataclass(frozen=True)
class AllocationConfig:
    max_step: float = 0.20  # one change moves a budget by at most +-20 %
    deadband: float = 0.05  # gaps below 5 % hold still
    min_r2: float = 0.3  # response curves below this fit are not trusted to move money
    # Diminishing returns must show inside the observed spend range: the marginal return at
    # the largest observed spend at most this share of the one at the smallest. A near-linear
    # fit would send the whole budget to one campaign on no evidence.
    max_marginal_ratio: float = 0.9
    extrapolation: float = 1.5  # never target beyond 1.5 x the largest observed daily spend
    history_days: int = 90
    # Budget-limited curves (from impression share lost to budget): enough days, and a return
    # per unit of spend known to +-25 % (one SE) before money moves on it.
    min_days: int = 28
    max_return_rel_se: float = 0.25
    # The demand a budget must serve (the budget curve's potential spend) is read from the
    # last ``demand_days`` days: bids, targets and competitors move it (allocation.
    # fit_budget_curve); the return per unit of spend keeps the whole history.
    demand_days: int = 14
    # Growing the account's total (allocation.growth_targets): a budget-limited campaign whose
    # value per unit of spend is significantly above break-even (one-sided z on the return's
    # delta-method SE, Benjamini-Hochberg across the account's campaigns) may grow past the
    # account's current total, toward the budget that serves its demand on
    # ``growth_demand_quantile`` of days, never above ``growth_limit_share`` of a person's
    # daily spend limit (room for Google's overdelivery before the spend monitor must pause),
    # and never without such a limit.
    growth: bool = True
    break_even_return: float = 1.0
    growth_alpha: float = 0.05
    growth_fdr_method: str = "fdr_bh"
    growth_demand_quantile: float = 0.9
    growth_limit_share: float = 0.8


@dataclass(frozen=True)
class BidConfig:
    """Keyword bid envelopes (spectra.analytics.bids)."""

    evidence_days: int = 28  # keyword days (conversions mature or completed) behind a verdict
    min_clicks: int = 50
    # Raise only when conversions beat this multiple of break-even: a higher bid's extra clicks
    # cost more than the average click (measured on the market oracle: ROAS > 2 -> raise).
    increase_roas: float = 2.0
    # ...and only when the keyword lost at least this share of its eligible impressions to
    # ad rank (Google's search_rank_lost_impression_share): a keyword that already wins nearly
    # every auction it enters buys almost nothing with a higher bid, however well it converts
    # (average ROAS stays high at the profit optimum, where diminishing returns bite). Measured
    # on the market simulator (28 days, keywords with ROAS > 2.5): at the true optimum the
    # rank-lost share is 0.12-0.14 in the median, 0.22-0.32 at the 90th percentile; keywords
    # whose optimal bid is higher lose 0.41-0.59 in the median, 0.21-0.31 at the 10th.
    increase_min_rank_lost: float = 0.30
    value_prior_conversions: float = 5.0  # shrink value/conversion toward the campaign's
    max_dispersion: float = 10.0
    alpha: float = 0.05
    fdr_method: str = "fdr_bh"
    max_step: float = 0.20  # one bid change moves at most +-20 %
    # The cap on raised bids, in US dollar micros: scaled to the account's currency
    # (spectra.domain.money.Currency.from_usd), so a yen account's cap is ~15 000 yen.
    max_bid_micros: int = 100_000_000


# One Smart Bidding target move is at most this fraction of the current target, whatever a
# config says (spectra.analytics.targets).
MAX_TARGET_STEP = 0.15


@dataclass(frozen=True)
class TargetConfig:
    """Smart Bidding target envelopes (spectra.analytics.targets)."""

    evidence_days: int = 28
    min_clicks: int = 100
    increase_roas: float = 2.0  # loosen only above this multiple of break-even
    max_dispersion: float = 10.0
    alpha: float = 0.05
    fdr_method: str = "fdr_bh"
    max_step: float = MAX_TARGET_STEP
    break_even_roas: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.max_step <= MAX_TARGET_STEP:
            raise ValueError(
                f"target max_step {self.max_step} must be in (0, {MAX_TARGET_STEP}]: one move "
                "changes a Smart Bidding target by at most 15 %"
            )
        if self.break_even_roas < 1.0:
            raise ValueError(
                f"break_even_roas {self.break_even_roas} is below 1.0: a target ROAS under it "
                "aims at spending more than the conversions are worth"
            )


@dataclass(frozen=True)
class AnalyticsConfig:
    lag: LagConfig = field(default_factory=LagConfig)
    seasonality: SeasonalityConfig = field(default_factory=SeasonalityConfig)
    significance: SignificanceConfig = field(default_factory=SignificanceConfig)
    anomalies: AnomalyConfig = field(default_factory=AnomalyConfig)
    effects: EffectConfig = field(default_factory=EffectConfig)
    allocation: AllocationConfig = field(default_factory=AllocationConfig)
    bids: BidConfig = field(default_factory=BidConfig)
    targets: TargetConfig = field(default_factory=TargetConfig)
