"""Generated copy goes through the deterministic checks and the LLM review; unsafe copy is
rejected with the reason stored, safe copy becomes an rsa_copy proposal."""

from __future__ import annotations

from agent_support import DAY, TENANT, campaign_ids, proposals
from sqlalchemy import Engine, insert, select, update

from spectra.agent.brand_safety import BrandPolicy
from spectra.agent.client import GeminiClient
from spectra.agent.service import propose_account
from spectra.agent.settings import AgentSettings
from spectra.warehouse import models as m


def _groups(engine: Engine, account: int) -> list[int]:
    out = []
    with engine.connect() as conn:
        for cid in campaign_ids(engine, TENANT):
            out += conn.execute(
                select(m.AdGroup.ad_group_id)
                .where(m.AdGroup.tenant_id == TENANT, m.AdGroup.campaign_id == cid,
                       m.AdGroup.serving_status == "ENABLED")
                .order_by(m.AdGroup.ad_group_id).limit(2)
            ).scalars().all()  # fmt: skip
    return out[:3]


def test_unsafe_copy_is_rejected_with_reasons_and_safe_copy_proposed(
    warehouse: Engine, gemini: GeminiClient, account: int
) -> None:
    names = ["Cure Pain Shoes", "Miracle Trail Shoes", "Trail Shoes"]
    groups = _groups(warehouse, account)
    assert len(groups) == 3
    with warehouse.begin() as conn:
        for ad_id, (group, name) in enumerate(zip(groups, names, strict=True), start=1):
            conn.execute(
                update(m.AdGroup)
                .where(m.AdGroup.tenant_id == TENANT, m.AdGroup.ad_group_id == group)
                .values(name=name)
            )
            campaign = conn.execute(
                select(m.AdGroup.campaign_id).where(m.AdGroup.ad_group_id == group)
            ).scalar_one()
            conn.execute(insert(m.Ad).values(
                tenant_id=TENANT, customer_id=account, campaign_id=campaign, ad_group_id=group,
                ad_id=ad_id, ad_type="RESPONSIVE_SEARCH_AD", serving_status="ENABLED",
                approval_status="DISAPPROVED", headlines=["Old"], descriptions=["Old copy."],
            ))  # fmt: skip
    settings = AgentSettings(
        max_proposals_per_campaign=8, brand_policies={TENANT: BrandPolicy(banned_terms=("cheap",))}
    )
    outcome = propose_account(
        warehouse,
        gemini,
        tenant_id=TENANT,
        customer_id=account,
        logical_date=DAY,
        settings=settings,
        use_breaker=False,
    )
    with warehouse.connect() as conn:
        rejected = {
            r.ad_group_id: (r.check_kind, r.reasons, r.content)
            for r in conn.execute(select(m.ProposalRejection))
        }
        reviews = conn.execute(
            select(m.AiCall.outcome, m.AiCall.prompt_id).where(m.AiCall.purpose == "brand_review")
        ).all()
    assert rejected[groups[0]][0] == "deterministic"
    assert any("unsupported claim 'cure'" in r for r in rejected[groups[0]][1])
    assert rejected[groups[1]][0] == "llm_review"
    assert rejected[groups[1]][1] == ["implied claim or pressure: 'miracle'"]
    assert groups[2] not in rejected and outcome.as_dict()["rejections"] == 2
    assert sorted(reviews) == [
        ("ok", "brand_review"),
        ("ok", "brand_review"),
    ]  # none for the deterministic reject
    copy = [p for p in proposals(warehouse) if p["kind"] == "rsa_copy"]
    assert [p["ad_group_id"] for p in copy] == [groups[2]]
    assert copy[0]["new_value"]["headlines"][0].startswith("Trail Shoes")
    # a re-run judges anew and does not pile rejections up
    propose_account(
        warehouse,
        gemini,
        tenant_id=TENANT,
        customer_id=account,
        logical_date=DAY,
        settings=settings,
        use_breaker=False,
    )
    with warehouse.connect() as conn:
        assert len(conn.execute(select(m.ProposalRejection.id)).all()) == 2
