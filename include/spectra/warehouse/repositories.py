"""Tenant-scoped access to tenants, ad accounts, campaigns and campaign versions.

Every function takes a bind -- the ``uow.session`` of a unit of work, or a Core
``Connection`` (``with engine.begin() as conn``) -- and keyword-only primitives, and every
query that touches customer data filters on ``tenant_id``: a campaign of another tenant is
indistinguishable from one that does not exist. Nothing here commits; the caller's unit of
work or transaction decides. Read-modify-write functions lock the campaign row
(``SELECT ... FOR UPDATE`` on PostgreSQL); on SQLite prefer a unit of work for them, whose
``BEGIN IMMEDIATE`` holds the write lock from the start.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from spectra.domain.campaign_state import CampaignState, transition
from spectra.warehouse.models import AdAccount, Campaign, CampaignVersion, Tenant

# Settings captured by a default campaign snapshot: what a rollback would re-apply.
SNAPSHOT_FIELDS = (
    "name",
    "status",
    "serving_status",
    "advertising_channel_type",
    "bidding_strategy_type",
    "budget_micros",
    "max_daily_spend_micros",
    "total_spend_limit_micros",
)


class TenantNotFound(LookupError):
    """No tenant with this id is registered."""


class AccountNotFound(LookupError):
    """The Google Ads customer id is not registered to this tenant."""


class AccountOwnedByAnotherTenant(ValueError):
    """The customer id is already registered, to a different tenant."""


class CampaignNotFound(LookupError):
    """No such campaign for this tenant (campaigns of other tenants are invisible)."""


class CampaignAlreadyExists(ValueError):
    """The campaign is already recorded for this tenant and account."""


class CampaignVersionNotFound(LookupError):
    """The campaign has no version with this number."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """The outcome of :func:`change_campaign_state`, small enough to return via XCom."""

    tenant_id: str
    customer_id: int
    campaign_id: int
    previous: CampaignState
    current: CampaignState

    @property
    def changed(self) -> bool:
        return self.previous != self.current


Bind = Session | Connection


@contextmanager
def _session(bind: Bind) -> Iterator[Session]:
    """Use the caller's session, or a throwaway one joined to the caller's transaction.

    A session joined to a connection that is already in a transaction never commits or
    closes it (SQLAlchemy's ``conservative_savepoint`` join mode); we begin one first so that
    flushed rows are committed by the caller's ``conn.commit()`` / ``engine.begin()``.
    """
    if isinstance(bind, Session):
        yield bind
        return
    if not bind.in_transaction():
        bind.begin()
    session = Session(bind=bind, expire_on_commit=False)
    try:
        yield session
        session.flush()
    finally:
        session.close()


# --------------------------------------------------------------------------- tenants


def register_tenant(bind: Bind, *, tenant_id: str, name: str) -> Tenant:
    """Create the tenant, or rename it if it exists (safe to replay)."""
    with _session(bind) as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            tenant = Tenant(tenant_id=tenant_id, name=name)
            session.add(tenant)
        else:
            tenant.name = name
        session.flush()
        return tenant


def get_tenant(bind: Bind, *, tenant_id: str) -> Tenant:
    """The tenant, or :class:`TenantNotFound`."""
    with _session(bind) as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise TenantNotFound(f"tenant {tenant_id!r} is not registered")
        return tenant


# --------------------------------------------------------------------------- ad accounts


def register_account(
    bind: Bind,
    *,
    tenant_id: str,
    customer_id: int,
    descriptive_name: str | None = None,
    currency_code: str | None = None,
    time_zone: str | None = None,
    active: bool = True,
) -> AdAccount:
    """Register a Google Ads customer id to a tenant, or update it (safe to replay).

    Name, currency and time zone are left as they are unless given: ingest keeps them in step
    with what Google reports, and re-registering must not reset them.

    A customer id belongs to exactly one tenant: registering it for a second tenant raises
    :class:`AccountOwnedByAnotherTenant` (without naming the owner).
    """
    with _session(bind) as session:
        get_tenant(session, tenant_id=tenant_id)
        account = session.scalars(
            select(AdAccount).where(AdAccount.customer_id == customer_id)
        ).one_or_none()
        if account is not None and account.tenant_id != tenant_id:
            raise AccountOwnedByAnotherTenant(
                f"Google Ads customer {customer_id} is already registered to another tenant"
            )
        if account is None:
            account = AdAccount(tenant_id=tenant_id, customer_id=customer_id)
            session.add(account)
        for attr, value in (
            ("descriptive_name", descriptive_name),
            ("currency_code", currency_code),
            ("time_zone", time_zone),
        ):
            if value is not None:
                setattr(account, attr, value)
        account.active = active
        session.flush()
        return account


def get_account(bind: Bind, *, tenant_id: str, customer_id: int) -> AdAccount:
    """The tenant's account with this customer id, or :class:`AccountNotFound`."""
    with _session(bind) as session:
        account = session.scalars(
            select(AdAccount).where(
                AdAccount.tenant_id == tenant_id, AdAccount.customer_id == customer_id
            )
        ).one_or_none()
        if account is None:
            raise AccountNotFound(
                f"Google Ads customer {customer_id} is not registered to tenant {tenant_id!r}"
            )
        return account


def list_active_accounts(bind: Bind, *, tenant_id: str | None) -> list[AdAccount]:
    """Active accounts of one tenant, or of every tenant with an explicit ``tenant_id=None``.

    ``None`` is the one deliberately cross-tenant read: the daily DAGs map one task per
    (tenant, account) from it, and each mapped task is then scoped by the pair it received.
    Ordered by (tenant, customer id) so the mapping is stable across runs.
    """
    query = select(AdAccount).where(AdAccount.active.is_(True))
    if tenant_id is not None:
        query = query.where(AdAccount.tenant_id == tenant_id)
    with _session(bind) as session:
        return list(session.scalars(query.order_by(AdAccount.tenant_id, AdAccount.customer_id)))


def account_time_zone(bind: Bind, *, tenant_id: str, customer_id: int) -> str | None:
    """The account's stored time zone (None: the account is not registered)."""
    return bind.execute(
        select(AdAccount.time_zone).where(
            AdAccount.tenant_id == tenant_id, AdAccount.customer_id == customer_id
        )
    ).scalar_one_or_none()


def account_currency(
    bind: Bind, *, tenant_id: str, customer_id: int
) -> tuple[str, int | None] | None:
    """(currency code, billable unit micros) of the account (None: it is not registered)."""
    row = bind.execute(
        select(AdAccount.currency_code, AdAccount.billable_unit_micros).where(
            AdAccount.tenant_id == tenant_id, AdAccount.customer_id == customer_id
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def account_time_zones(bind: Bind, *, tenant_id: str) -> dict[int, str | None]:
    """Customer id -> stored time zone of every account of the tenant."""
    rows = bind.execute(
        select(AdAccount.customer_id, AdAccount.time_zone).where(AdAccount.tenant_id == tenant_id)
    ).all()
    return {int(customer_id): zone for customer_id, zone in rows}


# --------------------------------------------------------------------------- campaigns


def add_campaign(
    bind: Bind,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    name: str,
    status: CampaignState | str = CampaignState.DRAFT,
    exist_ok: bool = False,
    **settings: Any,
) -> Campaign:
    """Record a campaign under one of the tenant's accounts.

    ``settings`` are further :class:`Campaign` columns (``budget_micros=...``). With
    ``exist_ok`` an existing campaign is returned unchanged (replays of a launch step);
    otherwise it raises :class:`CampaignAlreadyExists`.
    """
    unknown = sorted(set(settings) - set(Campaign.__table__.c.keys()))
    if unknown:
        raise TypeError(f"unknown campaign settings: {unknown}")
    with _session(bind) as session:
        get_account(session, tenant_id=tenant_id, customer_id=customer_id)
        existing = _find_campaign(session, tenant_id, customer_id, campaign_id)
        if existing is not None:
            if exist_ok:
                return existing
            raise CampaignAlreadyExists(
                f"campaign {campaign_id} of customer {customer_id} already exists "
                f"for tenant {tenant_id!r}"
            )
        campaign = Campaign(
            tenant_id=tenant_id,
            customer_id=customer_id,
            campaign_id=campaign_id,
            name=name,
            status=CampaignState(status).value,
            **settings,
        )
        session.add(campaign)
        session.flush()
        return campaign


def get_campaign(
    bind: Bind,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    for_update: bool = False,
) -> Campaign:
    """The tenant's campaign, or :class:`CampaignNotFound` (also for other tenants' ones)."""
    with _session(bind) as session:
        campaign = _find_campaign(session, tenant_id, customer_id, campaign_id, for_update)
        if campaign is None:
            raise CampaignNotFound(
                f"campaign {campaign_id} of customer {customer_id} "
                f"not found for tenant {tenant_id!r}"
            )
        return campaign


def _find_campaign(
    session: Session,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    for_update: bool = False,
) -> Campaign | None:
    query = select(Campaign).where(
        Campaign.tenant_id == tenant_id,
        Campaign.customer_id == customer_id,
        Campaign.campaign_id == campaign_id,
    )
    if for_update:
        # populate_existing: a row already in the identity map is re-read under the lock.
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).one_or_none()


def change_campaign_state(
    bind: Bind,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    target: CampaignState | str,
    allow_noop: bool = False,
) -> StateChange:
    """Move the campaign along one edge of the state machine.

    Raises :class:`CampaignNotFound` for unknown (or other tenants') campaigns and
    :class:`~spectra.domain.campaign_state.IllegalTransition` for a move the transition
    table does not have; nothing is written then. ``allow_noop`` makes "already in
    ``target``" a no-op instead, for replayed tasks that set an absolute state.
    """
    target_state = CampaignState(target)
    with _session(bind) as session:
        campaign = get_campaign(
            session,
            tenant_id=tenant_id,
            customer_id=customer_id,
            campaign_id=campaign_id,
            for_update=True,
        )
        previous = CampaignState(campaign.status)
        if allow_noop and previous == target_state:
            current = previous
        else:
            current = transition(previous, target_state)
            campaign.status = current.value
            session.flush()
        return StateChange(tenant_id, customer_id, campaign_id, previous, current)


def set_campaign_status_reason(
    bind: Bind, *, tenant_id: str, customer_id: int, campaign_id: int, reason: str
) -> None:
    """Say why the campaign is in its state (FAILED: what could not be recovered)."""
    with _session(bind) as session:
        campaign = get_campaign(
            session, tenant_id=tenant_id, customer_id=customer_id, campaign_id=campaign_id
        )
        campaign.status_reason = reason
        session.flush()


# --------------------------------------------------------------------------- versions


def snapshot_campaign_version(
    bind: Bind,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    reason: str = "",
    created_by: str = "system",
    snapshot: Mapping[str, Any] | None = None,
) -> CampaignVersion:
    """Store an immutable snapshot as the campaign's next version and return it.

    ``snapshot`` defaults to the campaign's own settings (:data:`SNAPSHOT_FIELDS`); callers
    that change more (ad group bids, keywords) pass the full JSON-serialisable state.
    Increments ``campaigns.current_version`` under the row lock, so versions are dense
    (the unique key on versions backs this up).
    """
    with _session(bind) as session:
        campaign = get_campaign(
            session,
            tenant_id=tenant_id,
            customer_id=customer_id,
            campaign_id=campaign_id,
            for_update=True,
        )
        if snapshot is None:
            snapshot = {field: getattr(campaign, field) for field in SNAPSHOT_FIELDS}
        campaign.current_version = (campaign.current_version or 0) + 1
        version = CampaignVersion(
            tenant_id=tenant_id,
            customer_id=customer_id,
            campaign_id=campaign_id,
            version=campaign.current_version,
            snapshot=dict(snapshot),
            reason=reason,
            created_by=created_by,
        )
        session.add(version)
        session.flush()
        return version


def list_campaign_versions(
    bind: Bind, *, tenant_id: str, customer_id: int, campaign_id: int
) -> list[CampaignVersion]:
    """All versions of the tenant's campaign, oldest first (empty if none or not visible)."""
    query = (
        select(CampaignVersion)
        .where(
            CampaignVersion.tenant_id == tenant_id,
            CampaignVersion.customer_id == customer_id,
            CampaignVersion.campaign_id == campaign_id,
        )
        .order_by(CampaignVersion.version)
    )
    with _session(bind) as session:
        return list(session.scalars(query))


def get_campaign_version(
    bind: Bind, *, tenant_id: str, customer_id: int, campaign_id: int, version: int
) -> CampaignVersion:
    """One version of the tenant's campaign, or :class:`CampaignVersionNotFound`."""
    query = select(CampaignVersion).where(
        CampaignVersion.tenant_id == tenant_id,
        CampaignVersion.customer_id == customer_id,
        CampaignVersion.campaign_id == campaign_id,
        CampaignVersion.version == version,
    )
    with _session(bind) as session:
        found = session.scalars(query).one_or_none()
        if found is None:
            raise CampaignVersionNotFound(
                f"campaign {campaign_id} of customer {customer_id} has no version {version} "
                f"for tenant {tenant_id!r}"
            )
        return found
