"""`spectra lock|unlock|locks`, `spectra role grant|revoke|list`, `spectra autopilot on|off`.

Kept out of ``cli.py`` so that file's shared parser stays small; ``register`` adds the
commands. Every command calls one function of :mod:`spectra.guardrails.service`; a refusal
(the actor's role does not allow it) is audited there and exits 3 here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
from collections.abc import Callable
from typing import Any

_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days"}
EXIT_DENIED = 3


def parse_duration(text: str) -> dt.timedelta:
    """``30m``, ``48h`` or ``7d``."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"duration {text!r}: use e.g. 30m, 48h or 7d (not 0)")
    return dt.timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


def _actor(args: argparse.Namespace) -> str:
    return args.by or os.environ.get("USER") or "cli"


def _run(fn: Callable[[Any, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        from spectra.guardrails.permissions import PermissionDenied
        from spectra.warehouse.db import make_engine
        from spectra.warehouse.guardrail_store import LockNotFound

        engine = make_engine()
        try:
            return fn(engine, args)
        except PermissionDenied as exc:
            print(f"refused: {exc}")
            return EXIT_DENIED
        except LockNotFound as exc:
            print(f"error: {exc}")
            return 2
        finally:
            engine.dispose()

    return wrapped


def _lock(engine: Any, args: argparse.Namespace) -> int:
    from spectra.guardrails import service

    now = dt.datetime.now(dt.UTC)
    lock_id = service.lock(
        engine,
        tenant_id=args.tenant,
        customer_id=args.customer,
        campaign_id=args.campaign,
        field=args.field,
        by=_actor(args),
        duration=args.duration,
        reason=args.reason,
        now=now,
    )
    what = f"{args.field} of campaign" if args.field else "campaign"
    expires = (now + args.duration).isoformat(timespec="seconds")
    print(f"lock {lock_id}: {what} {args.campaign} locked against agent changes until {expires}")
    return 0


def _unlock(engine: Any, args: argparse.Namespace) -> int:
    from spectra.guardrails import service

    row = service.unlock(engine, tenant_id=args.tenant, lock_id=args.lock_id, by=_actor(args))
    print(f"lock {row['id']} lifted by {row['lifted_by']} at {row['lifted_at'].isoformat()}")
    return 0


def _locks(engine: Any, args: argparse.Namespace) -> int:
    from spectra.warehouse.guardrail_store import list_locks

    with engine.connect() as conn:
        rows = list_locks(
            conn, tenant_id=args.tenant, now=dt.datetime.now(dt.UTC), include_inactive=args.all
        )
    for r in rows:
        state = "lifted" if r["lifted_at"] else "active"
        print(
            f"{r['id']:>5}  {r['customer_id']}/{r['campaign_id']}  {r['field'] or '*':<18} "
            f"{r['created_by']:<12} until {r['expires_at'].isoformat(timespec='seconds')}  "
            f"{state}  {r['reason']}"
        )
    if not rows:
        print("no locks")
    return 0


def _role(engine: Any, args: argparse.Namespace) -> int:
    from spectra.guardrails import service
    from spectra.warehouse.guardrail_store import list_roles

    if args.role_command == "grant":
        service.grant(
            engine, tenant_id=args.tenant, principal=args.principal, role=args.role, by=_actor(args)
        )
        print(f"{args.principal} is {args.role} in {args.tenant}")
    elif args.role_command == "revoke":
        removed = service.revoke(
            engine, tenant_id=args.tenant, principal=args.principal, by=_actor(args)
        )
        print(f"{args.principal}: {'role removed' if removed else 'had no role'}")
    else:
        with engine.connect() as conn:
            for r in list_roles(conn, tenant_id=args.tenant):
                print(f"{r['principal']:<24} {r['role']:<9} granted by {r['granted_by']}")
    return 0


def _autopilot(engine: Any, args: argparse.Namespace) -> int:
    from spectra.guardrails import service

    on = args.state == "on"
    service.set_autopilot(engine, tenant_id=args.tenant, on=on, by=_actor(args))
    print(f"autopilot {'on' if on else 'off'} for {args.tenant}")
    return 0


def register(sub: Any) -> None:
    """Add the guardrail commands to ``spectra``'s subparsers."""
    p = sub.add_parser("lock", help="lock a campaign (or one field) against agent changes")
    p.add_argument("campaign", type=int)
    p.add_argument("--tenant", required=True)
    p.add_argument("--customer", type=int, required=True)
    p.add_argument("--field", default=None, help="e.g. budget_micros; default: the whole campaign")
    p.add_argument("--for", dest="duration", type=parse_duration, default=parse_duration("72h"))
    p.add_argument("--reason", default="")
    p.add_argument("--by", default=None, help="who locks (default $USER)")
    p.set_defaults(fn=_run(_lock))

    p = sub.add_parser("unlock", help="lift a lock before it expires")
    p.add_argument("lock_id", type=int)
    p.add_argument("--tenant", required=True)
    p.add_argument("--by", default=None)
    p.set_defaults(fn=_run(_unlock))

    p = sub.add_parser("locks", help="a tenant's locks in force")
    p.add_argument("--tenant", required=True)
    p.add_argument("--all", action="store_true", help="also expired and lifted ones")
    p.set_defaults(fn=_run(_locks))

    role = sub.add_parser("role", help="roles per tenant: viewer, editor, approver, admin")
    role_sub = role.add_subparsers(dest="role_command", required=True)
    for name in ("grant", "revoke", "list"):
        q = role_sub.add_parser(name)
        q.add_argument("--tenant", required=True)
        q.add_argument("--by", default=None)
        if name != "list":
            q.add_argument("principal")
        if name == "grant":
            q.add_argument("role", choices=["viewer", "editor", "approver", "admin"])
        q.set_defaults(fn=_run(_role))

    p = sub.add_parser("autopilot", help="turn a tenant's autopilot on or off (admins)")
    p.add_argument("state", choices=["on", "off"])
    p.add_argument("--tenant", required=True)
    p.add_argument("--by", default=None)
    p.set_defaults(fn=_run(_autopilot))
