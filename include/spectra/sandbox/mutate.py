"""Mutate services of the sandbox: the write half of the Google Ads API, over real gRPC.

Registers CampaignBudgetService, CampaignService, AdGroupService, AdGroupCriterionService,
CampaignCriterionService, AdGroupAdService, ConversionActionService, AssetService and
CampaignAssetService (Mutate<Resource>s; the last three in spectra.sandbox.catalog) and
GoogleAdsService.Mutate on the
lead's server through its ``extension_handlers`` hook (``handlers(state)``). Operations are turned
into market ``Mutation``s (dotted field paths with enum names), so the market validates them like
Google does; the answers follow Google's wire semantics:

- atomic by default: any invalid operation → INVALID_ARGUMENT with a GoogleAdsFailure listing
  every error with its operation index, and nothing applied;
- ``partial_failure``: valid operations are applied; failures come back in
  ``partial_failure_error`` (a google.rpc.Status whose details pack a GoogleAdsFailure), and the
  failed operations' results are empty;
- ``validate_only``: everything is checked, nothing is applied, results are empty;
- more than 10,000 operations → request_error.TOO_MANY_MUTATE_OPERATIONS.

With a daily quota installed (spectra.sandbox.quota) each operation counts against the cap.
A mutation is in force from the sandbox clock's day on (the request's clock header, as for reads).
Chaos (spectra.sandbox.chaos) may make a mutate succeed on the server and lose its response.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from google.ads.googleads.v26.errors.types import errors as errors_types
from google.ads.googleads.v26.services.types import (
    ad_group_ad_service,
    ad_group_criterion_service,
    ad_group_service,
    asset_service,
    campaign_asset_service,
    campaign_budget_service,
    campaign_criterion_service,
    campaign_service,
    conversion_action_service,
    google_ads_service,
)
from google.protobuf import any_pb2

from spectra.sandbox import catalog
from spectra.sandbox.errors import AdsFault, ErrorDetail, abort, failure_bytes, new_request_id
from spectra.sandbox.market.mutations import Mutation, MutationError
from spectra.sandbox.server import local_day

if TYPE_CHECKING:
    from spectra.sandbox.server import SandboxState

SERVICE_PREFIX = "google.ads.googleads.v26.services"
MAX_OPERATIONS = 10_000
FAILURE_TYPE_URL = "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure"

# resource → (service, method, request type, response type, result field of MutateOperationResponse)
SERVICES: dict[str, tuple[str, str, Any, Any]] = {
    "campaign_budget": (
        "CampaignBudgetService",
        "MutateCampaignBudgets",
        campaign_budget_service.MutateCampaignBudgetsRequest,
        campaign_budget_service.MutateCampaignBudgetsResponse,
    ),
    "campaign": (
        "CampaignService",
        "MutateCampaigns",
        campaign_service.MutateCampaignsRequest,
        campaign_service.MutateCampaignsResponse,
    ),
    "ad_group": (
        "AdGroupService",
        "MutateAdGroups",
        ad_group_service.MutateAdGroupsRequest,
        ad_group_service.MutateAdGroupsResponse,
    ),
    "ad_group_criterion": (
        "AdGroupCriterionService",
        "MutateAdGroupCriteria",
        ad_group_criterion_service.MutateAdGroupCriteriaRequest,
        ad_group_criterion_service.MutateAdGroupCriteriaResponse,
    ),
    "campaign_criterion": (
        "CampaignCriterionService",
        "MutateCampaignCriteria",
        campaign_criterion_service.MutateCampaignCriteriaRequest,
        campaign_criterion_service.MutateCampaignCriteriaResponse,
    ),
    "ad_group_ad": (
        "AdGroupAdService",
        "MutateAdGroupAds",
        ad_group_ad_service.MutateAdGroupAdsRequest,
        ad_group_ad_service.MutateAdGroupAdsResponse,
    ),
    # account resources outside the market's simulation (spectra.sandbox.catalog)
    "conversion_action": (
        "ConversionActionService",
        "MutateConversionActions",
        conversion_action_service.MutateConversionActionsRequest,
        conversion_action_service.MutateConversionActionsResponse,
    ),
    "asset": (
        "AssetService",
        "MutateAssets",
        asset_service.MutateAssetsRequest,
        asset_service.MutateAssetsResponse,
    ),
    "campaign_asset": (
        "CampaignAssetService",
        "MutateCampaignAssets",
        campaign_asset_service.MutateCampaignAssetsRequest,
        campaign_asset_service.MutateCampaignAssetsResponse,
    ),
}


def _clean(name: str) -> str:
    return name[:-1] if name.endswith("_") else name


def _flatten(msg: Any, prefix: str = "") -> dict[str, Any]:
    """Set fields of a protobuf message as {dotted.path: value}, enums as their names."""
    out: dict[str, Any] = {}
    for fd, value in msg.ListFields():
        path = f"{prefix}{_clean(fd.name)}"
        if fd.message_type is not None and not fd.is_repeated:
            nested = _flatten(value, f"{path}.")
            out.update(nested or {path: True})
        elif fd.message_type is not None:
            out[path] = [{_clean(f.name): v for f, v in item.ListFields()} for item in value]
        elif fd.enum_type is not None:
            names = fd.enum_type.values_by_number
            out[path] = [names[v].name for v in value] if fd.is_repeated else names[value].name
        else:
            out[path] = list(value) if fd.is_repeated else value
    return out


def _get_path(msg: Any, path: str) -> Any:
    """The value at a dotted path (default if unset), enum as name; None if the path is unknown."""
    current = msg
    fd = None
    for part in path.split("."):
        desc = current.DESCRIPTOR
        fd = desc.fields_by_name.get(part) or desc.fields_by_name.get(f"{part}_")
        if fd is None:
            return None
        current = getattr(current, fd.name)
    if fd is not None and fd.enum_type is not None and not fd.is_repeated:
        return fd.enum_type.values_by_number[current].name
    return current


def to_mutation(resource: str, operation: Any) -> Mutation:
    """A service operation (raw protobuf) → the market's Mutation."""
    kind = operation.WhichOneof("operation")
    if kind == "create":
        return Mutation(resource, "create", values=_flatten(operation.create))
    if kind == "update":
        paths = tuple(
            ".".join(_clean(p) for p in path.split(".")) for path in operation.update_mask.paths
        )
        values = {p: _get_path(operation.update, p) for p in paths}
        return Mutation(
            resource, "update", operation.update.resource_name, values=values, update_mask=paths
        )
    if kind == "remove":
        return Mutation(resource, "remove", operation.remove)
    raise MutationError(
        _problem("request_error", "OPERATION_REQUIRED", "operation has no create, update or remove")
    )


def _problem(category: str, code: str, message: str) -> Any:
    from spectra.sandbox.market.mutations import Problem

    return Problem(category, code, message)


def _details(errors: Sequence[tuple[int, MutationError]]) -> list[ErrorDetail]:
    return [
        ErrorDetail(p.category, p.code, p.message, operation_index=index, field_path=p.field_path)
        for index, exc in errors
        for p in exc.problems
    ]


def partial_failure_status(details: list[ErrorDetail]) -> Any:
    """google.rpc.Status packing a GoogleAdsFailure, as in ``partial_failure_error``."""
    from google.rpc import status_pb2

    status = status_pb2.Status(
        code=grpc.StatusCode.INVALID_ARGUMENT.value[0],
        message="; ".join(d.message for d in details),
    )
    failure = errors_types.GoogleAdsFailure.pb().FromString(failure_bytes(details))
    packed = any_pb2.Any()
    packed.Pack(failure)
    status.details.append(packed)
    return status


class _Run:
    """One mutate request's life: parse, apply, answer (shared by all services)."""

    def __init__(self, state: SandboxState, method: str, context: grpc.ServicerContext) -> None:
        self.state = state
        self.method = method
        self.context = context
        self.request_id = new_request_id()

    def execute(
        self,
        customer_id: str,
        resources_ops: list[tuple[str, Any]],
        *,
        partial_failure: bool,
        validate_only: bool,
    ) -> tuple[list[str | None], list[ErrorDetail]]:
        self.state.enter(self.method, self.context)
        cid = self.state.check_customer(customer_id)
        if not resources_ops:
            raise AdsFault(
                grpc.StatusCode.INVALID_ARGUMENT,
                [ErrorDetail("request_error", "OPERATION_REQUIRED", "no operations")],
            )
        if len(resources_ops) > MAX_OPERATIONS:
            raise AdsFault(
                grpc.StatusCode.INVALID_ARGUMENT,
                [
                    ErrorDetail(
                        "request_error",
                        "TOO_MANY_MUTATE_OPERATIONS",
                        f"{len(resources_ops)} operations; at most {MAX_OPERATIONS} per request",
                    )
                ],
            )
        quota = getattr(self.state, "quota", None)
        if quota is not None:  # the daily cap counts every operation (spectra.sandbox.quota)
            quota.charge(self.context, len(resources_ops))
        # a change made at an instant is in force from that hour of the account's own day on
        # (a market without hours gets the account's day)
        clock = self.state.as_of(self.context)
        market_any: Any = self.state.market
        as_of: dt.date | dt.datetime = (
            clock if hasattr(market_any, "account_now") else local_day(market_any, cid, clock)
        )
        chaos = getattr(self.state, "chaos", None)
        forced = (
            chaos.forced_failures(self.method, len(resources_ops)) if chaos is not None else set()
        )
        mutations: list[Mutation | MutationError] = []
        for index, (resource, op) in enumerate(resources_ops):
            if index in forced:
                mutations.append(
                    MutationError(
                        _problem(
                            "database_error",
                            "CONCURRENT_MODIFICATION",
                            "Multiple requests were attempting to modify the same resource at once. Retry the request.",
                        )
                    )
                )
                continue
            try:
                mutations.append(to_mutation(resource, op))
            except MutationError as exc:
                mutations.append(exc)
        market: Any = self.state.market
        valid = [m for m in mutations if isinstance(m, Mutation)]
        in_catalog = {r in catalog.RESOURCES for r, _ in resources_ops}
        if len(in_catalog) > 1:
            raise AdsFault(
                grpc.StatusCode.INVALID_ARGUMENT,
                [
                    ErrorDetail(
                        "mutate_error",
                        "MUTATE_NOT_ALLOWED",
                        "the sandbox does not mix conversion actions and assets with campaign "
                        "entities in one request",
                    )
                ],
            )
        hold = validate_only or (len(valid) != len(mutations) and not partial_failure)
        if in_catalog == {True}:
            live = frozenset(
                str(r["campaign.resource_name"])
                for r in market.rows(
                    "campaign",
                    customer_id=cid,
                    date_from=None,
                    date_to=None,
                    as_of=as_of,
                    fields=frozenset({"campaign.resource_name", "campaign.status"}),
                )
                if r["campaign.status"] != "REMOVED"
            )
            results_valid = catalog.catalog_of(market).mutate(
                cid, valid, campaigns=live, validate_only=hold, partial_failure=partial_failure
            )
        else:
            results_valid = market.mutate(
                cid, valid, as_of=as_of, validate_only=hold, partial_failure=partial_failure
            )
        it = iter(results_valid)
        results: list[str | MutationError] = [
            next(it) if isinstance(m, Mutation) else m for m in mutations
        ]
        errors = [(i, r) for i, r in enumerate(results) if isinstance(r, MutationError)]
        if errors and not partial_failure:
            raise AdsFault(grpc.StatusCode.INVALID_ARGUMENT, _details(errors))
        if not validate_only and len(errors) < len(results):
            self.state.invalidate()
            if chaos is not None:
                chaos.after_mutate(self.method, self.context)  # may "lose" the response
        names: list[str | None] = [
            None if isinstance(r, MutationError) or validate_only else r for r in results
        ]
        return names, _details(errors)

    def guard(self, fn: Callable[[], bytes]) -> bytes:
        try:
            return fn()
        except AdsFault as fault:
            abort(self.context, fault, self.request_id)
        except Exception:  # a sandbox bug must look like Google's INTERNAL, not kill the server
            import logging

            logging.getLogger(__name__).exception("sandbox mutate %s failed", self.method)
            abort(self.context, AdsFault(grpc.StatusCode.INTERNAL, []), self.request_id)
        raise AssertionError("unreachable")


def _service_handler(
    state: SandboxState, resource: str
) -> Callable[[Any, grpc.ServicerContext], bytes]:
    service, method, _req, resp_type = SERVICES[resource]

    def handler(request: Any, context: grpc.ServicerContext) -> bytes:
        run = _Run(state, f"{service}/{method}", context)
        context.send_initial_metadata((("request-id", run.request_id),))

        def body() -> bytes:
            names, errors = run.execute(
                request.customer_id,
                [(resource, op) for op in request.operations],
                partial_failure=request.partial_failure,
                validate_only=request.validate_only,
            )
            resp = resp_type.pb()()
            for name in names:
                resp.results.add().resource_name = name or ""
            if errors:
                resp.partial_failure_error.CopyFrom(partial_failure_status(errors))
            return resp.SerializeToString()

        return run.guard(body)

    return handler


_MUTATE_OPERATION_FIELDS = {f"{r}_operation": r for r in SERVICES}


def _google_ads_mutate(state: SandboxState) -> Callable[[Any, grpc.ServicerContext], bytes]:
    def handler(request: Any, context: grpc.ServicerContext) -> bytes:
        run = _Run(state, "GoogleAdsService/Mutate", context)
        context.send_initial_metadata((("request-id", run.request_id),))

        def body() -> bytes:
            ops: list[tuple[str, Any]] = []
            kinds: list[str | None] = []
            for mop in request.mutate_operations:
                kind = mop.WhichOneof("operation")
                resource = _MUTATE_OPERATION_FIELDS.get(kind or "")
                kinds.append(resource)
                if resource is None:
                    ops.append(("unsupported", mop))
                else:
                    ops.append((resource, getattr(mop, kind)))
            unsupported = [i for i, k in enumerate(kinds) if k is None]
            if unsupported:
                raise AdsFault(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    [
                        ErrorDetail(
                            "mutate_error",
                            "MUTATE_NOT_ALLOWED",
                            "the sandbox does not simulate this resource",
                            operation_index=i,
                        )
                        for i in unsupported
                    ],
                )
            names, errors = run.execute(
                request.customer_id,
                ops,
                partial_failure=request.partial_failure,
                validate_only=request.validate_only,
            )
            resp = google_ads_service.MutateGoogleAdsResponse.pb()()
            for resource, name in zip(kinds, names, strict=True):
                item = resp.mutate_operation_responses.add()
                getattr(item, f"{resource}_result").resource_name = name or ""
            if errors:
                resp.partial_failure_error.CopyFrom(partial_failure_status(errors))
            return resp.SerializeToString()

        return run.guard(body)

    return handler


def _identity(data: bytes) -> bytes:
    return data


def handlers(state: SandboxState) -> list[grpc.GenericRpcHandler]:
    """The mutate services, for the server's extension hook."""
    out: list[grpc.GenericRpcHandler] = []
    for resource, (service, method, req_type, _resp) in SERVICES.items():
        out.append(
            grpc.method_handlers_generic_handler(
                f"{SERVICE_PREFIX}.{service}",
                {
                    method: grpc.unary_unary_rpc_method_handler(
                        _service_handler(state, resource),
                        request_deserializer=req_type.pb().FromString,
                        response_serializer=_identity,
                    )
                },
            )
        )
    out.append(
        grpc.method_handlers_generic_handler(
            f"{SERVICE_PREFIX}.GoogleAdsService",
            {
                "Mutate": grpc.unary_unary_rpc_method_handler(
                    _google_ads_mutate(state),
                    request_deserializer=google_ads_service.MutateGoogleAdsRequest.pb().FromString,
                    response_serializer=_identity,
                )
            },
        )
    )
    return out
