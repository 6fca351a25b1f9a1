"""Every check the quality gate runs: its id, severity and reason for being, in one table.

The ids are shared by everything that reports a failure (ingest's screen, the Great
Expectations suites, the quarantine table, the stored results, Data Docs, alerts), so a
quarantined row and the expectation that failed say the same thing. Nothing here imports
Great Expectations or pandas: ingest imports this module and must stay light.

Severity is a property of the check, not of the run:

- ``block``: the account's data cannot be trusted at all (broken keys, NaN, negative spend
  or conversions, a missing day, data not fresh, the account's currency or time zone
  changed). Downstream steps for that account stop for the day.
- ``warn``: some rows or days are implausible (clicks above impressions, CTR/CPC/CVR outside
  plausible bounds, a row-count jump, a tracking outage). The run continues; the rows are
  quarantined and outage days become data exclusions, so analytics never sees them.

The ``lag.*`` checks (the conversion-lag histogram) run in ingest's screen only
(``INGEST_ONLY``): the validate step's suites do not read that table, so they cannot block an
account, and their severity is ``warn``: the run goes on with the histogram's good cells.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Severity(StrEnum):
    BLOCK = "block"
    WARN = "warn"


class GateStatus(StrEnum):
    """The verdict for one account and day: the worst severity that failed."""

    PASS = "pass"
    WARN = "warn"
    BLOCK = "block"


@dataclass(frozen=True)
class Check:
    """One named check. ``column`` is set for checks applied column by column."""

    name: str
    severity: Severity
    why: str

    def key(self, column: str | None = None) -> str:
        """The stable id of one expectation: ``perf.non_negative:cost_micros``."""
        return f"{self.name}:{column}" if column else self.name


B, W = Severity.BLOCK, Severity.WARN

# Tables validated, with the prefix their check ids carry.
PERFORMANCE = "performance_daily"
SEARCH_TERMS = "search_terms_daily"
STRUCTURE_TABLES = ("campaigns", "ad_groups", "keywords", "ads")
LAG_BUCKETS = "conversion_lag_buckets"
ACCOUNTS = "ad_accounts"
TABLE_PREFIX = {
    PERFORMANCE: "perf",
    SEARCH_TERMS: "st",
    LAG_BUCKETS: "lag",
    ACCOUNTS: "account",
} | dict.fromkeys(STRUCTURE_TABLES, "struct")
FACT_PREFIXES = ("perf", "st")

CHECKS: dict[str, Check] = {
    c.name: c
    for prefix in FACT_PREFIXES
    for c in (
        Check(f"{prefix}.keys_present", B, "a row without its key cannot be placed or joined"),
        Check(f"{prefix}.keys_unique", B, "two rows for one key: the API repeated or split data"),
        Check(f"{prefix}.metrics_present", B, "a NaN or missing metric poisons every sum"),
        Check(f"{prefix}.non_negative", B, "negative spend or conversions is corrupt data"),
        Check(f"{prefix}.clicks_le_impressions", W, "more clicks than impressions is implausible"),
        Check(f"{prefix}.ctr_plausible", W, "click-through rate outside plausible bounds"),
        Check(f"{prefix}.cpc_plausible", W, "cost per click outside plausible bounds"),
        Check(f"{prefix}.cvr_plausible", W, "conversion rate outside plausible bounds"),
        Check(
            f"{prefix}.row_count_stable", W, "a day's row count jumped against the trailing median"
        ),
        Check(
            f"{prefix}.within_bounds",
            B,
            "a metric above what one entity can report in a day (corrupt, and it would wrap sums)",
        ),
        Check(
            f"{prefix}.history_plausible",
            W,
            "a metric far above anything the account itself reported (held at ingest)",
        ),
        Check(
            f"{prefix}.text_valid",
            W,
            "text with NUL, control or bidi-override characters, or too long to store",
        ),
    )
} | {
    c.name: c
    for c in (
        Check("perf.level_known", B, "an entity level the warehouse does not know"),
        Check("perf.impression_share_range", W, "an impression share outside [0, 1]"),
        Check("perf.fresh", B, "the newest day loaded must be the logical date"),
        Check("perf.day_present", B, "a day missing for the account or a steady campaign"),
        Check(
            "perf.tracking_ok",
            W,
            "conversions collapsed while clicks held: a tracking outage, not a performance drop",
        ),
        Check("st.fresh", W, "no search terms for the logical date (Google omits quiet terms)"),
        Check("struct.keys_present", B, "an entity without its id cannot be placed or joined"),
        Check("struct.keys_unique", B, "one entity twice: the API repeated or split data"),
        Check("struct.metrics_present", B, "a budget or bid that is not a number"),
        Check("struct.non_negative", B, "a negative budget or bid is corrupt data"),
        Check("struct.parent_known", B, "an ad group, keyword or ad whose parent is missing"),
        Check(
            "struct.text_valid",
            W,
            "text with NUL, control or bidi-override characters, or too long to store",
        ),
        Check(
            "perf.repull_complete",
            W,
            "a campaign-day the warehouse holds is missing from today's re-pull (stored kept)",
        ),
        Check("account.keys_present", B, "the account's own row without its id"),
        Check("account.keys_unique", B, "the account's own row twice"),
        Check("account.currency_expected", B, "the account's currency changed"),
        Check("account.time_zone_expected", B, "the account's time zone changed"),
        Check(
            "account.text_valid",
            W,
            "an account name with NUL, control or bidi-override characters, or too long to store",
        ),
    )
}

# Screened at ingest, enforced by no suite: a bad histogram cell is held back and the rest of
# the histogram is written (analytics completes from the cells it has, or from snapshots).
_LAG_CHECKS = (
    Check("lag.keys_present", W, "a histogram cell without its campaign cannot be placed"),
    Check("lag.keys_unique", W, "one (campaign, bucket) twice: the API repeated or split data"),
    Check("lag.metrics_present", W, "a NaN or missing count poisons the lag curve"),
    Check("lag.non_negative", W, "negative conversions or value is corrupt data"),
    Check("lag.bucket_known", W, "UNSPECIFIED or a bucket name with no known day range"),
)
CHECKS |= {c.name: c for c in _LAG_CHECKS}
INGEST_ONLY: frozenset[str] = frozenset(c.name for c in _LAG_CHECKS)
# Checks only ingest's screen applies (on the raw pull): the gate reports them from the
# screen's entries (runner.screen_outcomes), no suite re-judges them.
SCREEN_ONLY: frozenset[str] = frozenset(
    {
        *(f"{p}.{n}" for p in FACT_PREFIXES for n in ("within_bounds", "history_plausible")),
        *(f"{p}.text_valid" for p in (*FACT_PREFIXES, "struct", "account")),
        "perf.repull_complete",
        "account.keys_present",
        "account.keys_unique",
    }
)
# Ingest entries about a stored row that stands (nothing was held back): the row frames the
# suites judge must not treat their payload as a held row replacing the stored one.
RECORD_ONLY: frozenset[str] = frozenset({"perf.repull_complete"})


def check(name: str) -> Check:
    """The registered check ``name`` (``perf.non_negative``); accepts ``name:column`` too."""
    return CHECKS[name.split(":", 1)[0]]


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the gate.

    Money bounds are written in US dollar micros and scaled to the account's currency
    (:meth:`max_cpc_for`): a 500-unit cap would quarantine every normal won or forint CPC.

    The defaults are deliberately loose (they flag what cannot be right, not what is merely
    unusual) and were checked against the sandbox market, whose clean days all pass.
    """

    # Plausible ranges, each applied only where the denominator is large enough to mean it.
    max_ctr: float = 0.6
    ctr_min_impressions: int = 50
    max_cpc_micros: int = 500_000_000  # USD 500 per click (scaled to the account's currency)
    max_cvr: float = 1.0
    cvr_min_clicks: int = 10
    # Row counts against the median of the previous days.
    row_count_min_ratio: float = 0.5
    row_count_max_ratio: float = 2.0
    row_count_history_days: int = 14
    row_count_min_history: int = 3
    # A campaign is "steady" (so a gap is a missing day, not a quiet day) when it has rows on
    # at least this share of the days of its span, and on at least this many days.
    steady_share: float = 0.9
    steady_min_days: int = 7
    # Tracking outage: conversions at most ``outage_collapse_ratio`` of what the account's
    # conversion rate predicts, on days where clicks held (>= ``outage_clicks_hold`` of the
    # median), with enough conversions due to rule out noise (see outage.py). Young days have only
    # part of their conversions reported yet (lag); the expectation ramps from
    # ``outage_young_share`` on day 1 to 1 at ``outage_mature_days``.
    outage_collapse_ratio: float = 0.1
    outage_min_expected: float = 5.0  # summed over a run of two or more collapsed days
    outage_min_expected_one_day: float = 10.0
    outage_clicks_hold: float = 0.5
    outage_mature_days: int = 14
    outage_young_share: float = 0.25
    # Ceilings per entity and day (spectra.quality.bounds): above them a value is corrupt.
    # Money in US dollar micros (units for conversion value), scaled to the account's currency;
    # every ceiling is capped at 2^53.
    max_impressions_per_day: int = 10**10
    max_clicks_per_day: int = 10**9
    max_cost_usd_micros_per_day: int = 10**13  # USD 10M
    max_conversions_per_day: float = 1e9
    max_conversions_value_usd_per_day: float = 1e9
    # Relative to the account's own history: ``history_factor`` times the largest value of the
    # level in the last ``history_days`` (at least the floors), once ``history_min_days`` are in.
    history_factor: float = 100.0
    history_days: int = 90
    history_min_days: int = 7
    history_floor_impressions: int = 10_000
    history_floor_clicks: int = 1_000
    history_floor_cost_usd_micros: int = 1_000_000_000  # USD 1 000
    history_floor_conversions: float = 100.0
    history_floor_value_usd: float = 100_000.0
    # Where Data Docs and GX validation results live (default: $SPECTRA_HOME/var/quality).
    quality_dir: Path | None = None
    # Days of Data Docs (GX results + pages) kept behind the newest logical date present; 0 keeps
    # all. A daily run per account adds files forever and GX rebuilds the index from all of them,
    # so the report rotates; the warehouse (quality_results, quality_runs) keeps the history.
    data_docs_retention_days: int = 90

    def max_cpc_for(self, currency_code: str) -> int | None:
        """The CPC cap in micros of ``currency_code`` (None: a currency whose size against the
        dollar is unknown gets no cap rather than a wrong one)."""
        from spectra.domain.money import currency

        return currency(currency_code or "USD").from_usd(self.max_cpc_micros)

    def replace(self, **changes: object) -> QualityConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
