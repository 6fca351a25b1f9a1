"""Rollback: three changes, back to version 1 field by field, and a second rollback is a no-op;
a read-back that differs from the target rolls the campaign back by itself; analytics harm too."""

from __future__ import annotations

import datetime as dt
from typing import Any

from apply_support import TENANT, fast_config, last_seq, register_campaigns, snapshot
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials
from spectra.apply.executor import apply_changes
from spectra.apply.rollback import rollback, rollback_harmful_changes
from spectra.domain.changes import ApprovedChange, EntityKind, EntityRef, Origin, OriginKind
from spectra.observability.audit import verify
from spectra.warehouse.models import ChangeEffectRow
from spectra.warehouse.repositories import get_campaign, list_campaign_versions


def _three_changes(snap: dict[str, Any], cid: int, campaign_id: int) -> list[ApprovedChange]:
    key = next(
        k for k, v in snap["keywords"].items() if not v["negative"] and v["status"] == "ENABLED"
    )
    group, crit = (int(x) for x in key.split("~"))
    origin = Origin(kind=OriginKind.PERSON, ref="ticket-1", actor="alice")
    return [
        ApprovedChange(
            tenant_id=TENANT,
            customer_id=cid,
            entity=EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=campaign_id),
            field="budget_micros",
            target=snap["campaign"]["budget_micros"] + 7_000_000,
            origin=origin,
        ),
        ApprovedChange(
            tenant_id=TENANT,
            customer_id=cid,
            entity=EntityRef(
                kind=EntityKind.KEYWORD,
                campaign_id=campaign_id,
                ad_group_id=group,
                criterion_id=crit,
            ),
            field="cpc_bid_micros",
            target=snap["keywords"][key]["cpc_bid_micros"] + 130_000,
            origin=origin,
        ),
        ApprovedChange(
            tenant_id=TENANT,
            customer_id=cid,
            entity=EntityRef(
                kind=EntityKind.NEGATIVE_KEYWORD,
                campaign_id=campaign_id,
                text="free stuff",
                match_type="PHRASE",
            ),
            field="status",
            target="ENABLED",
            origin=origin,
        ),
    ]


def test_rollback_to_version_1_equals_it_and_is_idempotent(
    engine: Engine, apply_market: Any, apply_client: Any, apply_creds: AdsCredentials
) -> None:
    cid = apply_market.customer_ids()[0]
    campaign_id = register_campaigns(engine, apply_client, apply_creds, cid)[0]
    v1 = snapshot(apply_client, apply_creds, cid, campaign_id)
    changes = _three_changes(v1, cid, campaign_id)
    config = fast_config()
    for change in changes:  # three separate applies: versions 1 (before) .. 4
        report = apply_changes(engine, apply_client, [change], creds=apply_creds, config=config)
        assert report.counts() == {"applied": 1}
    with engine.connect() as conn:
        versions = list_campaign_versions(
            conn, tenant_id=TENANT, customer_id=cid, campaign_id=campaign_id
        )
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert versions[0].snapshot == v1 and versions[-1].snapshot != v1
    result = rollback(
        engine,
        apply_client,
        tenant_id=TENANT,
        customer_id=cid,
        campaign_id=campaign_id,
        to_version=1,
        actor="alice",
        reason="undo",
        creds=apply_creds,
        config=config,
    )
    assert len(result.planned) == 3 and set(result.outcomes.values()) == {"applied"}
    assert snapshot(apply_client, apply_creds, cid, campaign_id) == v1  # field by field
    seq = last_seq(apply_market)
    again = rollback(
        engine,
        apply_client,
        tenant_id=TENANT,
        customer_id=cid,
        campaign_id=campaign_id,
        to_version=1,
        actor="alice",
        reason="undo again",
        creds=apply_creds,
        config=config,
    )
    assert again.nothing_to_do and last_seq(apply_market) == seq  # nothing sent the second time
    with engine.connect() as conn:
        assert (
            len(
                list_campaign_versions(
                    conn, tenant_id=TENANT, customer_id=cid, campaign_id=campaign_id
                )
            )
            == 5
        )
        assert (
            get_campaign(conn, tenant_id=TENANT, customer_id=cid, campaign_id=campaign_id).status
            == "ACTIVE"
        )
    assert all(r.ok for r in verify(engine, tenant_id=TENANT))


def test_read_back_mismatch_rolls_the_campaign_back(
    engine: Engine, apply_market: Any, apply_client: Any, apply_creds: AdsCredentials
) -> None:
    """Someone edits the bid right after our mutate: the read-back differs, so the whole apply
    is undone to the version from before it."""
    from spectra.sandbox.market.mutations import Mutation

    cid = apply_market.customer_ids()[0]
    campaign_id = register_campaigns(engine, apply_client, apply_creds, cid)[1]
    before = snapshot(apply_client, apply_creds, cid, campaign_id)
    changes = _three_changes(before, cid, campaign_id)[:2]
    keyword = changes[1].entity
    rn = f"customers/{cid}/adGroupCriteria/{keyword.ad_group_id}~{keyword.criterion_id}"

    def meddle(phase: str, keys: Any) -> None:
        if phase == "mutated":  # a person in the UI, between our send and our read-back
            apply_market.apply_mutation(
                cid,
                Mutation(
                    "ad_group_criterion",
                    "update",
                    rn,
                    {"cpc_bid_micros": 990_000},
                    ("cpc_bid_micros",),
                ),
                as_of=apply_market.reference_date,
                client_type="GOOGLE_ADS_WEB_CLIENT",
            )

    report = apply_changes(
        engine, apply_client, changes, creds=apply_creds, config=fast_config(), on_phase=meddle
    )
    assert report.outcomes[changes[1].idempotency_key].outcome == "rejected"
    assert "read-back" in report.outcomes[changes[1].idempotency_key].error
    (rolled,) = report.rollbacks
    assert rolled["to_version"] >= 1 and set(rolled["outcomes"].values()) == {"applied"}
    assert snapshot(apply_client, apply_creds, cid, campaign_id) == before


def test_harm_at_the_final_look_rolls_back(
    engine: Engine, apply_market: Any, apply_client: Any, apply_creds: AdsCredentials
) -> None:
    cid = apply_market.customer_ids()[0]
    campaign_id = register_campaigns(engine, apply_client, apply_creds, cid)[0]
    before = snapshot(apply_client, apply_creds, cid, campaign_id)
    (change,) = _three_changes(before, cid, campaign_id)[:1]
    config = fast_config(as_of=dt.date(2026, 11, 2))
    apply_changes(engine, apply_client, [change], creds=apply_creds, config=config)
    assert snapshot(apply_client, apply_creds, cid, campaign_id) != before
    judged = dt.date(2026, 11, 30)
    with engine.begin() as conn:
        for look, verdict in (("interim", "worsened"), ("final", "worsened")):
            conn.execute(
                ChangeEffectRow.__table__.insert().values(
                    tenant_id=TENANT,
                    customer_id=cid,
                    logical_date=judged if look == "final" else judged - dt.timedelta(days=1),
                    campaign_id=campaign_id,
                    change_date=dt.date(2026, 11, 2),
                    metric="conversions",
                    look=look,
                    did_pct=-23.0,
                    n_controls=5,
                    verdict=verdict,
                    reason="",
                    evidence={},
                )
            )
    assert (
        rollback_harmful_changes(
            engine,
            apply_client,
            tenant_id=TENANT,
            customer_id=cid,
            logical_date=judged - dt.timedelta(days=1),
            creds=apply_creds,
            config=config,
        )
        == []
    )
    (result,) = rollback_harmful_changes(
        engine,
        apply_client,
        tenant_id=TENANT,
        customer_id=cid,
        logical_date=judged,
        creds=apply_creds,
        config=config,
    )
    assert set(result.outcomes.values()) == {"applied"}
    assert snapshot(apply_client, apply_creds, cid, campaign_id) == before
