"""A launch's lifecycle: briefs stored in DRAFT, and every move through the domain state machine.

DRAFT → GENERATING_ASSETS → PENDING_DEPLOYMENT → DEPLOYING → ACTIVE, or FAILED with the reason
and the resources created so far. :func:`advance` is the only way a brief changes state: it
checks the edge against ``spectra.domain.campaign_state`` (an illegal move raises
``IllegalTransition`` and changes nothing), compares-and-sets the stored state (two writers
cannot both move one brief) and appends an audit row in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from spectra.domain.campaign_state import CampaignState, transition
from spectra.launch.brief import Brief
from spectra.observability import audit
from spectra.warehouse import launch_store as store

S = CampaignState


class LaunchError(RuntimeError):
    """A launch request that cannot be carried out as asked (the message says why)."""


class UnknownAccount(LaunchError):
    """The brief's account is not registered to the brief's tenant."""


class BriefConflict(LaunchError):
    """Another brief already holds this campaign name in the account."""


class StaleState(LaunchError):
    """The brief is no longer in the state the caller read (another writer moved it)."""


@dataclass(frozen=True)
class Launch:
    """A brief as stored, with its state."""

    id: int
    tenant_id: str
    customer_id: int
    campaign_name: str
    state: CampaignState
    state_reason: str
    brief: Brief
    review_flags: list[dict[str, Any]] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    operation_key: str | None = None
    campaign_id: int | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Launch:
        return cls(
            id=int(row["id"]),
            tenant_id=row["tenant_id"],
            customer_id=int(row["customer_id"]),
            campaign_name=row["campaign_name"],
            state=CampaignState(row["state"]),
            state_reason=row["state_reason"] or "",
            brief=Brief.model_validate(row["brief"]),
            review_flags=list(row["review_flags"] or []),
            resources=list(row["resources"] or []),
            operation_key=row["operation_key"],
            campaign_id=row["campaign_id"],
        )

    @property
    def entity(self) -> str:
        return f"launch:{self.id}:{self.campaign_name}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_draft(engine: Engine, brief: Brief, *, actor: str) -> tuple[Launch, bool]:
    """Store a validated brief in DRAFT; (launch, created). The same brief again is a no-op
    (the stored one is returned); a different brief under the same campaign name is refused."""
    with engine.begin() as conn:
        owner = store.account_owner(conn, customer_id=brief.account)
        if owner != brief.tenant:
            raise UnknownAccount(
                f"account {brief.account} is not registered to tenant {brief.tenant!r}"
                + (" (spectra tenant TENANT CUSTOMER_ID registers it)" if owner is None else "")
            )
        found = store.find_brief(
            conn,
            tenant_id=brief.tenant,
            customer_id=brief.account,
            campaign_name=brief.campaign_name,
        )
        if found is not None:
            if found["brief_sha256"] == brief.sha256:
                return Launch.from_row(found), False
            raise BriefConflict(
                f"launch {found['id']} already holds campaign name {brief.campaign_name!r} in "
                f"account {brief.account} (state {found['state']}); use another name"
            )
        now = _now()
        brief_id = store.insert_brief(
            conn,
            values={
                "tenant_id": brief.tenant,
                "customer_id": brief.account,
                "campaign_name": brief.campaign_name,
                "brief": brief.canonical(),
                "brief_sha256": brief.sha256,
                "state": S.DRAFT.value,
                "state_reason": "brief validated",
                "review_flags": [],
                "resources": [],
                "created_by": actor,
                "created_at": now,
                "updated_at": now,
            },
        )
        audit.record(
            conn,
            tenant_id=brief.tenant,
            action="launch_drafted",
            actor=actor,
            entity=f"launch:{brief_id}:{brief.campaign_name}",
            after={"state": S.DRAFT.value, "brief_sha256": brief.sha256},
        )
        row = store.get_brief(conn, tenant_id=brief.tenant, brief_id=brief_id)
    assert row is not None
    return Launch.from_row(row), True


def get_launch(conn: Connection, *, tenant_id: str, launch_id: int) -> Launch:
    row = store.get_brief(conn, tenant_id=tenant_id, brief_id=launch_id)
    if row is None:
        raise LookupError(f"no launch {launch_id} for tenant {tenant_id!r}")
    return Launch.from_row(row)


def load_launch(engine: Engine, *, tenant_id: str, launch_id: int) -> Launch:
    with engine.connect() as conn:
        return get_launch(conn, tenant_id=tenant_id, launch_id=launch_id)


def advance_in(
    conn: Connection,
    launch: Launch,
    target: CampaignState,
    *,
    reason: str,
    actor: str,
    detail: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Launch:
    """Move ``launch`` to ``target`` inside the caller's transaction (see :func:`advance`)."""
    new = transition(launch.state, target)
    moved = store.set_state(
        conn,
        tenant_id=launch.tenant_id,
        brief_id=launch.id,
        expected=launch.state.value,
        state=new.value,
        reason=reason,
        now=_now(),
        extra=extra,
    )
    if not moved:
        raise StaleState(f"launch {launch.id} is no longer {launch.state.value}")
    audit.record(
        conn,
        tenant_id=launch.tenant_id,
        action="launch_state",
        actor=actor,
        entity=launch.entity,
        change_key=launch.operation_key,
        before={"state": launch.state.value},
        after={"state": new.value, **(extra or {})},
        reasoning=reason,
        detail=detail or {},
    )
    return get_launch(conn, tenant_id=launch.tenant_id, launch_id=launch.id)


def advance(
    engine: Engine,
    launch: Launch,
    target: CampaignState,
    *,
    reason: str,
    actor: str,
    detail: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Launch:
    """Move a launch along one edge of the state machine, audited; returns it as stored.

    ``extra`` sets other columns in the same update (``resources``, ``campaign_id``…).
    Raises ``IllegalTransition`` for an edge the machine does not have, :class:`StaleState`
    when another writer moved the brief first; neither changes anything.
    """
    with engine.begin() as conn:
        return advance_in(
            conn, launch, target, reason=reason, actor=actor, detail=detail, extra=extra
        )


def fail(
    engine: Engine,
    launch: Launch,
    *,
    reason: str,
    actor: str,
    resources: list[str] | None = None,
) -> Launch:
    """FAILED with the reason and the Google Ads resources created so far (maybe none)."""
    created = list(resources if resources is not None else launch.resources)
    return advance(
        engine,
        launch,
        S.FAILED,
        reason=reason,
        actor=actor,
        detail={"resources_created": created},
        extra={"resources": created},
    )


__all__ = [
    "BriefConflict",
    "Launch",
    "LaunchError",
    "StaleState",
    "UnknownAccount",
    "advance",
    "advance_in",
    "create_draft",
    "fail",
    "get_launch",
    "load_launch",
]
