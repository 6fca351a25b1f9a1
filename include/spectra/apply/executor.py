"""The apply executor: approved changes land in Google Ads exactly once, or are rejected or
dead-lettered with their reason — never lost, never half-done without a record.

Per campaign, one writer at a time holds a lease with a fencing token (``apply_leases``); every
write below checks the token first, so a writer that was paused past its lease is refused the
moment it wakes. Each change moves through recorded phases (``spectra.domain.changes``):

    approved → locked → preflighted (validate_only) → sent → confirmed (read back) → recorded

and each phase, its ledger row and its audit row commit in one short transaction *before* the
next step starts; no transaction is ever open across a Google Ads call. Google's mutates carry no
idempotency key of ours, so every round first reads the entities' current state through GAQL
and sends only what is not yet at its absolute target: a lost response, a crash after sending
or a retried dead letter finds the change already applied and records it without a second send.

A send is never retried blindly. Rounds (read, preflight, send, read back) repeat with tenacity's
full-jitter backoff while transient errors remain (UNAVAILABLE, CONCURRENT_MODIFICATION, a cut
read-back stream, a lost response); a change that used up its attempts — counted in the ledger,
so Airflow's own task retries cannot multiply them — becomes a dead letter (``failed_jobs``).
While the shared circuit breaker is open, or the daily quota is spent, changes are deferred.

Around the apply the campaign moves ACTIVE → OPTIMIZING → ACTIVE (or PAUSED, when the change
paused it) through the domain state machine, with a ``campaign_versions`` snapshot before and
after. A read-back that differs from the target rolls the campaign back to its version from
before the apply; a rollback that cannot land leaves the campaign FAILED with the reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pybreaker
from sqlalchemy import Connection, Engine

from spectra.ads.client import AdsCredentials
from spectra.ads.entities import SECTIONS, CampaignNotInAccount, CampaignRead, read_campaign
from spectra.ads.errors import (
    AdsError,
    AdsQuotaExhausted,
    AdsRetryableError,
    FailureDetail,
    is_transient,
)
from spectra.ads.mutate import MAX_OPERATIONS, UnbuildableChange, build_operation, mutate
from spectra.ads.retry import RetryPolicy, call_with_retry, retrying
from spectra.domain.campaign_state import CampaignState
from spectra.domain.changes import (
    RESUMABLE,
    TERMINAL,
    ApprovedChange,
    EntityKind,
    Phase,
    advance,
    outcome_of,
)
from spectra.observability import audit
from spectra.reliability.breaker import BreakerConfig, shared_breaker
from spectra.warehouse import apply_store as store
from spectra.warehouse import repositories as repo

log = logging.getLogger(__name__)

GOOGLE_ADS_BREAKER = "google_ads"
PhaseHook = Callable[[str, Sequence[str]], None]


@dataclass(frozen=True)
class ApplyConfig:
    """Bounds of one apply run. Worst case per change and Airflow task try: ``rounds.attempts``
    sends, each preceded by a read of at most ``reads.attempts`` tries per query; across all
    tries ``max_attempts`` rounds (kept in the ledger), then it is a dead letter."""

    lease_ttl_s: float = 120.0
    lock_wait_s: float = 30.0
    reads: RetryPolicy = RetryPolicy(attempts=4, base_delay=0.2, max_delay=5.0, total_timeout=60.0)
    rounds: RetryPolicy = RetryPolicy(
        attempts=5, base_delay=0.2, max_delay=5.0, total_timeout=180.0
    )
    max_attempts: int = 5
    max_operations: int = MAX_OPERATIONS
    mutate_timeout_s: float = 60.0
    quota_defer_s: float = 3600.0  # the daily quota: wait for Google's sliding window
    # the sandbox clock (sent only when the connection says so): a day, or an instant (the
    # hourly monitors: a pause is in force from that hour on)
    as_of: dt.date | dt.datetime | None = None
    actor: str = "spectra-apply"


@dataclass
class ChangeOutcome:
    idempotency_key: str
    change_id: int
    campaign_id: int
    phase: str
    outcome: str
    sends: int
    error: str = ""


@dataclass
class ApplyReport:
    outcomes: dict[str, ChangeOutcome] = field(default_factory=dict)
    deferred: dict[str, str] = field(default_factory=dict)  # idempotency key -> why
    busy_campaigns: list[int] = field(default_factory=list)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes.values():
            out[o.outcome] = out.get(o.outcome, 0) + 1
        return out

    def merge(self, other: ApplyReport) -> None:
        self.outcomes.update(other.outcomes)
        self.deferred.update(other.deferred)
        self.busy_campaigns.extend(other.busy_campaigns)
        self.rollbacks.extend(other.rollbacks)


class _StillPending(AdsRetryableError):
    """Some operations of a round failed transiently; the next round reads before re-sending."""


class Deferred(Exception):
    """Google Ads cannot take the work now (its breaker is open, the daily quota is spent):
    the work is left as it is and tried again after ``seconds``."""

    def __init__(self, reason: str, seconds: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seconds = seconds


@contextmanager
def deferring(breaker: pybreaker.CircuitBreaker, config: ApplyConfig) -> Iterator[None]:
    """Turn an open breaker or a spent daily quota into :class:`Deferred` (the executor's and
    the operation runner's rule for both)."""
    try:
        yield
    except pybreaker.CircuitBreakerError as exc:
        raise Deferred(f"Google Ads circuit breaker open: {exc}", breaker.reset_timeout) from exc
    except AdsQuotaExhausted as exc:
        raise Deferred(
            f"daily quota exhausted: {exc}", exc.retry_delay or config.quota_defer_s
        ) from exc


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _day(as_of: dt.date | dt.datetime | None) -> dt.date | None:
    return as_of.date() if isinstance(as_of, dt.datetime) else as_of


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def campaign_scope(customer_id: int, campaign_id: int) -> str:
    return f"campaign:{customer_id}:{campaign_id}"


def google_ads_breaker(
    engine: Engine, config: BreakerConfig | None = None
) -> pybreaker.CircuitBreaker:
    """The Google Ads breaker: only transient failures (outages, rate limits) count."""
    return shared_breaker(
        GOOGLE_ADS_BREAKER,
        engine=engine,
        counts_as_failure=lambda exc: (
            isinstance(exc, AdsRetryableError) and not isinstance(exc, _StillPending)
        ),
        config=config or BreakerConfig(),
    )


def _same(current: Any, target: Any) -> bool:
    return current is not None and current == target


class Executor:
    """One apply run (one process, one holder identity). Use :func:`apply_changes`."""

    def __init__(
        self,
        engine: Engine,
        client: Any,
        *,
        creds: AdsCredentials | None = None,
        config: ApplyConfig = ApplyConfig(),
        breaker: pybreaker.CircuitBreaker | None = None,
        on_phase: PhaseHook | None = None,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        # only the sandbox-clock flag is read from the credentials here
        self.creds = creds or AdsCredentials(developer_token="-", access_token="-")
        self.config = config
        self.breaker = breaker if breaker is not None else google_ads_breaker(engine)
        self.on_phase = on_phase
        self.holder = holder or holder_id()
        self.ttl = dt.timedelta(seconds=config.lease_ttl_s)
        # per campaign: the full read that followed its last mutation, if nothing was sent
        # since (the after-version is then that read, not a second full read)
        self._read_after_send: dict[tuple[int, int], CampaignRead] = {}

    # ------------------------------------------------------------------ entry points
    def record_approved(self, changes: Iterable[ApprovedChange]) -> list[dict[str, Any]]:
        """Write every change into the ledger as ``approved`` (a replayed key is found again)."""
        rows = []
        now = _now()
        with self.engine.begin() as conn:
            for change in changes:
                row, created = store.insert_change(
                    conn,
                    values={
                        "tenant_id": change.tenant_id,
                        "customer_id": change.customer_id,
                        "campaign_id": change.campaign_id,
                        "idempotency_key": change.idempotency_key,
                        "entity_key": change.entity.key,
                        "field": change.field,
                        "target": change.target,
                        "payload": change.payload(),
                        "origin_kind": change.origin.kind.value,
                        "origin_ref": change.origin.ref,
                        "phase": Phase.APPROVED.value,
                        "fencing_token": 0,
                        "attempts": 0,
                        "sends": 0,
                        "error": "",
                        "effective_date": _day(self.config.as_of) or now.date(),
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                if created:
                    self._audit(conn, row, "approved", after=change.target)
                rows.append(row)
        return rows

    def run(self, scopes: Iterable[tuple[str, int, int]]) -> ApplyReport:
        report = ApplyReport()
        for tenant_id, customer_id, campaign_id in scopes:
            report.merge(self.run_campaign(tenant_id, customer_id, campaign_id))
        return report

    # ------------------------------------------------------------------ plumbing
    def _hook(self, phase: str, rows: Sequence[dict[str, Any]]) -> None:
        if self.on_phase is not None and rows:
            self.on_phase(phase, [r["idempotency_key"] for r in rows])

    @contextmanager
    def _txn(self, tenant_id: str, scope: str, token: int) -> Iterator[Connection]:
        """One short transaction that first proves our fencing token is still current."""
        with self.engine.begin() as conn:
            store.check_lease(
                conn,
                tenant_id=tenant_id,
                scope=scope,
                token=token,
                holder=self.holder,
                ttl=self.ttl,
                now=_now(),
            )
            yield conn

    def _audit(self, conn: Connection, row: dict[str, Any], action: str, **kw: Any) -> None:
        payload = row["payload"]
        audit.record(
            conn,
            tenant_id=row["tenant_id"],
            action=action,
            actor=payload["origin"].get("actor", "system"),
            entity=row["entity_key"],
            change_key=row["idempotency_key"],
            reasoning=payload.get("reasoning", ""),
            evidence_ids=payload.get("evidence_ids", []),
            prompt_version=payload.get("prompt_version"),
            detail={
                "field": row["field"],
                "origin": payload["origin"],
                "token": row.get("fencing_token"),
                **kw.pop("detail", {}),
            },
            **kw,
        )

    def _set_phase(
        self, conn: Connection, row: dict[str, Any], phase: Phase, token: int, **values: Any
    ) -> None:
        new = advance(row["phase"], phase)
        store.update_change(
            conn,
            tenant_id=row["tenant_id"],
            change_id=row["id"],
            now=_now(),
            phase=new.value,
            fencing_token=token,
            **values,
        )
        row.update(values)
        row["phase"] = new.value
        row["fencing_token"] = token

    def _guard(self, fn: Callable[[], Any]) -> Any:
        """A read or a validate_only call: retried on transient errors, through the breaker."""
        return call_with_retry(lambda: self.breaker.call(fn), policy=self.config.reads)

    def _read(
        self, customer_id: int, campaign_id: int, sections: Iterable[str] = SECTIONS
    ) -> CampaignRead:
        return read_campaign(
            self.client,
            self.creds,
            customer_id=customer_id,
            campaign_id=campaign_id,
            as_of=self.config.as_of,
            sections=sections,
            guard=self._guard,
        )

    def _read_rounds(self, customer_id: int, campaign_id: int) -> CampaignRead:
        """A full read, retried like a round; an open breaker or the daily quota defers."""
        with deferring(self.breaker, self.config):
            for attempt in retrying(policy=self.config.rounds):
                with attempt:
                    return self._read(customer_id, campaign_id)
        raise AssertionError("unreachable")

    def _acquire(self, tenant_id: str, scope: str) -> int | None:
        deadline = time.monotonic() + self.config.lock_wait_s
        while True:
            with self.engine.begin() as conn:
                token = store.acquire_lease(
                    conn,
                    tenant_id=tenant_id,
                    scope=scope,
                    holder=self.holder,
                    ttl=self.ttl,
                    now=_now(),
                )
            if token is not None or time.monotonic() >= deadline:
                return token
            time.sleep(0.2)

    def _release(self, tenant_id: str, scope: str, token: int) -> None:
        with self.engine.begin() as conn:
            store.release_lease(
                conn, tenant_id=tenant_id, scope=scope, token=token, holder=self.holder
            )

    # ------------------------------------------------------------------ one campaign
    def run_campaign(self, tenant_id: str, customer_id: int, campaign_id: int) -> ApplyReport:
        """Apply (or resume) every pending change of one campaign under its lease."""
        report = ApplyReport()
        scope = campaign_scope(customer_id, campaign_id)
        token = self._acquire(tenant_id, scope)
        if token is None:
            log.warning("campaign %s is being applied by another writer; deferred", campaign_id)
            report.busy_campaigns.append(campaign_id)
            return report
        rows: list[dict[str, Any]] = []
        mismatched: list[dict[str, Any]] = []
        self._read_after_send.pop((customer_id, campaign_id), None)
        try:
            rows = self._lock_rows(tenant_id, customer_id, campaign_id, scope, token)
            if rows:
                mismatched = self._apply_rows(rows, scope, token, report)
        except store.StaleLease as exc:
            log.error("apply of campaign %s stopped: %s", campaign_id, exc)
            raise
        finally:
            self._release(tenant_id, scope, token)
        if mismatched:
            report.rollbacks.append(self._auto_rollback(rows, mismatched))
        with self.engine.connect() as conn:
            fresh = store.get_changes(conn, tenant_id=tenant_id, ids=[r["id"] for r in rows])
        for r in fresh:
            report.outcomes[r["idempotency_key"]] = ChangeOutcome(
                r["idempotency_key"],
                r["id"],
                int(r["campaign_id"]),
                r["phase"],
                outcome_of(r["phase"]),
                int(r["sends"]),
                r["error"],
            )
        return report

    def _lock_rows(
        self, tenant_id: str, customer_id: int, campaign_id: int, scope: str, token: int
    ) -> list[dict[str, Any]]:
        """Take over every pending change of the campaign under our token; OPTIMIZING."""
        with self._txn(tenant_id, scope, token) as conn:
            rows = store.campaign_changes(
                conn,
                tenant_id=tenant_id,
                customer_id=customer_id,
                campaign_id=campaign_id,
                phases=[p.value for p in (*RESUMABLE, Phase.CONFIRMED)],
                now=_now(),
            )
            if not rows:
                return []
            reason = ""
            try:
                campaign = repo.get_campaign(
                    conn, tenant_id=tenant_id, customer_id=customer_id, campaign_id=campaign_id
                )
                state = CampaignState(campaign.status)
            except repo.CampaignNotFound as exc:
                state, reason = None, str(exc)
            if state not in (CampaignState.ACTIVE, CampaignState.OPTIMIZING, CampaignState.PAUSED):
                reason = (
                    reason
                    if state is None
                    else f"campaign {campaign_id} is {state.value} in Spectra; changes need it "
                    "ACTIVE, OPTIMIZING or PAUSED"
                )
                for row in rows:
                    if row["phase"] != Phase.CONFIRMED.value:
                        self._set_phase(conn, row, Phase.REJECTED, token, error=reason)
                        self._audit(conn, row, "rejected", detail={"reason": reason})
                return []
            if state == CampaignState.ACTIVE:
                repo.change_campaign_state(
                    conn,
                    tenant_id=tenant_id,
                    customer_id=customer_id,
                    campaign_id=campaign_id,
                    target=CampaignState.OPTIMIZING,
                )
            for row in rows:
                if row["phase"] in {p.value for p in RESUMABLE}:
                    resumed = row["phase"]
                    self._set_phase(conn, row, Phase.LOCKED, token, deferred_until=None)
                    self._audit(
                        conn, row, "locked", detail={"resumed_from": resumed, "token": token}
                    )
        self._hook("locked", rows)
        return rows

    def _apply_rows(
        self, rows: list[dict[str, Any]], scope: str, token: int, report: ApplyReport
    ) -> list[dict[str, Any]]:
        tenant_id, customer_id, campaign_id = (
            rows[0]["tenant_id"],
            int(rows[0]["customer_id"]),
            int(rows[0]["campaign_id"]),
        )
        mismatched: list[dict[str, Any]] = []
        try:
            try:
                before = self._read_rounds(customer_id, campaign_id)
            except AdsRetryableError as exc:
                todo = [r for r in rows if r["phase"] in {p.value for p in RESUMABLE}]
                for row in todo:  # the failed read-before-send was this round's attempt
                    row["attempts"] = int(row["attempts"]) + 1
                self._dead_letter(todo, scope, token, f"campaign not readable: {exc}")
                self._record(rows, scope, token, [])
                return []
            with self._txn(tenant_id, scope, token) as conn:
                version = ensure_version(
                    conn,
                    tenant_id=tenant_id,
                    customer_id=customer_id,
                    campaign_id=campaign_id,
                    snapshot=before.snapshot,
                    reason="before apply",
                    created_by=self.config.actor,
                )
                for row in rows:
                    if row["version_before"] is None:
                        store.update_change(
                            conn,
                            tenant_id=tenant_id,
                            change_id=row["id"],
                            now=_now(),
                            version_before=version,
                        )
                        row["version_before"] = version
            for wave in _waves([r for r in rows if r["phase"] != Phase.CONFIRMED.value]):
                mismatched += self._wave(wave, scope, token, before)
            self._record(rows, scope, token, mismatched)
        except Deferred as deferred:
            self._defer(rows, scope, token, deferred, report)
        except (CampaignNotInAccount, AdsError) as exc:
            # a permanent error outside any one operation (the campaign vanished, auth)
            reason = f"{type(exc).__name__}: {exc}"
            with self._txn(tenant_id, scope, token) as conn:
                for row in rows:
                    if (
                        row["phase"] not in {p.value for p in TERMINAL}
                        and row["phase"] != Phase.CONFIRMED.value
                    ):
                        self._set_phase(conn, row, Phase.REJECTED, token, error=reason)
                        self._audit(conn, row, "rejected", detail={"reason": reason})
            self._record(rows, scope, token, [])
        return mismatched

    # ------------------------------------------------------------------ waves and rounds
    def _wave(
        self, rows: list[dict[str, Any]], scope: str, token: int, first_read: CampaignRead
    ) -> list[dict[str, Any]]:
        """Land changes that set different (entity, field) slots; returns read-back mismatches."""
        pending = list(rows)
        mismatched: list[dict[str, Any]] = []
        read: CampaignRead | None = first_read
        try:
            with deferring(self.breaker, self.config):
                for attempt in retrying(policy=self.config.rounds):
                    with attempt:
                        pending = self._dead_letter_exhausted(
                            pending, scope, token, "attempts exhausted"
                        )
                        if not pending:
                            break
                        pending, bad = self._round(pending, scope, token, read)
                        mismatched += bad
                        read = None  # later rounds read afresh
                        if pending:
                            raise _StillPending(f"{len(pending)} operations still pending")
        except AdsRetryableError as exc:
            self._dead_letter(pending, scope, token, f"{type(exc).__name__}: {exc}")
        return mismatched

    def _dead_letter_exhausted(
        self, rows: list[dict[str, Any]], scope: str, token: int, why: str
    ) -> list[dict[str, Any]]:
        spent = [r for r in rows if int(r["attempts"]) >= self.config.max_attempts]
        if spent:
            self._dead_letter(spent, scope, token, f"{why} ({self.config.max_attempts} rounds)")
        return [r for r in rows if r not in spent]

    def _dead_letter(self, rows: list[dict[str, Any]], scope: str, token: int, error: str) -> None:
        if not rows:
            return
        now = _now()
        with self._txn(rows[0]["tenant_id"], scope, token) as conn:
            for row in rows:
                self._set_phase(
                    conn,
                    row,
                    Phase.DEAD_LETTERED,
                    token,
                    error=error,
                    attempts=int(row["attempts"]),
                )
                job = store.open_failed_job(conn, change=row, error=error, now=now)
                self._audit(conn, row, "dead_lettered", detail={"error": error, "failed_job": job})

    def _reject(
        self, conn: Connection, row: dict[str, Any], token: int, reason: str, **kw: Any
    ) -> None:
        self._set_phase(conn, row, Phase.REJECTED, token, error=reason, **kw)
        self._audit(
            conn, row, "rejected", request_id=kw.get("request_id"), detail={"reason": reason}
        )

    def _round(
        self, rows: list[dict[str, Any]], scope: str, token: int, read: CampaignRead | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Read, preflight, send and read back once. Returns (still pending, mismatched)."""
        tenant_id, customer_id, campaign_id = (
            rows[0]["tenant_id"],
            int(rows[0]["customer_id"]),
            int(rows[0]["campaign_id"]),
        )
        changes = {r["id"]: ApprovedChange.from_payload(r["payload"]) for r in rows}
        sections = {_section(changes[r["id"]]) for r in rows}
        read = read or self._read(customer_id, campaign_id, sections)
        to_send: list[dict[str, Any]] = []
        ops: list[Any] = []
        with self._txn(tenant_id, scope, token) as conn:
            for row in rows:
                change = changes[row["id"]]
                current = read.value(change.entity, change.field)
                values: dict[str, Any] = {"attempts": int(row["attempts"]) + 1}
                if row["before_value"] is None and current is not None:
                    values["before_value"] = current
                # one statement for the round's attempt and the value read before it
                store.update_change(
                    conn, tenant_id=tenant_id, change_id=row["id"], now=_now(), **values
                )
                row.update(values)
                if _same(current, change.target):
                    self._set_phase(conn, row, Phase.CONFIRMED, token, after_value=current)
                    self._audit(
                        conn,
                        row,
                        "confirmed",
                        before=row["before_value"],
                        after=current,
                        detail={"sent": int(row["sends"]) > 0, "read_before_send": True},
                    )
                    continue
                # a campaign read succeeded, so it exists: a field it lacks is a Smart Bidding
                # target its strategy does not have, which build_operation names
                if current is None and change.entity.kind != EntityKind.CAMPAIGN:
                    self._reject(conn, row, token, f"{change.entity.key} not found in the account")
                    continue
                try:
                    ops.append(build_operation(self.client, change, read))
                    to_send.append(row)
                except UnbuildableChange as exc:
                    self._reject(conn, row, token, str(exc))
        if not to_send:
            return [], []
        pending: list[dict[str, Any]] = []
        mismatched: list[dict[str, Any]] = []
        for start in range(0, len(to_send), self.config.max_operations):
            chunk, chunk_ops = (
                to_send[start : start + self.config.max_operations],
                ops[start : start + self.config.max_operations],
            )
            p, m = self._send(chunk, chunk_ops, scope, token, customer_id, campaign_id)
            pending += p
            mismatched += m
        return pending, mismatched

    def _apply_results(
        self,
        conn: Connection,
        rows: list[dict[str, Any]],
        results: Any,
        request_id: str | None,
        token: int,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(passed, transient) rows of one request's per-operation results; rejects the rest."""
        passed, transient = [], []
        for row, res in zip(rows, results, strict=True):
            if res.ok:
                passed.append(row)
                continue
            if all(is_transient(d) for d in res.errors):
                transient.append(row)
                continue
            self._reject(conn, row, token, _describe(res.errors), request_id=request_id)
        return passed, transient

    def _send(
        self,
        rows: list[dict[str, Any]],
        ops: list[Any],
        scope: str,
        token: int,
        customer_id: int,
        campaign_id: int,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        tenant_id = rows[0]["tenant_id"]
        # preflight: validate_only has no side effect, so it may be retried like a read
        check = self._guard(
            lambda: mutate(
                self.client,
                self.creds,
                customer_id=customer_id,
                operations=ops,
                validate_only=True,
                as_of=self.config.as_of,
                timeout=self.config.mutate_timeout_s,
            )
        )
        with self._txn(tenant_id, scope, token) as conn:
            passed, transient = self._apply_results(
                conn, rows, check.results, check.request_id, token
            )
            for row in passed:
                self._set_phase(conn, row, Phase.PREFLIGHTED, token)
                self._audit(conn, row, "preflighted", request_id=check.request_id)
        self._hook("preflighted", passed)
        if not passed:
            return transient, []
        send_ops = [op for row, op in zip(rows, ops, strict=True) if row in passed]
        with self._txn(tenant_id, scope, token) as conn:
            for row in passed:
                self._set_phase(conn, row, Phase.SENT, token, sends=int(row["sends"]) + 1)
                self._audit(conn, row, "sent", before=row["before_value"], after=row["target"])
        self._hook("sent", passed)
        # never retried here: an unknown outcome goes back to the round, which reads first
        self._read_after_send.pop((customer_id, campaign_id), None)
        try:
            outcome = self.breaker.call(
                lambda: mutate(
                    self.client,
                    self.creds,
                    customer_id=customer_id,
                    operations=send_ops,
                    as_of=self.config.as_of,
                    timeout=self.config.mutate_timeout_s,
                )
            )
        except AdsRetryableError:
            return transient + passed, []
        except (AdsQuotaExhausted, pybreaker.CircuitBreakerError):
            raise
        except AdsError as exc:
            with self._txn(tenant_id, scope, token) as conn:
                for row in passed:
                    self._reject(
                        conn, row, token, f"{type(exc).__name__}: {exc}", request_id=exc.request_id
                    )
            return transient, []
        self._hook("mutated", passed)
        with self._txn(tenant_id, scope, token) as conn:
            landed, again = self._apply_results(
                conn, passed, outcome.results, outcome.request_id, token
            )
            for row in landed:
                store.update_change(
                    conn,
                    tenant_id=tenant_id,
                    change_id=row["id"],
                    now=_now(),
                    request_id=outcome.request_id,
                )
                row["request_id"] = outcome.request_id
        transient += again
        if not landed:
            return transient, []
        changes = {r["id"]: ApprovedChange.from_payload(r["payload"]) for r in landed}
        try:
            # every section, not only the changed ones: a read after the last mutation is
            # also the after-version _record needs (one full read instead of two reads)
            back = self._read(customer_id, campaign_id)
        except AdsRetryableError:
            return transient + landed, []  # the next round's read-before-send confirms them
        self._read_after_send[(customer_id, campaign_id)] = back
        mismatched = []
        with self._txn(tenant_id, scope, token) as conn:
            for row in landed:
                change = changes[row["id"]]
                current = back.value(change.entity, change.field)
                if _same(current, change.target):
                    self._set_phase(conn, row, Phase.CONFIRMED, token, after_value=current)
                    self._audit(
                        conn,
                        row,
                        "confirmed",
                        before=row["before_value"],
                        after=current,
                        request_id=row["request_id"],
                        detail={"sent": True},
                    )
                else:
                    reason = f"read-back {current!r} differs from the target {change.target!r}"
                    self._reject(
                        conn, row, token, reason, after_value=current, request_id=row["request_id"]
                    )
                    mismatched.append(row)
        self._hook("confirmed", [r for r in landed if r not in mismatched])
        return transient, mismatched

    # ------------------------------------------------------------------ recording
    def _record(
        self, rows: list[dict[str, Any]], scope: str, token: int, mismatched: list[dict[str, Any]]
    ) -> None:
        """Version after, RECORDED, and the campaign back to ACTIVE (or PAUSED)."""
        tenant_id, customer_id, campaign_id = (
            rows[0]["tenant_id"],
            int(rows[0]["customer_id"]),
            int(rows[0]["campaign_id"]),
        )
        confirmed = [r for r in rows if r["phase"] == Phase.CONFIRMED.value]
        after = self._read_after_send.pop((customer_id, campaign_id), None)
        if after is None and (confirmed or mismatched):
            try:
                after = self._read(customer_id, campaign_id)
            except (AdsRetryableError, pybreaker.CircuitBreakerError) as exc:
                log.warning("after-version of campaign %s not read: %s", campaign_id, exc)
        with self._txn(tenant_id, scope, token) as conn:
            version = None
            if after is not None:
                version = ensure_version(
                    conn,
                    tenant_id=tenant_id,
                    customer_id=customer_id,
                    campaign_id=campaign_id,
                    snapshot=after.snapshot,
                    reason=f"after apply of {len(confirmed)} change(s)",
                    created_by=self.config.actor,
                )
            for row in confirmed:
                self._set_phase(conn, row, Phase.RECORDED, token, version_after=version)
                self._audit(
                    conn,
                    row,
                    "recorded",
                    before=row["before_value"],
                    after=row["after_value"],
                    request_id=row.get("request_id"),
                    detail={"version_after": version},
                )
            failed = [
                r
                for r in rows
                if r["origin_kind"] == "rollback"
                and r["phase"] in (Phase.REJECTED.value, Phase.DEAD_LETTERED.value)
            ]
            reason = (
                "rollback did not land: "
                + "; ".join(f"{r['entity_key']}: {r['error']}" for r in failed)
                if failed
                else ""
            )
            self._finish_campaign(conn, tenant_id, customer_id, campaign_id, after, reason)
        self._hook("recorded", confirmed)

    def _finish_campaign(
        self,
        conn: Connection,
        tenant_id: str,
        customer_id: int,
        campaign_id: int,
        after: CampaignRead | None,
        failed_reason: str = "",
    ) -> None:
        campaign = repo.get_campaign(
            conn, tenant_id=tenant_id, customer_id=customer_id, campaign_id=campaign_id
        )
        state = CampaignState(campaign.status)
        paused = after is not None and after.snapshot["campaign"]["status"] == "PAUSED"
        if failed_reason and state == CampaignState.OPTIMIZING:
            repo.change_campaign_state(
                conn,
                tenant_id=tenant_id,
                customer_id=customer_id,
                campaign_id=campaign_id,
                target=CampaignState.FAILED,
            )
            repo.set_campaign_status_reason(
                conn,
                tenant_id=tenant_id,
                customer_id=customer_id,
                campaign_id=campaign_id,
                reason=failed_reason,
            )
            audit.record(
                conn,
                tenant_id=tenant_id,
                action="campaign_failed",
                actor=self.config.actor,
                entity=f"campaign:{campaign_id}",
                reasoning=failed_reason,
            )
            return
        if state == CampaignState.OPTIMIZING:
            target = CampaignState.PAUSED if paused else CampaignState.ACTIVE
        elif state == CampaignState.PAUSED and after is not None and not paused:
            target = CampaignState.ACTIVE
        else:
            return
        repo.change_campaign_state(
            conn,
            tenant_id=tenant_id,
            customer_id=customer_id,
            campaign_id=campaign_id,
            target=target,
        )

    def _defer(
        self,
        rows: list[dict[str, Any]],
        scope: str,
        token: int,
        deferred: Deferred,
        report: ApplyReport,
    ) -> None:
        until = _now() + dt.timedelta(seconds=deferred.seconds)
        tenant_id = rows[0]["tenant_id"]
        with self._txn(tenant_id, scope, token) as conn:
            for row in rows:
                if row["phase"] in {p.value for p in RESUMABLE}:
                    store.update_change(
                        conn,
                        tenant_id=tenant_id,
                        change_id=row["id"],
                        now=_now(),
                        deferred_until=until,
                    )
                    self._audit(
                        conn,
                        row,
                        "deferred",
                        detail={"reason": deferred.reason, "until": until.isoformat()},
                    )
                    report.deferred[row["idempotency_key"]] = deferred.reason
        # what did land is recorded; the campaign leaves OPTIMIZING either way
        self._record(rows, scope, token, [])

    def _auto_rollback(
        self, rows: list[dict[str, Any]], mismatched: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A read-back differed from its target: put the campaign back as it was before."""
        from spectra.apply.rollback import rollback

        version = min(int(r["version_before"]) for r in rows if r["version_before"] is not None)
        reason = "; ".join(f"{r['entity_key']}: {r['error']}" for r in mismatched)
        result = rollback(
            self.engine,
            self.client,
            tenant_id=rows[0]["tenant_id"],
            customer_id=int(rows[0]["customer_id"]),
            campaign_id=int(rows[0]["campaign_id"]),
            to_version=version,
            actor=self.config.actor,
            reason=f"read-back mismatch: {reason}",
            creds=self.creds,
            config=self.config,
            breaker=self.breaker,
        )
        return result.as_dict()


def _section(change: ApprovedChange) -> str:
    return {
        EntityKind.CAMPAIGN: "campaign",
        EntityKind.AD_GROUP: "ad_groups",
        EntityKind.KEYWORD: "keywords",
        EntityKind.AD: "ads",
        EntityKind.NEGATIVE_KEYWORD: "negatives",
    }[change.entity.kind]


def _describe(errors: Iterable[FailureDetail]) -> str:
    return "; ".join(f"{d.category}.{d.code}: {d.message}" for d in errors)


def _waves(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split rows so no wave sets the same (entity, field) twice; the n-th change of a slot
    goes in wave n, so changes of one slot land in ledger order."""
    waves: list[list[dict[str, Any]]] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        slot = (row["entity_key"], row["field"])
        n = seen.get(slot, 0)
        seen[slot] = n + 1
        if n == len(waves):
            waves.append([])
        waves[n].append(row)
    return waves


def ensure_version(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    campaign_id: int,
    snapshot: dict[str, Any],
    reason: str,
    created_by: str,
) -> int:
    """The campaign's latest version if it equals ``snapshot``, else a new version of it."""
    campaign = repo.get_campaign(
        conn, tenant_id=tenant_id, customer_id=customer_id, campaign_id=campaign_id
    )
    if campaign.current_version:
        latest = repo.get_campaign_version(
            conn,
            tenant_id=tenant_id,
            customer_id=customer_id,
            campaign_id=campaign_id,
            version=campaign.current_version,
        )
        if latest.snapshot == snapshot:
            return int(latest.version)
    created = repo.snapshot_campaign_version(
        conn,
        tenant_id=tenant_id,
        customer_id=customer_id,
        campaign_id=campaign_id,
        reason=reason,
        created_by=created_by,
        snapshot=snapshot,
    )
    return int(created.version)


# --------------------------------------------------------------------------- service API


def apply_changes(
    engine: Engine,
    client: Any,
    changes: Sequence[ApprovedChange],
    *,
    creds: AdsCredentials | None = None,
    config: ApplyConfig = ApplyConfig(),
    breaker: pybreaker.CircuitBreaker | None = None,
    on_phase: PhaseHook | None = None,
) -> ApplyReport:
    """Record ``changes`` as approved and apply them (and any pending ones of their campaigns).

    Safe to call again with the same changes: their idempotency keys find them in the ledger.
    """
    ex = Executor(engine, client, creds=creds, config=config, breaker=breaker, on_phase=on_phase)
    ex.record_approved(changes)
    scopes = sorted({(c.tenant_id, c.customer_id, c.campaign_id) for c in changes})
    return ex.run(scopes)


def resume_pending(
    engine: Engine,
    client: Any,
    *,
    tenant_id: str | None,
    creds: AdsCredentials | None = None,
    config: ApplyConfig = ApplyConfig(),
    breaker: pybreaker.CircuitBreaker | None = None,
    on_phase: PhaseHook | None = None,
) -> ApplyReport:
    """Resume every campaign with unfinished changes (after a crash, a deferral, a DLQ retry)."""
    with engine.connect() as conn:
        scopes = store.campaigns_with_changes(
            conn, tenant_id=tenant_id, phases=[p.value for p in (*RESUMABLE, Phase.CONFIRMED)]
        )
    ex = Executor(engine, client, creds=creds, config=config, breaker=breaker, on_phase=on_phase)
    return ex.run(scopes)


__all__ = [
    "ApplyConfig",
    "ApplyReport",
    "ChangeOutcome",
    "Executor",
    "apply_changes",
    "campaign_scope",
    "ensure_version",
    "google_ads_breaker",
    "resume_pending",
]
