"""The launch pipeline, step by step; each step is safe to run again (a retried task, a crash).

1. :func:`generate_assets` — DRAFT → GENERATING_ASSETS → PENDING_DEPLOYMENT: copy, keywords and
   images (``spectra.launch.assets``). Images that still fail after their retries never block
   the launch: it goes ahead text-only and is **flagged for review** — a visible flag on the
   launch (``review_flags``), an alert (``alerts``, monitor ``launch``) and an audit row. Copy
   the brand review refuses sends the launch back to DRAFT with the reasons; copy that cannot
   be generated at all fails it (FAILED → DRAFT retries it, reusing every stored asset).
2. :func:`prepare_deployment` — still PENDING_DEPLOYMENT, before anything is created in Google
   Ads: **conversion tracking** (an enabled conversion action for the goal's category, else one
   is created through ConversionActionService; when Google refuses, the launch is flagged and
   stays PENDING_DEPLOYMENT with the reason) and **account limits** (Google's documented
   structure limits against the account's counts, then the budget and campaign creates sent
   with ``validate_only`` — Google, or the sandbox, checks them and creates nothing). Over a
   limit → FAILED with the reason and no resource created.
3. Approval — a person approves (``approve_launch``: an approver of the tenant; audited) unless
   the tenant's launch autopilot is on (``spectra campaign autopilot on``).
4. :func:`deploy` — PENDING_DEPLOYMENT → DEPLOYING → ACTIVE (or FAILED with the reason and the
   resources created so far): budget → campaign → ad groups → keywords → ads → images through
   the apply executor's recorded multi-step operation (``spectra.apply.operations``); a crash
   anywhere resumes from the last completed step and adopts what exists, never duplicating.
   The ACTIVE campaign is registered in the warehouse (budget, spend limits, flight) so
   ``spectra_daily`` and the monitors take it from there.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import pybreaker
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.ads.errors import AdsError
from spectra.ads.mutate import mutate
from spectra.ads.stream import load_query, stream_columns
from spectra.agent.brand_safety import BrandPolicy
from spectra.agent.client import ProposalModel
from spectra.agent.imagen import ImagenClient
from spectra.apply.executor import ApplyConfig
from spectra.apply.operations import (
    AdGroupSpec,
    AdSpec,
    CampaignBuild,
    ImageSpec,
    KeywordSpec,
    OperationReport,
    StepHook,
    budget_create,
    build_campaign,
    campaign_create,
)
from spectra.domain.campaign_state import CampaignState
from spectra.domain.money import round_to_unit
from spectra.guardrails.config import StructureLimits
from spectra.guardrails.permissions import Action
from spectra.guardrails.service import authorize
from spectra.launch import assets as gen
from spectra.launch.lifecycle import Launch, advance, advance_in, fail, get_launch, load_launch
from spectra.observability import audit
from spectra.warehouse import launch_store as store
from spectra.warehouse.monitor_store import raise_alert
from spectra.warehouse.repositories import add_campaign

log = logging.getLogger("spectra.launch")
alerts = logging.getLogger("spectra.launch.alerts")

S = CampaignState
ACTOR = "spectra-launch"
MAX_IMAGES_PER_CAMPAIGN = 20  # Google: 20 image assets per campaign
# a conversion action's counting by goal: one per click for leads, every one for purchases
COUNTING = {"PURCHASE": "MANY_PER_CLICK"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _step(engine: Engine, launch: Launch, step: str, status: str, detail: dict[str, Any]) -> None:
    with engine.begin() as conn:
        store.save_step(
            conn,
            tenant_id=launch.tenant_id,
            brief_id=launch.id,
            step=step,
            status=status,
            detail=detail,
            now=_now(),
        )


def flag_for_review(
    engine: Engine,
    launch: Launch,
    *,
    kind: str,
    reason: str,
    severity: str = "warning",
    target: CampaignState | None = None,
    actor: str = ACTOR,
) -> Launch:
    """A visible flag on the launch, an alert and an audit row, in one transaction; with
    ``target`` the launch also moves there (its audit row says why)."""
    flag = {"kind": kind, "reason": reason, "at": _now().isoformat()}
    flags = [f for f in launch.review_flags if f.get("kind") != kind] + [flag]
    with engine.begin() as conn:
        raise_alert(
            conn,
            tenant_id=launch.tenant_id,
            customer_id=launch.customer_id,
            campaign_id=launch.campaign_id,
            monitor="launch",
            kind=kind,
            dedup_key=f"launch:{launch.id}:{kind}",
            severity=severity,
            title=f"launch {launch.id} ({launch.campaign_name}): {reason}",
            evidence={"launch_id": launch.id, "kind": kind},
            now=_now(),
        )
        audit.record(
            conn,
            tenant_id=launch.tenant_id,
            action="launch_flagged",
            actor=actor,
            entity=launch.entity,
            after=flag,
            reasoning=reason,
        )
        if target is not None:
            return advance_in(
                conn, launch, target, reason=reason, actor=actor, extra={"review_flags": flags}
            )
        store.update_brief(
            conn,
            tenant_id=launch.tenant_id,
            brief_id=launch.id,
            values={"review_flags": flags},
            now=_now(),
        )
        return get_launch(conn, tenant_id=launch.tenant_id, launch_id=launch.id)


# --------------------------------------------------------------------------- 1. assets


def generate_assets(
    engine: Engine,
    *,
    tenant_id: str,
    launch_id: int,
    model: ProposalModel | None,
    imagen: ImagenClient | None,
    policy: BrandPolicy | None = None,
    actor: str = ACTOR,
    dag_run_id: str | None = None,
) -> Launch:
    """Copy, keywords and images for a DRAFT launch; PENDING_DEPLOYMENT when done."""
    launch = load_launch(engine, tenant_id=tenant_id, launch_id=launch_id)
    if launch.state is S.DRAFT:
        launch = advance(
            engine,
            launch,
            S.GENERATING_ASSETS,
            reason="generating copy, keywords and images",
            actor=actor,
        )
    if launch.state is not S.GENERATING_ASSETS:
        return launch  # done before (a retried task)
    policy = policy or BrandPolicy()
    if model is None:
        _step(engine, launch, "assets", "failed", {"reason": "no LLM configured"})
        return fail(engine, launch, reason="no LLM configured for copy", actor=actor)
    copy = gen.generate_copy(engine, launch.brief, model, policy, dag_run_id=dag_run_id)
    if copy.copy is None:
        reason = "; ".join(copy.refused[:5])
        _step(
            engine, launch, "assets", "failed", {"refused": copy.refused, "dropped": copy.dropped}
        )
        if copy.unsafe:
            return advance(
                engine, launch, S.DRAFT, reason=f"copy refused by brand safety: {reason}",
                actor=actor, detail={"refused": copy.refused},
            )  # fmt: skip
        return fail(engine, launch, reason=f"no usable ad copy: {reason}", actor=actor)
    images = gen.generate_images(engine, launch.brief, imagen, dag_run_id=dag_run_id)
    detail = {
        "asset_keys": copy.asset_keys + images.asset_keys,
        "copy_reused": copy.reused,
        "images_reused": images.reused,
        "keywords": len(copy.keywords),
        "images": len(images.asset_keys),
        "dropped": copy.dropped,
        "text_only": bool(images.error),
    }
    if images.error:
        reason = (
            f"image generation failed after its retries ({images.error}); "
            "launching with text-only ads — review the campaign and add images"
        )
        detail["image_error"] = images.error
        _step(engine, launch, "assets", "degraded", detail)
        alerts.warning("LAUNCH %s TEXT-ONLY: %s", launch.id, reason)
        return flag_for_review(
            engine, launch, kind="text_only", reason=reason, target=S.PENDING_DEPLOYMENT
        )
    _step(engine, launch, "assets", "done", detail)
    return advance(
        engine,
        launch,
        S.PENDING_DEPLOYMENT,
        reason=f"assets ready: {len(copy.copy.headlines)} headlines, "
        f"{len(copy.copy.descriptions)} descriptions, {len(copy.keywords)} keywords, "
        f"{len(images.asset_keys)} images",
        actor=actor,
    )


# --------------------------------------------------------------------------- the build


def campaign_build(engine: Engine, launch: Launch) -> CampaignBuild:
    """What the launch creates in Google Ads, from the brief and its stored assets."""
    brief = launch.brief
    with engine.connect() as conn:
        step = store.steps_of(conn, tenant_id=launch.tenant_id, brief_id=launch.id).get("assets")
    if step is None or step["status"] not in ("done", "degraded"):
        raise LookupError(f"launch {launch.id} has no generated assets")
    keys = list(step["detail"]["asset_keys"])
    with engine.connect() as conn:
        rows = [store.get_asset(conn, tenant_id=launch.tenant_id, request_key=k) for k in keys]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row is not None:
            by_kind.setdefault(row["kind"], []).append(row)
    copy = by_kind["rsa_copy"][0]["content"]
    keywords = by_kind["keywords"][0]["content"]["keywords"]
    unit = brief.billable_unit_micros
    bid = brief.default_cpc_bid_micros or max(
        unit, round_to_unit((brief.target_cpa_micros or 0) * 0.05, unit)
    )
    group = AdGroupSpec(
        name=f"{brief.product.name} | core",
        cpc_bid_micros=bid,
        keywords=tuple(KeywordSpec(text=k["text"], match_type=k["match_type"]) for k in keywords),
        ads=(
            AdSpec(
                headlines=tuple(copy["headlines"]),
                descriptions=tuple(copy["descriptions"]),
                final_urls=(str(brief.landing_page),),
                path1=copy.get("path1", ""),
                path2=copy.get("path2", ""),
            ),
        ),
    )
    images = tuple(
        ImageSpec(
            name=f"{brief.campaign_name} | image {row['content_sha256'][:12]}", data=row["data"]
        )
        for row in by_kind.get("image", [])[:MAX_IMAGES_PER_CAMPAIGN]
    )
    return CampaignBuild(
        tenant_id=launch.tenant_id,
        customer_id=launch.customer_id,
        campaign_name=brief.campaign_name,
        budget_micros=brief.daily_budget_micros,
        status="ENABLED",
        target_cpa_micros=brief.target_cpa_micros
        if brief.bidding.strategy == "TARGET_CPA"
        else None,
        ad_groups=(group,),
        images=images,
    )


# --------------------------------------------------------------------------- 2. checks


@dataclass(frozen=True)
class Readiness:
    """Whether a PENDING_DEPLOYMENT launch may be deployed (and if not, why)."""

    launch: Launch
    ready: bool
    reason: str = ""


def _rows(
    client: Any,
    creds: AdsCredentials,
    customer_id: int,
    query: str,
    config: ApplyConfig,
    **params: Any,
) -> list[dict[str, Any]]:
    cols = stream_columns(
        client,
        creds,
        customer_id=customer_id,
        query=load_query(query),
        as_of=config.as_of,
        **params,
    )
    names = list(cols)
    return [dict(zip(names, v, strict=True)) for v in zip(*cols.values(), strict=True)]


def ensure_conversion_action(
    engine: Engine,
    client: Any,
    creds: AdsCredentials,
    launch: Launch,
    *,
    config: ApplyConfig,
    actor: str = ACTOR,
) -> tuple[bool, str]:
    """(tracked, reason): an enabled conversion action for the goal exists or was created."""
    brief = launch.brief
    actions = _rows(client, creds, launch.customer_id, "conversion_actions", config)
    enabled = [a for a in actions if a["conversion_action.status"] == "ENABLED"]
    match = [
        a
        for a in enabled
        if a["conversion_action.name"] == brief.conversion_action
        or a["conversion_action.category"] == brief.goal
    ]
    if match:
        found = match[0]
        detail = {"conversion_action": found["conversion_action.resource_name"], "created": False}
        _step(engine, launch, "conversion", "done", detail)
        return True, f"conversion action {found['conversion_action.name']!r} tracks {brief.goal}"
    mop = client.get_type("MutateOperation")
    action = mop.conversion_action_operation.create
    enums = client.enums
    action.name = brief.conversion_action
    action.type_ = enums.ConversionActionTypeEnum.WEBPAGE
    action.category = getattr(enums.ConversionActionCategoryEnum, brief.goal)
    action.status = enums.ConversionActionStatusEnum.ENABLED
    action.counting_type = getattr(
        enums.ConversionActionCountingTypeEnum, COUNTING.get(brief.goal, "ONE_PER_CLICK")
    )
    try:
        outcome = mutate(
            client, creds, customer_id=launch.customer_id, operations=[mop],
            partial_failure=False, as_of=config.as_of,
        )  # fmt: skip
    except AdsError as exc:
        reason = (
            f"no enabled conversion action for {brief.goal}, and creating one was refused: {exc}"
        )
        _step(engine, launch, "conversion", "blocked", {"reason": reason})
        return False, reason
    rn = outcome.results[0].resource_name
    with engine.begin() as conn:
        audit.record(
            conn,
            tenant_id=launch.tenant_id,
            action="conversion_action_created",
            actor=actor,
            entity=launch.entity,
            after={"resource_name": rn, "name": brief.conversion_action, "category": brief.goal},
            request_id=outcome.request_id,
        )
    _step(engine, launch, "conversion", "done", {"conversion_action": rn, "created": True})
    return True, f"created conversion action {brief.conversion_action!r} ({rn})"


def limit_problems(
    build: CampaignBuild, *, campaigns_in_account: int, limits: StructureLimits
) -> list[str]:
    """Google's documented structure limits the launch would break (empty: it fits)."""
    out = []
    if campaigns_in_account + 1 > limits.campaigns_per_account:
        out.append(
            f"the account has {campaigns_in_account} campaigns (Google's limit "
            f"{limits.campaigns_per_account})"
        )
    if len(build.ad_groups) > limits.ad_groups_per_campaign:
        out.append(f"{len(build.ad_groups)} ad groups (limit {limits.ad_groups_per_campaign})")
    for g in build.ad_groups:
        if len(g.keywords) > limits.keywords_per_ad_group:
            out.append(
                f"{len(g.keywords)} keywords in {g.name!r} (limit {limits.keywords_per_ad_group})"
            )
        enabled = sum(a.status == "ENABLED" for a in g.ads)
        if enabled > limits.enabled_rsas_per_ad_group:
            out.append(
                f"{enabled} enabled ads in {g.name!r} (limit {limits.enabled_rsas_per_ad_group})"
            )
    return out


def _preflight(
    client: Any, creds: AdsCredentials, build: CampaignBuild, config: ApplyConfig
) -> list[str]:
    """The budget and campaign creates, sent with validate_only (temporary ids): Google checks
    them against the account as it is — limits, names — and creates nothing."""
    budget_rn = f"customers/{build.customer_id}/campaignBudgets/-1"
    b_op = budget_create(client, build, resource_name=budget_rn)
    c_op = campaign_create(client, build, budget_rn)
    outcome = mutate(
        client, creds, customer_id=build.customer_id, operations=[b_op, c_op],
        validate_only=True, partial_failure=True, as_of=config.as_of,
    )  # fmt: skip
    return [f"{d.category}.{d.code}: {d.message}" for r in outcome.results for d in r.errors]


def prepare_deployment(
    engine: Engine,
    client: Any,
    creds: AdsCredentials,
    *,
    tenant_id: str,
    launch_id: int,
    limits: StructureLimits | None = None,
    config: ApplyConfig | None = None,
    actor: str = ACTOR,
) -> Readiness:
    """Conversion tracking and account limits, before anything is created (see module doc)."""
    config = config or ApplyConfig()
    launch = load_launch(engine, tenant_id=tenant_id, launch_id=launch_id)
    if launch.state is not S.PENDING_DEPLOYMENT:
        return Readiness(launch, launch.state in (S.DEPLOYING,), f"launch is {launch.state.value}")
    build = campaign_build(engine, launch)
    campaigns = [
        r for r in _rows(client, creds, launch.customer_id, "operation_campaigns", config)
        if r["campaign.status"] != "REMOVED"
    ]  # fmt: skip
    ours = any(r["campaign.name"] == build.campaign_name for r in campaigns)
    problems = [] if ours else limit_problems(
        build, campaigns_in_account=len(campaigns), limits=limits or StructureLimits()
    )  # fmt: skip
    if not problems and not ours:
        problems = _preflight(client, creds, build, config)
    if problems:
        reason = "refused before creating anything: " + "; ".join(problems)
        _step(engine, launch, "limits", "failed", {"problems": problems})
        return Readiness(
            fail(engine, launch, reason=reason, actor=actor, resources=[]), False, reason
        )
    _step(engine, launch, "limits", "done", {"campaigns_in_account": len(campaigns)})
    tracked, why = ensure_conversion_action(
        engine, client, creds, launch, config=config, actor=actor
    )
    if not tracked:
        flag_for_review(engine, launch, kind="conversion_tracking", reason=why)
        with engine.begin() as conn:  # stays PENDING_DEPLOYMENT; the reason says why
            store.update_brief(conn, tenant_id=tenant_id, brief_id=launch.id,
                               values={"state_reason": why}, now=_now())  # fmt: skip
        return Readiness(load_launch(engine, tenant_id=tenant_id, launch_id=launch_id), False, why)
    if any(f.get("kind") == "conversion_tracking" for f in launch.review_flags):
        flags = [f for f in launch.review_flags if f.get("kind") != "conversion_tracking"]
        with engine.begin() as conn:
            store.update_brief(conn, tenant_id=tenant_id, brief_id=launch.id,
                               values={"review_flags": flags}, now=_now())  # fmt: skip
    return Readiness(load_launch(engine, tenant_id=tenant_id, launch_id=launch_id), True, why)


# --------------------------------------------------------------------------- 3. approval


def approval_required(engine: Engine, *, tenant_id: str) -> bool:
    """A launch waits for a person unless the tenant's launch autopilot is on."""
    with engine.connect() as conn:
        return not store.launch_autopilot_of(conn, tenant_id=tenant_id)


def is_approved(engine: Engine, launch: Launch) -> bool:
    with engine.connect() as conn:
        step = store.steps_of(conn, tenant_id=launch.tenant_id, brief_id=launch.id).get("approval")
    return step is not None and step["status"] == "done"


def approve_launch(
    engine: Engine, *, tenant_id: str, launch_id: int, by: str, approved: bool, reason: str = ""
) -> Launch:
    """A person's answer (an approver of the tenant: refused and audited otherwise). A
    rejection archives nothing: the launch stays PENDING_DEPLOYMENT with the reason."""
    launch = load_launch(engine, tenant_id=tenant_id, launch_id=launch_id)
    authorize(
        engine, tenant_id=tenant_id, principal=by, action=Action.APPROVE, entity=launch.entity
    )
    status = "done" if approved else "rejected"
    _step(engine, launch, "approval", status, {"by": by, "reason": reason})
    with engine.begin() as conn:
        audit.record(
            conn,
            tenant_id=tenant_id,
            action="launch_approved" if approved else "launch_rejected",
            actor=by,
            entity=launch.entity,
            reasoning=reason,
        )
        if not approved and launch.state is S.PENDING_DEPLOYMENT:
            store.update_brief(conn, tenant_id=tenant_id, brief_id=launch.id,
                               values={"state_reason": f"rejected by {by}: {reason}"},
                               now=_now())  # fmt: skip
    return load_launch(engine, tenant_id=tenant_id, launch_id=launch_id)


def set_launch_autopilot(engine: Engine, *, tenant_id: str, on: bool, by: str) -> None:
    """Launches deploy without approval (an admin's switch, audited)."""
    authorize(engine, tenant_id=tenant_id, principal=by, action=Action.AUTOPILOT)
    with engine.begin() as conn:
        before = store.launch_autopilot_of(conn, tenant_id=tenant_id)
        store.set_launch_autopilot(conn, tenant_id=tenant_id, on=on, updated_by=by, now=_now())
        audit.record(
            conn, tenant_id=tenant_id, action="launch_autopilot_on" if on else "launch_autopilot_off",
            actor=by, before=before, after=on,
        )  # fmt: skip


# --------------------------------------------------------------------------- 4. deploy


def deploy(
    engine: Engine,
    client: Any,
    creds: AdsCredentials,
    *,
    tenant_id: str,
    launch_id: int,
    config: ApplyConfig | None = None,
    breaker: pybreaker.CircuitBreaker | None = None,
    on_step: StepHook | None = None,
    actor: str = ACTOR,
) -> Launch:
    """Create (or finish creating) the campaign; ACTIVE when every step is done."""
    config = config or ApplyConfig(actor=actor)
    launch = load_launch(engine, tenant_id=tenant_id, launch_id=launch_id)
    if launch.state is S.PENDING_DEPLOYMENT:
        if approval_required(engine, tenant_id=tenant_id) and not is_approved(engine, launch):
            return launch  # waits for a person (spectra campaign approve / the HITL task)
        build = campaign_build(engine, launch)
        launch = advance(
            engine, launch, S.DEPLOYING, reason="deploying budget, campaign, ad groups, "
            "keywords, ads and images", actor=actor, extra={"operation_key": build.operation_key},
        )  # fmt: skip
    if launch.state is not S.DEPLOYING:
        return launch
    build = campaign_build(engine, launch)
    report = build_campaign(
        engine, client, build, creds=creds, config=config, breaker=breaker, on_step=on_step
    )
    return _settle(engine, launch, build, report, actor=actor)


def _settle(
    engine: Engine, launch: Launch, build: CampaignBuild, report: OperationReport, *, actor: str
) -> Launch:
    created = report.created()
    if report.status == "failed":
        return fail(engine, launch, reason=f"deployment failed: {report.error}", actor=actor,
                    resources=created)  # fmt: skip
    if report.status != "done":
        with engine.begin() as conn:
            store.update_brief(conn, tenant_id=launch.tenant_id, brief_id=launch.id,
                               values={"resources": created, "state_reason": f"deployment "
                                       f"pending: {report.error}"}, now=_now())  # fmt: skip
        return load_launch(engine, tenant_id=launch.tenant_id, launch_id=launch.id)
    campaign_id = int(report.steps["campaign"]["id"])
    brief = launch.brief
    with engine.begin() as conn:
        add_campaign(
            conn, tenant_id=launch.tenant_id, customer_id=launch.customer_id,
            campaign_id=campaign_id, name=build.campaign_name, status=S.ACTIVE, exist_ok=True,
            serving_status="ENABLED", advertising_channel_type="SEARCH",
            bidding_strategy_type=brief.bidding.strategy, budget_micros=build.budget_micros,
            max_daily_spend_micros=brief.max_daily_spend_micros,
            total_spend_limit_micros=brief.total_spend_limit_micros,
            flight_start=brief.start_date, flight_end=brief.end_date,
        )  # fmt: skip
        images = len(report.steps.get("images", {}).get("resource_names", {}))
        text_only = any(f.get("kind") == "text_only" for f in launch.review_flags)
        return advance_in(
            conn, launch, S.ACTIVE,
            reason=f"deployed: {len(created)} resources ({images} images)"
            + (" — text-only, flagged for review" if text_only else ""),
            actor=actor, detail={"operation_key": report.operation_key,
                                 "found_existing": report.found_existing},
            extra={"resources": created, "campaign_id": campaign_id},
        )  # fmt: skip


__all__ = [
    "ACTOR",
    "Readiness",
    "approval_required",
    "approve_launch",
    "campaign_build",
    "deploy",
    "ensure_conversion_action",
    "flag_for_review",
    "generate_assets",
    "is_approved",
    "limit_problems",
    "prepare_deployment",
    "set_launch_autopilot",
]
