"""Who may do what, per tenant: roles (viewer, editor, approver, admin) and the actions they allow.

Airflow's auth managers are not per tenant, so the role of whoever answers an approval, pauses
a campaign or turns autopilot on is checked here, against the tenant's ``tenant_roles`` rows.
Roles are ordered: each one may do everything the one before it may.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    APPROVER = "approver"
    ADMIN = "admin"


class Action(StrEnum):
    VIEW = "view"
    EDIT = "edit"  # change a bid, budget or target by hand; lock / unlock
    PAUSE = "pause"
    APPROVE = "approve"  # answer an approval (approve or reject)
    ROLLBACK = "rollback"
    AUTOPILOT = "autopilot"  # turn the tenant's autopilot on or off
    CHANGE_LIMITS = "change_limits"  # spend limits and guardrail settings
    GRANT = "grant"  # give or take roles


ROLE_ORDER: tuple[Role, ...] = (Role.VIEWER, Role.EDITOR, Role.APPROVER, Role.ADMIN)

# the least role that may take each action
LEAST_ROLE: dict[Action, Role] = {
    Action.VIEW: Role.VIEWER,
    Action.EDIT: Role.EDITOR,
    Action.PAUSE: Role.EDITOR,
    Action.APPROVE: Role.APPROVER,
    Action.ROLLBACK: Role.APPROVER,
    Action.AUTOPILOT: Role.ADMIN,
    Action.CHANGE_LIMITS: Role.ADMIN,
    Action.GRANT: Role.ADMIN,
}


class PermissionDenied(PermissionError):
    """A principal tried an action its role for the tenant does not allow (audited)."""


def allows(role: Role | str | None, action: Action | str) -> bool:
    """Whether ``role`` (None: no role in the tenant) may take ``action``."""
    if role is None:
        return False
    return ROLE_ORDER.index(Role(role)) >= ROLE_ORDER.index(LEAST_ROLE[Action(action)])


def actions_of(role: Role | str) -> list[Action]:
    return [a for a in Action if allows(role, a)]


__all__ = ["LEAST_ROLE", "ROLE_ORDER", "Action", "PermissionDenied", "Role", "actions_of", "allows"]
