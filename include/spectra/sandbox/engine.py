"""How the sandbox answers a parsed GAQL query: which fields each resource serves, and the order
in which Google turns daily facts into a report.

Google's order (https://developers.google.com/google-ads/api/docs/query/structure and
https://developers.google.com/google-ads/api/docs/reporting/segmentation):

1. Every report is implicitly segmented by the resource in FROM (its ``resource_name``) and by
   each selected segment; conditions on attributes and segments pick the facts that count.
2. Metrics are summed over the date range per (resource, selected segments) — without
   ``segments.date`` in SELECT, one row per resource for the whole range; without any date filter,
   the whole history (all-time totals), not nothing.
3. Ratio metrics (ctr, average_cpc, cost_per_conversion, …) are computed from the summed
   components, never summed or averaged themselves.
4. Then conditions on metrics filter the aggregated rows, then ORDER BY, then LIMIT.

Zero rows (https://developers.google.com/google-ads/api/docs/reporting/zero-metrics): a
segmented report omits rows whose selected metrics are all zero; an unsegmented one returns every
resource, zeros included.

The engine reads the market only through ``Market.rows`` (daily, per entity). Whatever the market
does not simulate is refused with the QueryError Google sends for a field that resource cannot
serve — never answered with a silent zero or an unsplit row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from spectra.sandbox import gaql, resources
from spectra.sandbox.errors import change_event_error, query_error
from spectra.sandbox.market.views import ATTRIBUTE_KIND, ATTRIBUTES, REACHABLE, RESOURCE_LEVEL


class MarketRows(Protocol):
    """The part of the market the engine reads (its public row API)."""

    @property
    def history_start(self) -> dt.date: ...

    def customer_ids(self) -> list[int]: ...

    def rows(
        self,
        resource: str,
        *,
        customer_id: int,
        date_from: dt.date | None,
        date_to: dt.date | None,
        as_of: dt.date | dt.datetime,
        fields: frozenset[str],
    ) -> Iterator[Mapping[str, Any]]: ...


# ----------------------------------------------------------------------------- the catalogue
SUMMED: tuple[str, ...] = (
    "metrics.impressions",
    "metrics.clicks",
    "metrics.cost_micros",
    "metrics.conversions",
    "metrics.conversions_value",
    "metrics.all_conversions",
    "metrics.all_conversions_value",
)
"""Additive metrics the market reports per entity and day."""

_CLICKS, _IMPS, _COST = "metrics.clicks", "metrics.impressions", "metrics.cost_micros"
_CONV, _VALUE = "metrics.conversions", "metrics.conversions_value"
_ALL_CONV, _ALL_VALUE = "metrics.all_conversions", "metrics.all_conversions_value"

ALIASES: dict[str, str] = {
    # a Search ad's only interaction is a click
    "metrics.interactions": _CLICKS,
}

RATIOS: dict[str, tuple[str, str, float]] = {
    # name: (numerator, denominator, scale) — computed from the summed components
    "metrics.ctr": (_CLICKS, _IMPS, 1.0),
    "metrics.interaction_rate": (_CLICKS, _IMPS, 1.0),
    "metrics.average_cpc": (_COST, _CLICKS, 1.0),
    "metrics.average_cost": (_COST, _CLICKS, 1.0),
    "metrics.average_cpm": (_COST, _IMPS, 1000.0),
    "metrics.cost_per_conversion": (_COST, _CONV, 1.0),
    "metrics.cost_per_all_conversions": (_COST, _ALL_CONV, 1.0),
    "metrics.conversions_from_interactions_rate": (_CONV, _CLICKS, 1.0),
    "metrics.all_conversions_from_interactions_rate": (_ALL_CONV, _CLICKS, 1.0),
    "metrics.value_per_conversion": (_VALUE, _CONV, 1.0),
    "metrics.value_per_all_conversions": (_ALL_VALUE, _ALL_CONV, 1.0),
    # value (currency units) per cost (currency units)
    "metrics.conversions_value_per_cost": (_VALUE, _COST, 1_000_000.0),
    "metrics.all_conversions_value_per_cost": (_ALL_VALUE, _COST, 1_000_000.0),
}

_SIS = "metrics.search_impression_share"
SHARES: tuple[str, ...] = (
    _SIS,
    "metrics.search_budget_lost_impression_share",
    "metrics.search_rank_lost_impression_share",
)
"""Impression shares: impressions / eligible impressions (https://support.google.com/google-ads/
answer/2497703). Over several days the shares are weighted by each day's eligible impressions,
which a daily row implies as impressions / search_impression_share."""

SHARE_RESOURCES = frozenset({"customer", "campaign", "ad_group", "keyword_view"})
"""Impression share exists for accounts, campaigns, ad groups and keywords, not for single ads or
search terms (https://support.google.com/google-ads/answer/7103314)."""

HISTORICAL_QS = "metrics.historical_quality_score"
_QS_ATTRIBUTE = "ad_group_criterion.quality_info.quality_score"

CONVERSION_METRICS = frozenset({_CONV, _VALUE, _ALL_CONV, _ALL_VALUE})
"""The only metrics Google segments by conversion attributes (lag bucket, conversion action)."""

DATE_SEGMENTS = (
    "segments.date",
    "segments.day_of_week",
    "segments.week",
    "segments.month",
    "segments.quarter",
    "segments.year",
)
_LAG = "segments.conversion_lag_bucket"
_NETWORK = "segments.ad_network_type"
_ACTION_SEGMENTS = {
    "segments.conversion_action": "conversion_action.resource_name",
    "segments.conversion_action_name": "conversion_action.name",
    "segments.conversion_action_category": "conversion_action.category",
}
CONVERSION_SEGMENTS = frozenset({_LAG, *_ACTION_SEGMENTS})
_KEYWORD_SEGMENT_KEY = "segments.keyword.ad_group_criterion"

METRIC_RESOURCES = frozenset(
    {"customer", "campaign", "campaign_budget", "ad_group", "keyword_view", "ad_group_ad"}
    | {"search_term_view", "geographic_view"}
)
"""Resources with metrics (ad_group_criterion has none: its metrics live on keyword_view)."""

KEY_FIELD: dict[str, str] = {
    "customer": "customer.resource_name",
    "campaign": "campaign.resource_name",
    "campaign_budget": "campaign_budget.resource_name",
    "ad_group": "ad_group.resource_name",
    "keyword_view": "keyword_view.resource_name",
    "ad_group_ad": "ad_group_ad.resource_name",
    "search_term_view": "search_term_view.resource_name",
}
"""The implicit segment of each resource: one report row per resource_name."""

VIEW_BASE = {"geographic_view": "campaign"}
"""Views the engine builds over a market level (one constant row set per account)."""

LAG_LEVELS = frozenset({"customer", "campaign", "ad_group", "keyword_view", "search_term_view"})

SPECIAL_FIELDS: dict[str, frozenset[str]] = {
    "campaign_criterion": frozenset(
        {
            "customer.id",
            "campaign.id",
            "campaign_criterion.criterion_id",
            "campaign_criterion.type",
            "campaign_criterion.keyword.text",
            "campaign_criterion.keyword.match_type",
            "campaign_criterion.negative",
            "campaign_criterion.status",
            "campaign_criterion.resource_name",
            "campaign_criterion.campaign",
            # ad schedules (type AD_SCHEDULE), served by the market with the negatives
            "campaign_criterion.ad_schedule.day_of_week",
            "campaign_criterion.ad_schedule.start_hour",
            "campaign_criterion.ad_schedule.start_minute",
            "campaign_criterion.ad_schedule.end_hour",
            "campaign_criterion.ad_schedule.end_minute",
        }
    ),
    "change_event": frozenset(
        {
            "customer.id",
            "change_event.resource_name",
            "change_event.change_date_time",
            "change_event.change_resource_type",
            "change_event.change_resource_name",
            "change_event.resource_change_operation",
            "change_event.client_type",
            "change_event.user_email",
            "change_event.campaign",
            "change_event.ad_group",
            "change_event.changed_fields",
        }
    ),
    "change_status": frozenset(
        {
            "customer.id",
            "change_status.resource_name",
            "change_status.last_change_date_time",
            "change_status.resource_type",
            "change_status.resource_status",
            "change_status.campaign",
            "change_status.ad_group",
            "change_status.ad_group_criterion",
            "change_status.ad_group_ad",
            "change_status.campaign_criterion",
            "change_status.campaign_budget",
        }
    ),
}
"""Resources the market serves as whole rows (no metrics, no segments)."""


def _is_metric(path: str) -> bool:
    return path.startswith("metrics.")


def _is_segment(path: str) -> bool:
    return path.startswith("segments.")


def served_metric(name: str) -> bool:
    return name in SUMMED or name in RATIOS or name in ALIASES or name in SHARES


# ----------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class Plan:
    """What a checked query needs from the market and how to shape the answer."""

    query: gaql.Query
    metrics: tuple[str, ...]  # every metric the query names (SELECT, WHERE, ORDER BY)
    selected_metrics: tuple[str, ...]
    segments: tuple[str, ...]  # selected segments
    attributes: tuple[str, ...]  # attribute fields the query names
    components: frozenset[str]  # what to ask the market for
    aggregate: bool  # True when daily rows must be summed (no segments.date in SELECT)
    key: tuple[str, ...]  # the implicit segmentation (resource_name [+ keyword])

    @property
    def has_metrics(self) -> bool:
        return bool(self.metrics)


def _named_fields(query: gaql.Query) -> list[str]:
    names = list(query.fields)
    names += [c.field for c in query.conditions]
    names += [f for f, _ in query.order_by]
    return list(dict.fromkeys(names))


def _resource_enum(resource: str) -> str:
    return resource.upper()


def _refuse_field(path: str, resource: str, where: str) -> None:
    """Refuse a field in Google's words (the wording of its QueryError messages)."""
    why = f"(could not support requested resources: '{_resource_enum(resource)}')"
    if _is_metric(path):
        raise query_error(
            "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
            f"Cannot select or filter on the following metrics: '{path[8:]}'{why}, since metric "
            "is incompatible with the resource in the FROM clause or other selected segmenting "
            "resources (or is not simulated by the sandbox).",
            trigger=path,
        )
    if _is_segment(path):
        raise query_error(
            "PROHIBITED_SEGMENT_IN_SELECT_OR_WHERE_CLAUSE",
            f"Cannot select or filter on the following segments: '{path}'{why}, since segment "
            "is incompatible with the resource in the FROM clause or other selected segmenting "
            "resources (or is not simulated by the sandbox).",
            trigger=path,
        )
    prefix = path.split(".", 1)[0]
    if resource in RESOURCE_LEVEL and prefix in _prefix_kinds():
        kind = _prefix_kinds()[prefix]
        if kind not in REACHABLE[RESOURCE_LEVEL[resource]]:
            code = (
                "PROHIBITED_RESOURCE_TYPE_IN_WHERE_CLAUSE"
                if where == "filtered"
                else "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"
            )
            raise query_error(
                code,
                f"Cannot select fields from the following resource: '{_resource_enum(prefix)}', "
                "since the resource is incompatible with the resource in FROM clause.",
                trigger=path,
            )
    code = (
        "PROHIBITED_FIELD_IN_WHERE_CLAUSE"
        if where == "filtered"
        else "PROHIBITED_FIELD_IN_SELECT_CLAUSE"
    )
    raise query_error(
        code,
        f"{path} cannot be {where} with FROM {resource} (not simulated by the sandbox)",
        trigger=path,
    )


def _prefix_kinds() -> dict[str, str]:
    return {name.split(".", 1)[0]: kind for name, kind in ATTRIBUTE_KIND.items()}


def _attribute_ok(path: str, resource: str) -> bool:
    if resource in SPECIAL_FIELDS:
        return path in SPECIAL_FIELDS[resource]
    if resource in resources.ATTRIBUTE_RESOURCES:
        return path in resources.FIELDS[resource] or (
            path.startswith("customer.") and path in ATTRIBUTES
        )
    if resource in VIEW_BASE:
        if path in resources.FIELDS[resource]:
            return True
        return path in ATTRIBUTES and ATTRIBUTE_KIND[path] in REACHABLE["ad_group"]
    level = RESOURCE_LEVEL.get(resource)
    if level is None:
        return False
    if path.startswith("segments.keyword."):
        return resource == "search_term_view" and path in ATTRIBUTES
    return path in ATTRIBUTES and ATTRIBUTE_KIND[path] in REACHABLE[level]


def _segment_ok(path: str, resource: str) -> bool:
    if resource not in METRIC_RESOURCES:
        return False
    if path in DATE_SEGMENTS or path == _NETWORK:
        return True
    if path == _LAG:
        return resource in LAG_LEVELS
    if path in _ACTION_SEGMENTS:
        return True
    return path.startswith("segments.keyword.") and _attribute_ok(path, resource)


def _metric_ok(path: str, resource: str) -> bool:
    if resource not in METRIC_RESOURCES:
        return False
    if path == HISTORICAL_QS:
        return resource == "keyword_view"
    if path in SHARES:
        return resource in SHARE_RESOURCES
    return served_metric(path)


def plan(query: gaql.Query) -> Plan:
    """Check a parsed query against what the sandbox serves and decide how to answer it."""
    resource = query.resource
    for path in _named_fields(query):
        how = "selected" if path in query.fields else "filtered"
        if _is_metric(path):
            ok = _metric_ok(path, resource)
        elif _is_segment(path) and not path.startswith("segments.keyword."):
            ok = _segment_ok(path, resource)
        else:
            ok = _attribute_ok(path, resource) or (
                path.startswith("segments.keyword.") and _segment_ok(path, resource)
            )
        if not ok:
            _refuse_field(path, resource, how)
    names = _named_fields(query)
    metrics = tuple(p for p in names if _is_metric(p))
    segments = tuple(p for p in query.fields if _is_segment(p))
    attributes = tuple(p for p in names if not _is_metric(p) and not _is_segment(p))
    conversion_segments = [s for s in segments if s in CONVERSION_SEGMENTS]
    if conversion_segments:
        for metric in metrics:
            if metric not in CONVERSION_METRICS:
                raise query_error(
                    "PROHIBITED_SEGMENT_WITH_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
                    f"{conversion_segments[0]} cannot be selected with {metric}: it segments "
                    "conversion metrics only",
                    trigger=metric,
                )
    components: set[str] = set()
    for metric in metrics:
        components |= _components(metric)
    aggregate = bool(metrics) and "segments.date" not in query.fields
    if not metrics and segments:
        # segments without metrics still split facts by day (Google needs a metric to segment,
        # but a date-only report is valid); treat like a metric query with nothing summed
        aggregate = "segments.date" not in query.fields
    if resource in VIEW_BASE:
        aggregate = True  # a view row sums every base entity that shares its key
    key: tuple[str, ...] = ()
    if aggregate and resource in VIEW_BASE:
        key = ("geographic_view.resource_name",)
        key += tuple(
            f"{prefix}.resource_name"
            for prefix in ("campaign", "ad_group")
            if any(a.startswith(prefix + ".") for a in attributes)
        )
    elif aggregate:
        key = (KEY_FIELD[resource],)
        if resource == "search_term_view" and any(
            s.startswith("segments.keyword.") for s in query.fields
        ):
            key += (_KEYWORD_SEGMENT_KEY,)
    return Plan(
        query=query,
        metrics=metrics,
        selected_metrics=tuple(p for p in query.fields if _is_metric(p)),
        segments=segments,
        attributes=attributes,
        components=frozenset(components),
        aggregate=aggregate,
        key=key,
    )


def _components(metric: str) -> set[str]:
    if metric in SUMMED:
        return {metric}
    if metric in ALIASES:
        return {ALIASES[metric]}
    if metric in RATIOS:
        num, den, _ = RATIOS[metric]
        return {num, den}
    if metric in SHARES:
        return {_IMPS, _SIS, metric}
    if metric == HISTORICAL_QS:
        return set()
    raise KeyError(metric)


# ------------------------------------------------------------------ change_event's own rules
# developers.google.com/google-ads/api/docs/change-event: a change_event query must filter
# change_event.change_date_time to a finite range starting within the last 30 days and must
# have a LIMIT of at most 10,000 rows; Google answers anything else with a ChangeEventError.
CHANGE_EVENT_DAYS = 30
CHANGE_EVENT_MAX_LIMIT = 10_000
_CHANGE_TIME = "change_event.change_date_time"


def _instant(value: Any) -> dt.datetime:
    """A change_date_time literal ('2026-11-01' or '2026-11-01 09:00:00[.ffffff]')."""
    try:
        return dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise query_error(
            "INVALID_DATE_FORMAT", f"{_CHANGE_TIME}: {value!r} is not a date or date-time"
        ) from None


def check_change_event(query: gaql.Query, as_of: dt.date) -> None:
    """Refuse a change_event query the way Google does (``as_of``: the account's today)."""
    if query.limit is None:
        raise change_event_error(
            "LIMIT_NOT_SPECIFIED", "change_event queries must specify a LIMIT clause"
        )
    if query.limit > CHANGE_EVENT_MAX_LIMIT:
        raise change_event_error(
            "INVALID_LIMIT_CLAUSE",
            f"the LIMIT of a change_event query must be at most {CHANGE_EVENT_MAX_LIMIT}",
        )
    lo: dt.datetime | None = None
    hi: dt.datetime | None = None
    for cond in query.conditions:
        if cond.field != _CHANGE_TIME:
            continue
        a: dt.datetime | None = None
        b: dt.datetime | None = None
        if cond.op == "BETWEEN":
            a, b = _instant(cond.values[0]), _instant(cond.values[1])
        elif cond.op == "DURING":
            first, last = gaql.during_range(cond.values[0], as_of)
            a = dt.datetime.combine(first, dt.time())
            b = dt.datetime.combine(last, dt.time.max)
        elif cond.op == "=":
            a = b = _instant(cond.values[0])
        elif cond.op in (">", ">="):
            a = _instant(cond.values[0])
        elif cond.op in ("<", "<="):
            b = _instant(cond.values[0])
        lo = a if lo is None or (a is not None and a > lo) else lo
        hi = b if hi is None or (b is not None and b < hi) else hi
    if lo is None or hi is None:
        raise change_event_error(
            "CHANGE_DATE_RANGE_INFINITE",
            f"change_event queries must filter {_CHANGE_TIME} to a finite range "
            "(both a start and an end)",
        )
    if lo > hi:
        raise change_event_error(
            "CHANGE_DATE_RANGE_NEGATIVE", f"the {_CHANGE_TIME} range ends before it starts"
        )
    oldest = as_of - dt.timedelta(days=CHANGE_EVENT_DAYS)
    if lo.date() < oldest:
        raise change_event_error(
            "START_DATE_TOO_OLD",
            f"the {_CHANGE_TIME} range must start within the last {CHANGE_EVENT_DAYS} days "
            f"(on or after {oldest.isoformat()})",
        )


# ----------------------------------------------------------------- impression-share buckets
# Google reports search_impression_share in [0.1, 1], anything under 0.1 as 0.0999, and the
# lost shares in [0, 0.9], anything over 0.9 as 0.9001 (developers.google.com/google-ads/api/
# fields/latest/metrics: metrics.search_impression_share, search_budget_lost_impression_share,
# search_rank_lost_impression_share). Applied to the report's final rows, after aggregation
# (the engine weighs daily shares by the eligible impressions they imply).
SHARE_FLOOR, SHARE_FLOOR_REPORTED = 0.1, 0.0999
LOST_CEILING, LOST_CEILING_REPORTED = 0.9, 0.9001
_LOST_SHARES = (
    "metrics.search_budget_lost_impression_share",
    "metrics.search_rank_lost_impression_share",
)


def _bucket_shares(rows: list[Mapping[str, Any]], p: Plan) -> list[Mapping[str, Any]]:
    """Report impression shares in Google's buckets (only the ones the query names)."""
    wanted = [m for m in p.metrics if m in SHARES]
    if not wanted:
        return rows
    out: list[Mapping[str, Any]] = []
    for row in rows:
        fixed = dict(row)
        for m in wanted:
            value = fixed.get(m)
            if value is None:
                continue
            if m == _SIS and 0 < value < SHARE_FLOOR:
                fixed[m] = SHARE_FLOOR_REPORTED
            elif m in _LOST_SHARES and value > LOST_CEILING:
                fixed[m] = LOST_CEILING_REPORTED
        out.append(fixed)
    return out


# ----------------------------------------------------------------------------- execution
def run(
    market: MarketRows,
    query: gaql.Query,
    *,
    customer_id: int,
    as_of: dt.date,
    clock: dt.date | dt.datetime | None = None,
) -> list[Mapping[str, Any]]:
    """Answer a parsed query from the market's daily rows, in Google's order of operations.

    ``as_of`` is the account's today; ``clock`` (default ``as_of``) goes to the market's daily
    rows: an instant has them serve today partial (spectra.sandbox.market.Market.rows)."""
    p = plan(query)
    if query.resource == "change_event":
        check_change_event(query, as_of)
    if resources.is_manager(customer_id):
        return _manager(market, p, customer_id, as_of)
    if query.resource in resources.ATTRIBUTE_RESOURCES:
        attributes = resources.attribute_rows(query.resource, market, customer_id, as_of)
        return gaql.execute(query, attributes, as_of=as_of)
    view = VIEW_BASE.get(query.resource)
    if query.resource in SPECIAL_FIELDS or (not p.has_metrics and not p.segments and not view):
        settings = market.rows(
            query.resource,
            customer_id=customer_id,
            date_from=None,
            date_to=None,
            as_of=clock or as_of,  # settings as they are at the instant (no reporting delay)
            fields=frozenset(p.attributes),
        )
        return gaql.execute(query, settings, as_of=as_of)
    date_range = query.date_range(as_of) or (market.history_start, as_of - dt.timedelta(days=1))
    wanted = set(p.attributes) | p.components | {"segments.date"} | set(p.key)
    wanted |= {s for s in p.segments if s == _LAG or s.startswith("segments.keyword.")}
    if HISTORICAL_QS in p.metrics:
        wanted.add(_QS_ATTRIBUTE)
    source = query.resource
    constants: dict[str, Any] = {}
    if view is not None:
        constants = resources.geography(market, customer_id, as_of)
        wanted -= set(resources.FIELDS[query.resource])
        source = "ad_group" if any(a.startswith("ad_group.") for a in wanted) else view
    if any(s in _ACTION_SEGMENTS for s in _named_fields(query)):
        action = resources.conversion_action(market, customer_id)
        constants.update({seg: action[f] for seg, f in _ACTION_SEGMENTS.items()})
    daily = market.rows(
        source,
        customer_id=customer_id,
        date_from=date_range[0],
        date_to=date_range[1],
        as_of=clock or as_of,
        fields=frozenset(wanted),
    )
    if constants:
        daily = ({**r, **constants} for r in daily)
    pre = [c for c in query.conditions if not _is_metric(c.field)]
    post = [c for c in query.conditions if _is_metric(c.field)]
    pre_checks = [gaql._predicate(c, as_of) for c in pre]
    facts = _with_segments(daily, p.segments + tuple(c.field for c in pre if _is_segment(c.field)))
    if pre_checks:
        facts = (r for r in facts if all(check(r) for check in pre_checks))
    rows: list[Mapping[str, Any]]
    if p.aggregate:
        rows = _aggregate(facts, p)
        if not p.segments and query.resource not in ("search_term_view", *VIEW_BASE):
            attribute_checks = [
                check for c, check in zip(pre, pre_checks, strict=True) if not _is_segment(c.field)
            ]
            rows = _with_zero_rows(market, rows, p, customer_id, as_of, attribute_checks)
    elif any(m in ALIASES or m in RATIOS or m == HISTORICAL_QS for m in p.metrics):
        rows = [_finish(dict(r), p, 1) for r in facts]
    else:
        rows = list(facts)  # daily facts are the report's rows already
    if p.segments and p.selected_metrics and _IMPS not in p.selected_metrics:
        # a segmented report leaves out rows whose selected metrics are all zero (the
        # market's facts all have impressions, so only a report without them can have such rows)
        rows = [r for r in rows if any(r.get(m) for m in p.selected_metrics)]
    rows = _bucket_shares(rows, p)
    tail = gaql.Query(query.fields, query.resource, tuple(post), query.order_by, query.limit)
    if post or query.order_by or query.limit:
        return gaql.execute(tail, rows, as_of=as_of)
    return rows


def _manager(
    market: MarketRows, p: Plan, customer_id: int, as_of: dt.date
) -> list[Mapping[str, Any]]:
    """A manager account: its own customer row, its clients, and no metrics."""
    if p.has_metrics:
        raise query_error(
            "REQUESTED_METRICS_FOR_MANAGER",
            "metrics cannot be requested for a manager account; query each client instead",
        )
    query = p.query
    if query.resource == "customer":
        rows: list[dict[str, Any]] = [resources.profile(market, customer_id, as_of)]
    elif query.resource in resources.ATTRIBUTE_RESOURCES:
        rows = resources.attribute_rows(query.resource, market, customer_id, as_of)
    else:
        rows = []  # a manager owns no campaigns, ad groups or criteria
    return gaql.execute(query, rows, as_of=as_of)


def _with_segments(
    rows: Iterable[Mapping[str, Any]], segments: tuple[str, ...]
) -> Iterator[Mapping[str, Any]]:
    """Add the segments the engine derives: coarser date segments and the ad network."""
    derived = [s for s in segments if s in DATE_SEGMENTS[1:] or s == _NETWORK]
    if not derived:
        yield from rows
        return
    cache: dict[str, dict[str, Any]] = {}
    for row in rows:
        day = row["segments.date"]
        values = cache.get(day)
        if values is None:
            values = cache[day] = _derived_segments(dt.date.fromisoformat(day), derived)
        yield {**row, **values}


_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def _derived_segments(day: dt.date, names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        if name == "segments.day_of_week":
            out[name] = _WEEKDAYS[day.weekday()]
        elif name == "segments.week":
            out[name] = (day - dt.timedelta(days=day.weekday())).isoformat()
        elif name == "segments.month":
            out[name] = day.replace(day=1).isoformat()
        elif name == "segments.quarter":
            out[name] = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1).isoformat()
        elif name == "segments.year":
            out[name] = day.year
        elif name == _NETWORK:
            # the market's campaigns serve on Google Search only (no search partners, no
            # Display), so every fact is Google Search's: one honest row per network
            out[name] = "SEARCH"
    return out


def _aggregate(facts: Iterable[Mapping[str, Any]], p: Plan) -> list[Mapping[str, Any]]:
    """Sum daily facts per (resource, selected segments); then compute the ratios."""
    group_by = p.key + tuple(s for s in p.segments if s not in p.key)
    summed = [m for m in p.components if m in SUMMED]
    shares = [m for m in p.components if m in SHARES]
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    weights: dict[tuple[Any, ...], float] = {}
    latest: dict[tuple[Any, ...], str] = {}
    for fact in facts:
        key = tuple(_hashable(fact.get(g)) for g in group_by)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = {a: fact.get(a) for a in p.attributes}
            acc.update({g: fact.get(g) for g in group_by})
            acc.update({m: 0 for m in summed})
            acc.update({m: 0.0 for m in shares})
            weights[key] = 0.0
            latest[key] = ""
        for m in summed:
            acc[m] += fact.get(m) or 0
        if shares:
            share = fact.get(_SIS) or 0.0
            eligible = (fact.get(_IMPS) or 0) / share if share > 0 else 0.0
            weights[key] += eligible
            for m in shares:
                acc[m] += eligible * (fact.get(m) or 0.0)
        if HISTORICAL_QS in p.metrics and fact.get("segments.date", "") >= latest[key]:
            latest[key] = fact.get("segments.date", "")
            acc[HISTORICAL_QS] = fact.get(_QS_ATTRIBUTE)
    out: list[Mapping[str, Any]] = []
    for key, acc in groups.items():
        out.append(_finish(acc, p, weights[key], weighted=True))
    return out


def _finish(
    row: dict[str, Any], p: Plan, eligible: float, *, weighted: bool = False
) -> dict[str, Any]:
    """Compute derived metrics from the row's summed components."""
    for metric in p.metrics:
        if metric in ALIASES:
            row[metric] = row.get(ALIASES[metric]) or 0
        elif metric in RATIOS:
            num, den, scale = RATIOS[metric]
            d = row.get(den) or 0
            row[metric] = (row.get(num) or 0) * scale / d if d else 0.0
        elif metric in SHARES and weighted:
            row[metric] = min(1.0, max(0.0, row[metric] / eligible)) if eligible > 0 else 0.0
        elif metric == HISTORICAL_QS and not weighted:
            row[metric] = row.get(_QS_ATTRIBUTE)
    return row


def _with_zero_rows(
    market: MarketRows,
    rows: list[Mapping[str, Any]],
    p: Plan,
    customer_id: int,
    as_of: dt.date,
    pre_checks: list[Callable[[Mapping[str, Any]], bool]],
) -> list[Mapping[str, Any]]:
    """An unsegmented report lists every resource, with zeros where nothing happened."""
    key_field = p.key[0]
    seen = {r.get(key_field) for r in rows}
    entities = market.rows(
        p.query.resource,
        customer_id=customer_id,
        date_from=None,
        date_to=None,
        as_of=as_of,
        fields=frozenset(set(p.attributes) | {key_field}),
    )
    zeros = {m: 0 for m in p.components if m in SUMMED}
    for entity in entities:
        if entity.get(key_field) in seen or not all(check(entity) for check in pre_checks):
            continue
        row = {**dict(entity), **zeros}
        row.update({m: 0.0 for m in p.components if m in SHARES})
        rows.append(_finish(row, p, 0.0, weighted=True))
    return rows


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(map(_hashable, value))
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    return value
