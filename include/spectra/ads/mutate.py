"""Mutations through ``GoogleAdsService.Mutate``: absolute targets with an ``update_mask``, one
request per batch (at most 10,000 operations), ``partial_failure`` so one bad operation does not
sink the rest, and Google's ``request_id`` kept for every request.

The call is made on the client's own transport (``with_call``) so the response's initial
metadata, where the ``request-id`` travels, is readable on success too; the client's
interceptors (auth, developer token, error translation) still run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spectra.ads.client import AdsCredentials, google_ads_service
from spectra.ads.entities import CampaignRead, entity_section_key
from spectra.ads.errors import FailureDetail, classify, failure_details
from spectra.ads.stream import CLOCK_HEADER
from spectra.domain.changes import ApprovedChange, EntityKind

MAX_OPERATIONS = 10_000
# Google Ads API Basic Access: 15,000 operations per developer token and day
# (developers.google.com/google-ads/api/docs/access-levels)
BASIC_ACCESS_OPERATIONS_PER_DAY = 15_000
DEFAULT_TIMEOUT_S = 60.0


class UnbuildableChange(ValueError):
    """The change cannot be turned into an operation (e.g. the entity does not exist)."""


@dataclass(frozen=True)
class OperationResult:
    index: int
    resource_name: str | None
    errors: tuple[FailureDetail, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class MutateOutcome:
    request_id: str | None
    results: tuple[OperationResult, ...]


# change field -> {bidding strategy type: (Campaign bidding-strategy member, its target field)}
_TARGET_MEMBERS: dict[str, dict[str, tuple[str, str]]] = {
    "target_cpa_micros": {
        "TARGET_CPA": ("target_cpa", "target_cpa_micros"),
        "MAXIMIZE_CONVERSIONS": ("maximize_conversions", "target_cpa_micros"),
    },
    "target_roas_micros": {
        "TARGET_ROAS": ("target_roas", "target_roas"),
        "MAXIMIZE_CONVERSION_VALUE": ("maximize_conversion_value", "target_roas"),
    },
}


def _rn(customer_id: int, collection: str, *ids: Any) -> str:
    return f"customers/{customer_id}/{collection}/" + "~".join(str(i) for i in ids)


def _enum(client: Any, enum: str, name: Any) -> Any:
    return getattr(getattr(client.enums, enum), str(name))


def build_operation(client: Any, change: ApprovedChange, read: CampaignRead) -> Any:
    """The ``MutateOperation`` that sets ``change``'s field to its target (raw protobuf)."""
    ref, cid = change.entity, change.customer_id
    mop = client.get_type("MutateOperation")
    target = change.target
    if ref.kind == EntityKind.CAMPAIGN:
        if change.field == "budget_micros":
            op = mop.campaign_budget_operation
            op.update.resource_name = read.budget_resource_name
            op.update.amount_micros = int(target)
            op.update_mask.paths.append("amount_micros")
            return mop
        op = mop.campaign_operation
        op.update.resource_name = _rn(cid, "campaigns", ref.campaign_id)
        if change.field == "status":
            op.update.status = _enum(client, "CampaignStatusEnum", target)
            op.update_mask.paths.append("status")
            return mop
        # a Smart Bidding target: set inside the bidding-strategy member the campaign uses
        # (setting another member would switch its strategy and restart its learning)
        strategy = str(read.snapshot["campaign"].get("bidding_strategy_type"))
        path = _TARGET_MEMBERS[change.field].get(strategy)
        if path is None:
            raise UnbuildableChange(
                f"campaign {ref.campaign_id} bids with {strategy}: it has no {change.field} "
                "to set (a strategy change is not a target change)"
            )
        member, leaf = path
        sub = getattr(op.update, member)
        if change.field == "target_roas_micros":
            setattr(sub, leaf, int(target) / 1_000_000)  # Google takes the ratio (a double)
        else:
            setattr(sub, leaf, int(target))
        op.update_mask.paths.append(f"{member}.{leaf}")
        return mop
    if ref.kind == EntityKind.AD_GROUP:
        op = mop.ad_group_operation
        op.update.resource_name = _rn(cid, "adGroups", ref.ad_group_id)
        if change.field == "status":
            op.update.status = _enum(client, "AdGroupStatusEnum", target)
        else:
            op.update.cpc_bid_micros = int(target)
        op.update_mask.paths.append(change.field)
        return mop
    if ref.kind == EntityKind.KEYWORD:
        op = mop.ad_group_criterion_operation
        op.update.resource_name = _rn(cid, "adGroupCriteria", ref.ad_group_id, ref.criterion_id)
        if change.field == "status":
            op.update.status = _enum(client, "AdGroupCriterionStatusEnum", target)
        else:
            op.update.cpc_bid_micros = int(target)
        op.update_mask.paths.append(change.field)
        return mop
    if ref.kind == EntityKind.AD:
        op = mop.ad_group_ad_operation
        op.update.resource_name = _rn(cid, "adGroupAds", ref.ad_group_id, ref.ad_id)
        op.update.status = _enum(client, "AdGroupAdStatusEnum", target)
        op.update_mask.paths.append("status")
        return mop
    # a campaign-level negative keyword: present (create) or absent (remove)
    op = mop.campaign_criterion_operation
    if target == "ENABLED":
        op.create.campaign = _rn(cid, "campaigns", ref.campaign_id)
        op.create.negative = True
        op.create.keyword.text = str(ref.text)
        op.create.keyword.match_type = _enum(client, "KeywordMatchTypeEnum", ref.match_type)
        return mop
    criterion_id = read.negative_ids.get(entity_section_key(ref))
    if criterion_id is None:
        raise UnbuildableChange(f"no negative keyword {entity_section_key(ref)} to remove")
    op.remove = _rn(cid, "campaignCriteria", ref.campaign_id, criterion_id)
    return mop


def _operation_index(detail: FailureDetail) -> int | None:
    return detail.operation_index


def mutate(
    client: Any,
    creds: AdsCredentials,
    *,
    customer_id: int,
    operations: Sequence[Any],
    validate_only: bool = False,
    partial_failure: bool = True,
    as_of: dt.date | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> MutateOutcome:
    """Send one ``GoogleAdsService.Mutate``; per-operation errors come back in the outcome.

    A whole-request failure raises one of ``spectra.ads.errors`` (classified). A retryable one
    (UNAVAILABLE, a lost response) means *unknown*: the operations may have been applied.
    """
    if not operations:
        return MutateOutcome(None, ())
    if len(operations) > MAX_OPERATIONS:
        raise ValueError(f"{len(operations)} operations; at most {MAX_OPERATIONS} per request")
    service = google_ads_service(client)
    request = client.get_type("MutateGoogleAdsRequest")
    request.customer_id = str(customer_id)
    request.partial_failure = partial_failure
    request.validate_only = validate_only
    request.mutate_operations.extend(operations)
    metadata: list[tuple[str, str]] = []
    if creds.sandbox_clock and as_of is not None:
        metadata.append((CLOCK_HEADER, as_of.isoformat()))
    import grpc
    from google.ads.googleads.errors import GoogleAdsException
    from google.api_core.exceptions import GoogleAPICallError

    try:
        response, call = service.transport.mutate.with_call(
            request, metadata=metadata, timeout=timeout
        )
    except (GoogleAdsException, grpc.RpcError, GoogleAPICallError) as exc:
        raise classify(exc) from exc
    request_id = dict(call.initial_metadata() or ()).get("request-id")
    errors: dict[int, list[FailureDetail]] = {}
    if response.HasField("partial_failure_error"):
        from google.ads.googleads.v26.errors.types import errors as errors_types

        failure_pb = errors_types.GoogleAdsFailure.pb()
        for packed in response.partial_failure_error.details:
            failure = failure_pb()
            packed.Unpack(failure)
            for detail in failure_details(failure):
                index = _operation_index(detail)
                errors.setdefault(-1 if index is None else index, []).append(detail)
    results = []
    for i, item in enumerate(response.mutate_operation_responses):
        kind = item.WhichOneof("response")
        name = getattr(item, kind).resource_name if kind else ""
        results.append(OperationResult(i, name or None, tuple(errors.get(i, ()))))
    if validate_only and not results:
        results = [
            OperationResult(i, None, tuple(errors.get(i, ()))) for i in range(len(operations))
        ]
    if -1 in errors:  # an error without an operation index applies to every operation
        results = [
            OperationResult(r.index, r.resource_name, (*r.errors, *errors[-1])) for r in results
        ]
    return MutateOutcome(request_id, tuple(results))


__all__ = [
    "MAX_OPERATIONS",
    "MutateOutcome",
    "OperationResult",
    "UnbuildableChange",
    "build_operation",
    "mutate",
]
