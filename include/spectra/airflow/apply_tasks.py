"""Bodies of ``spectra_apply``'s tasks: guardrails -> approval -> rate limit -> apply.

Each item the DAG moves between tasks is a small dict: the approved change's payload, the
entity's value before it, and (after ``guard``) the guardrails' decision. Approvals are
Airflow's own HITL ApprovalOperator; who answered is checked here against the tenant's
roles, because Airflow's auth managers are not per tenant.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

APPROVE = "Approve"


def _change(item: dict[str, Any]) -> Any:
    from spectra.domain.changes import ApprovedChange

    return ApprovedChange.from_payload(item["change"])


def _candidate(item: dict[str, Any]) -> Any:
    from spectra.guardrails.mapping import candidate_from_change

    return candidate_from_change(
        _change(item),
        current=item.get("current"),
        ref=item.get("ref"),
        safety=bool(item.get("safety", False)),
    )


def guard(items: Sequence[dict[str, Any]], *, day: dt.date) -> list[dict[str, Any]]:
    """Run every guardrail on every item; returns the items with their decisions."""
    from spectra.guardrails import service
    from spectra.warehouse.db import make_engine

    out = []
    pending: list[Any] = []  # accepted earlier in this batch: they occupy the learning window
    engine = make_engine()
    try:
        for item in items:
            candidate = _candidate(item)
            decision = service.check(engine, candidate, as_of=day, pending=pending)
            if decision.accepted:
                pending.append(service.as_pending(candidate, as_of=day))
            log.info("%s %s: %s", candidate.ref, candidate.entity.key, decision.reason)
            out.append(
                {
                    **item,
                    "ref": candidate.ref,
                    "accepted": decision.accepted,
                    "requires_approval": decision.requires_approval,
                    "reason": decision.reason,
                }
            )
    finally:
        engine.dispose()
    return out


def approval_body(item: dict[str, Any]) -> str:
    """What the approver reads in Airflow's Required Actions page (Markdown)."""
    change = _change(item)
    lines = [
        f"**{change.entity.key}** `{change.field}`: {item.get('current')!r} -> {change.target!r}",
        "",
        f"Tenant `{change.tenant_id}`, account `{change.customer_id}`, ref `{item['ref']}`.",
        "",
        f"**Why approval:** {item['reason']}",
    ]
    if change.reasoning:
        lines += ["", "**Reasoning (quoted, untrusted):**", "", "> " + change.reasoning]
    if change.evidence_ids:
        lines += ["", "**Evidence:** " + ", ".join(f"`{e}`" for e in change.evidence_ids)]
    return "\n".join(lines)


def needing_approval(guarded: Sequence[dict[str, Any]]) -> list[str]:
    """Bodies of the approvals to ask for, in the order of ``guarded``."""
    return [approval_body(i) for i in guarded if i["accepted"] and i["requires_approval"]]


def approved(
    guarded: Sequence[dict[str, Any]], responses: Sequence[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Items that may go on: accepted without approval (autopilot), or approved by someone
    with the approver role for the tenant. A responder without it is refused and audited;
    a rejection, or an expiry (the operator's ``defaults="Reject"``), drops the item."""
    from spectra.guardrails import service
    from spectra.guardrails.permissions import Action, PermissionDenied
    from spectra.warehouse.db import make_engine

    waiting = [i for i in guarded if i["accepted"] and i["requires_approval"]]
    answers = list(responses or [])
    out = [i for i in guarded if i["accepted"] and not i["requires_approval"]]
    engine = make_engine()
    try:
        for item, answer in zip(waiting, answers, strict=False):
            if answer is None or answer.get("chosen_options") != [APPROVE]:
                why = (
                    "expired" if answer and answer.get("responded_by_user") is None else "rejected"
                )
                log.info("%s: %s", item["ref"], why)
                continue
            who = (answer.get("responded_by_user") or {}).get("id")
            tenant = item["change"]["tenant_id"]
            try:
                service.authorize(
                    engine,
                    tenant_id=tenant,
                    principal=str(who),
                    action=Action.APPROVE,
                    entity=item["ref"],
                )
            except PermissionDenied as exc:
                log.warning("%s: approval refused: %s", item["ref"], exc)
                continue
            out.append({**item, "approved_by": who})
    finally:
        engine.dispose()
    return out


def rate_limit_ready(item: dict[str, Any], *, now: dt.datetime | None = None) -> bool:
    """The sensor's poke: may this change go out now?"""
    from spectra.guardrails import service
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        wait = service.rate_limit_status(engine, _candidate(item), now=now)
    finally:
        engine.dispose()
    log.info("%s: %s", item["ref"], wait.reason)
    return wait.ready


def apply(items: Sequence[dict[str, Any]], *, conn_id: str, day: dt.date) -> dict[str, int]:
    """Hand the approved changes to the executor; returns its outcome counts."""
    if not items:
        return {}
    from spectra.airflow.hooks import GoogleAdsHook
    from spectra.apply.executor import ApplyConfig, apply_changes
    from spectra.warehouse.db import make_engine

    client, creds = GoogleAdsHook(conn_id).get_conn()
    engine = make_engine()
    try:
        report = apply_changes(
            engine,
            client,
            [_change(i) for i in items],
            creds=creds,
            config=ApplyConfig(as_of=day),
        )
    finally:
        engine.dispose()
    return dict(report.counts())
