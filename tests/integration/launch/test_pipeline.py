"""The launch pipeline against the sandbox and the LLM / Imagen stand-in: a brief becomes an
ACTIVE campaign with its copy, keywords and images; images that keep failing launch text-only
and flag review; assets are reused on a retry; conversion tracking is created or flagged;
an account at its limit fails before anything is created; a launch waits for approval."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from launch_support import TENANT, make_brief, register
from sqlalchemy import Engine, func, select
from support.executor_config import fast_config, quick_breaker

from spectra.ads.client import AdsCredentials
from spectra.ads.stream import load_query, stream_columns
from spectra.domain.campaign_state import CampaignState as S
from spectra.guardrails.permissions import PermissionDenied
from spectra.guardrails.service import grant
from spectra.launch import pipeline
from spectra.launch.lifecycle import Launch, create_draft, load_launch
from spectra.sandbox.catalog import catalog_of
from spectra.sandbox.market import Market
from spectra.sandbox.market.scenario import Limits
from spectra.sandbox.server import SandboxServer
from spectra.warehouse.models import AiCall, Alert, AuditRow, Campaign, LaunchAsset


def _run(
    engine: Engine,
    client: Any,
    creds: AdsCredentials,
    models: Any,
    brief: Any,
    *,
    approve: bool = True,
) -> Launch:
    llm, imagen = models
    launch, _ = create_draft(engine, brief, actor="ann")
    launch = pipeline.generate_assets(
        engine, tenant_id=TENANT, launch_id=launch.id, model=llm, imagen=imagen
    )
    ready = pipeline.prepare_deployment(
        engine, client, creds, tenant_id=TENANT, launch_id=launch.id, config=fast_config()
    )
    if not ready.ready:
        return ready.launch
    if approve:
        pipeline.set_launch_autopilot(engine, tenant_id=TENANT, on=True, by="root")
    return pipeline.deploy(
        engine, client, creds, tenant_id=TENANT, launch_id=launch.id,
        config=fast_config(), breaker=quick_breaker(engine),
    )  # fmt: skip


@pytest.fixture
def admin(sqlite_engine: Engine, launch_market: Market) -> Engine:
    register(sqlite_engine, *launch_market.customer_ids())
    grant(sqlite_engine, tenant_id=TENANT, principal="root", role="admin", by="root")
    return sqlite_engine


def _sandbox_campaign(
    client: Any, creds: AdsCredentials, cid: int, name: str
) -> list[dict[str, Any]]:
    cols = stream_columns(client, creds, customer_id=cid, query=load_query("operation_campaigns"))
    return [
        {k: cols[k][i] for k in cols} for i in range(len(cols["campaign.name"]))
        if cols["campaign.name"][i] == name
    ]  # fmt: skip


def test_a_brief_becomes_an_active_campaign_with_its_assets(
    admin: Engine,
    launch_market: Market,
    launch_client: Any,
    launch_creds: AdsCredentials,
    models: Any,
) -> None:
    cid = launch_market.customer_ids()[0]
    brief = make_brief(cid, "Launch | happy path")
    launch = _run(admin, launch_client, launch_creds, models, brief)
    assert launch.state is S.ACTIVE, launch.state_reason
    assert launch.review_flags == []
    (campaign,) = _sandbox_campaign(launch_client, launch_creds, cid, brief.campaign_name)
    assert campaign["campaign.status"] == "ENABLED"
    assert launch.campaign_id == int(campaign["campaign.resource_name"].rsplit("/", 1)[1])
    kinds = Counter(rn.split("/")[2] for rn in launch.resources)
    assert kinds["campaignBudgets"] == kinds["campaigns"] == kinds["adGroups"] == 1
    assert kinds["adGroupAds"] == 1 and kinds["adGroupCriteria"] >= 2 * len(brief.seed_keywords)
    assert kinds["assets"] == kinds["campaignAssets"] == 2
    links = catalog_of(launch_market).rows("campaign_asset", cid)
    assert sum(link["campaign.id"] == launch.campaign_id for link in links) == 2
    with admin.connect() as conn:
        row = conn.execute(
            select(
                Campaign.status, Campaign.budget_micros, Campaign.max_daily_spend_micros,
                Campaign.flight_start,
            ).where(Campaign.campaign_id == launch.campaign_id)
        ).one()  # fmt: skip
        kinds_stored = Counter(conn.execute(select(LaunchAsset.kind)).scalars())
    assert (row.status, row.budget_micros, row.max_daily_spend_micros) == (
        "ACTIVE", brief.daily_budget_micros, brief.max_daily_spend_micros,
    )  # fmt: skip
    assert row.flight_start == brief.start_date
    assert kinds_stored == {"rsa_copy": 1, "keywords": 1, "image": 2}
    with admin.connect() as conn:
        calls = conn.execute(
            select(AiCall.purpose, AiCall.outcome, AiCall.prompt_tokens, AiCall.output_tokens,
                   AiCall.thinking_tokens, AiCall.cost_micros).where(AiCall.tenant_id == TENANT)
        ).all()  # fmt: skip
    assert sorted(c.purpose for c in calls) == ["brand_review", "launch_copy", "launch_image"]
    (copy_call,) = [c for c in calls if c.purpose == "launch_copy"]
    # gemini-2.5-flash's price row (0008): 0.30 USD in, 2.50 USD out per million tokens
    nano = (
        copy_call.prompt_tokens * 300_000
        + (copy_call.output_tokens + copy_call.thinking_tokens) * 2_500_000
    )
    assert copy_call.outcome == "ok" and copy_call.cost_micros == -(-nano // 1_000_000) > 0


def test_images_that_keep_failing_launch_text_only_and_flag_review(
    admin: Engine, launch_market: Market, launch_client: Any, launch_creds: AdsCredentials,
    models: Any, standin: Any,
) -> None:  # fmt: skip
    cid = launch_market.customer_ids()[0]
    standin.image_mode = "server_error"
    before = len(standin.image_requests())
    launch = _run(admin, launch_client, launch_creds, models, make_brief(cid, "Launch | no images"))
    assert len(standin.image_requests()) - before == 3  # the client's retries, then text-only
    assert launch.state is S.ACTIVE, launch.state_reason
    assert "text-only" in launch.state_reason
    (flag,) = launch.review_flags
    assert flag["kind"] == "text_only" and "500" in flag["reason"]
    assert not any("/assets/" in rn or "campaignAssets" in rn for rn in launch.resources)
    assert any("adGroupAds" in rn for rn in launch.resources)
    with admin.connect() as conn:
        (alert,) = conn.execute(
            select(Alert.kind, Alert.status).where(Alert.monitor == "launch")
        ).all()
        flagged = (
            conn.execute(select(AuditRow.reasoning).where(AuditRow.action == "launch_flagged"))
            .scalars()
            .all()
        )
    assert alert.kind == "text_only" and alert.status == "open"
    assert len(flagged) == 1 and "text-only" in flagged[0]


def test_a_retry_reuses_the_stored_assets(
    admin: Engine, launch_market: Market, models: Any, standin: Any
) -> None:
    llm, imagen = models
    cid = launch_market.customer_ids()[1]
    brief = make_brief(cid, "Launch | reuse")
    launch, _ = create_draft(admin, brief, actor="ann")
    launch = pipeline.generate_assets(
        admin, tenant_id=TENANT, launch_id=launch.id, model=llm, imagen=imagen
    )
    assert launch.state is S.PENDING_DEPLOYMENT
    calls = len(standin.generate_requests()), len(standin.image_requests())
    # an operator sends it back to draft and runs it again: nothing is generated twice
    launch = pipeline.advance(admin, launch, S.DRAFT, reason="edit", actor="ann")
    launch = pipeline.generate_assets(
        admin, tenant_id=TENANT, launch_id=launch.id, model=llm, imagen=imagen
    )
    assert launch.state is S.PENDING_DEPLOYMENT
    assert (len(standin.generate_requests()), len(standin.image_requests())) == calls
    with admin.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LaunchAsset)).scalar_one() == 4


def test_missing_conversion_tracking_is_created_or_flagged_when_refused(
    admin: Engine,
    launch_market: Market,
    launch_client: Any,
    launch_creds: AdsCredentials,
    models: Any,
) -> None:
    llm, imagen = models
    a, b = launch_market.customer_ids()
    catalog = catalog_of(launch_market)
    catalog.configure(a, conversion_actions=False)
    launch = _run(admin, launch_client, launch_creds, models, make_brief(a, "Launch | tracked"))
    assert launch.state is S.ACTIVE, launch.state_reason
    (action,) = catalog.rows("conversion_action", a)
    assert (action["conversion_action.name"], action["conversion_action.category"]) == (
        "Purchase",
        "PURCHASE",
    )
    assert action["conversion_action.status"] == "ENABLED"

    catalog.configure(
        b,
        conversion_actions=False,
        creation_refused="conversion tracking is managed by the manager account",
    )
    refused = _run(admin, launch_client, launch_creds, models, make_brief(b, "Launch | untracked"))
    assert refused.state is S.PENDING_DEPLOYMENT
    assert "ACTION_NOT_PERMITTED" in refused.state_reason
    assert [f["kind"] for f in refused.review_flags] == ["conversion_tracking"]
    assert catalog.rows("conversion_action", b) == []
    assert _sandbox_campaign(launch_client, launch_creds, b, "Launch | untracked") == []
    # once the account can track conversions, the same launch goes ahead and the flag clears
    catalog.configure(b, creation_refused="")
    ready = pipeline.prepare_deployment(admin, launch_client, launch_creds, tenant_id=TENANT,
                                        launch_id=refused.id, config=fast_config())  # fmt: skip
    assert ready.ready and ready.launch.review_flags == []


def test_an_account_at_its_campaign_limit_fails_before_creating_anything(
    admin: Engine, models: Any, tmp_path: Any
) -> None:
    probe = Market.from_scenario("tiny")
    cid = probe.customer_ids()[0]
    have = sum(1 for _ in probe.rows("campaign", customer_id=cid, date_from=None, date_to=None,
               as_of=probe.reference_date, fields=frozenset({"campaign.id"})))  # fmt: skip
    full = Market.from_scenario("tiny", limits=Limits(campaigns_per_account=have))
    with SandboxServer(full, clock=full.reference_date) as server:
        creds = AdsCredentials(developer_token="d", access_token="t", endpoint=server.endpoint,
                               ca_cert_path=str(server.ca_cert))  # fmt: skip
        from spectra.ads.client import build_client

        client = build_client(creds)
        before = len(full.changes())
        launch = _run(admin, client, creds, models, make_brief(cid, "Launch | over the limit"))
        assert launch.state is S.FAILED
        assert "refused before creating anything" in launch.state_reason
        assert "ACCOUNT_LIMIT" in launch.state_reason
        assert launch.resources == []
        assert len(full.changes()) == before  # not even a budget
    # Google's documented limit, as configured, catches it without asking Google
    problems = pipeline.limit_problems(
        pipeline.campaign_build(admin, launch), campaigns_in_account=10_000,
        limits=pipeline.StructureLimits(),
    )  # fmt: skip
    assert problems == ["the account has 10000 campaigns (Google's limit 10000)"]


def test_a_launch_waits_for_an_approver_unless_launch_autopilot_is_on(
    admin: Engine,
    launch_market: Market,
    launch_client: Any,
    launch_creds: AdsCredentials,
    models: Any,
) -> None:
    cid = launch_market.customer_ids()[1]
    grant(admin, tenant_id=TENANT, principal="ed", role="editor", by="root")
    grant(admin, tenant_id=TENANT, principal="ann", role="approver", by="root")
    launch = _run(
        admin,
        launch_client,
        launch_creds,
        models,
        make_brief(cid, "Launch | approval"),
        approve=False,
    )
    assert launch.state is S.PENDING_DEPLOYMENT
    waiting = pipeline.deploy(admin, launch_client, launch_creds, tenant_id=TENANT, launch_id=launch.id,
                              config=fast_config())  # fmt: skip
    assert waiting.state is S.PENDING_DEPLOYMENT
    assert _sandbox_campaign(launch_client, launch_creds, cid, "Launch | approval") == []
    with pytest.raises(PermissionDenied):
        pipeline.approve_launch(
            admin, tenant_id=TENANT, launch_id=launch.id, by="ed", approved=True
        )
    pipeline.approve_launch(admin, tenant_id=TENANT, launch_id=launch.id, by="ann", approved=True)
    live = pipeline.deploy(admin, launch_client, launch_creds, tenant_id=TENANT, launch_id=launch.id,
                           config=fast_config(), breaker=quick_breaker(admin))  # fmt: skip
    assert live.state is S.ACTIVE
    assert len(_sandbox_campaign(launch_client, launch_creds, cid, "Launch | approval")) == 1
    assert load_launch(admin, tenant_id=TENANT, launch_id=launch.id).state is S.ACTIVE


def test_a_launched_campaign_is_picked_up_by_the_daily_ingest(
    admin: Engine,
    launch_market: Market,
    launch_client: Any,
    launch_creds: AdsCredentials,
    models: Any,
) -> None:
    from spectra.ingest.daily import ingest_account
    from spectra.warehouse.models import AdGroup, Keyword

    cid = launch_market.customer_ids()[1]
    brief = make_brief(cid, "Launch | daily")
    launch = _run(admin, launch_client, launch_creds, models, brief)
    assert launch.state is S.ACTIVE
    ingest_account(
        admin, launch_client, launch_creds, tenant_id=TENANT, customer_id=cid,
        logical_date=launch_market.reference_date, repull_days=2,
    )  # fmt: skip
    with admin.connect() as conn:
        status, serving, budget = conn.execute(
            select(Campaign.status, Campaign.serving_status, Campaign.budget_micros).where(
                Campaign.tenant_id == TENANT, Campaign.campaign_id == launch.campaign_id
            )
        ).one()
        groups = (
            conn.execute(select(AdGroup.name).where(AdGroup.campaign_id == launch.campaign_id))
            .scalars()
            .all()
        )
        keywords = conn.execute(
            select(func.count())
            .select_from(Keyword)
            .where(Keyword.campaign_id == launch.campaign_id)
        ).scalar_one()
    # ingest keeps Spectra's lifecycle state and takes Google's serving status and structure
    assert (status, serving, budget) == ("ACTIVE", "ENABLED", brief.daily_budget_micros)
    assert groups == [f"{brief.product.name} | core"]
    assert keywords == sum(1 for rn in launch.resources if "adGroupCriteria" in rn)
