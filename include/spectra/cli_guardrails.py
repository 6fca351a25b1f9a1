"""`spectra lock|unlock|locks`, `spectra role grant|revoke|list`, `spectra autopilot on|off`,
`spectra approve|reject PROPOSAL`, `spectra approvals`.

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
APPLY_DAG = "spectra_apply"
APPROVE_TASK = "approve"


class NotWaiting(RuntimeError):
    """The proposal has no open Required Action (decided, or never asked)."""


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
        from spectra.warehouse.guardrail_store import LockNotFound, ProposalNotFound

        engine = make_engine()
        try:
            return fn(engine, args)
        except PermissionDenied as exc:
            print(f"refused: {exc}")
            return EXIT_DENIED
        except (LockNotFound, ProposalNotFound, NotWaiting) as exc:
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


def hitl_path(run_id: str, map_index: int) -> str:
    """The hitlDetails endpoint of one mapped approval (the run id URL-encoded)."""
    from urllib.parse import quote

    return (
        f"/api/v2/dags/{APPLY_DAG}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
        f"{APPROVE_TASK}/{int(map_index)}/hitlDetails"
    )


def _answer(engine: Any, args: argparse.Namespace) -> int:
    """Answer a proposal's Required Action through Airflow's REST API, as the person.

    The person's role in the tenant is checked first (a refusal is audited, nothing is sent);
    Airflow then records the answer (who, when) exactly as if given in its UI, and the same
    answer is written on the proposal now, not only when the run resumes."""
    from spectra.airflow.local import AirflowClient, base_url
    from spectra.guardrails import proposals, service
    from spectra.guardrails.mapping import proposal_ref
    from spectra.guardrails.permissions import Action
    from spectra.warehouse.guardrail_store import get_proposal

    chosen = proposals.APPROVE if args.answer == "approve" else proposals.REJECT
    with engine.connect() as conn:
        row = get_proposal(conn, tenant_id=args.tenant, proposal_id=args.proposal)
    if (
        row["status"] != "pending"
        or row["guardrail_status"] != "requires_approval"
        or row["approval_map_index"] is None
        or not row["apply_run_id"]
    ):
        raise NotWaiting(
            f"proposal {args.proposal} is not waiting for approval (status {row['status']}"
            + (f", {row['decision_reason']}" if row["decision_reason"] else "")
            + ")"
        )
    user = args.user
    service.authorize(
        engine,
        tenant_id=args.tenant,
        principal=user,
        action=Action.APPROVE,
        entity=proposal_ref(args.proposal),
        detail={"answer": chosen, "via": "cli"},
    )
    client = AirflowClient(args.url or base_url(), password=args.password, username=user)
    path = hitl_path(row["apply_run_id"], int(row["approval_map_index"]))
    import httpx

    try:
        response = client.request(
            "PATCH", path, check=False, json={"chosen_options": [chosen], "params_input": {}}
        )
    except httpx.HTTPError as error:  # maybe not received: again is safe (a second answer: 409)
        print(f"error: Airflow at {client.url} did not answer ({error}); run it again")
        return 1
    if response.status_code == 409:
        print(f"error: proposal {args.proposal} was answered in Airflow already")
        return 2
    if response.status_code in (401, 403):
        print(f"refused by Airflow ({response.status_code}): {user} may not answer it")
        return EXIT_DENIED
    if response.status_code >= 400:
        print(f"error: PATCH {path} answered {response.status_code}: {response.text[:300]}")
        return 1
    recorded = proposals.record_answer(
        engine,
        tenant_id=args.tenant,
        proposal_id=args.proposal,
        answer=proposals.Answer.from_hitl(response.json(), via="cli"),
    )
    print(f"proposal {args.proposal}: {recorded['status']} by {user} (Airflow recorded it)")
    return 0


def _approvals(engine: Any, args: argparse.Namespace) -> int:
    from spectra.warehouse.guardrail_store import waiting_for_approval

    with engine.connect() as conn:
        rows = waiting_for_approval(conn, tenant_id=args.tenant)
    for r in rows:
        print(
            f"{r['id']:>6}  {r['customer_id']}/{r['campaign_id']}  {r['kind']:<16} "
            f"{r['current_value']!s:>12} -> {r['new_value']!s:<12} {r['guardrail_reason']}"
        )
    if not rows:
        print("no proposal waits for approval")
    return 0


DEMO_TENANT = "demo"


def demo_apply(client: Any, day: dt.date, *, tenant_id: str = DEMO_TENANT) -> str:
    """The demo's acting half: ``spectra_apply`` over the tenant's proposals of ``day``, run
    until what is left waits for a person; returns what happened and how to approve.

    Airflow's admin user becomes the tenant's admin (the tenant's first grant), so it may
    approve in the UI. The tenant's autopilot stays as it is (off until an admin turns it on),
    so every proposal the guardrails accept waits in Required Actions. A run still waiting
    from an earlier demo is left alone (``max_active_runs=1`` would queue a new one behind it):
    its proposals are the ones shown."""
    from spectra.guardrails import service
    from spectra.warehouse.agent_store import day_proposals
    from spectra.warehouse.db import make_engine
    from spectra.warehouse.guardrail_store import autopilot_of, list_roles, waiting_for_approval

    autopilot = True
    engine = make_engine()
    try:
        with engine.connect() as conn:
            first_grant = not list_roles(conn, tenant_id=tenant_id)
        if first_grant:
            service.grant(engine, tenant_id=tenant_id, principal="admin", role="admin", by="admin")
        client.unpause(APPLY_DAG)
        running = client.request(
            "GET", f"/api/v2/dags/{APPLY_DAG}/dagRuns", params={"state": "running"}
        ).json()["dag_runs"]
        if running:
            run_id = str(running[0]["dag_run_id"])
            print(f"apply       {APPLY_DAG} run {run_id} still waits for answers", flush=True)
            with engine.connect() as conn:
                rows = waiting_for_approval(conn, tenant_id=tenant_id, run_id=run_id)
        else:
            run_id = client.trigger(
                APPLY_DAG, conf={"tenant_id": tenant_id, "day": day.isoformat()}
            )
            print(f"apply       {APPLY_DAG} over {tenant_id}'s proposals of {day} ({run_id})")
            client.wait_settled(APPLY_DAG, run_id, ready="approval_bodies")
            with engine.connect() as conn:
                rows = [
                    r for r in day_proposals(conn, tenant_id=tenant_id, logical_date=day)
                    if r["apply_run_id"] == run_id
                ]  # fmt: skip
            with engine.connect() as conn:
                autopilot = autopilot_of(conn, tenant_id=tenant_id)
    finally:
        engine.dispose()
    text = approvals_text(rows, run_id=run_id, url=client.url, tenant_id=tenant_id)
    if not autopilot:
        text += (
            f"\nThe tenant's autopilot is off, so every accepted proposal waits for a person; "
            f"`spectra autopilot on --tenant {tenant_id} --by admin` lets the small ones apply "
            "by themselves."
        )
    return text


def approvals_text(rows: list[dict[str, Any]], *, run_id: str, url: str, tenant_id: str) -> str:
    """The demo's last screen: each proposal's fate, and how to answer the waiting ones."""
    lines = [f"## What spectra_apply did with them ({run_id})", ""]
    waiting = []
    for r in rows:
        status = r["status"]
        if status == "pending" and r["guardrail_status"] == "requires_approval":
            waiting.append(r)
            what = f"WAITING FOR APPROVAL (Required Action {r['approval_map_index']})"
        elif status == "approved":
            what = f"approved by {r['decided_by']}, waiting on the rate limit"
        else:
            what = f"{status} ({r['decision_reason'] or r['guardrail_reason'] or ''})"
        lines.append(
            f"  proposal {r['id']:>4}  {r['customer_id']}/{r['campaign_id']}  {r['kind']:<16} "
            f"{r['current_value']!s} -> {r['new_value']!s}: {what}"
        )
    if not rows:
        lines.append("  (no proposal of that day)")
    lines.append("")
    if waiting:
        pid = waiting[0]["id"]
        lines += [
            f"{len(waiting)} proposal(s) wait for a person. Approve or reject them:",
            "  - in Airflow's UI: `make up`, log in as admin, Browse → Required Actions "
            f"({url}/required_actions)",
            f"  - by CLI: spectra approve {pid} --tenant {tenant_id}   (or: spectra reject …)",
            f"  - by REST: PATCH {url}{hitl_path(run_id, int(waiting[0]['approval_map_index']))}",
            '    body {"chosen_options": ["Approve"], "params_input": {}} with an Airflow token',
            f"Unanswered, they expire to rejected. `spectra approvals --tenant {tenant_id}` lists them.",
        ]
    else:
        lines.append("No proposal waits for a person this time.")
    return "\n".join(lines)


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

    for answer in ("approve", "reject"):
        p = sub.add_parser(answer, help=f"{answer} a proposal waiting in Required Actions")
        p.add_argument("proposal", type=int, help="the proposal id")
        p.add_argument("--tenant", required=True)
        p.add_argument(
            "--user", default="admin", help="the Airflow user answering (needs the approver role)"
        )
        p.add_argument(
            "--password",
            default=os.environ.get("SPECTRA_AIRFLOW_PASSWORD"),
            help="its Airflow password (default $SPECTRA_AIRFLOW_PASSWORD; admin: the "
            "passwords file)",
        )
        p.add_argument("--url", default=None, help="Airflow's URL (default: Spectra's port)")
        p.set_defaults(fn=_run(_answer), answer=answer)

    p = sub.add_parser("approvals", help="proposals waiting for approval")
    p.add_argument("--tenant", default=None)
    p.set_defaults(fn=_run(_approvals))

    p = sub.add_parser("autopilot", help="turn a tenant's autopilot on or off (admins)")
    p.add_argument("state", choices=["on", "off"])
    p.add_argument("--tenant", required=True)
    p.add_argument("--by", default=None)
    p.set_defaults(fn=_run(_autopilot))
