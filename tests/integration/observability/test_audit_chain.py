"""The hash-chained audit log: `verify` names an edited, removed or reordered row."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, delete, select, update

from spectra.observability.audit import record, verify
from spectra.warehouse.models import AuditRow
from spectra.warehouse.repositories import register_tenant

TENANT = "acme"


@pytest.fixture
def chain(engine: Engine) -> Engine:
    with engine.begin() as conn:
        register_tenant(conn, tenant_id=TENANT, name="Acme")
        register_tenant(conn, tenant_id="other", name="Other")
        for i in range(1, 6):
            record(
                conn,
                tenant_id=TENANT,
                action="sent",
                actor="spectra-apply",
                entity=f"keyword:1/2~{i}",
                change_key=f"k{i}",
                before=100 * i,
                after=110 * i,
                reasoning=f"step {i}",
                evidence_ids=[f"ev{i}"],
                request_id=f"req{i}",
            )
        record(conn, tenant_id="other", action="approved", entity="campaign:9")
    return engine


def _problems(engine: Engine) -> list[tuple[int, str]]:
    (report,) = verify(engine, tenant_id=TENANT)
    return [(p.seq, p.kind) for p in report.problems]


def test_untouched_chains_verify(chain: Engine) -> None:
    reports = {r.tenant_id: r for r in verify(chain)}
    assert reports[TENANT].ok and reports[TENANT].rows == 5
    assert reports["other"].ok and reports["other"].rows == 1


def test_an_edited_row_is_named(chain: Engine) -> None:
    with chain.begin() as conn:
        conn.execute(
            update(AuditRow)
            .where(AuditRow.tenant_id == TENANT, AuditRow.seq == 3)
            .values(after=999)
        )
    assert _problems(chain) == [(3, "edited")]
    assert all(r.ok for r in verify(chain) if r.tenant_id == "other")


def test_a_removed_row_is_named(chain: Engine) -> None:
    with chain.begin() as conn:
        conn.execute(delete(AuditRow).where(AuditRow.tenant_id == TENANT, AuditRow.seq == 3))
    (report,) = verify(chain, tenant_id=TENANT)
    assert [(p.seq, p.kind) for p in report.problems] == [(4, "removed")]
    assert "3" in report.problems[0].message


def test_a_removed_last_row_is_named(chain: Engine) -> None:
    with chain.begin() as conn:
        conn.execute(delete(AuditRow).where(AuditRow.tenant_id == TENANT, AuditRow.seq == 5))
    assert _problems(chain) == [(5, "removed")]


def test_reordered_rows_are_named(chain: Engine) -> None:
    cols = [c for c in AuditRow.__table__.c if c.name not in ("tenant_id", "seq")]
    with chain.begin() as conn:
        rows = {
            r.seq: r
            for r in conn.execute(select(AuditRow.__table__).where(AuditRow.tenant_id == TENANT))
        }
        for a, b in ((2, 3), (3, 2)):  # swap the contents of rows 2 and 3
            conn.execute(
                update(AuditRow)
                .where(AuditRow.tenant_id == TENANT, AuditRow.seq == a)
                .values({c.name: getattr(rows[b], c.name) for c in cols})
            )
    problems = _problems(chain)
    assert (2, "reordered") in problems and (3, "reordered") in problems


def test_two_first_appends_of_a_tenant_serialise(engine: Engine) -> None:
    """Two writers append a new tenant's first row at once: one waits, the chain is 1, 2."""
    with engine.begin() as conn:
        register_tenant(conn, tenant_id="fresh", name="Fresh")
    first_in = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        first_in.wait()
        try:
            with engine.begin() as conn:
                record(conn, tenant_id="fresh", action="sent", change_key="b")
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    with engine.begin() as conn:
        record(conn, tenant_id="fresh", action="sent", change_key="a")
        first_in.set()
        time.sleep(0.5)  # the second writer is now waiting on this transaction
    thread.join(timeout=60)
    assert not errors, errors
    (report,) = verify(engine, tenant_id="fresh")
    assert report.ok and report.rows == 2
    with engine.connect() as conn:
        order = conn.execute(
            select(AuditRow.change_key).where(AuditRow.tenant_id == "fresh").order_by(AuditRow.seq)
        ).scalars()
        assert list(order) == ["a", "b"]
