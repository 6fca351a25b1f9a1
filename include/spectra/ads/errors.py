"""Google Ads errors split into what a retry can fix and what it cannot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc


class AdsError(Exception):
    """Base class; ``request_id`` is Google's id for the failed call (log it, quote it to support)."""

    retryable = False

    def __init__(self, message: str, *, request_id: str | None = None, codes: tuple[str, ...] = ()):
        super().__init__(message)
        self.request_id = request_id
        self.codes = codes


class AdsRetryableError(AdsError):
    retryable = True


class AdsUnavailable(AdsRetryableError):
    """UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL or a stream cut mid-way: try again later."""


class AdsIncompleteStream(AdsRetryableError):
    """A stream that ended OK with less than the whole answer: the rows' totals disagree with
    the summary row Google sent last (or the summary row is missing). Asking again helps."""


class AdsRateLimited(AdsRetryableError):
    """A quota error; ``retry_delay`` is Google's own hint when it sent one."""

    def __init__(self, message: str, *, retry_delay: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_delay = retry_delay


class AdsConcurrentModification(AdsRetryableError):
    """database_error.CONCURRENT_MODIFICATION: another request changed the resource; retry."""


class AdsQuotaExhausted(AdsError):
    """quota_error.RESOURCE_EXHAUSTED: the daily operations cap. Not retryable: a retry fails
    the same way until Google's 24-hour window slides (``retry_delay`` when Google said)."""

    def __init__(self, message: str, *, retry_delay: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_delay = retry_delay


class AdsQueryError(AdsError):
    """The query or request is wrong; retrying the same thing fails the same way."""


class AdsAuthError(AdsError):
    """Authentication or authorization failed (token, developer token, customer access)."""


class AdsRequestError(AdsError):
    """Any other permanent error Google reported (e.g. a mutate that violates a rule)."""


@dataclass(frozen=True)
class FailureDetail:
    category: str
    code: str
    message: str
    operation_index: int | None
    retry_delay: float | None


# Per-operation error codes (partial failure) that a later attempt can get past.
TRANSIENT_CODES = frozenset(
    {
        "database_error.CONCURRENT_MODIFICATION",
        "internal_error.INTERNAL_ERROR",
        "internal_error.TRANSIENT_ERROR",
        "internal_error.DEADLINE_EXCEEDED",
        "quota_error.RESOURCE_TEMPORARILY_EXHAUSTED",
    }
)
DAILY_QUOTA_CODE = "quota_error.RESOURCE_EXHAUSTED"


def is_transient(detail: FailureDetail) -> bool:
    """Whether a per-operation error (e.g. from ``partial_failure_error``) is worth retrying."""
    return f"{detail.category}.{detail.code}" in TRANSIENT_CODES


def failure_from_metadata(metadata: Any) -> Any | None:
    """The GoogleAdsFailure in a call's trailing metadata, if any (raw protobuf).

    The client raises a plain ``RpcError`` for RESOURCE_EXHAUSTED and INTERNAL even when Google
    attached a failure (quota errors, with their ``retry_delay``): read it from the metadata.
    """
    for key, value in metadata or ():
        if str(key).endswith("googleadsfailure-bin") and isinstance(value, bytes):
            from google.ads.googleads.v26.errors.types import errors as errors_types

            return errors_types.GoogleAdsFailure.pb().FromString(value)
    return None


def failure_details(failure: Any) -> list[FailureDetail]:
    """Read GoogleAdsFailure errors from either a proto-plus or a raw protobuf object."""
    pb = failure._pb if hasattr(failure, "_pb") else failure
    out = []
    for err in pb.errors:
        category = err.error_code.WhichOneof("error_code") or "unknown"
        number = getattr(err.error_code, category) if category != "unknown" else 0
        enum_type = (
            err.error_code.DESCRIPTOR.fields_by_name[category].enum_type
            if category != "unknown"
            else None
        )
        code = enum_type.values_by_number[number].name if enum_type else str(number)
        index = None
        for elem in err.location.field_path_elements:
            if elem.field_name in ("operations", "mutate_operations") and elem.HasField("index"):
                index = elem.index
                break
        delay = None
        if err.details.HasField("quota_error_details"):
            rd = err.details.quota_error_details.retry_delay
            delay = rd.seconds + rd.nanos / 1e9
        out.append(FailureDetail(category, code, err.message, index, delay))
    return out


_RETRYABLE_STATUS = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.UNKNOWN,
}


def _from_details(details: list[FailureDetail], rid: str | None, fallback: str) -> AdsError:
    codes = tuple(f"{d.category}.{d.code}" for d in details)
    message = "; ".join(f"{d.category}.{d.code}: {d.message}" for d in details) or fallback
    delay = next((d.retry_delay for d in details if d.retry_delay is not None), None)
    if DAILY_QUOTA_CODE in codes:
        return AdsQuotaExhausted(message, retry_delay=delay, request_id=rid, codes=codes)
    if any(d.category == "quota_error" for d in details):
        return AdsRateLimited(message, retry_delay=delay, request_id=rid, codes=codes)
    if any(d.category == "query_error" for d in details):
        return AdsQueryError(message, request_id=rid, codes=codes)
    if any(d.category in ("authentication_error", "authorization_error") for d in details):
        return AdsAuthError(message, request_id=rid, codes=codes)
    if any(d.category == "internal_error" for d in details):
        return AdsUnavailable(message, request_id=rid, codes=codes)
    if codes and all(c == "database_error.CONCURRENT_MODIFICATION" for c in codes):
        return AdsConcurrentModification(message, request_id=rid, codes=codes)
    return AdsRequestError(message, request_id=rid, codes=codes)


def classify(exc: BaseException) -> AdsError:
    """Turn a client exception into one of our error classes (never loses the request id)."""
    from google.ads.googleads.errors import GoogleAdsException

    if isinstance(exc, AdsError):
        return exc
    if isinstance(exc, GoogleAdsException):
        return _from_details(failure_details(exc.failure), exc.request_id, str(exc))
    if isinstance(exc, grpc.RpcError):
        trailing = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
        failure = failure_from_metadata(trailing)
        rid = next((v for k, v in trailing or () if k == "request-id"), None)
        if failure is not None and failure.errors:
            return _from_details(failure_details(failure), rid, str(exc))
        code = exc.code() if hasattr(exc, "code") else None
        detail = exc.details() if hasattr(exc, "details") else str(exc)
        name = code.name if code is not None else "UNKNOWN"
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return AdsRateLimited(f"{name}: {detail}", request_id=rid, codes=(name,))
        if code in _RETRYABLE_STATUS:
            return AdsUnavailable(f"{name}: {detail}", request_id=rid, codes=(name,))
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return AdsAuthError(f"{name}: {detail}", request_id=rid, codes=(name,))
        return AdsRequestError(f"{name}: {detail}", request_id=rid, codes=(name,))
    from google.api_core import exceptions as core

    if isinstance(exc, core.GoogleAPICallError):
        # a streaming call (SearchStream) fails as api_core's error wrapping the RpcError, whose
        # trailing metadata still carry Google's failure: the daily quota must not read as a
        # retryable rate limit
        call = exc.response if isinstance(exc.response, grpc.RpcError) else None
        trailing = call.trailing_metadata() if call is not None else None
        failure = failure_from_metadata(trailing)
        if failure is not None and failure.errors:
            rid = next((v for k, v in trailing or () if k == "request-id"), None)
            return _from_details(failure_details(failure), rid, str(exc))
        status = exc.grpc_status_code
        name = status.name if status is not None else type(exc).__name__
        if status == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return AdsRateLimited(f"{name}: {exc.message}", codes=(name,))
        if status in _RETRYABLE_STATUS or status == grpc.StatusCode.CANCELLED:
            return AdsUnavailable(f"{name}: {exc.message}", codes=(name,))
        if status in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return AdsAuthError(f"{name}: {exc.message}", codes=(name,))
        return AdsRequestError(f"{name}: {exc.message}", codes=(name,))
    raise TypeError(f"not a Google Ads client error: {exc!r}") from exc
