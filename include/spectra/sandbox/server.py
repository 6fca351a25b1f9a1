"""The sandbox: the Google Ads API (v26) served over real gRPC + TLS from a simulated market.

The ``google-ads`` package ships message types but no servers, so this registers generic handlers
for ``google.ads.googleads.v26.services.*`` methods that (de)serialise the package's own request
and response types. Our code (and anyone's) talks to it with the real ``GoogleAdsClient``.

The sandbox clock: a request's ``x-spectra-sandbox-as-of`` metadata says when "now" is for that
call, so backfills and replays see exactly what Google would have shown then. It is a UTC
instant (ISO 8601 with an offset): each account's days are its own time zone's, and its
today is served partial until the day has ended there plus Google's reporting delay
(spectra.sandbox.market.Market.account_clock). A bare date (YYYY-MM-DD) is the older,
coarser clock: that day has begun in every account and nothing of it is reported yet.
Without the header the server's own clock (``SandboxServer.clock``) applies.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
from google.ads.googleads.v26.services.types import customer_service, google_ads_service

from spectra.sandbox import engine, gaql, resources
from spectra.sandbox.errors import AdsFault, ErrorDetail, abort, new_request_id, query_error
from spectra.sandbox.tls import TlsFiles, ensure_tls

log = logging.getLogger(__name__)

SERVICE_PREFIX = "google.ads.googleads.v26.services"
CLOCK_HEADER = "x-spectra-sandbox-as-of"
STREAM_BATCH_ROWS = 10_000  # Google's SearchStream batch size
# SummaryRowSettingEnum: the summary row after the results, or alone
SUMMARY_ROW_WITH_RESULTS, SUMMARY_ROW_ONLY = 3, 4
# Metrics whose summary is their sum (engine.SUMMED); Google aggregates rates and shares
# otherwise, the sandbox leaves those unset in the summary row.
ADDITIVE_METRICS = frozenset(engine.SUMMED)
SEARCH_PAGE_ROWS = 10_000  # Google's fixed Search page size

SERVED_RESOURCES = frozenset(
    {
        "customer",
        "campaign",
        "campaign_budget",
        "ad_group",
        "ad_group_criterion",
        "keyword_view",
        "ad_group_ad",
        "search_term_view",
        "campaign_criterion",
        "change_event",
        "change_status",
        "customer_client",
        "conversion_action",
        "bidding_strategy",
        "geographic_view",
        "asset",
        "campaign_asset",
    }
)


class MarketLike(Protocol):
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


Hook = Callable[[str, grpc.ServicerContext], None]


@dataclass
class SandboxState:
    """What every handler shares: the market, the clock and the fault-injection hooks."""

    market: MarketLike
    clock: dt.date
    before_call: list[Hook] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    calls: dict[str, int] = field(default_factory=dict)
    _cache: OrderedDict[tuple[Any, ...], list[bytes]] = field(default_factory=OrderedDict)
    cache_entries: int = 32  # > the number of queries one ingest runs, or the LRU thrashes

    def as_of(self, context: grpc.ServicerContext) -> dt.date | dt.datetime:
        """The request's clock: a UTC instant, or a bare date (see the module docstring)."""
        for key, value in context.invocation_metadata():
            if key == CLOCK_HEADER:
                try:
                    text = str(value)
                    if len(text) <= 10:
                        return dt.date.fromisoformat(text)
                    instant = dt.datetime.fromisoformat(text)
                    return instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)
                except ValueError:
                    raise AdsFault(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        [ErrorDetail("request_error", "BAD_RESOURCE_ID", f"bad {CLOCK_HEADER}")],
                    ) from None
        return self.clock

    def enter(self, method: str, context: grpc.ServicerContext) -> None:
        """Common checks at the start of every RPC: auth headers, then injected faults."""
        with self.lock:
            self.calls[method] = self.calls.get(method, 0) + 1
        metadata = dict(context.invocation_metadata())
        if not str(metadata.get("authorization", "")).startswith("Bearer "):
            raise AdsFault(
                grpc.StatusCode.UNAUTHENTICATED,
                [ErrorDetail("authentication_error", "OAUTH_TOKEN_INVALID", "missing OAuth token")],
            )
        if not str(metadata.get("developer-token", "")).strip():
            raise AdsFault(
                grpc.StatusCode.UNAUTHENTICATED,
                [
                    ErrorDetail(
                        "authentication_error",
                        "DEVELOPER_TOKEN_INVALID",
                        "missing developer-token header",
                    )
                ],
            )
        for hook in self.before_call:
            hook(method, context)

    def check_query_customer(self, customer_id: str) -> int:
        """Like :meth:`check_customer`, but the manager account may be queried too."""
        if customer_id.strip() == str(resources.MANAGER_CUSTOMER_ID):
            return resources.MANAGER_CUSTOMER_ID
        return self.check_customer(customer_id)

    def check_customer(self, customer_id: str) -> int:
        try:
            cid = int(customer_id)
        except ValueError:
            raise AdsFault(
                grpc.StatusCode.INVALID_ARGUMENT,
                [
                    ErrorDetail(
                        "request_error", "INVALID_CUSTOMER_ID", f"bad customer id {customer_id!r}"
                    )
                ],
            ) from None
        if cid not in self.market.customer_ids():
            raise AdsFault(
                grpc.StatusCode.PERMISSION_DENIED,
                [
                    ErrorDetail(
                        "authorization_error",
                        "USER_PERMISSION_DENIED",
                        f"the caller does not have permission to access customer {cid}",
                    )
                ],
            )
        return cid

    def invalidate(self) -> None:
        """Drop cached query results (a mutation changed the market)."""
        with self.lock:
            self._cache.clear()

    def query_batches(
        self,
        customer_id: int,
        text: str,
        as_of: dt.date | dt.datetime,
        batch_rows: int,
        summary_row: int = 0,
    ) -> list[bytes]:
        """Run a query and return serialized SearchGoogleAdsStreamResponse batches (cached).

        ``summary_row`` is the request's ``summary_row_setting``: with results (3), the totals
        of the selected additive metrics follow in a last batch of their own, as Google
        sends them; only (4), that batch alone.
        """
        # The market's version changes with every accepted mutation, however it was made.
        key = (
            customer_id, text, as_of, batch_rows, summary_row, getattr(self.market, "version", 0)
        )  # fmt: skip
        with self.lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        query = gaql.parse(text, known_resources=SERVED_RESOURCES)
        rows = run_query(self.market, query, customer_id=customer_id, as_of=as_of)
        builder = gaql.RowBuilder(query.fields)
        response_pb = google_ads_service.SearchGoogleAdsStreamResponse.pb()
        out: list[bytes] = []
        request_id = new_request_id()
        chunks = gaql.batches(rows, batch_rows) if rows else [[]]
        for chunk in chunks if summary_row != SUMMARY_ROW_ONLY else []:
            resp = response_pb()
            resp.field_mask.paths.extend(query.fields)
            resp.request_id = request_id
            for values in chunk:
                builder.fill(resp.results.add(), values)
            out.append(resp.SerializeToString())
        if summary_row in (SUMMARY_ROW_WITH_RESULTS, SUMMARY_ROW_ONLY):
            additive = [f for f in query.fields if f in ADDITIVE_METRICS]
            resp = response_pb()
            resp.field_mask.paths.extend(query.fields)
            resp.request_id = request_id
            totals = {f: _int64(sum(r.get(f) or 0 for r in rows)) for f in additive}
            gaql.RowBuilder(tuple(additive)).fill(resp.summary_row, totals)
            out.append(resp.SerializeToString())
        with self.lock:
            self._cache[key] = out
            while len(self._cache) > self.cache_entries:
                self._cache.popitem(last=False)
        return out


def _int64(total: Any) -> Any:
    """An integer total as an int64 sum wraps (a served fault may hold values near 2^63)."""
    if isinstance(total, int):
        return (total + 2**63) % 2**64 - 2**63
    return total


def local_day(market: Any, customer_id: int, as_of: dt.date | dt.datetime) -> dt.date:
    """The account's "today" on the clock (a bare date is everyone's today)."""
    if not isinstance(as_of, dt.datetime):
        return as_of
    today = getattr(market, "account_today", None)
    return today(customer_id, as_of) if today is not None else as_of.date()


def run_query(
    market: MarketLike, query: gaql.Query, *, customer_id: int, as_of: dt.date | dt.datetime
) -> list[Mapping[str, Any]]:
    """Answer a parsed query from the market in Google's order (see :mod:`.engine`).

    Dates (literals, ``DURING`` ranges) are the account's own days; the market's daily rows
    get the clock itself (an instant serves today partial, spectra.sandbox.market)."""
    try:
        return engine.run(
            market, query, customer_id=customer_id,
            as_of=local_day(market, customer_id, as_of), clock=as_of,
        )  # fmt: skip
    except KeyError as exc:
        raise query_error(
            "PROHIBITED_RESOURCE_TYPE_IN_FROM_CLAUSE", f"sandbox cannot serve {exc}"
        ) from None


def _guard(
    state: SandboxState, method: str, context: grpc.ServicerContext, request_id: str
) -> Callable[..., Any]:
    """Wrap handler bodies: AdsFault → Google's error wire shape; anything else → INTERNAL."""

    def run(fn: Callable[[], Any]) -> Any:
        try:
            state.enter(method, context)
            return fn()
        except AdsFault as fault:
            abort(context, fault, request_id)
        except Exception:  # a sandbox bug must look like Google's INTERNAL, not kill the server
            log.exception("sandbox handler %s failed", method)
            abort(context, AdsFault(grpc.StatusCode.INTERNAL, []), request_id)

    return run


def _search_stream(state: SandboxState) -> Callable[[Any, grpc.ServicerContext], Iterator[bytes]]:
    def handler(request: Any, context: grpc.ServicerContext) -> Iterator[bytes]:
        request_id = new_request_id()
        context.send_initial_metadata((("request-id", request_id),))
        guard = _guard(state, "GoogleAdsService/SearchStream", context, request_id)
        batches: list[bytes] = guard(
            lambda: state.query_batches(
                state.check_query_customer(request.customer_id),
                request.query,
                state.as_of(context),
                STREAM_BATCH_ROWS,
                int(request.summary_row_setting),
            )
        )
        yield from batches

    return handler


def _search(state: SandboxState) -> Callable[[Any, grpc.ServicerContext], bytes]:
    def handler(request: Any, context: grpc.ServicerContext) -> bytes:
        request_id = new_request_id()
        context.send_initial_metadata((("request-id", request_id),))
        guard = _guard(state, "GoogleAdsService/Search", context, request_id)

        def body() -> bytes:
            if request.page_size:
                raise AdsFault(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    [
                        ErrorDetail(
                            "request_error", "PAGE_SIZE_NOT_SUPPORTED", "page_size is not supported"
                        )
                    ],
                )
            cid = state.check_query_customer(request.customer_id)
            as_of = state.as_of(context)
            query = gaql.parse(request.query, known_resources=SERVED_RESOURCES)
            rows = run_query(state.market, query, customer_id=cid, as_of=as_of)
            offset = 0
            if request.page_token:
                try:
                    offset = int(request.page_token)
                except ValueError:
                    raise AdsFault(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        [ErrorDetail("request_error", "INVALID_PAGE_TOKEN", "bad page token")],
                    ) from None
            page = rows[offset : offset + SEARCH_PAGE_ROWS]
            resp = google_ads_service.SearchGoogleAdsResponse.pb()()
            resp.field_mask.paths.extend(query.fields)
            builder = gaql.RowBuilder(query.fields)
            for values in page:
                builder.fill(resp.results.add(), values)
            if offset + SEARCH_PAGE_ROWS < len(rows):
                resp.next_page_token = str(offset + SEARCH_PAGE_ROWS)
            if request.search_settings.return_total_results_count:
                resp.total_results_count = len(rows)
            return resp.SerializeToString()

        return guard(body)

    return handler


def _list_accessible_customers(state: SandboxState) -> Callable[[Any, grpc.ServicerContext], bytes]:
    def handler(request: Any, context: grpc.ServicerContext) -> bytes:
        request_id = new_request_id()
        guard = _guard(state, "CustomerService/ListAccessibleCustomers", context, request_id)

        def body() -> bytes:
            resp = customer_service.ListAccessibleCustomersResponse.pb()()
            resp.resource_names.extend(f"customers/{c}" for c in state.market.customer_ids())
            return resp.SerializeToString()

        return guard(body)

    return handler


def _identity(data: bytes) -> bytes:
    return data


def core_handlers(state: SandboxState) -> list[grpc.GenericRpcHandler]:
    gas = google_ads_service
    return [
        grpc.method_handlers_generic_handler(
            f"{SERVICE_PREFIX}.GoogleAdsService",
            {
                "SearchStream": grpc.unary_stream_rpc_method_handler(
                    _search_stream(state),
                    request_deserializer=gas.SearchGoogleAdsStreamRequest.pb().FromString,
                    response_serializer=_identity,
                ),
                "Search": grpc.unary_unary_rpc_method_handler(
                    _search(state),
                    request_deserializer=gas.SearchGoogleAdsRequest.pb().FromString,
                    response_serializer=_identity,
                ),
            },
        ),
        grpc.method_handlers_generic_handler(
            f"{SERVICE_PREFIX}.CustomerService",
            {
                "ListAccessibleCustomers": grpc.unary_unary_rpc_method_handler(
                    _list_accessible_customers(state),
                    request_deserializer=customer_service.ListAccessibleCustomersRequest.pb().FromString,
                    response_serializer=_identity,
                )
            },
        ),
    ]


HandlerFactory = Callable[[SandboxState], Sequence[grpc.GenericRpcHandler]]


def extension_handlers(state: SandboxState) -> list[grpc.GenericRpcHandler]:
    """Handlers contributed by other sandbox modules (mutate services), when present."""
    handlers: list[grpc.GenericRpcHandler] = []
    try:
        from spectra.sandbox import mutate
    except ImportError:
        return handlers
    factory: HandlerFactory | None = getattr(mutate, "handlers", None)
    if factory is not None:
        handlers.extend(factory(state))
    return handlers


class SandboxServer:
    """A running sandbox. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        market: MarketLike,
        *,
        clock: dt.date | None = None,
        host: str = "localhost",
        port: int = 0,
        tls: TlsFiles | None = None,
        max_workers: int = 8,
    ) -> None:
        self.state = SandboxState(market=market, clock=clock or dt.datetime.now(dt.UTC).date())
        self.tls = tls or ensure_tls()
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers),
            options=[
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ],
        )
        self._server.add_generic_rpc_handlers(
            tuple(core_handlers(self.state) + extension_handlers(self.state))
        )
        creds = grpc.ssl_server_credentials(
            [(self.tls.server_key.read_bytes(), self.tls.server_cert.read_bytes())]
        )
        self.host = host
        self.port = self._server.add_secure_port(f"{host}:{port}", creds)
        if self.port == 0:
            raise RuntimeError(f"sandbox could not bind {host}:{port}")

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ca_cert(self) -> Path:
        return self.tls.ca_cert

    def start(self) -> SandboxServer:
        self._server.start()
        log.info("sandbox serving Google Ads API v26 on %s (TLS)", self.endpoint)
        return self

    def stop(self, grace: float | None = 0.5) -> None:
        self._server.stop(grace).wait()

    def wait(self) -> None:
        self._server.wait_for_termination()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
