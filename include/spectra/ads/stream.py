"""GAQL queries from sql/gaql and SearchStream decoded as raw protobuf into columns.

Decoding is the hot path of ingest: rows are raw protobuf (``use_proto_plus=False``) read
with precompiled ``attrgetter``s, enums turned into their names with one dict lookup, and the
result kept as column lists (no per-row dicts, no DataFrames).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import Any

import grpc

from spectra.ads.client import AdsCredentials, google_ads_service
from spectra.ads.errors import AdsIncompleteStream, AdsQueryError, classify
from spectra.ads.fields import UnknownField, resolve_field
from spectra.settings import gaql_dir

CLOCK_HEADER = "x-spectra-sandbox-as-of"
_SELECT = re.compile(r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>\w+)", re.I | re.S)
_COMMENT = re.compile(r"--[^\n]*|#[^\n]*")


@dataclass(frozen=True)
class GaqlQuery:
    name: str
    text: str
    fields: tuple[str, ...]
    resource: str

    def render(self, **params: Any) -> str:
        try:
            return self.text.format(**params)
        except KeyError as exc:
            raise AdsQueryError(f"query {self.name} needs parameter {exc}") from None


def parse_select(text: str) -> tuple[tuple[str, ...], str]:
    match = _SELECT.match(text)
    if not match:
        raise AdsQueryError(f"not a GAQL SELECT query: {text[:60]!r}")
    fields = tuple(f.strip() for f in match.group("fields").split(",") if f.strip())
    return fields, match.group("resource")


@cache
def load_query(name: str, directory: Path | None = None) -> GaqlQuery:
    """Load sql/gaql/<name>.gaql (comments stripped; ``{date_from}``-style parameters kept)."""
    path = (directory or gaql_dir()) / f"{name}.gaql"
    if not path.exists():
        raise AdsQueryError(f"no GAQL file {path}")
    text = " ".join(_COMMENT.sub("", path.read_text()).split())
    fields, resource = parse_select(text)
    return GaqlQuery(name, text, fields, resource)


@cache
def _column_reader(path: str) -> Callable[[Any], Any]:
    """A fast getter for one GAQL field of a raw GoogleAdsRow (enum → name, repeated → list)."""
    try:
        attr_path, fd = resolve_field(path)
    except UnknownField as exc:
        raise AdsQueryError(f"unknown field {path}") from exc
    get = attrgetter(attr_path)
    if fd.is_repeated:
        if fd.message_type is not None:
            from google.protobuf.json_format import MessageToDict

            return lambda row: [
                MessageToDict(m, preserving_proto_field_name=True) for m in get(row)
            ]
        return lambda row: list(get(row))
    if fd.enum_type is not None:
        names = {v.number: v.name for v in fd.enum_type.values}
        return lambda row: names.get(get(row), "UNKNOWN")
    return get


# Metrics whose summary-row value is the sum of the rows' (Google aggregates rates and shares
# otherwise) and exact: integers, so a partial answer cannot hide in rounding.
CHECKED_TOTALS = ("metrics.impressions", "metrics.clicks", "metrics.cost_micros")
SUMMARY_ROW_WITH_RESULTS = 3  # SummaryRowSettingEnum.SUMMARY_ROW_WITH_RESULTS


def checks_totals(query: GaqlQuery) -> bool:
    """The query selects metrics a summary row can vouch for (facts, not structure)."""
    return any(f in CHECKED_TOTALS for f in query.fields)


def stream_columns(
    client: Any,
    creds: AdsCredentials,
    *,
    customer_id: int | str,
    query: GaqlQuery,
    as_of: dt.date | None = None,
    summary: bool = False,
    **params: Any,
) -> dict[str, list[Any]]:
    """Run a query through SearchStream and return its SELECT fields as column lists.

    ``summary``: ask for Google's summary row (``SUMMARY_ROW_WITH_RESULTS``: the totals, in a
    last response of their own) and check the rows against it. A stream can end with an OK
    status after a partial answer; its rows then add up to less than the summary says, and
    :class:`AdsIncompleteStream` (retryable) is raised instead of returning them.
    """
    fields = query.fields
    readers = [_column_reader(f) for f in fields]
    columns: list[list[Any]] = [[] for _ in fields]
    summary_row = None
    for batch in _stream(
        client,
        creds,
        customer_id=customer_id,
        text=query.render(**params),
        as_of=as_of,
        summary=summary,
    ):
        results = batch.results
        for col, read in zip(columns, readers, strict=True):
            col.extend(map(read, results))
        if summary and batch.HasField("summary_row"):
            summary_row = batch.summary_row
    out = dict(zip(fields, columns, strict=True))
    if summary:
        _check_totals(query, params, out, summary_row)
    return out


def _check_totals(
    query: GaqlQuery, params: dict[str, Any], cols: dict[str, list[Any]], summary_row: Any
) -> None:
    where = f"query {query.name} {params or ''}".rstrip()
    if summary_row is None:
        raise AdsIncompleteStream(
            f"{where}: the stream ended without the summary row it was asked for "
            f"({len(next(iter(cols.values()), []))} rows received)"
        )
    for f in CHECKED_TOTALS:
        if f not in cols:
            continue
        expected = _column_reader(f)(summary_row)
        got = sum(cols[f])
        # int64 totals: equal modulo 2^64 is complete (a row near 2^63, which the screen
        # holds as implausible, wraps a server's sum); a lost batch never is a multiple of it
        if (got - expected) % 2**64:
            raise AdsIncompleteStream(
                f"{where}: the stream ended OK but its {len(cols[f])} rows' {f} add up to "
                f"{got}, the summary row says {expected}: a partial answer"
            )


def _stream(
    client: Any,
    creds: AdsCredentials,
    *,
    customer_id: int | str,
    text: str,
    as_of: dt.date | None,
    summary: bool = False,
) -> Iterator[Any]:
    service = google_ads_service(client)
    metadata: list[tuple[str, str]] = []
    if creds.sandbox_clock and as_of is not None:
        metadata.append((CLOCK_HEADER, as_of.isoformat()))
    from google.ads.googleads.errors import GoogleAdsException
    from google.api_core.exceptions import GoogleAPICallError

    request: dict[str, Any] = {"customer_id": str(customer_id), "query": text}
    if summary:
        request["summary_row_setting"] = SUMMARY_ROW_WITH_RESULTS
    try:
        yield from service.search_stream(request=request, metadata=metadata)
    except (GoogleAdsException, grpc.RpcError, GoogleAPICallError) as exc:
        raise classify(exc) from exc
