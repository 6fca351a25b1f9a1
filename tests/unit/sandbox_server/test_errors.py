"""GoogleAdsFailure bytes the sandbox sends decode with the real package's types."""

from __future__ import annotations

from google.ads.googleads.v26.errors.types import errors as errors_types

from spectra.ads.errors import failure_details
from spectra.sandbox.errors import ErrorDetail, failure_bytes


def test_failure_round_trip_with_operation_index_and_retry_delay() -> None:
    raw = failure_bytes(
        [
            ErrorDetail(
                "campaign_budget_error",
                "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT",
                "bad",
                operation_index=2,
            ),
            ErrorDetail("quota_error", "RESOURCE_TEMPORARILY_EXHAUSTED", "slow down"),
        ],
        retry_delay_seconds=2.5,
    )
    failure = errors_types.GoogleAdsFailure.deserialize(raw)
    details = failure_details(failure)
    assert [(d.category, d.code) for d in details] == [
        ("campaign_budget_error", "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"),
        ("quota_error", "RESOURCE_TEMPORARILY_EXHAUSTED"),
    ]
    assert details[0].operation_index == 2
    assert details[1].retry_delay == 2.5
    # the raw protobuf form reads the same
    assert failure_details(errors_types.GoogleAdsFailure.pb().FromString(raw)) == details
