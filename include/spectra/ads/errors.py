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


class AdsRateLimited(AdsRetryableError):
    """A quota error; ``retry_delay`` is Google's own hint when it sent one."""

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
            if elem.field_name == "operations" and elem.HasField("index"):
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


def classify(exc: BaseException) -> AdsError:
    """Turn a client exception into one of our error classes (never loses the request id)."""
    from google.ads.googleads.errors import GoogleAdsException

    if isinstance(exc, AdsError):
        return exc
    if isinstance(exc, GoogleAdsException):
        details = failure_details(exc.failure)
        codes = tuple(f"{d.category}.{d.code}" for d in details)
        message = "; ".join(f"{d.category}.{d.code}: {d.message}" for d in details) or str(exc)
        rid = exc.request_id
        if any(d.category == "quota_error" for d in details):
            delay = next((d.retry_delay for d in details if d.retry_delay is not None), None)
            return AdsRateLimited(message, retry_delay=delay, request_id=rid, codes=codes)
        if any(d.category == "query_error" for d in details):
            return AdsQueryError(message, request_id=rid, codes=codes)
        if any(d.category in ("authentication_error", "authorization_error") for d in details):
            return AdsAuthError(message, request_id=rid, codes=codes)
        if any(d.category == "internal_error" for d in details):
            return AdsUnavailable(message, request_id=rid, codes=codes)
        return AdsRequestError(message, request_id=rid, codes=codes)
    if isinstance(exc, grpc.RpcError):
        code = exc.code() if hasattr(exc, "code") else None
        detail = exc.details() if hasattr(exc, "details") else str(exc)
        rid = None
        if hasattr(exc, "trailing_metadata"):
            for key, value in exc.trailing_metadata() or ():
                if key == "request-id":
                    rid = value
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
