"""GoogleAdsFailure errors as Google sends them, for the sandbox's gRPC handlers.

The real client raises ``GoogleAdsException`` only when the trailing metadata carries a
serialized ``GoogleAdsFailure`` under ``google.ads.googleads.<version>.errors.googleadsfailure-bin``
and the status is not INTERNAL or RESOURCE_EXHAUSTED; those two surface as a plain ``RpcError``,
exactly like Google's quota and internal errors. Handlers raise :class:`AdsFault`; the server turns
it into that wire shape, so nothing the sandbox rejects ever crashes it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.ads.googleads.v26.errors.types import errors as errors_types

API_VERSION = "v26"
FAILURE_KEY = f"google.ads.googleads.{API_VERSION}.errors.googleadsfailure-bin"

_FAILURE_PB = errors_types.GoogleAdsFailure.pb()
_ERROR_CODE_FIELDS = (
    _FAILURE_PB.DESCRIPTOR.fields_by_name["errors"]
    .message_type.fields_by_name["error_code"]
    .message_type.fields_by_name
)


@dataclass(frozen=True)
class ErrorDetail:
    """One GoogleAdsError: ``category`` is the ErrorCode oneof (e.g. ``query_error``)."""

    category: str
    code: str
    message: str
    operation_index: int | None = None
    trigger: str | None = None
    field_path: tuple[str, ...] = ()


@dataclass
class AdsFault(Exception):
    """Abort the current RPC with a GoogleAdsFailure (or, for quota/internal, a bare status)."""

    status: grpc.StatusCode
    details: list[ErrorDetail] = field(default_factory=list)
    retry_delay_seconds: float | None = None

    def __str__(self) -> str:
        return "; ".join(f"{d.category}.{d.code}: {d.message}" for d in self.details) or str(
            self.status
        )


def query_error(code: str, message: str, *, trigger: str | None = None) -> AdsFault:
    return AdsFault(
        grpc.StatusCode.INVALID_ARGUMENT,
        [ErrorDetail("query_error", code, message, trigger=trigger)],
    )


def change_event_error(code: str, message: str) -> AdsFault:
    """A ChangeEventError (LIMIT_NOT_SPECIFIED, START_DATE_TOO_OLD, ...): what Google sends for
    a change_event query outside its rules."""
    return AdsFault(
        grpc.StatusCode.INVALID_ARGUMENT, [ErrorDetail("change_event_error", code, message)]
    )


def enum_number(category: str, code: str) -> int:
    """Map ('query_error', 'UNRECOGNIZED_FIELD') to the enum number of that error code."""
    if category not in _ERROR_CODE_FIELDS:
        raise KeyError(f"unknown error category {category!r}")
    enum_type = _ERROR_CODE_FIELDS[category].enum_type
    value = enum_type.values_by_name.get(code)
    if value is None:
        raise KeyError(f"unknown {category} code {code!r}")
    return value.number


def failure_bytes(details: list[ErrorDetail], *, retry_delay_seconds: float | None = None) -> bytes:
    failure: Any = _FAILURE_PB()
    for detail in details:
        err = failure.errors.add()
        setattr(err.error_code, detail.category, enum_number(detail.category, detail.code))
        err.message = detail.message
        if detail.trigger is not None:
            err.trigger.string_value = detail.trigger
        if detail.operation_index is not None:
            elem = err.location.field_path_elements.add()
            elem.field_name = "operations"
            elem.index = detail.operation_index
        for name in detail.field_path:
            err.location.field_path_elements.add().field_name = name
        if retry_delay_seconds is not None and detail.category == "quota_error":
            seconds = int(retry_delay_seconds)
            err.details.quota_error_details.retry_delay.seconds = seconds
            err.details.quota_error_details.retry_delay.nanos = int(
                (retry_delay_seconds - seconds) * 1e9
            )
    return failure.SerializeToString()


def new_request_id() -> str:
    return uuid.uuid4().hex[:22]


def abort(context: grpc.ServicerContext, fault: AdsFault, request_id: str) -> None:
    """Send the fault the way Google does; never returns."""
    metadata: list[tuple[str, str | bytes]] = [("request-id", request_id)]
    if fault.details:
        metadata.append(
            (
                FAILURE_KEY,
                failure_bytes(fault.details, retry_delay_seconds=fault.retry_delay_seconds),
            )
        )
    context.set_trailing_metadata(tuple(metadata))
    context.abort(fault.status, str(fault))
