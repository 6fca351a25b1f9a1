"""Defect injection for quality tests: the real market, served by the real sandbox, with faults.

``DefectMarket`` wraps the sandbox market (anything with ``customer_ids()`` and ``rows()``)
and rewrites the GAQL-shaped rows it serves, so a defect travels the whole production path:
sandbox gRPC server → real ``google-ads`` client → raw protobuf decode → ingest → warehouse →
validate. Each defect class targets one account and one or more days.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

METRIC_RESOURCES = frozenset({"campaign", "ad_group", "keyword_view", "search_term_view"})
Row = dict[str, Any]


@dataclass
class Defect:
    """Base: applies to one account, some resources and some days."""

    customer_id: int
    days: tuple[dt.date, ...]
    resources: frozenset[str] = METRIC_RESOURCES

    def applies(self, resource: str, customer_id: int) -> bool:
        return resource in self.resources and customer_id == self.customer_id

    def hit(self, row: Mapping[str, Any]) -> bool:
        """The row is on one of the defect's days (no days: every row, e.g. structure)."""
        return not self.days or row.get("segments.date") in {d.isoformat() for d in self.days}

    def apply(self, rows: Iterable[Row]) -> Iterator[Row]:
        raise NotImplementedError


@dataclass
class DuplicateRows(Defect):
    """The API repeats rows (a paging bug): every row of the day comes twice."""

    resources: frozenset[str] = frozenset({"keyword_view"})

    def apply(self, rows: Iterable[Row]) -> Iterator[Row]:
        for row in rows:
            yield row
            if self.hit(row):
                yield dict(row)


@dataclass
class DropDay(Defect):
    """A whole day is missing from every metric report."""

    def apply(self, rows: Iterable[Row]) -> Iterator[Row]:
        return (row for row in rows if not self.hit(row))


@dataclass
class SetField(Defect):
    """Rewrite fields of the first ``rows`` matching rows of each day (``None``: all)."""

    values: Mapping[str, Any] = field(default_factory=dict)
    rows: int | None = 1
    resources: frozenset[str] = frozenset({"keyword_view"})

    def apply(self, rows: Iterable[Row]) -> Iterator[Row]:
        done: dict[str, int] = {}
        for row in rows:
            if self.hit(row):
                day = row.get("segments.date", "")
                if self.rows is None or done.get(day, 0) < self.rows:
                    done[day] = done.get(day, 0) + 1
                    row = dict(row)
                    for name, value in self.values.items():
                        row[name] = value(row) if callable(value) else value
            yield row


def negative_cost(customer_id: int, day: dt.date) -> SetField:
    return SetField(customer_id, (day,), values={"metrics.cost_micros": -1_250_000})


def clicks_over_impressions(customer_id: int, day: dt.date) -> SetField:
    return SetField(
        customer_id,
        (day,),
        values={"metrics.clicks": lambda r: r["metrics.impressions"] + 7},
    )


def nan_conversions(customer_id: int, day: dt.date) -> SetField:
    return SetField(customer_id, (day,), values={"metrics.conversions": math.nan})


def missing_key(customer_id: int, day: dt.date) -> SetField:
    """A row without its keyword id: protobuf sends an unset field as 0."""
    return SetField(customer_id, (day,), values={"ad_group_criterion.criterion_id": 0})


def tracking_outage(customer_id: int, days: Iterable[dt.date]) -> SetField:
    """The conversion tag is gone: conversions vanish, clicks and cost carry on."""
    return SetField(
        customer_id,
        tuple(days),
        values={"metrics.conversions": 0.0, "metrics.conversions_value": 0.0},
        rows=None,
        resources=METRIC_RESOURCES,
    )


@dataclass
class CurrencyChange(Defect):
    """The account reports another currency (wrong account connected, broken mapping)."""

    currency: str = "EUR"
    days: tuple[dt.date, ...] = ()
    resources: frozenset[str] = frozenset({"customer"})

    def apply(self, rows: Iterable[Row]) -> Iterator[Row]:
        for row in rows:
            yield {**row, "customer.currency_code": self.currency}


@dataclass
class LagCell(Defect):
    """Rewrite one cell of the conversion-lag histogram: every click day's row of (campaign,
    bucket), which the sandbox then sums over the histogram's range as Google does, so the
    served cell carries the fault (NaN, a negative sum, a renamed bucket, a lost campaign id)."""

    campaign_id: int = 0
    bucket: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)
    days: tuple[dt.date, ...] = ()
    resources: frozenset[str] = frozenset({"campaign"})

    def apply(self, rows: Iterable[Row]) -> Iterator[Row]:
        for row in rows:
            if (
                row.get("campaign.id") == self.campaign_id
                and row.get("segments.conversion_lag_bucket") == self.bucket
                and self.hit(row)
            ):
                row = {**row, **self.values}
            yield row


class DefectMarket:
    """The wrapped market, with ``defects`` applied to what it serves."""

    def __init__(self, market: Any) -> None:
        self.market = market
        self.defects: list[Defect] = []

    def __getattr__(self, name: str) -> Any:  # mutate services, truth API, ...
        return getattr(self.market, name)

    def customer_ids(self) -> list[int]:
        return self.market.customer_ids()

    def rows(self, resource: str, *, customer_id: int, **kwargs: Any) -> Iterator[Row]:
        rows: Iterable[Row] = self.market.rows(resource, customer_id=customer_id, **kwargs)
        for defect in self.defects:
            if defect.applies(resource, customer_id):
                rows = defect.apply(rows)
        yield from rows


@dataclass
class DropCampaignDay(Defect):
    """One campaign's rows (and its ad groups', keywords' and terms') lost for some days,
    the rest of the account intact: a pull that lost part of a report."""

    campaign_id: int = 0

    def apply(self, rows: Iterable[Row]) -> Iterator[Row]:
        return (
            row
            for row in rows
            if not (self.hit(row) and row.get("campaign.id") == self.campaign_id)
        )
