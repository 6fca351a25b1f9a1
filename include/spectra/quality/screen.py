"""Ingest's quarantine hook: bad rows from the API are held back with their reason.

Google Ads (or anything pretending to be it) can send a malformed row (a key field missing,
which protobuf reports as 0 or ""; a date that does not parse), a NaN, a negative metric or
the same key twice. None of these may crash ingest, and none may be dropped silently: the
upsert would either fail on them (NaN into a NOT NULL column, an unparseable date) or quietly
collapse duplicates into one row. So before the writers run, :func:`screen_pulled` splits
each fact and structure query's columns into the rows that can be written and those that cannot,
and once a run's writes are done :func:`record_ingest_quarantine` writes the latter to
``quality_quarantine`` (stage ``ingest``) with the failed check and the row exactly as the API
sent it. The validate step later reports them in its suites; the
conversion-lag histogram's held cells (``lag.*`` checks) are reported by no suite, only kept.

Speed matters (this runs on every pull, ~200k rows for a large account): every check first
runs as one C-level pass over a whole column (``min``, ``sum``, ``set``) and only falls back to
per-row work when that pass finds something.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from sqlalchemy import Column, Connection, String

from spectra.ads.fields import METRIC_COLUMNS, SHARE_FIELDS, share_column
from spectra.domain.money import MICROS
from spectra.quality.bounds import Bounds, default_bounds
from spectra.quality.checks import (
    ACCOUNTS,
    LAG_BUCKETS,
    PERFORMANCE,
    RECORD_ONLY,
    SEARCH_TERMS,
    TABLE_PREFIX,
    check,
)
from spectra.warehouse import models as m
from spectra.warehouse.quality_store import write_ingest_quarantine


def _length(column: Column[Any], default: int) -> int:
    """The declared length of a String column (``default`` when it declares none)."""
    column_type = column.type
    length = column_type.length if isinstance(column_type, String) else None
    return length or default


# The warehouse columns' lengths (models: SearchTermDaily.search_term, Keyword.text). PostgreSQL
# refuses a longer value (and any NUL), SQLite stores it: the screen decides instead, the same
# way on both.
SEARCH_TERM_LENGTH = _length(m.SearchTermDaily.__table__.c.search_term, 512)
KEYWORD_TEXT_LENGTH = _length(m.Keyword.__table__.c.text, 255)
# Names are the advertiser's own text (Google allows 255 characters for a campaign's, ad group's
# and account's name): checked like terms, so a hostile name is held, not a COPY abort.
CAMPAIGN_NAME_LENGTH = _length(m.Campaign.__table__.c.name, 255)
AD_GROUP_NAME_LENGTH = _length(m.AdGroup.__table__.c.name, 255)
ACCOUNT_NAME_LENGTH = _length(m.AdAccount.__table__.c.descriptive_name, 255)
# Characters no search term or keyword text holds: C0 controls (NUL included), DEL, C1
# controls, and the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
# U+2066-U+2069) that make text display other than it reads ("Trojan Source", CVE-2021-42574).
_FORBIDDEN_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# segments.conversion_lag_bucket values with a day range (ConversionLagBucketEnum, API v26),
# the names analytics.lag maps to days. UNSPECIFIED (0) is a field the API left unset, and a
# name outside this set has no day range analytics could place: both are held back.
LAG_BUCKET_NAMES = frozenset(
    {
        "LESS_THAN_ONE_DAY", "ONE_TO_TWO_DAYS", "TWO_TO_THREE_DAYS", "THREE_TO_FOUR_DAYS",
        "FOUR_TO_FIVE_DAYS", "FIVE_TO_SIX_DAYS", "SIX_TO_SEVEN_DAYS", "SEVEN_TO_EIGHT_DAYS",
        "EIGHT_TO_NINE_DAYS", "NINE_TO_TEN_DAYS", "TEN_TO_ELEVEN_DAYS", "ELEVEN_TO_TWELVE_DAYS",
        "TWELVE_TO_THIRTEEN_DAYS", "THIRTEEN_TO_FOURTEEN_DAYS", "FOURTEEN_TO_TWENTY_ONE_DAYS",
        "TWENTY_ONE_TO_THIRTY_DAYS", "THIRTY_TO_FORTY_FIVE_DAYS", "FORTY_FIVE_TO_SIXTY_DAYS",
        "SIXTY_TO_NINETY_DAYS",
    }
)  # fmt: skip
# UNKNOWN is not a defect: Google reports conversions it has no lag for as UNKNOWN (and the
# client decodes values newer than its API version to it). They are real conversions, so the
# cell is stored and the histogram's total stays what Google counted; analytics.lag leaves
# UNKNOWN out of the curve's shape (it has no day range). Two UNKNOWN cells of one campaign
# would share a key: lag.keys_unique holds both back rather than keep one of them.
LAG_BUCKET_UNKNOWN = "UNKNOWN"
STORED_LAG_BUCKETS = LAG_BUCKET_NAMES | {LAG_BUCKET_UNKNOWN}


@dataclass(frozen=True)
class ScreenedQuery:
    """How one GAQL query maps onto its warehouse table (mirrors ingest's writers)."""

    name: str
    table: str
    level: str | None
    columns: Mapping[str, str]  # GAQL field -> warehouse column
    ids: tuple[str, ...]  # fields that must be positive integers
    key: tuple[str, ...]  # fields of the natural key (tenant, customer, level are constant)
    int_metrics: tuple[str, ...] = (
        "metrics.impressions",
        "metrics.clicks",
        "metrics.cost_micros",
    )
    float_metrics: tuple[str, ...] = ("metrics.conversions", "metrics.conversions_value")
    optional_floats: tuple[str, ...] = ()  # finite when present (impression shares)
    term: str | None = None  # the search-term field, which must be a non-empty string
    bucket: str | None = None  # the lag-bucket field, which must be in STORED_LAG_BUCKETS
    date: str | None = "segments.date"  # None for structure (no date segment)
    # The field quarantine entries record as entity_id when no column is the table's entity_id.
    entity: str | None = None
    # Text fields: (GAQL field, warehouse column, longest value the column stores).
    texts: tuple[tuple[str, str, int], ...] = ()

    @property
    def prefix(self) -> str:
        return TABLE_PREFIX[self.table]


_METRICS = {"segments.date": "date", **METRIC_COLUMNS}
_SHARES = SHARE_FIELDS

# keywords: whether a higher bid could buy impressions (analytics.bids); budget-lost share is
# a campaign's matter
_KEYWORD_SHARES = (_SHARES[0], _SHARES[2])

FACT_QUERIES: dict[str, ScreenedQuery] = {
    q.name: q
    for q in (
        ScreenedQuery(
            "campaign_performance",
            PERFORMANCE,
            "campaign",
            {"campaign.id": "entity_id", **_METRICS, **{s: share_column(s) for s in _SHARES}},
            ids=("campaign.id",),
            key=("campaign.id", "segments.date"),
            optional_floats=_SHARES,
        ),
        ScreenedQuery(
            "ad_group_performance",
            PERFORMANCE,
            "ad_group",
            {"ad_group.id": "entity_id", "campaign.id": "campaign_id", **_METRICS},
            ids=("ad_group.id", "campaign.id"),
            key=("ad_group.id", "segments.date"),
        ),
        ScreenedQuery(
            "keyword_performance",
            PERFORMANCE,
            "keyword",
            {
                "ad_group_criterion.criterion_id": "entity_id",
                "ad_group.id": "ad_group_id",
                "campaign.id": "campaign_id",
                **_METRICS,
                **{s: share_column(s) for s in _KEYWORD_SHARES},
            },
            ids=("ad_group_criterion.criterion_id", "ad_group.id", "campaign.id"),
            # a keyword is (ad group, criterion): Google shares criterion ids across ad groups
            key=("ad_group.id", "ad_group_criterion.criterion_id", "segments.date"),
            optional_floats=_KEYWORD_SHARES,
        ),
        ScreenedQuery(
            "search_terms",
            SEARCH_TERMS,
            None,
            {
                "search_term_view.search_term": "search_term",
                "ad_group.id": "ad_group_id",
                "campaign.id": "campaign_id",
                **_METRICS,
            },
            ids=("ad_group.id", "campaign.id"),
            key=("ad_group.id", "search_term_view.search_term", "segments.date"),
            term="search_term_view.search_term",
            texts=(("search_term_view.search_term", "search_term", SEARCH_TERM_LENGTH),),
        ),
        # The run's conversion-lag histogram: summed over its click days, so no date segment.
        ScreenedQuery(
            "conversion_lag",
            LAG_BUCKETS,
            "campaign",
            {
                "campaign.id": "campaign_id",
                "segments.conversion_lag_bucket": "conversion_lag_bucket",
                "metrics.conversions": "conversions",
                "metrics.conversions_value": "conversions_value_micros",
            },
            ids=("campaign.id",),
            key=("campaign.id", "segments.conversion_lag_bucket"),
            int_metrics=(),
            bucket="segments.conversion_lag_bucket",
            date=None,
            entity="campaign.id",
        ),
    )
}


# Structure rows carry no metrics and no date segment (each query names its one money field).
_NO_METRICS: tuple[str, ...] = ()
STRUCTURE_QUERIES: dict[str, ScreenedQuery] = {
    q.name: q
    for q in (
        ScreenedQuery(
            "campaigns",
            "campaigns",
            "campaign",
            {"campaign.id": "entity_id", "campaign_budget.amount_micros": "money_micros"},
            ids=("campaign.id",),
            key=("campaign.id",),
            texts=(("campaign.name", "name", CAMPAIGN_NAME_LENGTH),),
            int_metrics=("campaign_budget.amount_micros",),
            float_metrics=_NO_METRICS,
            date=None,
        ),
        ScreenedQuery(
            "ad_groups",
            "ad_groups",
            "ad_group",
            {
                "ad_group.id": "entity_id",
                "campaign.id": "parent_id",
                "ad_group.cpc_bid_micros": "money_micros",
            },
            ids=("ad_group.id", "campaign.id"),
            key=("ad_group.id",),
            texts=(("ad_group.name", "name", AD_GROUP_NAME_LENGTH),),
            int_metrics=("ad_group.cpc_bid_micros",),
            float_metrics=_NO_METRICS,
            date=None,
        ),
        ScreenedQuery(
            "keywords",
            "keywords",
            "keyword",
            {
                "ad_group_criterion.criterion_id": "entity_id",
                "ad_group.id": "parent_id",
                "ad_group_criterion.cpc_bid_micros": "money_micros",
            },
            ids=("ad_group_criterion.criterion_id", "ad_group.id", "campaign.id"),
            key=("ad_group.id", "ad_group_criterion.criterion_id"),
            texts=(("ad_group_criterion.keyword.text", "text", KEYWORD_TEXT_LENGTH),),
            int_metrics=("ad_group_criterion.cpc_bid_micros",),
            float_metrics=_NO_METRICS,
            date=None,
        ),
        ScreenedQuery(
            "ads",
            "ads",
            "ad",
            {"ad_group_ad.ad.id": "entity_id", "ad_group.id": "parent_id"},
            ids=("ad_group_ad.ad.id", "ad_group.id", "campaign.id"),
            key=("ad_group.id", "ad_group_ad.ad.id"),
            int_metrics=_NO_METRICS,
            float_metrics=_NO_METRICS,
            date=None,
        ),
    )
}
# The account's own row: held when it reports other settings than the pinned ones (the
# account is not relabelled, its history keeps its currency, until a person accepts).
ACCOUNT_QUERY = ScreenedQuery(
    "accounts",
    ACCOUNTS,
    "account",
    {"customer.id": "entity_id"},
    ids=("customer.id",),
    key=("customer.id",),
    entity="customer.id",
    texts=(("customer.descriptive_name", "descriptive_name", ACCOUNT_NAME_LENGTH),),
    int_metrics=_NO_METRICS,
    float_metrics=_NO_METRICS,
    date=None,
)
SCREENED_QUERIES: dict[str, ScreenedQuery] = (
    FACT_QUERIES | STRUCTURE_QUERIES | {ACCOUNT_QUERY.name: ACCOUNT_QUERY}
)


@dataclass
class Rejected:
    """One row held back: its position in the pull, the checks it failed and its fields."""

    query: str
    index: int
    row: dict[str, Any]
    failures: list[tuple[str, str]] = field(default_factory=list)  # (check key, reason)


@dataclass
class ScreenResult:
    pulled: dict[str, Mapping[str, list[Any]]]  # the input with rejected rows removed
    rejected: list[Rejected]


# --------------------------------------------------------------------------- screening


def _parse_date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _is_id(value: Any) -> TypeGuard[int]:
    return type(value) is int and value > 0


def _is_count(value: Any) -> TypeGuard[int]:
    return type(value) is int


def _is_real(value: Any) -> TypeGuard[int | float]:
    return type(value) in (int, float) and math.isfinite(value)


def escaped(text: str, limit: int = 60) -> str:
    """``text`` safe for a log line or a report: controls and bidi characters escaped
    (``repr`` spells every non-printable character as ``\\x..``/``\\u....``), cut to
    ``limit`` characters with its full length said."""
    shown = repr(text[:limit])
    return f"{shown}... ({len(text)} characters)" if len(text) > limit else shown


def _spelled(text: str) -> str:
    """``text`` with every forbidden character spelled ``\\uXXXX`` (storable anywhere)."""
    return _FORBIDDEN_TEXT.sub(lambda c: f"\\u{ord(c.group()):04x}", text)


def normalised_text(q: ScreenedQuery, cols: Mapping[str, list[Any]]) -> Mapping[str, list[Any]]:
    """``cols`` with its text fields in Unicode NFC (one spelling per term: a decomposed
    "é" and a composed one are the same search term, and must be one key)."""
    out: dict[str, list[Any]] | None = None
    for f, _, _ in q.texts:
        col = cols.get(f)
        # one pass: "\n" composes with nothing, so the joined text is NFC iff every term is
        if not col or unicodedata.is_normalized("NFC", "\n".join(t for t in col if type(t) is str)):
            continue
        out = out if out is not None else dict(cols)
        out[f] = [unicodedata.normalize("NFC", t) if type(t) is str else t for t in col]
    return out if out is not None else cols


def screen_columns(
    q: ScreenedQuery, cols: Mapping[str, list[Any]], bounds: Bounds | None = None
) -> tuple[set[int], list[Rejected]]:
    """Indexes of the rows of one query that cannot be written, each with its failures.

    ``cols`` must be :func:`normalised_text` already (``screen_pulled`` does it).
    """
    n = len(next(iter(cols.values()), ()))
    failures: dict[int, list[tuple[str, str]]] = {}

    def fail(i: int, name: str, column: str | None, reason: str) -> None:
        failures.setdefault(i, []).append((check(f"{q.prefix}.{name}").key(column), reason))

    for f in q.ids:
        col = cols[f]
        try:  # protobuf ids are ints; a missing one arrives as 0
            fine = min(col, default=1) > 0
        except TypeError:
            fine = False
        if not fine:
            for i, v in enumerate(col):
                if not _is_id(v):
                    fail(i, "keys_present", q.columns[f], f"{f} is {v!r}: not a valid id")
    dates = cols[q.date] if q.date else ()
    try:  # one C-level pass: a pull holds a few distinct days, each parsed once
        distinct = set(dates)
    except TypeError:  # an unhashable value where a date belongs
        distinct = set(map(_hashable, dates))
    bad_dates = {s for s in distinct if _parse_date(s) is None}
    if bad_dates:
        for i, v in enumerate(dates):
            if _hashable(v) in bad_dates:
                fail(i, "keys_present", "date", f"{q.date} is {v!r}: not an ISO date")
    if q.term is not None:
        terms = cols[q.term]
        if not all(type(t) is str and t for t in terms):
            for i, t in enumerate(terms):
                if not (type(t) is str and t):
                    fail(i, "keys_present", "search_term", f"{q.term} is {t!r}: empty")
    if q.bucket is not None:
        _screen_buckets(cols[q.bucket], q.bucket, q.columns[q.bucket], fail)
    for f in q.int_metrics:
        _screen_metric(cols[f], f, q.columns[f], _is_count, fail)
    for f in q.float_metrics:
        _screen_metric(cols[f], f, q.columns[f], _is_real, fail)
    for f in q.optional_floats:
        if f in cols:
            _screen_optional(cols[f], f, q.columns[f], fail)
    for f, column, length in q.texts:
        _screen_text(cols[f], f, column, length, fail)
    if q.date is not None and q.int_metrics:
        _screen_bounds(q, cols, bounds or default_bounds(), fail)
    if q.table == ACCOUNTS and bounds is not None and bounds.pinned_currency:
        _screen_settings(cols, bounds, fail)
    _screen_duplicates(q, cols, n, fail)
    rejected = [
        Rejected(q.name, i, {f: cols[f][i] for f in cols}, failures[i]) for i in sorted(failures)
    ]
    return set(failures), rejected


def _screen_metric(col: Sequence[Any], f: str, column: str, valid: Any, fail: Any) -> None:
    """Present, finite and non-negative; one pass when all is well."""
    try:
        total = math.fsum(col)
        fine = math.isfinite(total) and min(col, default=0) >= 0
    except (TypeError, ValueError, OverflowError):  # None, a string, inf - inf, ...
        fine = False
    if fine:
        return
    for i, v in enumerate(col):
        if not valid(v):
            fail(i, "metrics_present", column, f"{f} is {v!r}: not a finite number")
        elif v < 0:
            fail(i, "non_negative", column, f"{f} is {v!r}: negative")


def _screen_text(col: Sequence[Any], f: str, column: str, length: int, fail: Any) -> None:
    """No NUL, controls or bidi overrides, and short enough for its column."""
    texts = [t for t in col if type(t) is str]
    if max(map(len, texts), default=0) <= length and not _FORBIDDEN_TEXT.search("".join(texts)):
        return
    for i, t in enumerate(col):
        if type(t) is not str:
            continue
        bad = _FORBIDDEN_TEXT.search(t)
        if bad:
            why = f"contains U+{ord(bad.group()):04X} ({unicodedata.name(bad.group(), 'control')})"
            fail(i, "text_valid", column, f"{f} {why}: {escaped(t)}")
        elif len(t) > length:
            fail(i, "text_valid", column, f"{f} has {len(t)} characters, at most {length} fit: "
                 f"{escaped(t)}")  # fmt: skip


def accept_command(tenant_id: str, customer_id: int) -> str:
    """The command that accepts an account's held settings change (``spectra account``)."""
    return f"spectra account accept --tenant {tenant_id} --customer {customer_id} --by NAME"


def _screen_settings(cols: Mapping[str, list[Any]], b: Bounds, fail: Any) -> None:
    """The account's currency and time zone as pinned; another is held, not written."""
    pinned = {
        "customer.currency_code": ("currency_expected", "currency", b.pinned_currency),
        "customer.time_zone": ("time_zone_expected", "time zone", b.pinned_time_zone),
    }
    for f, (name, what, expected) in pinned.items():
        for i, value in enumerate(cols.get(f, ())):
            if expected and value != expected:
                fail(i, name, None,
                     f"the account reports {what} {escaped(str(value))}, pinned {expected} on "
                     f"{b.pinned_on}: the change is held and the account's data stays "
                     f"{expected}; if it is real, accept it with "
                     f"`{accept_command(b.tenant_id, b.customer_id)}`")  # fmt: skip


def _real_or_none(value: Any) -> float | None:
    return value if _is_real(value) else None


def _screen_bounds(q: ScreenedQuery, cols: Mapping[str, list[Any]], b: Bounds, fail: Any) -> None:
    """Ceilings (block), the account's own history (warn) and the gate's row plausibility
    checks (warn): a row failing any is held at ingest, so it never replaces a stored good row.

    One ``max`` per column when all is well; rows are looked at only past a bound.
    """
    metrics = [f for f in (*q.int_metrics, *q.float_metrics) if f in cols]
    for f in metrics:
        column = q.columns[f]
        ceiling = b.ceilings.get(f)
        history = b.history.get((q.level, f))
        limit = (
            min(x for x in (ceiling, history) if x is not None) if (ceiling or history) else None
        )
        if limit is None:
            continue
        try:  # one C-level pass; a NaN first makes ``top`` NaN and takes the slow path
            fine = max(cols[f], default=0) <= limit
        except TypeError:  # None or a string (a lone one is its own max)
            fine = False
        if fine:
            continue
        for i, v in enumerate(cols[f]):
            if not _is_real(v) or v < 0:
                continue  # reported by metrics_present / non_negative
            if ceiling is not None and v > ceiling:
                fail(i, "within_bounds", column,
                     f"{f} is {v!r}: above {ceiling:.0f}, the most one entity reports in a day "
                     f"({b.currency_code})")  # fmt: skip
            elif history is not None and v > history:
                fail(i, "history_plausible", column,
                     f"{f} is {v!r}: above {history:.0f}, far beyond the account's own "
                     f"{q.level or 'search term'} history")  # fmt: skip
    for f in q.optional_floats:
        if f.endswith("impression_share") and f in cols:
            if _within_unit(cols[f]):
                continue
            for i, v in enumerate(cols[f]):
                if _is_real(v) and not 0 <= v <= 1:
                    fail(i, "impression_share_range", q.columns[f], f"{f} is {v!r}: outside [0, 1]")
    names = ("metrics.impressions", "metrics.clicks", "metrics.cost_micros", "metrics.conversions")
    if not all(f in cols for f in names):
        return
    for i in _implausible_candidates(cols, names, b):
        imp, clk, spend, conv = (_real_or_none(cols[f][i]) for f in names)
        if imp is None or clk is None:
            continue
        if clk > imp:
            fail(i, "clicks_le_impressions", None, f"clicks={clk} above impressions={imp}")
        if imp >= b.ctr_min_impressions and clk / imp > b.max_ctr:
            fail(i, "ctr_plausible", None, f"ctr={clk / imp:.3g} above {b.max_ctr} "
                 f"(clicks={clk}, impressions={imp})")  # fmt: skip
        if clk >= 1 and spend is not None and b.max_cpc_micros is not None:
            if spend / clk > b.max_cpc_micros:
                fail(i, "cpc_plausible", None, f"cpc_micros={spend / clk:.0f} above "
                     f"{b.max_cpc_micros} {b.currency_code} (cost_micros={spend}, clicks={clk})")  # fmt: skip
        if clk >= b.cvr_min_clicks and conv is not None and conv / clk > b.max_cvr:
            fail(i, "cvr_plausible", None, f"cvr={conv / clk:.3g} above {b.max_cvr} "
                 f"(conversions={conv}, clicks={clk})")  # fmt: skip


def _within_unit(col: Sequence[Any]) -> bool:
    """Every present value in [0, 1]: one C-level pass (a non-number or NaN says no)."""
    present = [v for v in col if v is not None]
    try:
        return not present or (min(present) >= 0 and max(present) <= 1)
    except TypeError:
        return False


def _implausible_candidates(
    cols: Mapping[str, list[Any]], names: tuple[str, ...], b: Bounds
) -> Iterable[int]:
    """Rows that may fail a rate check: one vectorised pass (numpy), every row if the columns
    are not all numbers. The caller re-checks each candidate on its own values."""
    import numpy as np

    try:
        imp, clk, cost, conv = (np.asarray(cols[f], dtype=np.float64) for f in names)
    except (TypeError, ValueError, OverflowError):
        return range(len(cols[names[0]]))
    with np.errstate(invalid="ignore"):
        suspect = (clk > imp) | ((imp >= b.ctr_min_impressions) & (clk > b.max_ctr * imp))
        if b.max_cpc_micros is not None:
            suspect |= (clk >= 1) & (cost > b.max_cpc_micros * clk)
        suspect |= (clk >= b.cvr_min_clicks) & (conv > b.max_cvr * clk)
    return np.flatnonzero(suspect).tolist()


def _screen_buckets(col: Sequence[Any], f: str, column: str, fail: Any) -> None:
    """A lag bucket analytics can place by days, or UNKNOWN; one set pass when all is well."""
    try:
        if set(col) <= STORED_LAG_BUCKETS:
            return
    except TypeError:  # an unhashable value where a name belongs
        pass
    for i, v in enumerate(col):
        if isinstance(v, str) and v in STORED_LAG_BUCKETS:
            continue
        why = "the API left the segment unset" if v == "UNSPECIFIED" else "not a known lag bucket"
        fail(i, "bucket_known", column, f"{f} is {v!r}: {why}")


def _screen_optional(col: Sequence[Any], f: str, column: str, fail: Any) -> None:
    present = [v for v in col if v is not None]
    try:
        fine = math.isfinite(math.fsum(present))
    except (TypeError, ValueError, OverflowError):
        fine = False
    if fine:
        return
    for i, v in enumerate(col):
        if v is not None and not _is_real(v):
            fail(i, "metrics_present", column, f"{f} is {v!r}: not a finite number")


def _screen_duplicates(q: ScreenedQuery, cols: Mapping[str, list[Any]], n: int, fail: Any) -> None:
    """Every copy of a key that appears twice is held back: we cannot know which is right."""
    keys = list(zip(*(cols[f] for f in q.key), strict=True))
    try:
        if len(set(keys)) == n:
            return
    except TypeError:  # an unhashable value where a key belongs
        pass
    keys = [tuple(map(_hashable, k)) for k in keys]
    counts = Counter(keys)
    for i, key in enumerate(keys):
        if counts[key] > 1:
            shown = dict(zip(q.key, key, strict=True))
            fail(i, "keys_unique", None, f"key {shown} appears {counts[key]} times in the pull")


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(map(_hashable, value))
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, float) and math.isnan(value):
        return "NaN"  # NaN != NaN would make every NaN key unique
    return value


# --------------------------------------------------------------------------- the hook


def screen_pulled(
    pulled: Mapping[str, Mapping[str, list[Any]]], bounds: Bounds | None = None
) -> ScreenResult:
    """Split the fact queries in ``pulled`` into writable rows and rejected rows (no I/O).

    Text is normalised (NFC) in what is returned. ``bounds`` are the account's
    (``quality.bounds.account_bounds``); without them, the ceilings and the USD thresholds.
    Ingest that pulls in date slices screens each slice and records all rejections once
    (:func:`record_ingest_quarantine`), so one slice never deactivates another's entries.
    """
    clean: dict[str, Mapping[str, list[Any]]] = dict(pulled)
    rejected: list[Rejected] = []
    for name in (n for n in pulled if n in SCREENED_QUERIES):
        cols = pulled[name]
        if not cols or not next(iter(cols.values())):
            continue
        q = SCREENED_QUERIES[name]
        cols = clean[name] = normalised_text(q, cols)
        bad, found = screen_columns(q, cols, bounds)
        if bad:
            clean[name] = {
                f: [v for i, v in enumerate(values) if i not in bad] for f, values in cols.items()
            }
            rejected.extend(found)
    return ScreenResult(clean, rejected)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def payload_of(query: str, row: Mapping[str, Any]) -> str:
    """The quarantined row as JSON text (NaN and infinities spelled as strings)."""
    return json.dumps({"query": query, "row": _json_safe(dict(row))}, sort_keys=True)


def quarantine_rows(
    rejected: Iterable[Rejected],
    *,
    tenant_id: str,
    customer_id: int,
    as_of: dt.date,
    logical_date: dt.date,
) -> list[dict[str, Any]]:
    """Quarantine table rows (one per failed check) for rows held back at ingest."""
    out: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    for r in rejected:
        q = SCREENED_QUERIES[r.query]
        payload = payload_of(r.query, r.row)
        seen[payload] += 1  # identical rows are told apart by their occurrence
        digest = hashlib.sha1(f"{payload}#{seen[payload]}".encode()).hexdigest()
        entity_field = q.entity or next((f for f, c in q.columns.items() if c == "entity_id"), None)
        entity = r.row.get(entity_field) if entity_field else None
        ad_group = r.row.get("ad_group.id")
        term = r.row.get(q.term) if q.term else None
        # An entry about a stored row that stands (a day lost in a re-pull) names no level,
        # so the clean views, which hide rows matching an entry, never hide the row it keeps.
        level = None if all(check(k).name in RECORD_ONLY for k, _ in r.failures) else q.level
        for key, reason in r.failures:
            out.append(
                {
                    "tenant_id": tenant_id,
                    "customer_id": customer_id,
                    "source_table": q.table,
                    "source_query": q.name,
                    "stage": "ingest",
                    "logical_date": logical_date,
                    "reported_as_of": as_of,
                    "check_name": key,
                    "severity": check(key).severity.value,
                    "reason": reason,
                    "date": _parse_date(r.row.get(q.date)) if q.date else None,
                    "level": level,
                    "entity_id": entity if _is_id(entity) else None,
                    "ad_group_id": ad_group if _is_id(ad_group) else None,
                    # spelled: PostgreSQL stores no NUL, and the report shows no raw bidi
                    "search_term": _spelled(term)[:SEARCH_TERM_LENGTH]
                    if isinstance(term, str)
                    else None,
                    "row_fingerprint": digest,
                    "payload": payload,
                    "active": True,
                    "resolved_at": None,
                }
            )
    return out


def record_ingest_quarantine(
    conn: Connection,
    rejected: Sequence[Rejected],
    *,
    screened_queries: Sequence[str],
    tenant_id: str,
    customer_id: int,
    as_of: dt.date,
    logical_date: dt.date,
) -> dict[str, int]:
    """Upsert this pull's entries; deactivate (never delete) older ones it no longer finds.

    Returns the number of entries written per query.
    """
    rows = quarantine_rows(
        rejected,
        tenant_id=tenant_id,
        customer_id=customer_id,
        as_of=as_of,
        logical_date=logical_date,
    )
    write_ingest_quarantine(
        conn,
        rows,
        screened_queries=screened_queries,
        tenant_id=tenant_id,
        customer_id=customer_id,
        logical_date=logical_date,
    )
    return dict(Counter(r["source_query"] for r in rows))


def warehouse_row(query: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A quarantined API row in warehouse columns, as far as its values allow.

    The validate step puts these rows back beside the written ones, so the suites see the
    batch as the API sent it (a duplicated key shows up as two rows, a NaN as a NaN).
    """
    q = SCREENED_QUERIES[query]
    out: dict[str, Any] = {"level": q.level} if q.level else {}
    if q.table == PERFORMANCE and "ad_group.id" not in q.columns:
        out["ad_group_id"] = 0  # campaign rows are stored with ad group 0
    for f, column in q.columns.items():
        value = row.get(f)
        if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
            value = float(value.replace("Infinity", "inf"))
        if column == "date":
            value = _parse_date(value)
        elif column in ("entity_id", "campaign_id", "ad_group_id", "parent_id"):
            value = value if _is_id(value) else None
        elif column == "conversions_value_micros":
            value = round(value * MICROS) if _is_real(value) else _nan_or_none(value)
        elif column == "search_term":
            value = value if isinstance(value, str) and value else None
        elif value is not None and not isinstance(value, int | float):
            value = None
        out[column] = value
    if q.level == "ad_group" and q.table == PERFORMANCE:
        out["ad_group_id"] = out.get("entity_id")  # stored with their own id as ad group
    return out


def _nan_or_none(value: Any) -> float | None:
    return value if isinstance(value, float) else None
