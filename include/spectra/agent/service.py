"""The propose step for one account and day: options → per-campaign prompt → model → validation
→ one repair → deterministic fallback → proposals (replacing the day's pending ones).

One LLM call per campaign that has options, so every call (and its cost) belongs to one
campaign. Every call is written to ``ai_calls`` in its own transaction as soon as it returns,
so the cost log is complete even when a later step fails. A proposal reaches ``proposals``
only after validation; when the model's answer and its repair both fail, or the model cannot be
asked (no client, tenant's daily AI budget spent, breaker open, provider down), the campaign
gets the deterministic proposals from the envelope, recorded as ``fallback`` with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pybreaker
from pydantic import ValidationError
from sqlalchemy import Engine

from spectra.agent.brand_safety import BrandPolicy, BrandReview, check_copy, policy_for
from spectra.agent.client import (
    LlmError,
    LlmRateLimited,
    LlmReply,
    LlmUnavailable,
    ProposalModel,
)
from spectra.agent.context import ContextTooLarge, build_context, quote_untrusted
from spectra.agent.cost import call_cost_micros
from spectra.agent.options import Option, build_options, by_campaign
from spectra.agent.prompts import Prompt, assign_version, load_prompt
from spectra.agent.schema import ProposalBatch, ProposalKind
from spectra.agent.settings import AgentSettings
from spectra.agent.validate import Accepted, Entities, check, fallback, parse
from spectra.reliability.breaker import BreakerConfig, breaker_status, shared_breaker
from spectra.warehouse import agent_store as store

log = logging.getLogger("spectra.agent")
alerts = logging.getLogger("spectra.agent.alerts")

PROMPT_ID = "propose"
REVIEW_PROMPT_ID = "brand_review"
REVIEW_VERSION = "v1"
BREAKER_NAME = "gemini"


@dataclass
class ProposeOutcome:
    tenant_id: str
    customer_id: int
    logical_date: dt.date
    campaigns: int = 0
    options: int = 0
    proposals: int = 0
    kept_decided: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    cost_micros: int = 0
    prompt_tokens_max: int = 0
    fallbacks: list[str] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "customer_id": self.customer_id,
            "logical_date": self.logical_date.isoformat(),
            "campaigns": self.campaigns,
            "options": self.options,
            "proposals": self.proposals,
            "kept_decided": self.kept_decided,
            "by_source": dict(self.by_source),
            "calls": self.calls,
            "cost_micros": self.cost_micros,
            "fallbacks": list(self.fallbacks),
            "rejections": len(self.rejections),
            "seconds": round(self.seconds, 3),
        }


def entities_of(inputs: store.DayInputs) -> Entities:
    return Entities(
        campaigns=frozenset(int(c["campaign_id"]) for c in inputs.campaigns),
        ad_groups={int(g["ad_group_id"]): int(g["campaign_id"]) for g in inputs.ad_groups},
        keywords=frozenset(
            (int(k["ad_group_id"]), int(k["criterion_id"]))
            for k in inputs.keywords
            if not k["negative"]
        ),
    )


def gemini_breaker(engine: Engine, settings: AgentSettings) -> pybreaker.CircuitBreaker:
    """The shared breaker of the Gemini integration (warehouse or Redis storage)."""
    return shared_breaker(
        BREAKER_NAME,
        engine=engine,
        counts_as_failure=lambda exc: isinstance(exc, LlmUnavailable | LlmRateLimited),
        config=BreakerConfig(
            fail_max=settings.breaker_fail_max, reset_timeout=settings.breaker_reset_seconds
        ),
    )


def breaker_is_open(breaker: pybreaker.CircuitBreaker) -> bool:
    """Open and still inside its reset timeout (after it, the next call is the half-open trial)."""
    status = breaker_status(breaker)
    if status["state"] != pybreaker.STATE_OPEN:
        return False
    if status["opened_at"] is None:
        return True
    opened = dt.datetime.fromisoformat(status["opened_at"])
    if opened.tzinfo is None:
        opened = opened.replace(tzinfo=dt.UTC)
    return (dt.datetime.now(dt.UTC) - opened).total_seconds() < breaker.reset_timeout


@dataclass
class _Campaign:
    engine: Engine
    model: ProposalModel | None
    inputs: store.DayInputs
    entities: Entities
    settings: AgentSettings
    breaker: pybreaker.CircuitBreaker | None
    dag_run_id: str | None
    outcome: ProposeOutcome
    price: store.Price | None
    prompt: Prompt
    campaign: Mapping[str, Any]
    options: list[Option]

    @property
    def campaign_id(self) -> int:
        return int(self.campaign["campaign_id"])

    def record_call(
        self,
        *,
        purpose: str,
        outcome: str,
        reply: LlmReply | None,
        error: str = "",
        prompt: Prompt | None = None,
    ) -> int:
        used = prompt or self.prompt
        cost = 0
        values: dict[str, Any] = {
            "tenant_id": self.inputs.tenant_id,
            "customer_id": self.inputs.customer_id,
            "campaign_id": self.campaign_id,
            "logical_date": self.inputs.logical_date,
            "purpose": purpose,
            "model": self.model.model if self.model else "none",
            "prompt_id": used.prompt_id,
            "prompt_version": used.version,
            "prompt_hash": used.content_hash,
            "outcome": outcome,
            "error": error[:4000],
            "dag_run_id": self.dag_run_id,
            "prompt_tokens": 0,
            "output_tokens": 0,
            "thinking_tokens": 0,
            "latency_ms": 0,
            "attempts": 0,
            "price_id": self.price.id if self.price else None,
            "cost_micros": 0,
        }
        if reply is not None:
            cost = call_cost_micros(
                self.price,
                prompt_tokens=reply.prompt_tokens,
                output_tokens=reply.output_tokens,
                thinking_tokens=reply.thinking_tokens,
            )
            values.update(
                prompt_tokens=reply.prompt_tokens,
                output_tokens=reply.output_tokens,
                thinking_tokens=reply.thinking_tokens,
                latency_ms=reply.latency_ms,
                attempts=reply.attempts,
                cost_micros=cost,
                response_id=reply.response_id,
                model=reply.model,
            )
            self.outcome.calls += 1
            self.outcome.cost_micros += cost
            self.outcome.prompt_tokens_max = max(
                self.outcome.prompt_tokens_max, reply.prompt_tokens
            )
        with self.engine.begin() as conn:
            return store.insert_ai_call(conn, values)

    def ask(self, errors: Sequence[str]) -> tuple[LlmReply, Sequence[Option]]:
        assert self.model is not None
        model = self.model
        if self.breaker is not None and breaker_is_open(self.breaker):
            # checked, not called: a successful count_tokens must not reset the failure count
            # that only generate calls build up
            raise pybreaker.CircuitBreakerError(f"breaker {self.breaker.name} is open")
        ctx = build_context(
            self.prompt, self.inputs, self.campaign, self.options,
            token_budget=self.settings.prompt_token_budget,
            count_tokens=model.count_tokens,
            max_per_campaign=self.settings.max_proposals_per_campaign, errors=errors,
        )  # fmt: skip
        reply = self._guarded(
            lambda: model.generate(
                system=ctx.system,
                prompt=ctx.prompt,
                response_schema=ProposalBatch,
                temperature=self.settings.temperature,
                max_output_tokens=self.settings.max_output_tokens,
            )
        )
        return reply, ctx.options

    def _guarded(self, fn: Callable[[], Any]) -> Any:
        return self.breaker.call(fn) if self.breaker is not None else fn()

    def validate(
        self, reply: LlmReply, options: Sequence[Option]
    ) -> tuple[list[Accepted], list[str]]:
        batch, errors = parse(reply.text)
        if batch is None:
            return [], errors
        checked = check(
            batch, options, self.entities,
            billable_unit_micros=self.inputs.billable_unit_micros,
            max_per_campaign=self.settings.max_proposals_per_campaign,
        )  # fmt: skip
        return checked.accepted, checked.errors

    def run(self) -> list[dict[str, Any]]:
        if self.model is None:
            return self.fallback("no LLM configured", None)
        with self.engine.connect() as conn:
            spent = store.tenant_cost_micros(
                conn, tenant_id=self.inputs.tenant_id, logical_date=self.inputs.logical_date
            )
        if spent >= self.settings.daily_ai_budget_micros:
            reason = (
                f"tenant {self.inputs.tenant_id} daily AI budget spent "
                f"({spent} of {self.settings.daily_ai_budget_micros} micros)"
            )
            alerts.error("AI BUDGET: %s; campaign %s gets the fallback", reason, self.campaign_id)
            skipped = self.record_call(
                purpose="propose", outcome="skipped", reply=None, error=reason
            )
            return self.fallback(reason, skipped)
        errors: list[str] = []
        call_id: int | None = None
        for purpose in ("propose", "repair"):
            try:
                reply, shown = self.ask(errors)
            except pybreaker.CircuitBreakerError as error:
                reason = f"Gemini circuit breaker open ({error})"
                alerts.error(
                    "BREAKER OPEN: %s; campaign %s gets the fallback", reason, self.campaign_id
                )
                call_id = self.record_call(
                    purpose=purpose, outcome="skipped", reply=None, error=reason
                )
                return self.fallback(reason, call_id)
            except ContextTooLarge as error:
                call_id = self.record_call(
                    purpose=purpose, outcome="skipped", reply=None, error=str(error)
                )
                return self.fallback(str(error), call_id)
            except LlmError as error:
                reason = f"{type(error).__name__}: {error}"
                call_id = self.record_call(
                    purpose=purpose, outcome="error", reply=None, error=reason
                )
                return self.fallback(reason, call_id)
            accepted, errors = self.validate(reply, shown)
            call_id = self.record_call(
                purpose=purpose,
                outcome="ok" if not errors else "invalid",
                reply=reply,
                error="; ".join(errors),
            )
            if not errors:
                source = "llm" if purpose == "propose" else "repair"
                safe = self.screen_copy(accepted)
                return [self.row(a, source=source, call_id=call_id) for a in safe]
            log.warning(
                "campaign %s: %s answer rejected: %s",
                self.campaign_id,
                purpose,
                "; ".join(errors[:5]),
            )
        return self.fallback(
            "model answer and its repair failed validation: " + "; ".join(errors[:5]), call_id
        )

    def screen_copy(self, accepted: list[Accepted]) -> list[Accepted]:
        """Brand safety for generated copy: deterministic checks, then the review prompt."""
        kept = []
        policy = policy_for(self.settings.brand_policies, self.inputs.tenant_id)
        for a in accepted:
            if a.option.kind != ProposalKind.RSA_COPY:
                kept.append(a)
                continue
            copy = a.new_value
            verdict = check_copy(copy["headlines"], copy["descriptions"], policy)
            if not verdict.safe:
                self.reject(a, "deterministic", verdict.reasons, None, "")
                continue
            reasons, call_id = self.review(copy, policy)
            if reasons:
                self.reject(a, "llm_review", reasons, call_id, REVIEW_VERSION)
                continue
            kept.append(a)
        return kept

    def review(self, copy: Mapping[str, Any], policy: BrandPolicy) -> tuple[list[str], int]:
        """The review prompt's reasons to refuse (empty: safe) and its AI call id."""
        assert self.model is not None
        review = review_copy(self.engine, self.model, copy, policy, guarded=self._guarded)
        call_id = self.record_call(
            purpose="brand_review",
            outcome=review.outcome,
            reply=review.reply,
            error=review.error,
            prompt=review.prompt,
        )
        return review.reasons, call_id

    def reject(
        self, a: Accepted, check_kind: str, reasons: list[str], call_id: int | None, version: str
    ) -> None:
        log.warning(
            "campaign %s: copy for %s rejected (%s): %s",
            self.campaign_id,
            a.option.option_id,
            check_kind,
            "; ".join(reasons),
        )
        self.outcome.rejections.append({
            "option_key": a.option.option_id, "kind": a.option.kind.value,
            "campaign_id": a.option.campaign_id, "ad_group_id": a.option.ad_group_id,
            "content": dict(a.new_value), "check_kind": check_kind, "reasons": list(reasons),
            "prompt_version": version, "ai_call_id": call_id, "dag_run_id": self.dag_run_id,
        })  # fmt: skip

    def fallback(self, reason: str, call_id: int | None) -> list[dict[str, Any]]:
        self.outcome.fallbacks.append(f"campaign {self.campaign_id}: {reason}")
        chosen = fallback(self.options, max_per_campaign=self.settings.max_proposals_per_campaign)
        return [self.row(a, source="fallback", call_id=call_id, reason=reason) for a in chosen]

    def row(
        self, a: Accepted, *, source: str, call_id: int | None, reason: str = ""
    ) -> dict[str, Any]:
        o, p = a.option, a.proposal
        evidence = [e for e in p.evidence_ids if e in o.evidence_ids] or list(o.evidence_ids)
        self.outcome.by_source[source] = self.outcome.by_source.get(source, 0) + 1
        return {
            "option_key": o.option_id,
            "kind": o.kind.value,
            "campaign_id": o.campaign_id,
            "ad_group_id": o.ad_group_id,
            "criterion_id": o.criterion_id,
            "entity_label": o.label,
            "current_value": o.current,
            "new_value": a.new_value,
            "expected_value_delta_micros": o.expected_value_delta_micros,
            "expected_low_micros": o.expected_low_micros,
            "expected_high_micros": o.expected_high_micros,
            "reasoning": p.reasoning[:2000],
            "evidence_ids": evidence,
            "rank": p.rank,
            "source": source,
            "fallback_reason": reason[:4000],
            "prompt_id": self.prompt.prompt_id,
            "prompt_version": self.prompt.version,
            "prompt_hash": self.prompt.content_hash,
            "model": self.model.model if self.model else "none",
            "ai_call_id": call_id,
            "status": "pending",
            "dag_run_id": self.dag_run_id,
        }


@dataclass(frozen=True)
class CopyReview:
    """The brand review prompt's verdict on one piece of copy, and the call that gave it."""

    reasons: list[str]  # empty: safe
    reply: LlmReply | None
    outcome: str  # ok | invalid | error (an ai_calls outcome)
    error: str
    prompt: Prompt


def review_copy(
    engine: Engine,
    model: ProposalModel,
    copy: Mapping[str, Any],
    policy: BrandPolicy,
    *,
    guarded: Callable[[Callable[[], Any]], Any] | None = None,
) -> CopyReview:
    """Ask the ``brand_review`` prompt about ``copy`` (quoted as untrusted data). A review that
    cannot be obtained or read refuses the copy: unreviewed copy must not reach a person or
    Google. The caller records the AI call (``reply``, ``outcome``)."""
    prompt = load_prompt(REVIEW_PROMPT_ID, REVIEW_VERSION)
    with engine.begin() as conn:
        store.register_prompt(
            conn, prompt_id=prompt.prompt_id, version=prompt.version,
            content_hash=prompt.content_hash, body=prompt.body,
        )  # fmt: skip
    text = (
        "<review_policy>\n"
        + json.dumps(
            {"banned_terms": list(policy.banned_terms), "trademarks": list(policy.trademarks)}
        )
        + "\n</review_policy>\n\n<copy_to_review>\n"
        + quote_untrusted(dict(copy))
        + "\n</copy_to_review>"
    )
    call = guarded or (lambda fn: fn())
    try:
        reply = call(
            lambda: model.generate(
                system=prompt.section("system"), prompt=text, response_schema=BrandReview,
                temperature=0.0, max_output_tokens=512,
            )
        )  # fmt: skip
    except (LlmError, pybreaker.CircuitBreakerError) as error:
        reason = f"review unavailable ({type(error).__name__}: {error}): unreviewed copy is refused"
        return CopyReview([reason], None, "error", reason, prompt)
    try:
        answer = BrandReview.model_validate_json(reply.text)
    except ValidationError as error:
        reason = f"review answer unreadable: {error.errors()[0]['msg']}"
        return CopyReview([reason], reply, "invalid", reason, prompt)
    if answer.safe:
        return CopyReview([], reply, "ok", "", prompt)
    return CopyReview(
        answer.reasons or ["the reviewer judged the copy unsafe"], reply, "ok", "", prompt
    )


def propose_account(
    engine: Engine,
    model: ProposalModel | None,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    settings: AgentSettings | None = None,
    dag_run_id: str | None = None,
    use_breaker: bool = True,
) -> ProposeOutcome:
    """Propose the day's changes for one account; replaces its pending proposals of the day."""
    cfg = settings or AgentSettings()
    started = time.perf_counter()
    outcome = ProposeOutcome(tenant_id, customer_id, logical_date)
    with engine.connect() as conn:
        inputs = store.read_day_inputs(
            conn, tenant_id=tenant_id, customer_id=customer_id, logical_date=logical_date,
            search_term_days=cfg.negative_window_days,
        )  # fmt: skip
        price = store.price_for(conn, model.model, logical_date) if model else None
    if model is not None and price is None:
        log.warning(
            "no price for model %s on %s: its calls are logged at 0", model.model, logical_date
        )
    options = build_options(inputs, cfg)
    outcome.options = len(options)
    entities = entities_of(inputs)
    breaker = gemini_breaker(engine, cfg) if (use_breaker and model is not None) else None
    campaigns = {int(c["campaign_id"]): c for c in inputs.campaigns}
    rows: list[dict[str, Any]] = []
    registered: set[str] = set()
    for cid, campaign_options in by_campaign(options).items():
        version = assign_version(
            cfg.prompt_versions, tenant_id=tenant_id, customer_id=customer_id, campaign_id=cid
        )
        prompt = load_prompt(PROMPT_ID, version)
        if prompt.label not in registered:
            with engine.begin() as conn:
                store.register_prompt(
                    conn, prompt_id=prompt.prompt_id, version=prompt.version,
                    content_hash=prompt.content_hash, body=prompt.body,
                )  # fmt: skip
            registered.add(prompt.label)
        outcome.campaigns += 1
        rows += _Campaign(
            engine=engine, model=model, inputs=inputs, entities=entities, settings=cfg,
            breaker=breaker, dag_run_id=dag_run_id, outcome=outcome, price=price,
            prompt=prompt, campaign=campaigns[cid], options=campaign_options,
        ).run()  # fmt: skip
    with engine.begin() as conn:
        inserted, kept = store.replace_pending_proposals(
            conn, tenant_id=tenant_id, customer_id=customer_id, logical_date=logical_date, rows=rows
        )
        store.replace_rejections(
            conn, tenant_id=tenant_id, customer_id=customer_id, logical_date=logical_date,
            rows=outcome.rejections,
        )  # fmt: skip
    outcome.proposals, outcome.kept_decided = inserted, kept
    outcome.seconds = time.perf_counter() - started
    return outcome
