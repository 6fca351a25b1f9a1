"""The agent's proposals through the guardrails and a person's answer: what ``spectra_apply``,
``spectra approve|reject`` and the Required Actions page share.

A proposal's life after the agent wrote it (``proposals.status`` / ``guardrail_status``):

- judged by every guardrail (:func:`guard_proposals`): **rejected** with the rules' reasons;
  or accepted and **approved** by the autopilot when no approval rule fires and the tenant's
  autopilot is on; or left **pending** with ``guardrail_status = requires_approval``;
- a person answers the mapped approval (:func:`record_answer`): **approved** or **rejected**
  by that person, at the time Airflow recorded; a responder without the approver role in the
  tenant is refused (audited) and the proposal is **rejected**, because the question cannot be
  asked twice; no answer before the timeout is **rejected: expired** (never approved);
- the executor applied it (:func:`record_applied`): **applied**.

Every step writes the proposal and an audit row in one transaction. Who decided, when and why
is on the proposal (``decided_by``, ``decided_at``, ``decision_reason``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from spectra.guardrails import service
from spectra.guardrails.config import GuardrailConfig
from spectra.guardrails.mapping import (
    ProposalNotAppliable,
    candidate_from_proposal,
    change_from_proposal,
    proposal_ref,
)
from spectra.guardrails.permissions import Action, PermissionDenied
from spectra.observability import audit
from spectra.warehouse import guardrail_store as store

APPROVE = "Approve"
REJECT = "Reject"
AUTOPILOT = "autopilot"
GUARDRAILS = "guardrails"
TIMEOUT = "timeout"


@dataclass(frozen=True)
class Scope:
    """One account's proposals of one day (what one ``propose`` task wrote)."""

    tenant_id: str
    customer_id: int
    logical_date: dt.date

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "customer_id": self.customer_id,
            "logical_date": self.logical_date.isoformat(),
        }

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Scope:
        day = data["logical_date"]
        return cls(
            tenant_id=str(data["tenant_id"]),
            customer_id=int(data["customer_id"]),
            logical_date=day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)),
        )


def newest_scopes(scopes: Iterable[Scope]) -> list[Scope]:
    """One scope per account: its newest day (an older day's proposals are superseded)."""
    newest: dict[tuple[str, int], Scope] = {}
    for s in scopes:
        key = (s.tenant_id, s.customer_id)
        if key not in newest or s.logical_date > newest[key].logical_date:
            newest[key] = s
    return [newest[k] for k in sorted(newest)]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _item(row: Mapping[str, Any]) -> dict[str, Any]:
    """What ``spectra_apply`` moves between tasks: ids and the verdict, never the rows."""
    return {
        "proposal_id": int(row["id"]),
        "tenant_id": row["tenant_id"],
        "customer_id": int(row["customer_id"]),
        "campaign_id": int(row["campaign_id"]),
        "kind": row["kind"],
        "status": row["status"],
        "guardrail_status": row["guardrail_status"],
        "reason": row["guardrail_reason"] or "",
    }


# --------------------------------------------------------------------------- guard


def guard_proposals(
    engine: Engine,
    scopes: Sequence[Scope],
    *,
    run_id: str,
    config: GuardrailConfig | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Judge every proposal of the scopes no run has taken yet; store each verdict on the
    proposal (and in ``guardrail_decisions`` and the audit log).

    Proposals accepted earlier in the batch occupy their campaign's learning window like
    applied changes: the day's other proposals for that campaign join them as one change set
    (in force together), a second change to the same entity is rejected. A proposal this run judged
    already (the run was cleared) keeps its verdict. Each scope is judged as of its own day.
    """
    cfg = config or GuardrailConfig()
    wall = now or _now()
    out: list[dict[str, Any]] = []
    pending: list[Any] = []
    for scope in newest_scopes(scopes):
        with engine.begin() as conn:
            store.supersede_older(
                conn,
                tenant_id=scope.tenant_id,
                customer_id=scope.customer_id,
                logical_date=scope.logical_date,
                now=wall,
            )
            rows = store.proposals_to_guard(
                conn,
                tenant_id=scope.tenant_id,
                customer_id=scope.customer_id,
                logical_date=scope.logical_date,
                run_id=run_id,
            )
        for row in rows:
            if row["apply_run_id"] == run_id and row["guardrail_status"] is not None:
                out.append(_item(row))  # judged by this run before it was cleared
                if row["guardrail_status"] != "rejected":
                    pending.append(
                        service.as_pending(candidate_from_proposal(row), as_of=scope.logical_date)
                    )
                continue
            out.append(_guard_one(engine, row, scope, run_id, cfg, wall, pending))
    return out


def _guard_one(
    engine: Engine,
    row: dict[str, Any],
    scope: Scope,
    run_id: str,
    cfg: GuardrailConfig,
    wall: dt.datetime,
    pending: list[Any],
) -> dict[str, Any]:
    tenant, pid = row["tenant_id"], int(row["id"])
    try:
        candidate = candidate_from_proposal(row)
    except ProposalNotAppliable as error:
        status, reason = "rejected", f"not appliable: {error}"
        with engine.begin() as conn:
            _store_verdict(conn, row, status, reason, run_id=run_id, at=wall)
            audit.record(
                conn,
                tenant_id=tenant,
                action="guardrails_rejected",
                actor=GUARDRAILS,
                entity=proposal_ref(pid),
                reasoning=reason,
                detail={"proposal_id": pid, "kind": row["kind"]},
            )
        return _item({**row, **_verdict_values(status, reason, run_id, wall)})
    decision = service.check(
        engine, candidate, as_of=scope.logical_date, config=cfg, now=wall, pending=pending
    )
    if not decision.accepted:
        status = "rejected"
    elif decision.requires_approval:
        status = "requires_approval"
    else:
        status = "accepted"
    if status != "rejected":
        pending.append(service.as_pending(candidate, as_of=scope.logical_date))
    with engine.begin() as conn:
        _store_verdict(conn, row, status, decision.reason, run_id=run_id, at=wall)
        if status == "accepted":
            audit.record(
                conn,
                tenant_id=tenant,
                action="proposal_approved",
                actor=AUTOPILOT,
                entity=proposal_ref(pid),
                before=candidate.current,
                after=candidate.proposed,
                reasoning="passes every guardrail; the tenant's autopilot is on",
                evidence_ids=candidate.evidence_ids,
                detail={"proposal_id": pid},
            )
    return _item({**row, **_verdict_values(status, decision.reason, run_id, wall)})


def _verdict_values(status: str, reason: str, run_id: str, at: dt.datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "guardrail_status": status,
        "guardrail_reason": reason,
        "guarded_at": at,
        "apply_run_id": run_id,
        "approval_map_index": None,
    }
    if status == "rejected":
        values.update(
            status="rejected",
            decided_by=GUARDRAILS,
            decided_at=at,
            decision_reason=f"guardrails: {reason}",
        )
    elif status == "accepted":
        values.update(
            status="approved",
            decided_by=AUTOPILOT,
            decided_at=at,
            decision_reason="passes every guardrail; autopilot on",
        )
    else:
        values.update(status="pending", decided_by=None, decided_at=None, decision_reason=None)
    return values


def _store_verdict(
    conn: Any, row: Mapping[str, Any], status: str, reason: str, *, run_id: str, at: dt.datetime
) -> None:
    store.update_proposal(
        conn,
        tenant_id=row["tenant_id"],
        proposal_id=int(row["id"]),
        values=_verdict_values(status, reason, run_id, at),
    )


# --------------------------------------------------------------------------- approval


def approval_body(row: Mapping[str, Any]) -> str:
    """What the approver reads in Airflow's Required Actions page (Markdown): the change, the
    agent's reasoning (quoted: it is model output), the evidence and the expected effect."""
    pid = int(row["id"])
    entity = {
        "campaign_budget": f"campaign {row['campaign_id']} daily budget",
        "target_cpa": f"campaign {row['campaign_id']} target CPA",
        "target_roas": f"campaign {row['campaign_id']} target ROAS",
        "keyword_bid": f"keyword {row['ad_group_id']}~{row['criterion_id']} max CPC",
        "pause_keyword": f"keyword {row['ad_group_id']}~{row['criterion_id']} status",
        "enable_keyword": f"keyword {row['ad_group_id']}~{row['criterion_id']} status",
        "negative_keyword": f"campaign {row['campaign_id']} negative keyword",
    }.get(str(row["kind"]), str(row["kind"]))
    lines = [
        f"### Proposal {pid}: {entity}",
        "",
        f"`{_show(row['current_value'])}` → **`{_show(row['new_value'])}`**"
        f" (tenant `{row['tenant_id']}`, account `{row['customer_id']}`, "
        f"day {row['logical_date']})",
        "",
        f"**Why a person must approve:** {row['guardrail_reason'] or ''}",
    ]
    delta = row.get("expected_value_delta_micros")
    if delta is not None:
        effect = f"{delta / 1e6:+,.2f} a day in conversion value"
        low, high = row.get("expected_low_micros"), row.get("expected_high_micros")
        if low is not None and high is not None:
            effect += f" (95 % interval {low / 1e6:+,.2f} … {high / 1e6:+,.2f})"
        lines += ["", f"**Expected effect:** {effect}"]
    if row.get("reasoning"):
        quoted = "\n".join("> " + ln for ln in str(row["reasoning"]).splitlines() or [""])
        lines += ["", "**The agent's reasoning** (model output, quoted):", "", quoted]
    evidence = row.get("evidence_ids") or []
    if evidence:
        lines += ["", "**Evidence:** " + ", ".join(f"`{e}`" for e in evidence)]
    lines += [
        "",
        f"Approve or reject here, by REST, or `spectra approve {pid} --tenant {row['tenant_id']}`"
        " (the responder needs the approver role in the tenant). No answer in time: rejected.",
    ]
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("text") or value)
    return "none" if value is None else str(value)


def request_approvals(engine: Engine, items: Sequence[Mapping[str, Any]]) -> list[str]:
    """The bodies of the approvals to ask for, one per proposal that needs a person, in the
    order of ``items``; each proposal remembers its map index (how the CLI finds it)."""
    bodies: list[str] = []
    for item in items:
        if item["guardrail_status"] != "requires_approval":
            continue
        with engine.begin() as conn:
            row = store.get_proposal(
                conn, tenant_id=item["tenant_id"], proposal_id=item["proposal_id"]
            )
            if row["status"] != "pending":
                continue  # answered already (the CLI recorded it before a clear)
            store.update_proposal(
                conn,
                tenant_id=row["tenant_id"],
                proposal_id=int(row["id"]),
                values={"approval_map_index": len(bodies)},
            )
            audit.record(
                conn,
                tenant_id=row["tenant_id"],
                action="approval_requested",
                actor="spectra_apply",
                entity=proposal_ref(int(row["id"])),
                reasoning=row["guardrail_reason"] or "",
                detail={"run_id": row["apply_run_id"], "map_index": len(bodies)},
            )
            bodies.append(approval_body(row))
    return bodies


@dataclass(frozen=True)
class Answer:
    """A person's (or the timeout's) answer to one approval, as Airflow recorded it."""

    chosen: str  # Approve | Reject
    responder: str | None  # None: nobody answered (the timeout chose the default)
    responded_at: dt.datetime
    via: str = "airflow"  # airflow (UI / REST) | cli

    @classmethod
    def from_hitl(cls, result: Mapping[str, Any], *, via: str = "airflow") -> Answer:
        """From the HITL operator's XCom or the hitlDetails PATCH response."""
        chosen = list(result.get("chosen_options") or [REJECT])
        user = result.get("responded_by_user") or result.get("responded_by")
        at = result.get("responded_at")
        if isinstance(at, str):
            at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        if not isinstance(at, dt.datetime):
            at = _now()
        return cls(
            chosen=APPROVE if chosen == [APPROVE] else REJECT,
            responder=str(user["id"]) if isinstance(user, Mapping) and user.get("id") else None,
            responded_at=at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC),
            via=via,
        )


def record_answer(
    engine: Engine, *, tenant_id: str, proposal_id: int, answer: Answer
) -> dict[str, Any]:
    """Record the answer on the proposal and in the audit log; returns the proposal's item.

    Idempotent: the same answer recorded twice (the CLI, then the run resuming) writes once.
    A responder without the approver role is refused (``permission_denied`` audited) and the
    proposal rejected; no responder means the approval expired: rejected, never approved.
    """
    with engine.connect() as conn:
        row = store.get_proposal(conn, tenant_id=tenant_id, proposal_id=proposal_id)
    if row["status"] != "pending":
        return _item(row)  # decided already (this answer, recorded before)
    ref = proposal_ref(proposal_id)
    if answer.responder is None:
        status, by, reason, action = "rejected", TIMEOUT, "expired: no answer in time", "expired"
    else:
        try:
            service.authorize(
                engine,
                tenant_id=tenant_id,
                principal=answer.responder,
                action=Action.APPROVE,
                entity=ref,
                detail={"answer": answer.chosen, "via": answer.via, "proposal_id": proposal_id},
            )
        except PermissionDenied as refused:
            status, by = "rejected", answer.responder
            reason = f"{answer.chosen.lower()} by {answer.responder} refused: {refused}"
            action = "approval_refused"
        else:
            by = answer.responder
            if answer.chosen == APPROVE:
                status, reason, action = "approved", f"approved by {by}", "approved"
            else:
                status, reason, action = "rejected", f"rejected by {by}", "rejected"
    with engine.begin() as conn:
        store.update_proposal(
            conn,
            tenant_id=tenant_id,
            proposal_id=proposal_id,
            values={
                "status": status,
                "decided_by": by,
                "decided_at": answer.responded_at,
                "decision_reason": reason,
            },
        )
        audit.record(
            conn,
            tenant_id=tenant_id,
            action=f"proposal_{action}",
            actor=by,
            entity=ref,
            before=row["current_value"],
            after=row["new_value"],
            reasoning=reason,
            evidence_ids=[str(e) for e in row["evidence_ids"] or []],
            detail={
                "proposal_id": proposal_id,
                "via": answer.via,
                "responded_at": answer.responded_at.isoformat(),
            },
        )
        row = store.get_proposal(conn, tenant_id=tenant_id, proposal_id=proposal_id)
    return _item(row)


def record_answers(
    engine: Engine,
    items: Sequence[Mapping[str, Any]],
    responses: Sequence[Mapping[str, Any] | None],
) -> list[dict[str, Any]]:
    """The approve task's results (in map-index order) onto the proposals that asked them;
    returns the items approved by someone allowed to."""
    waiting: dict[int, Mapping[str, Any]] = {}
    for item in items:
        if item["guardrail_status"] != "requires_approval":
            continue
        with engine.connect() as conn:
            row = store.get_proposal(
                conn, tenant_id=item["tenant_id"], proposal_id=item["proposal_id"]
            )
        if row["approval_map_index"] is not None:
            waiting[int(row["approval_map_index"])] = item
    out = []
    for index, item in sorted(waiting.items()):
        response = responses[index] if index < len(responses) else None
        if response is None:  # the approve instance failed or never ran: stays pending
            continue
        recorded = record_answer(
            engine,
            tenant_id=item["tenant_id"],
            proposal_id=int(item["proposal_id"]),
            answer=Answer.from_hitl(response),
        )
        if recorded["status"] == "approved":
            out.append(recorded)
    return out


def record_applied(
    engine: Engine, *, tenant_id: str, proposal_id: int, outcome: str, detail: str = ""
) -> None:
    """The executor's outcome on the proposal: applied, or why it was not."""
    with engine.begin() as conn:
        row = store.get_proposal(conn, tenant_id=tenant_id, proposal_id=proposal_id)
        values: dict[str, Any]
        if outcome == "applied":
            values = {"status": "applied"}
        else:
            values = {"decision_reason": f"{row['decision_reason'] or ''}; apply: {outcome}"
                      + (f" ({detail})" if detail else "")}  # fmt: skip
        store.update_proposal(conn, tenant_id=tenant_id, proposal_id=proposal_id, values=values)


def change_of(engine: Engine, *, tenant_id: str, proposal_id: int) -> tuple[Any, dt.date]:
    """The executor's change for an approved proposal (who approved it is its actor), and
    the proposal's day."""
    with engine.connect() as conn:
        row = store.get_proposal(conn, tenant_id=tenant_id, proposal_id=proposal_id)
    change = change_from_proposal(row, actor=str(row["decided_by"] or "spectra_apply"))
    return change, row["logical_date"]


def candidate_of(engine: Engine, *, tenant_id: str, proposal_id: int) -> Any:
    with engine.connect() as conn:
        row = store.get_proposal(conn, tenant_id=tenant_id, proposal_id=proposal_id)
    return candidate_from_proposal(row)


__all__ = [
    "APPROVE",
    "REJECT",
    "Answer",
    "Scope",
    "approval_body",
    "candidate_of",
    "change_of",
    "guard_proposals",
    "newest_scopes",
    "record_answer",
    "record_answers",
    "record_applied",
    "request_approvals",
]
