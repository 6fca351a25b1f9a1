"""The audit log: every step of every change, append-only and hash-chained per tenant.

``record`` appends inside the caller's transaction (a phase and its audit row commit together);
``verify`` recomputes every tenant's chain and names each edited, removed or reordered row.
The arithmetic is in ``spectra.domain.audit``, the SQL in ``spectra.warehouse.audit_store``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from spectra.domain.audit import ChainProblem, verify_chain
from spectra.warehouse.audit_store import append_audit_row, audit_rows, audited_tenants, chain_head


def record(
    conn: Connection,
    *,
    tenant_id: str,
    action: str,
    actor: str = "system",
    entity: str = "",
    change_key: str | None = None,
    before: Any = None,
    after: Any = None,
    reasoning: str = "",
    evidence_ids: Sequence[str] = (),
    prompt_version: str | None = None,
    request_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one audit row (who, what, before / after, why, Google's request id)."""
    return append_audit_row(
        conn,
        tenant_id=tenant_id,
        fields={
            "actor": actor,
            "action": action,
            "entity": entity,
            "change_key": change_key,
            "before": before,
            "after": after,
            "reasoning": reasoning,
            "evidence_ids": list(evidence_ids),
            "prompt_version": prompt_version,
            "request_id": request_id,
            "detail": detail or {},
        },
    )


@dataclass
class ChainReport:
    tenant_id: str
    rows: int
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(engine: Engine, *, tenant_id: str | None = None) -> list[ChainReport]:
    """Check the chain of one tenant, or of every tenant that has one."""
    with engine.connect() as conn:
        tenants = [tenant_id] if tenant_id is not None else audited_tenants(conn)
        reports = []
        for tenant in tenants:
            rows = list(audit_rows(conn, tenant_id=tenant))
            head = chain_head(conn, tenant_id=tenant)
            problems = verify_chain(
                rows,
                head_seq=head[0] if head else None,
                head_hash=head[1] if head else None,
            )
            reports.append(ChainReport(tenant, len(rows), problems))
    return reports


__all__ = ["ChainReport", "record", "verify"]
