"""Test support for the GAQL conformance suite: run a query through the real client, read the
market's daily facts, and sum them — the independent side of every comparison."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pytest
from google.ads.googleads.errors import GoogleAdsException

ADDITIVE = (
    "metrics.impressions",
    "metrics.clicks",
    "metrics.cost_micros",
    "metrics.conversions",
    "metrics.conversions_value",
)


# ----------------------------------------------------------------------------- helpers
def _get(row: Any, path: str) -> Any:
    """A field of a raw protobuf GoogleAdsRow by its GAQL path (enums as names)."""
    msg = row
    parts = path.split(".")
    for part in parts[:-1]:
        msg = getattr(msg, part if hasattr(msg, part) else part + "_")
    leaf = parts[-1] if hasattr(msg, parts[-1]) else parts[-1] + "_"
    fd = msg.DESCRIPTOR.fields_by_name[leaf]
    if fd.has_presence and not msg.HasField(leaf):
        return None
    value = getattr(msg, leaf)
    if fd.enum_type is not None and not fd.is_repeated:
        return fd.enum_type.values_by_number[value].name
    return value


def gaql(client: Any, cid: int, query: str, fields: Iterable[str]) -> list[dict[str, Any]]:
    svc = client.get_service("GoogleAdsService")
    out = []
    for batch in svc.search_stream(customer_id=str(cid), query=query):
        for row in batch.results:
            out.append({f: _get(row, f) for f in fields})
    return out


def refusal(client: Any, cid: int, query: str) -> str:
    """The QueryError code Google's client surfaces for a refused query."""
    with pytest.raises(GoogleAdsException) as exc:
        gaql(client, cid, query, ())
    error = exc.value.failure.errors[0]
    code = error.error_code
    which = (
        code._pb.WhichOneof("error_code") if hasattr(code, "_pb") else code.WhichOneof("error_code")
    )
    value = getattr(code, which)
    return f"{which}.{getattr(value, 'name', value)}"


def daily(
    market: Any,
    resource: str,
    cid: int,
    first: dt.date,
    last: dt.date,
    as_of: dt.date,
    attributes: Iterable[str] = (),
    metrics: Iterable[str] = ADDITIVE,
) -> list[dict[str, Any]]:
    """The market's facts: one row per entity and day with impressions."""
    fields = frozenset({"segments.date", *attributes, *metrics})
    return list(
        market.rows(
            resource,
            customer_id=cid,
            date_from=first,
            date_to=last,
            as_of=as_of,
            fields=fields,
        )
    )


def sums(rows: Iterable[dict[str, Any]], key: str) -> dict[Any, dict[str, float]]:
    out: dict[Any, dict[str, float]] = defaultdict(lambda: dict.fromkeys(ADDITIVE, 0))
    for r in rows:
        acc = out[r[key]]
        for m in ADDITIVE:
            acc[m] += r.get(m) or 0
    return dict(out)


def ratio(num: float, den: float, scale: float = 1.0) -> float:
    return num * scale / den if den else 0.0
