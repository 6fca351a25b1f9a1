"""Repositories on both backends: tenant isolation, state transitions, campaign versions."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Engine, select
from warehouse_factories import CUSTOMER_A, CUSTOMER_B, TENANT_A, TENANT_B

from spectra.domain.campaign_state import CampaignState, IllegalTransition
from spectra.warehouse import repositories as repo
from spectra.warehouse.db import unit_of_work
from spectra.warehouse.models import AdAccount, Campaign, CampaignVersion

CAMPAIGN = 501


def _add_campaign(engine: Engine, status: CampaignState = CampaignState.DRAFT) -> None:
    with unit_of_work(engine) as uow:
        repo.add_campaign(
            uow.session,
            tenant_id=TENANT_A,
            customer_id=CUSTOMER_A,
            campaign_id=CAMPAIGN,
            name="Spring sale",
            status=status,
            budget_micros=50_000_000,
        )
        uow.commit()


def _status(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.scalar(select(Campaign.status).where(Campaign.campaign_id == CAMPAIGN))


# --------------------------------------------------------------------------- accounts


def test_register_is_idempotent_and_lists_active_accounts(tenants: Engine) -> None:
    with unit_of_work(tenants) as uow:
        repo.register_tenant(uow.session, tenant_id=TENANT_A, name="Acme Inc")
        repo.register_account(uow.session, tenant_id=TENANT_A, customer_id=CUSTOMER_A)
        repo.register_account(uow.session, tenant_id=TENANT_A, customer_id=3, active=False)
        uow.commit()
    with unit_of_work(tenants) as uow:
        assert repo.get_tenant(uow.session, tenant_id=TENANT_A).name == "Acme Inc"
        mine = repo.list_active_accounts(uow.session, tenant_id=TENANT_A)
        everyone = repo.list_active_accounts(uow.session, tenant_id=None)
        assert uow.session.scalar(select(AdAccount.id).where(AdAccount.customer_id == 3))
    assert [a.customer_id for a in mine] == [CUSTOMER_A]
    assert [(a.tenant_id, a.customer_id) for a in everyone] == [
        (TENANT_A, CUSTOMER_A),
        (TENANT_B, CUSTOMER_B),
    ]


def test_an_account_belongs_to_one_tenant(tenants: Engine) -> None:
    with unit_of_work(tenants) as uow, pytest.raises(repo.AccountOwnedByAnotherTenant) as raised:
        repo.register_account(uow.session, tenant_id=TENANT_B, customer_id=CUSTOMER_A)
    assert TENANT_A not in str(raised.value)  # the owner is not disclosed


def test_unknown_tenant(engine: Engine) -> None:
    with unit_of_work(engine) as uow, pytest.raises(repo.TenantNotFound, match="'ghost'"):
        repo.register_account(uow.session, tenant_id="ghost", customer_id=1)


def test_works_with_a_core_connection(engine: Engine) -> None:
    # The CLI and ingest pass `with engine.begin() as conn` connections.
    with engine.begin() as conn:
        repo.register_tenant(conn, tenant_id="t", name="T")
        repo.register_account(conn, tenant_id="t", customer_id=9)
    with engine.connect() as conn:
        assert [a.customer_id for a in repo.list_active_accounts(conn, tenant_id="t")] == [9]
    with engine.connect() as conn:  # not committed -> rolled back on close
        repo.register_account(conn, tenant_id="t", customer_id=10)
    with engine.connect() as conn:
        assert len(repo.list_active_accounts(conn, tenant_id="t")) == 1


# --------------------------------------------------------------------------- campaigns


def test_add_campaign_requires_the_tenants_account(tenants: Engine) -> None:
    with unit_of_work(tenants) as uow, pytest.raises(repo.AccountNotFound):
        repo.add_campaign(
            uow.session, tenant_id=TENANT_B, customer_id=CUSTOMER_A, campaign_id=1, name="x"
        )


def test_add_campaign_twice(tenants: Engine) -> None:
    _add_campaign(tenants)
    with pytest.raises(repo.CampaignAlreadyExists):
        _add_campaign(tenants)
    with unit_of_work(tenants) as uow:
        again = repo.add_campaign(
            uow.session,
            tenant_id=TENANT_A,
            customer_id=CUSTOMER_A,
            campaign_id=CAMPAIGN,
            name="ignored",
            exist_ok=True,
        )
    assert again.name == "Spring sale"


def _change(engine: Engine, target: CampaignState) -> repo.StateChange:
    with unit_of_work(engine) as uow:
        change = repo.change_campaign_state(
            uow.session,
            tenant_id=TENANT_A,
            customer_id=CUSTOMER_A,
            campaign_id=CAMPAIGN,
            target=target,
        )
        uow.commit()
    return change


def test_state_changes_round_trip_through_the_warehouse(tenants: Engine) -> None:
    # The launch path, each step committed and read back from the database (the edge rules
    # themselves are tested in tests/unit/domain/test_campaign_state.py).
    _add_campaign(tenants)
    path = [
        CampaignState.DRAFT,
        CampaignState.GENERATING_ASSETS,
        CampaignState.PENDING_DEPLOYMENT,
        CampaignState.DEPLOYING,
        CampaignState.ACTIVE,
        CampaignState.PAUSED,
    ]
    for previous, target in itertools.pairwise(path):
        change = _change(tenants, target)
        assert (change.previous, change.current, change.changed) == (previous, target, True)
        assert _status(tenants) == target.value


def test_an_illegal_state_change_is_refused(tenants: Engine) -> None:
    _add_campaign(tenants, status=CampaignState.ARCHIVED)
    with pytest.raises(IllegalTransition, match="ARCHIVED -> ACTIVE"):
        _change(tenants, CampaignState.ACTIVE)
    assert _status(tenants) == "ARCHIVED"


def test_allow_noop_makes_replays_harmless(tenants: Engine) -> None:
    _add_campaign(tenants, status=CampaignState.PAUSED)
    with unit_of_work(tenants) as uow:
        change = repo.change_campaign_state(
            uow.session,
            tenant_id=TENANT_A,
            customer_id=CUSTOMER_A,
            campaign_id=CAMPAIGN,
            target="PAUSED",
            allow_noop=True,
        )
    assert not change.changed


def test_other_tenants_campaigns_are_invisible(tenants: Engine) -> None:
    _add_campaign(tenants, status=CampaignState.ACTIVE)
    for customer_id in (CUSTOMER_A, CUSTOMER_B):
        with unit_of_work(tenants) as uow:
            with pytest.raises(repo.CampaignNotFound, match=f"not found for tenant '{TENANT_B}'"):
                repo.change_campaign_state(
                    uow.session,
                    tenant_id=TENANT_B,
                    customer_id=customer_id,
                    campaign_id=CAMPAIGN,
                    target=CampaignState.PAUSED,
                )
            with pytest.raises(repo.CampaignNotFound):
                repo.snapshot_campaign_version(
                    uow.session, tenant_id=TENANT_B, customer_id=customer_id, campaign_id=CAMPAIGN
                )
            assert (
                repo.list_campaign_versions(
                    uow.session, tenant_id=TENANT_B, customer_id=customer_id, campaign_id=CAMPAIGN
                )
                == []
            )
    assert _status(tenants) == "ACTIVE"


def test_unknown_campaign(tenants: Engine) -> None:
    with unit_of_work(tenants) as uow, pytest.raises(repo.CampaignNotFound, match="campaign 9 "):
        repo.get_campaign(uow.session, tenant_id=TENANT_A, customer_id=CUSTOMER_A, campaign_id=9)


# --------------------------------------------------------------------------- versions


def test_versions_increment_and_are_retrievable(tenants: Engine) -> None:
    _add_campaign(tenants)
    ids = {"tenant_id": TENANT_A, "customer_id": CUSTOMER_A, "campaign_id": CAMPAIGN}
    with unit_of_work(tenants) as uow:
        first = repo.snapshot_campaign_version(uow.session, **ids, reason="launch")
        uow.commit()
    with unit_of_work(tenants) as uow:
        campaign = repo.get_campaign(uow.session, **ids)
        campaign.budget_micros = 80_000_000
        second = repo.snapshot_campaign_version(
            uow.session, **ids, reason="budget +60%", created_by="agent"
        )
        custom = repo.snapshot_campaign_version(
            uow.session, **ids, snapshot={"ad_groups": [{"id": 1, "cpc_bid_micros": 900_000}]}
        )
        uow.commit()
    assert (first.version, second.version, custom.version) == (1, 2, 3)
    assert first.snapshot["budget_micros"] == 50_000_000
    assert second.snapshot["budget_micros"] == 80_000_000
    assert second.snapshot["status"] == "DRAFT"

    with unit_of_work(tenants) as uow:
        versions = repo.list_campaign_versions(uow.session, **ids)
        assert [v.version for v in versions] == [1, 2, 3]
        assert [v.reason for v in versions][:2] == ["launch", "budget +60%"]
        assert repo.get_campaign_version(uow.session, **ids, version=2).created_by == "agent"
        assert repo.get_campaign(uow.session, **ids).current_version == 3
        got = repo.get_campaign_version(uow.session, **ids, version=3)
        assert got.snapshot == {"ad_groups": [{"id": 1, "cpc_bid_micros": 900_000}]}
        with pytest.raises(repo.CampaignVersionNotFound, match="no version 4"):
            repo.get_campaign_version(uow.session, **ids, version=4)


def test_uncommitted_version_leaves_no_trace(tenants: Engine) -> None:
    _add_campaign(tenants)
    ids = {"tenant_id": TENANT_A, "customer_id": CUSTOMER_A, "campaign_id": CAMPAIGN}
    with unit_of_work(tenants) as uow:
        repo.snapshot_campaign_version(uow.session, **ids)
    with unit_of_work(tenants) as uow:
        assert repo.get_campaign(uow.session, **ids).current_version == 0
        assert uow.session.scalars(select(CampaignVersion)).all() == []
