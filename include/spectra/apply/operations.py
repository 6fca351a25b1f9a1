"""Multi-step operations with partial-state recovery: build a campaign in Google Ads
(budget → campaign → ad groups → keywords → ads → image assets → their campaign links) so that a crash, a lost response or a retry at
any point resumes from the last completed step and never creates a second copy of anything.

Google Ads has no idempotency key for creates, and a retried create is a second resource, so
the operation keeps Stripe-style recovery points in the warehouse (``apply_operations``, one row
per operation; ``apply_operation_steps``, one row per recovery point):

    <step>:sent   written *before* the step's create request goes out (with a send count)
    <step>        written after the step's resources exist, with their resource names

and before every (re)send it reads what already exists through GAQL, by each resource's stable
identity — the budget and the campaign by name (Google refuses a second campaign_budget or
campaign of the same name: ``DUPLICATE_NAME`` / ``DUPLICATE_CAMPAIGN_NAME``), an ad group by
name within its campaign, a keyword by (ad group, text, match type), an ad by (ad group,
headlines, descriptions, final URLs), an image asset by name (Google refuses a second image asset
of one name: ``DUPLICATE_ASSET_NAME``), its campaign link by (campaign, asset). Only what is missing is sent; what is found is adopted
(``found_existing``). A budget or campaign found by name although this operation never sent its
create belongs to someone else: the operation fails with that reason rather than take it over.

Each step's request is atomic (no ``partial_failure``): it lands whole or not at all, so an
unknown outcome (UNAVAILABLE, a lost response) leaves either everything or nothing, and the next
round's read tells which. One writer per operation holds its lease (``apply_leases``, scope
``operation:<key>``); every write checks the fencing token, and no transaction is open across a
Google Ads call. Transient failures repeat rounds with tenacity's full-jitter backoff; sends are
counted in the ``:sent`` row, so Airflow task retries cannot multiply them past
``ApplyConfig.max_attempts`` (see :func:`worst_case_sends`). While the shared circuit breaker is
open or the daily quota is spent, the operation is deferred (still ``running``, with
``deferred_until`` from Google's ``retry_delay``) and :func:`resume_operations` picks it up then. A permanent error fails the operation with the
reason and the resources created so far.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import pybreaker
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Connection, Engine

from spectra.ads.client import AdsCredentials
from spectra.ads.errors import AdsError, AdsQuotaExhausted, AdsRetryableError, is_transient
from spectra.ads.mutate import mutate
from spectra.ads.retry import call_with_retry, retrying
from spectra.ads.stream import load_query, stream_columns
from spectra.apply.executor import (
    ApplyConfig,
    Deferred,
    deferring,
    google_ads_breaker,
    holder_id,
)
from spectra.observability import audit
from spectra.warehouse import apply_store as store

log = logging.getLogger(__name__)

KIND = "build_campaign"
EXHAUSTED = "attempts exhausted"  # a failure :func:`retry_operation` may re-enter
STEPS = ("budget", "campaign", "ad_groups", "keywords", "ads", "images", "image_links")
StepHook = Callable[[str, str], None]  # (event: sent | mutated | done, step)

Status = Literal["ENABLED", "PAUSED"]


def _words(text: str) -> str:
    return " ".join(text.split())


class KeywordSpec(BaseModel):
    """A keyword to create in its ad group; ``cpc_bid_micros`` None uses the ad group's bid."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(min_length=1, max_length=80)
    match_type: Literal["EXACT", "PHRASE", "BROAD"]
    cpc_bid_micros: int | None = Field(default=None, gt=0)

    @property
    def identity(self) -> tuple[str, str]:
        return (_words(self.text).lower(), self.match_type)


class AdSpec(BaseModel):
    """A responsive search ad (Google's limits: 3-15 headlines, 2-4 descriptions)."""

    model_config = ConfigDict(frozen=True)

    headlines: tuple[str, ...] = Field(min_length=3, max_length=15)
    descriptions: tuple[str, ...] = Field(min_length=2, max_length=4)
    final_urls: tuple[str, ...] = Field(min_length=1)
    status: Status = "ENABLED"
    path1: str = Field(default="", max_length=15)  # display URL paths (Google: ≤ 15 each)
    path2: str = Field(default="", max_length=15)

    @property
    def identity(self) -> tuple[tuple[str, ...], ...]:
        return (
            tuple(_words(h) for h in self.headlines),
            tuple(_words(d) for d in self.descriptions),
            tuple(self.final_urls),
        )


class ImageSpec(BaseModel):
    """An image asset to upload and link to the campaign as ``AD_IMAGE`` (its name is its
    stable identity: unique per asset type in an account)."""

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    name: str = Field(min_length=1, max_length=128)
    data: bytes = Field(min_length=1)


class AdGroupSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=255)
    cpc_bid_micros: int = Field(gt=0)
    status: Status = "ENABLED"
    keywords: tuple[KeywordSpec, ...] = ()
    ads: tuple[AdSpec, ...] = ()

    @model_validator(mode="after")
    def _unique_children(self) -> AdGroupSpec:
        keys = [k.identity for k in self.keywords]
        if len(set(keys)) != len(keys):
            raise ValueError(f"ad group {self.name!r} lists a keyword twice")
        ads = [a.identity for a in self.ads]
        if len(set(ads)) != len(ads):
            raise ValueError(f"ad group {self.name!r} lists an ad twice")
        return self


class CampaignBuild(BaseModel):
    """Everything a new Search campaign needs, as absolute values (money in micros).

    The budget's name defaults to the one Google derives from the campaign for a budget that is
    not explicitly shared (``Budget | <campaign name>``); both names are the operation's stable
    handles for finding what it created.
    """

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    tenant_id: str = Field(min_length=1, max_length=64)
    customer_id: int = Field(gt=0)
    campaign_name: str = Field(min_length=1, max_length=255)
    budget_name: str = ""
    budget_micros: int = Field(gt=0)
    status: Status = "PAUSED"
    target_cpa_micros: int | None = Field(default=None, gt=0)
    ad_groups: tuple[AdGroupSpec, ...] = Field(min_length=1)
    images: tuple[ImageSpec, ...] = ()

    @model_validator(mode="after")
    def _names(self) -> CampaignBuild:
        if not self.budget_name:
            object.__setattr__(self, "budget_name", f"Budget | {_words(self.campaign_name)}")
        names = [_words(g.name) for g in self.ad_groups]
        if len(set(names)) != len(names):
            raise ValueError("two ad groups share a name (Google refuses DUPLICATE_ADGROUP_NAME)")
        images = [_words(i.name) for i in self.images]
        if len(set(images)) != len(images):
            raise ValueError("two images share a name (Google refuses DUPLICATE_ASSET_NAME)")
        return self

    def spec(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def operation_key(self) -> str:
        """The same build always has the same key: a replay finds its operation again."""
        # a build without images or display paths keeps the key it had before they existed
        spec = self.spec()
        if not self.images:
            del spec["images"]
        for group in spec["ad_groups"]:
            for ad in group["ads"]:
                for path in ("path1", "path2"):
                    if not ad[path]:
                        del ad[path]
        body = json.dumps(spec, separators=(",", ":"), ensure_ascii=False).encode()
        return hashlib.sha256(body).hexdigest()[:32]


class OperationFailed(RuntimeError):
    """A permanent reason the operation cannot complete (it is marked failed)."""


class _Unknown(AdsRetryableError):
    """A create's outcome is unknown (lost response, cut connection): read before resending."""


@dataclass
class OperationReport:
    operation_key: str
    status: str  # done | failed | running (deferred or out of rounds; resume later)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    found_existing: list[str] = field(default_factory=list)
    sends: dict[str, int] = field(default_factory=dict)
    error: str = ""

    @property
    def campaign_resource_name(self) -> str | None:
        return self.steps.get("campaign", {}).get("resource_name")

    def created(self) -> list[str]:
        """Every resource name the operation has created or adopted so far."""
        out: list[str] = []
        for step in STEPS:
            result = self.steps.get(step, {})
            if "resource_name" in result:
                out.append(result["resource_name"])
            out.extend(result.get("resource_names", {}).values())
        return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rn_id(resource_name: str) -> int:
    return int(resource_name.rsplit("/", 1)[1].split("~")[-1])


def _ident(*parts: Any) -> str:
    """A JSON-safe key for a step's resource (ad group name, keyword or ad identity)."""
    return "|".join(str(p) for p in parts)


def worst_case_sends(config: ApplyConfig) -> int:
    """Create requests one step can ever send across every Airflow try: the ``:sent`` row
    counts them and the operation fails at ``max_attempts``, however often the task is retried
    (each try adds at most ``reads.attempts`` tries per lookup query, never a send)."""
    return config.max_attempts


def budget_create(client: Any, build: CampaignBuild, *, resource_name: str = "") -> Any:
    """The build's budget create (a MutateOperation); ``resource_name`` a temporary id
    (``customers/C/campaignBudgets/-1``) when a campaign in the same request refers to it."""
    mop = client.get_type("MutateOperation")
    b = mop.campaign_budget_operation.create
    if resource_name:
        b.resource_name = resource_name
    b.name = build.budget_name
    b.amount_micros = build.budget_micros
    b.delivery_method = client.enums.BudgetDeliveryMethodEnum.STANDARD
    b.explicitly_shared = False
    return mop


def campaign_create(client: Any, build: CampaignBuild, budget_rn: str) -> Any:
    """The build's Search campaign create (a MutateOperation) on budget ``budget_rn``."""
    enums = client.enums
    mop = client.get_type("MutateOperation")
    c = mop.campaign_operation.create
    c.name = build.campaign_name
    c.campaign_budget = budget_rn
    c.advertising_channel_type = enums.AdvertisingChannelTypeEnum.SEARCH
    c.status = getattr(enums.CampaignStatusEnum, build.status)
    if build.target_cpa_micros is not None:
        c.target_cpa.target_cpa_micros = build.target_cpa_micros
    else:
        c.manual_cpc.enhanced_cpc_enabled = False
    c.network_settings.target_google_search = True
    c.contains_eu_political_advertising = (
        enums.EuPoliticalAdvertisingStatusEnum.DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING
    )
    return mop


class OperationRunner:
    """Runs (or resumes) one operation under its lease. Use :func:`build_campaign`."""

    def __init__(
        self,
        engine: Engine,
        client: Any,
        *,
        creds: AdsCredentials | None = None,
        config: ApplyConfig | None = None,
        breaker: pybreaker.CircuitBreaker | None = None,
        on_step: StepHook | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.creds = creds or AdsCredentials(developer_token="-", access_token="-")
        self.config = config or ApplyConfig()
        self.breaker = breaker if breaker is not None else google_ads_breaker(engine)
        self.on_step = on_step
        self.holder = holder_id()
        self.ttl = dt.timedelta(seconds=self.config.lease_ttl_s)

    # ------------------------------------------------------------------ plumbing
    def _hook(self, event: str, step: str) -> None:
        if self.on_step is not None:
            self.on_step(event, step)

    @contextmanager
    def _txn(self, op: dict[str, Any], token: int) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            store.check_lease(
                conn,
                tenant_id=op["tenant_id"],
                scope=f"operation:{op['operation_key']}",
                token=token,
                holder=self.holder,
                ttl=self.ttl,
                now=_now(),
            )
            yield conn

    def _audit(self, conn: Connection, op: dict[str, Any], action: str, **kw: Any) -> None:
        audit.record(
            conn,
            tenant_id=op["tenant_id"],
            action=action,
            actor=self.config.actor,
            entity=f"operation:{op['kind']}:{op['spec']['campaign_name']}",
            change_key=op["operation_key"],
            **kw,
        )

    def _guard(self, fn: Callable[[], Any]) -> Any:
        return call_with_retry(lambda: self.breaker.call(fn), policy=self.config.reads)

    def _query(self, build: CampaignBuild, name: str, **params: Any) -> list[dict[str, Any]]:
        query = load_query(name)
        cols = self._guard(
            lambda: stream_columns(
                self.client,
                self.creds,
                customer_id=build.customer_id,
                query=query,
                as_of=self.config.as_of,
                **params,
            )
        )
        names = list(cols)
        return [dict(zip(names, v, strict=True)) for v in zip(*cols.values(), strict=True)]

    # ------------------------------------------------------------------ entry
    def run(self, build: CampaignBuild) -> OperationReport:
        with self.engine.begin() as conn:
            op, created = store.get_or_create_operation(
                conn,
                tenant_id=build.tenant_id,
                customer_id=build.customer_id,
                operation_key=build.operation_key,
                kind=KIND,
                spec=build.spec(),
                now=_now(),
            )
            if created:
                self._audit(conn, op, "operation_approved", after=build.spec())
        return self.resume(op, build)

    def resume(self, op: dict[str, Any], build: CampaignBuild) -> OperationReport:
        if op["status"] != "running":
            return self._report(op)
        scope = f"operation:{op['operation_key']}"
        with self.engine.begin() as conn:
            token = store.acquire_lease(
                conn,
                tenant_id=op["tenant_id"],
                scope=scope,
                holder=self.holder,
                ttl=self.ttl,
                now=_now(),
            )
        if token is None:
            report = self._report(op)
            report.error = "another writer holds the operation"
            return report
        try:
            with self.engine.connect() as conn:  # the row as it is now, under our lease
                fresh = store.get_operation(
                    conn, tenant_id=op["tenant_id"], operation_key=op["operation_key"]
                )
            op = fresh or op
            if op["status"] != "running":
                return self._report(op)
            try:
                for step in STEPS:
                    self._step(op, build, step, token)
                created = self._report(op).created()
                with self._txn(op, token) as conn:
                    store.set_operation_status(
                        conn,
                        tenant_id=op["tenant_id"],
                        operation_id=op["id"],
                        status="done",
                        error="",
                        now=_now(),
                    )
                    op["status"] = "done"
                    self._audit(conn, op, "operation_done", after=created)
            except OperationFailed as exc:
                self._fail(op, token, str(exc))
            except Deferred as exc:
                self._note(op, token, "operation_deferred", str(exc), defer_s=exc.seconds)
            except AdsRetryableError as exc:
                self._note(op, token, "operation_pending", f"{type(exc).__name__}: {exc}")
        finally:
            with self.engine.begin() as conn:
                store.release_lease(
                    conn, tenant_id=op["tenant_id"], scope=scope, token=token, holder=self.holder
                )
        return self._report(op)

    def _fail(self, op: dict[str, Any], token: int, reason: str) -> None:
        created = self._report(op).created()
        with self._txn(op, token) as conn:
            store.set_operation_status(
                conn,
                tenant_id=op["tenant_id"],
                operation_id=op["id"],
                status="failed",
                error=reason,
                now=_now(),
            )
            op["status"], op["error"] = "failed", reason
            self._audit(
                conn,
                op,
                "operation_failed",
                reasoning=reason,
                after=created,
            )

    def _note(
        self, op: dict[str, Any], token: int, action: str, reason: str, defer_s: float = 0.0
    ) -> None:
        """Still running (deferred or out of rounds for now): keep the reason, resume later —
        not before ``defer_s`` (Google's retry_delay, the breaker's reset timeout)."""
        now = _now()
        until = now + dt.timedelta(seconds=defer_s) if defer_s > 0 else None
        with self._txn(op, token) as conn:
            store.set_operation_status(
                conn,
                tenant_id=op["tenant_id"],
                operation_id=op["id"],
                status="running",
                error=reason,
                now=now,
                deferred_until=until,
            )
            op["error"], op["deferred_until"] = reason, until
            detail = {"until": until.isoformat()} if until is not None else {}
            self._audit(conn, op, action, reasoning=reason, detail=detail)

    def _report(self, op: dict[str, Any]) -> OperationReport:
        return _report(self.engine, op)

    # ------------------------------------------------------------------ one step
    def _step(self, op: dict[str, Any], build: CampaignBuild, step: str, token: int) -> None:
        with self.engine.connect() as conn:
            steps = store.operation_steps(conn, operation_id=op["id"])
        if step in steps:
            return
        done = {s: r["result"] for s, r in steps.items() if s in STEPS}
        with deferring(self.breaker, self.config):
            for attempt in retrying(policy=self.config.rounds):
                with attempt:
                    self._round(op, build, step, token, done)

    def _round(
        self,
        op: dict[str, Any],
        build: CampaignBuild,
        step: str,
        token: int,
        done: dict[str, dict[str, Any]],
    ) -> None:
        """Read what exists, adopt it, send what is missing, record the step."""
        wanted = self._wanted(build, step, done)
        existing = self._existing(build, step, done) if wanted else {}
        with self.engine.connect() as conn:
            sent_row = store.operation_steps(conn, operation_id=op["id"]).get(f"{step}:sent")
        sends = int(sent_row["result"]["sends"]) if sent_row else 0
        allowed = int(sent_row["result"].get("allowed", 0)) if sent_row else 0
        allowed = allowed or self.config.max_attempts
        found = {k: existing[k] for k in wanted if k in existing}
        if found and not sent_row and step in ("budget", "campaign"):
            taken = ", ".join(f"{k!r} ({rn})" for k, rn in found.items())
            raise OperationFailed(
                f"{step} name {taken} is already in use in customer {build.customer_id} and "
                "this operation never created it; refusing to take it over"
            )
        if step == "campaign" and found:
            budget_rn = done["budget"]["resource_name"]
            rn = next(iter(found.values()))
            if existing.get(f"budget:{rn}") != budget_rn:
                raise OperationFailed(
                    f"campaign {rn} named {build.campaign_name!r} does not use this "
                    f"operation's budget {budget_rn}"
                )
        missing = [k for k in wanted if k not in found]
        created: dict[str, str] = {}
        request_id = None
        if missing:
            if sends >= allowed:
                raise OperationFailed(
                    f"{EXHAUSTED}: step {step} has {len(missing)} resource(s) missing after "
                    f"{sends} create requests"
                )
            with self._txn(op, token) as conn:
                store.save_step(
                    conn,
                    operation_id=op["id"],
                    step=f"{step}:sent",
                    result={"sends": sends + 1, "allowed": allowed, "missing": missing},
                    found_existing=bool(found),
                    now=_now(),
                )
                self._audit(conn, op, "operation_step_sent", detail={"step": step, "n": sends + 1})
            self._hook("sent", step)
            created, request_id = self._create(build, step, done, missing)
            self._hook("mutated", step)
        # adopted: found by its stable identity (a lost response, a crash, an earlier try)
        adopted = bool(found)
        found.update(created)
        result = self._result(step, found)
        with self._txn(op, token) as conn:
            store.save_step(
                conn,
                operation_id=op["id"],
                step=step,
                result=result,
                found_existing=adopted,
                now=_now(),
                overwrite=False,
            )
            self._audit(
                conn,
                op,
                "operation_step_done",
                after=result,
                request_id=request_id,
                detail={"step": step, "found_existing": adopted},
            )
        done[step] = result
        self._hook("done", step)

    @staticmethod
    def _result(step: str, found: dict[str, str]) -> dict[str, Any]:
        if step in ("budget", "campaign"):
            rn = next(iter(found.values()))
            return {"resource_name": rn, "id": _rn_id(rn)}
        return {"resource_names": dict(sorted(found.items()))}

    # ------------------------------------------------------------------ identities
    def _wanted(
        self, build: CampaignBuild, step: str, done: dict[str, dict[str, Any]]
    ) -> list[str]:
        if step == "budget":
            return [_words(build.budget_name)]
        if step == "campaign":
            return [_words(build.campaign_name)]
        if step == "ad_groups":
            return [_words(g.name) for g in build.ad_groups]
        if step == "keywords":
            return [
                _ident(_words(g.name), *k.identity) for g in build.ad_groups for k in g.keywords
            ]
        if step == "images":
            return [_words(i.name) for i in build.images]
        if step == "image_links":
            return [_ident("link", _words(i.name)) for i in build.images]
        return [
            _ident(_words(g.name), *map(repr, a.identity)) for g in build.ad_groups for a in g.ads
        ]

    def _existing(
        self, build: CampaignBuild, step: str, done: dict[str, dict[str, Any]]
    ) -> dict[str, str]:
        """What Google already has, keyed by the identities of :meth:`_wanted`."""
        if step == "budget":
            return {
                _words(r["campaign_budget.name"]): r["campaign_budget.resource_name"]
                for r in self._query(build, "operation_budgets")
                if r["campaign_budget.status"] != "REMOVED"
            }
        if step == "campaign":
            out: dict[str, str] = {}
            for r in self._query(build, "operation_campaigns"):
                if r["campaign.status"] == "REMOVED":
                    continue
                out[_words(r["campaign.name"])] = r["campaign.resource_name"]
                out[f"budget:{r['campaign.resource_name']}"] = r["campaign.campaign_budget"]
            return out
        campaign_id = int(done["campaign"]["id"])
        customer = build.customer_id
        if step == "images":
            return {
                _words(r["asset.name"]): r["asset.resource_name"]
                for r in self._query(build, "operation_images")
            }
        if step == "image_links":
            names = {rn: name for name, rn in done["images"]["resource_names"].items()}
            return {
                _ident("link", names[r["campaign_asset.asset"]]): r["campaign_asset.resource_name"]
                for r in self._query(build, "operation_image_links", campaign_id=campaign_id)
                if r["campaign_asset.asset"] in names
                and r["campaign_asset.field_type"] == "AD_IMAGE"
                and r["campaign_asset.status"] != "REMOVED"
            }
        groups = {
            str(r["ad_group.id"]): _words(r["ad_group.name"])
            for r in self._query(build, "apply_ad_groups", campaign_id=campaign_id)
            if r["ad_group.status"] != "REMOVED"
        }
        if step == "ad_groups":
            return {name: f"customers/{customer}/adGroups/{gid}" for gid, name in groups.items()}
        if step == "keywords":
            return {
                _ident(
                    groups[str(r["ad_group.id"])],
                    _words(r["ad_group_criterion.keyword.text"]).lower(),
                    r["ad_group_criterion.keyword.match_type"],
                ): f"customers/{customer}/adGroupCriteria/{r['ad_group.id']}~"
                f"{r['ad_group_criterion.criterion_id']}"
                for r in self._query(build, "apply_keywords", campaign_id=campaign_id)
                if str(r["ad_group.id"]) in groups
                and not r["ad_group_criterion.negative"]
                and r["ad_group_criterion.status"] != "REMOVED"
            }
        out = {}
        for r in self._query(build, "operation_ads", campaign_id=campaign_id):
            if str(r["ad_group.id"]) not in groups or r["ad_group_ad.status"] == "REMOVED":
                continue
            identity = (
                tuple(
                    _words(h.get("text", ""))
                    for h in r["ad_group_ad.ad.responsive_search_ad.headlines"]
                ),
                tuple(
                    _words(d.get("text", ""))
                    for d in r["ad_group_ad.ad.responsive_search_ad.descriptions"]
                ),
                tuple(r["ad_group_ad.ad.final_urls"]),
            )
            key = _ident(groups[str(r["ad_group.id"])], *map(repr, identity))
            out[key] = (
                f"customers/{customer}/adGroupAds/{r['ad_group.id']}~{r['ad_group_ad.ad.id']}"
            )
        return out

    # ------------------------------------------------------------------ creates
    def _operations(
        self,
        build: CampaignBuild,
        step: str,
        done: dict[str, dict[str, Any]],
        missing: Sequence[str],
    ) -> list[tuple[str, Any]]:
        client = self.client
        enums = client.enums
        out: list[tuple[str, Any]] = []
        if step == "budget":
            return [(missing[0], budget_create(client, build))]
        if step == "campaign":
            return [(missing[0], campaign_create(client, build, done["budget"]["resource_name"]))]
        want = set(missing)
        campaign_rn = done["campaign"]["resource_name"]
        if step in ("images", "image_links"):
            images = done.get("images", {}).get("resource_names", {})
            for image in build.images:
                name = _words(image.name)
                mop = client.get_type("MutateOperation")
                if step == "images" and name in want:
                    asset = mop.asset_operation.create
                    asset.name = image.name
                    asset.type_ = enums.AssetTypeEnum.IMAGE
                    asset.image_asset.data = image.data
                    out.append((name, mop))
                elif step == "image_links" and _ident("link", name) in want:
                    link = mop.campaign_asset_operation.create
                    link.campaign = campaign_rn
                    link.asset = images[name]
                    link.field_type = enums.AssetFieldTypeEnum.AD_IMAGE
                    out.append((_ident("link", name), mop))
            return out
        groups = done.get("ad_groups", {}).get("resource_names", {})
        for g in build.ad_groups:
            name = _words(g.name)
            if step == "ad_groups" and name in want:
                mop = client.get_type("MutateOperation")
                ag = mop.ad_group_operation.create
                ag.name = g.name
                ag.campaign = campaign_rn
                ag.cpc_bid_micros = g.cpc_bid_micros
                ag.status = getattr(enums.AdGroupStatusEnum, g.status)
                ag.type_ = enums.AdGroupTypeEnum.SEARCH_STANDARD
                out.append((name, mop))
            if step == "keywords":
                for k in g.keywords:
                    key = _ident(name, *k.identity)
                    if key not in want:
                        continue
                    mop = client.get_type("MutateOperation")
                    kw = mop.ad_group_criterion_operation.create
                    kw.ad_group = groups[name]
                    kw.keyword.text = k.text
                    kw.keyword.match_type = getattr(enums.KeywordMatchTypeEnum, k.match_type)
                    kw.status = enums.AdGroupCriterionStatusEnum.ENABLED
                    if k.cpc_bid_micros is not None:
                        kw.cpc_bid_micros = k.cpc_bid_micros
                    out.append((key, mop))
            if step == "ads":
                for a in g.ads:
                    key = _ident(name, *map(repr, a.identity))
                    if key not in want:
                        continue
                    mop = client.get_type("MutateOperation")
                    ad = mop.ad_group_ad_operation.create
                    ad.ad_group = groups[name]
                    ad.status = getattr(enums.AdGroupAdStatusEnum, a.status)
                    ad.ad.final_urls.extend(a.final_urls)
                    if a.path1:
                        ad.ad.responsive_search_ad.path1 = a.path1
                    if a.path2:
                        ad.ad.responsive_search_ad.path2 = a.path2
                    for text in a.headlines:
                        asset = client.get_type("AdTextAsset")
                        asset.text = text
                        ad.ad.responsive_search_ad.headlines.append(asset)
                    for text in a.descriptions:
                        asset = client.get_type("AdTextAsset")
                        asset.text = text
                        ad.ad.responsive_search_ad.descriptions.append(asset)
                    out.append((key, mop))
        return out

    def _create(
        self, build: CampaignBuild, step: str, done: dict[str, dict[str, Any]], missing: list[str]
    ) -> tuple[dict[str, str], str | None]:
        """Send the missing creates, atomically per request; an unknown outcome raises
        :class:`_Unknown` (the next round reads before resending)."""
        ops = self._operations(build, step, done, missing)
        created: dict[str, str] = {}
        request_id = None
        size = max(1, self.config.max_operations)
        for start in range(0, len(ops), size):
            chunk = ops[start : start + size]
            try:
                outcome = self.breaker.call(
                    lambda chunk=chunk: mutate(
                        self.client,
                        self.creds,
                        customer_id=build.customer_id,
                        operations=[m for _, m in chunk],
                        partial_failure=True,
                        as_of=self.config.as_of,
                        timeout=self.config.mutate_timeout_s,
                    )
                )
            except AdsRetryableError as exc:
                raise _Unknown(f"step {step}: outcome unknown ({exc})") from exc
            except (AdsQuotaExhausted, pybreaker.CircuitBreakerError):
                raise
            except AdsError as exc:
                raise OperationFailed(f"step {step} refused by Google Ads: {exc}") from exc
            request_id = outcome.request_id
            transient = 0
            for (key, _), res in zip(chunk, outcome.results, strict=True):
                if res.ok and res.resource_name:
                    created[key] = res.resource_name
                elif res.errors and all(is_transient(d) for d in res.errors):
                    transient += 1
                else:
                    why = "; ".join(f"{d.category}.{d.code}: {d.message}" for d in res.errors)
                    raise OperationFailed(f"step {step}: {key!r} refused by Google Ads: {why}")
            if transient:
                # what landed is found again by the next round's read
                raise _Unknown(f"step {step}: {transient} create(s) failed transiently")
        return created, request_id


def _report(engine: Engine, op: dict[str, Any]) -> OperationReport:
    """The operation as recorded: completed steps in order, what was adopted, send counts."""
    with engine.connect() as conn:
        steps = store.operation_steps(conn, operation_id=op["id"])
    return OperationReport(
        operation_key=op["operation_key"],
        status=op["status"],
        steps={s: steps[s]["result"] for s in STEPS if s in steps},
        found_existing=[s for s in STEPS if s in steps and steps[s]["found_existing"]],
        sends={
            s: int(steps[f"{s}:sent"]["result"].get("sends", 0))
            for s in STEPS
            if f"{s}:sent" in steps
        },
        error=op.get("error", ""),
    )


# --------------------------------------------------------------------------- service API


def build_campaign(
    engine: Engine,
    client: Any,
    build: CampaignBuild,
    *,
    creds: AdsCredentials | None = None,
    config: ApplyConfig | None = None,
    breaker: pybreaker.CircuitBreaker | None = None,
    on_step: StepHook | None = None,
) -> OperationReport:
    """Create (or finish creating) the campaign ``build`` describes; safe to call again."""
    runner = OperationRunner(
        engine, client, creds=creds, config=config, breaker=breaker, on_step=on_step
    )
    return runner.run(build)


def resume_operations(
    engine: Engine,
    client: Any,
    *,
    tenant_id: str | None,
    creds: AdsCredentials | None = None,
    config: ApplyConfig | None = None,
    breaker: pybreaker.CircuitBreaker | None = None,
    on_step: StepHook | None = None,
) -> list[OperationReport]:
    """Resume every running operation (after a crash, a run out of rounds, or a deferral whose
    time has come: a deferred one is left alone until its ``deferred_until``)."""
    with engine.connect() as conn:
        ops = store.operations_with_status(
            conn, tenant_id=tenant_id, status="running", kind=KIND, now=_now()
        )
    runner = OperationRunner(
        engine, client, creds=creds, config=config, breaker=breaker, on_step=on_step
    )
    return [runner.resume(op, CampaignBuild.model_validate(op["spec"])) for op in ops]


def retry_operation(
    engine: Engine,
    client: Any,
    *,
    tenant_id: str,
    operation_key: str,
    actor: str,
    creds: AdsCredentials | None = None,
    config: ApplyConfig | None = None,
    breaker: pybreaker.CircuitBreaker | None = None,
    on_step: StepHook | None = None,
) -> OperationReport:
    """Re-enter an operation that failed with its attempts exhausted (like a dead letter): the
    stuck step gets ``max_attempts`` more sends and the normal path (read before send) runs,
    so nothing already created is created again. Audited with ``actor``."""
    config = config or ApplyConfig()
    with engine.begin() as conn:
        op = store.get_operation(conn, tenant_id=tenant_id, operation_key=operation_key)
        if op is None:
            raise LookupError(f"no operation {operation_key} for tenant {tenant_id!r}")
        if op["status"] != "failed" or not op["error"].startswith(EXHAUSTED):
            raise OperationFailed(
                f"operation {operation_key} is {op['status']} ({op['error'] or 'no error'}); "
                "only one that exhausted its attempts can be retried"
            )
        steps = store.operation_steps(conn, operation_id=op["id"])
        for name, row in steps.items():
            if name.endswith(":sent") and name.removesuffix(":sent") not in steps:
                result = dict(row["result"])
                result["allowed"] = int(result["sends"]) + config.max_attempts
                store.save_step(
                    conn,
                    operation_id=op["id"],
                    step=name,
                    result=result,
                    found_existing=bool(row["found_existing"]),
                    now=_now(),
                )
        store.set_operation_status(
            conn, tenant_id=tenant_id, operation_id=op["id"], status="running", error="", now=_now()
        )
        audit.record(
            conn,
            tenant_id=tenant_id,
            action="operation_retried",
            actor=actor,
            entity=f"operation:{op['kind']}:{op['spec']['campaign_name']}",
            change_key=operation_key,
            reasoning=op["error"],
        )
        op["status"], op["error"] = "running", ""
    runner = OperationRunner(
        engine, client, creds=creds, config=config, breaker=breaker, on_step=on_step
    )
    return runner.resume(op, CampaignBuild.model_validate(op["spec"]))


def operation_report(engine: Engine, *, tenant_id: str, operation_key: str) -> OperationReport:
    """Where an operation stands (steps done, resources created so far, error)."""
    with engine.connect() as conn:
        op = store.get_operation(conn, tenant_id=tenant_id, operation_key=operation_key)
    if op is None:
        raise LookupError(f"no operation {operation_key} for tenant {tenant_id!r}")
    return _report(engine, op)


__all__ = [
    "EXHAUSTED",
    "STEPS",
    "AdGroupSpec",
    "AdSpec",
    "CampaignBuild",
    "ImageSpec",
    "KeywordSpec",
    "OperationFailed",
    "OperationReport",
    "OperationRunner",
    "budget_create",
    "build_campaign",
    "campaign_create",
    "operation_report",
    "resume_operations",
    "retry_operation",
    "worst_case_sends",
]
