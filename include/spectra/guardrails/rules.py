"""The guardrail rules: named, pure functions of a candidate change and plain facts.

Each returns a :class:`RuleResult` (accept or reject, with the reason a person reads), never
raises on a bad candidate and does no I/O, so every boundary is testable on its own and the
service (:mod:`spectra.guardrails.service`) only gathers facts and stores the results. A rule
that does not apply to a candidate accepts it and says why ("not a magnitude change").

The agent proposes, these rules dispose: nothing in a proposal can widen them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spectra.analytics.search_terms import term_key
from spectra.domain.changes import EntityKind, OriginKind
from spectra.guardrails.candidate import (
    MAGNITUDE_KINDS,
    CandidateChange,
    ChangeKind,
    Evidence,
    Lock,
    ManualEdit,
    RecentChange,
    SpendLimits,
    StructureCounts,
    entity_id_of,
)
from spectra.guardrails.config import ApprovalPolicy, GuardrailConfig, StructureLimits

# a relative change within this of the cap is the cap (float noise of integer micros)
_EPS = 1e-9


@dataclass(frozen=True)
class RuleResult:
    rule: str
    accepted: bool
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "accepted": self.accepted, "reason": self.reason}


def _ok(rule: str, reason: str) -> RuleResult:
    return RuleResult(rule, True, reason)


def _no(rule: str, reason: str) -> RuleResult:
    return RuleResult(rule, False, reason)


def _pct(x: float) -> str:
    return f"{x * 100:+.1f} %"


# --------------------------------------------------------------------------- magnitude


def magnitude_cap(candidate: CandidateChange, *, caps: dict[str, float]) -> RuleResult:
    """A bid, budget or target moves at most its kind's cap (relative to the current value)."""
    rule = "magnitude_cap"
    kind = candidate.change_kind
    if kind not in MAGNITUDE_KINDS:
        return _ok(rule, f"not a magnitude change ({kind})")
    cap = caps.get(kind.value)
    if cap is None:
        return _no(rule, f"no cap configured for {kind} changes")
    if not isinstance(candidate.current, int) or candidate.current <= 0:
        return _no(rule, f"no positive current {candidate.field} to measure the change against")
    if not isinstance(candidate.proposed, int) or candidate.proposed <= 0:
        return _no(rule, f"proposed {candidate.field} must be a positive amount of micros")
    change = candidate.relative_change
    assert change is not None
    if abs(change) > cap + _EPS:
        return _no(
            rule,
            f"{kind} change {_pct(change)} ({candidate.current} -> {candidate.proposed} micros) "
            f"exceeds the cap of +-{cap * 100:.0f} %",
        )
    return _ok(rule, f"{kind} change {_pct(change)} within +-{cap * 100:.0f} %")


# --------------------------------------------------------------------------- learning rate


def is_significant(
    kind: ChangeKind | str | None, relative_change: float | None, *, config: GuardrailConfig
) -> bool:
    """Whether a change of this kind and size restarts the campaign's learning period."""
    if kind is None or str(kind) not in {str(k) for k in config.significant_kinds}:
        return False
    if relative_change is None:  # a status change, or no before value: counts
        return True
    return abs(relative_change) >= config.significant_min_change


def _same_set(change: RecentChange, at: dt.datetime, candidate: CandidateChange | None) -> bool:
    """``change`` is in force at the same instant as the candidate, on another entity or
    field: the same change set (one learning period restarts once for all of them). Only a
    candidate that knows when it will be in force (``effective_at``) joins a set."""
    if candidate is None or candidate.effective_at is None or change.effective_at != at:
        return False
    return (change.entity_key, change.field) != (candidate.entity.key, candidate.field)


def learning_rate(
    candidate: CandidateChange,
    *,
    recent: Sequence[RecentChange],
    as_of: dt.datetime,
    config: GuardrailConfig,
) -> RuleResult:
    """At most one significant change *set* per campaign per window (72 h by default).

    The window runs between the instants changes are in force: the candidate's own
    ``effective_at`` (a proposal of day D is in force on D + 1, like the ledger's entries),
    ``as_of`` when it has none. Changes of one campaign in force at the same instant (one
    day's proposals: a budget, its keywords' bids, a target) are one change set: Google's
    learning period after a significant change restarts once for them all, and the oracle
    the evaluation scores against moves every setting of a campaign at once every 72 h. A
    second change to the same entity and field inside the window is never part of a set.

    ``recent`` comes from the apply ledger (applied changes and those on their way), so the
    window survives restarts and re-runs. A change dated *after* the candidate blocks as well:
    a backfill of an older logical date must not squeeze a change in before one already made.
    Safety actions are never held back.
    """
    rule = "learning_rate"
    if candidate.safety:
        return _ok(rule, "safety action: not rate limited")
    if not is_significant(candidate.change_kind, candidate.relative_change, config=config):
        return _ok(rule, f"{candidate.change_kind} change is not significant for learning")
    window = config.learning_window
    at = candidate.effective_at or as_of
    start = at - window
    blocking = [
        r
        for r in recent
        if r.campaign_id == candidate.campaign_id
        and r.effective_at > start
        and is_significant(r.kind, r.relative_change, config=config)
        and not _same_set(r, at, candidate)
    ]
    if blocking:
        # the latest; among changes in force at the same instant, one named by its entity and
        # field, whatever order the ledger returned them in (the reason is stored and compared)
        last = max(blocking, key=lambda r: (r.effective_at, r.entity_key, r.field))
        free_at = last.effective_at + window
        return _no(
            rule,
            f"campaign {candidate.campaign_id} had a significant change ({last.field} of "
            f"{last.entity_key}) in force {last.effective_at.isoformat()}; one change set per "
            f"{config.learning_window_hours} h, next allowed after {free_at.isoformat()}",
        )
    return _ok(
        rule,
        f"no other significant change to campaign {candidate.campaign_id} within "
        f"{config.learning_window_hours} h",
    )


def learning_window_free_at(
    campaign_id: int,
    *,
    recent: Sequence[RecentChange],
    config: GuardrailConfig,
    candidate: CandidateChange | None = None,
) -> dt.datetime | None:
    """When the campaign's window next allows a significant change (None: it does now).
    With ``candidate``, the changes of its own change set (in force at its instant, on other
    entities) do not hold it back: they went out a moment earlier in the same batch."""
    at = candidate.effective_at if candidate is not None else None
    times = [
        r.effective_at
        for r in recent
        if r.campaign_id == campaign_id
        and is_significant(r.kind, r.relative_change, config=config)
        and not (at is not None and _same_set(r, at, candidate))
    ]
    return max(times) + config.learning_window if times else None


# --------------------------------------------------------------------------- spend limits


def spend_limits(candidate: CandidateChange, *, limits: SpendLimits) -> RuleResult:
    """The agent never raises a spend limit; a budget stays under the daily limit and its
    projected rest-of-flight spend under the total limit."""
    rule = "spend_limits"
    kind = candidate.change_kind
    if kind == ChangeKind.SPEND_LIMIT:
        if not candidate.by_agent:
            return _ok(rule, "a person changes spend limits (permissions decide who)")
        cur, new = candidate.current, candidate.proposed
        if not isinstance(new, int):
            return _no(rule, f"the agent may not remove {candidate.field}")
        if not isinstance(cur, int) or new > cur:
            return _no(rule, f"the agent may never raise {candidate.field} ({cur} -> {new})")
        return _ok(rule, f"{candidate.field} lowered {cur} -> {new}")
    if kind != ChangeKind.BUDGET:
        return _ok(rule, f"not a budget change ({kind})")
    budget = candidate.proposed
    if not isinstance(budget, int):
        return _no(rule, "proposed budget must be an amount of micros")
    daily = limits.max_daily_spend_micros
    if daily is not None and budget > daily:
        return _no(
            rule, f"budget {budget} micros is above the campaign's daily limit of {daily} micros"
        )
    total = limits.total_spend_limit_micros
    if total is not None and limits.days_remaining is not None:
        projected = limits.spent_micros + budget * max(limits.days_remaining, 0)
        if projected > total:
            return _no(
                rule,
                f"budget {budget} micros for the {limits.days_remaining} day(s) left projects "
                f"{projected} micros of spend, above the total limit of {total} micros "
                f"({limits.spent_micros} spent)",
            )
    return _ok(rule, f"budget {budget} micros within the daily and total limits")


# --------------------------------------------------------------------------- structure


def structure_limits(
    candidate: CandidateChange, *, counts: StructureCounts, limits: StructureLimits
) -> RuleResult:
    """A change that adds entities stays within Google's account structure limits."""
    rule = "structure_limits"
    n = candidate.created
    kind = candidate.change_kind
    if kind == ChangeKind.STATUS and candidate.entity.kind == EntityKind.AD:
        if candidate.proposed == "ENABLED" and candidate.current != "ENABLED":
            n = max(n, 1)
            if counts.enabled_ads_in_ad_group + n > limits.enabled_rsas_per_ad_group:
                return _no(
                    rule,
                    f"ad group already has {counts.enabled_ads_in_ad_group} enabled responsive "
                    f"search ads (limit {limits.enabled_rsas_per_ad_group})",
                )
        return _ok(rule, "within the enabled-ads limit")
    if n == 0:
        return _ok(rule, "adds no entities")
    checks: list[tuple[int, int, str]] = []
    entity = candidate.entity.kind
    if kind == ChangeKind.NEGATIVE_KEYWORD:
        checks.append(
            (
                counts.negatives_in_campaign,
                limits.negatives_per_campaign,
                "negatives in the campaign",
            )
        )
        checks.append(
            (counts.criteria_in_account, limits.criteria_per_account, "criteria in the account")
        )
    elif kind == ChangeKind.AD_COPY:
        checks.append(
            (
                counts.enabled_ads_in_ad_group,
                limits.enabled_rsas_per_ad_group,
                "enabled ads in the ad group",
            )
        )
    elif entity == EntityKind.KEYWORD:
        checks.append(
            (counts.keywords_in_ad_group, limits.keywords_per_ad_group, "keywords in the ad group")
        )
        checks.append(
            (counts.criteria_in_account, limits.criteria_per_account, "criteria in the account")
        )
    elif entity == EntityKind.AD_GROUP:
        checks.append(
            (
                counts.ad_groups_in_campaign,
                limits.ad_groups_per_campaign,
                "ad groups in the campaign",
            )
        )
    elif entity == EntityKind.CAMPAIGN:
        checks.append(
            (counts.campaigns_in_account, limits.campaigns_per_account, "campaigns in the account")
        )
    for have, limit, what in checks:
        if have + n > limit:
            return _no(rule, f"adding {n} would make {have + n} {what} (Google's limit {limit})")
    return _ok(rule, f"adding {n} stays within Google's structure limits")


# --------------------------------------------------------------------------- statistical gate

# Kinds that change performance and need evidence; ad copy is judged by a person instead.
GATED_KINDS = frozenset(
    {
        ChangeKind.BID,
        ChangeKind.BUDGET,
        ChangeKind.TARGET,
        ChangeKind.STATUS,
        ChangeKind.NEGATIVE_KEYWORD,
    }
)


def statistical_gate(
    candidate: CandidateChange, *, evidence: Sequence[Evidence], config: GuardrailConfig
) -> RuleResult:
    """No performance change without a significant, lag-complete (and seasonally adjusted)
    verdict or envelope behind it, about the same entity. Safety actions are exempt."""
    rule = "statistical_gate"
    if candidate.safety:
        return _ok(rule, "safety action: exempt from the statistical gate")
    if candidate.change_kind not in GATED_KINDS:
        return _ok(rule, f"{candidate.change_kind} is not a performance change")
    if not candidate.origin.kind == OriginKind.PROPOSAL:
        return _ok(rule, f"{candidate.origin.kind} change: the gate holds back the agent")
    if not candidate.evidence_ids:
        return _no(rule, "no evidence behind the change")
    by_id = {e.evidence_id: e for e in evidence}
    missing = [i for i in candidate.evidence_ids if i not in by_id]
    if missing:
        return _no(rule, f"evidence not found: {', '.join(missing)}")
    eid = entity_id_of(candidate.entity)
    problems: list[str] = []
    for ev_id in candidate.evidence_ids:
        ev = by_id[ev_id]
        why = _evidence_problem(candidate, ev, eid, config)
        if why is None:
            return _ok(rule, f"{ev_id} is significant, lag-complete and about this entity")
        problems.append(f"{ev_id}: {why}")
    return _no(rule, "no usable evidence (" + "; ".join(problems) + ")")


def _evidence_problem(
    candidate: CandidateChange, ev: Evidence, entity_id: int, config: GuardrailConfig
) -> str | None:
    if ev.campaign_id is not None and ev.campaign_id != candidate.campaign_id:
        return f"about campaign {ev.campaign_id}, not {candidate.campaign_id}"
    if ev.kind == "search_term":
        text = candidate.entity.text
        if candidate.change_kind != ChangeKind.NEGATIVE_KEYWORD or text is None:
            return "a search-term test is evidence for a negative keyword only"
        if term_key(candidate.campaign_id, text) != ev.term_key:
            return "about another search term than the negative keyword's"
    if ev.entity_id is not None and ev.entity_id not in (entity_id, candidate.campaign_id):
        return f"about entity {ev.entity_id}, not {entity_id}"
    if not ev.significant:
        return "not significant" + (f" ({'; '.join(ev.notes)})" if ev.notes else "")
    if not ev.lag_complete:
        return "conversion lag not complete"
    if config.require_seasonal_adjustment and not ev.seasonally_adjusted:
        return "not seasonally adjusted"
    if ev.kind == "envelope":
        change = candidate.relative_change
        if change is not None:
            if (
                ev.direction == "increase"
                and change < 0
                or ev.direction == "decrease"
                and change > 0
            ):
                return f"envelope allows {ev.direction}, change is {_pct(change)}"
            if ev.max_change_pct is not None and abs(change) > ev.max_change_pct + _EPS:
                return (
                    f"change {_pct(change)} beyond the envelope's {ev.max_change_pct * 100:.1f} %"
                )
    return None


# --------------------------------------------------------------------------- outage hold


def is_cut(candidate: CandidateChange) -> bool:
    """Lowers a bid, budget or target CPA, raises a target ROAS (Smart Bidding then bids
    less), or pauses: every change that spends less on the evidence of fewer conversions."""
    if candidate.proposed == "PAUSED":
        return True
    change = candidate.relative_change
    if change is None or candidate.change_kind not in MAGNITUDE_KINDS:
        return False
    if candidate.field == "target_roas_micros":
        return change > 0
    return change < 0


def outage_hold(
    candidate: CandidateChange, *, outage_days: Sequence[dt.date], config: GuardrailConfig
) -> RuleResult:
    """No agent cut while the account had a tracking outage in the last
    ``outage_hold_days``: an optimizer that reads lost conversions as lost demand cuts
    everything at once (Google's answer is a data exclusion; ours also holds the cuts until
    the reports around it have restated). Raises, people and safety actions pass."""
    rule = "outage_hold"
    if candidate.safety or candidate.origin.kind != OriginKind.PROPOSAL:
        return _ok(rule, "not the agent's change: the outage hold holds back the agent")
    if not is_cut(candidate):
        return _ok(rule, "not a cut")
    if not outage_days:
        return _ok(rule, f"no tracking outage in the last {config.outage_hold_days} days")
    last = max(outage_days)
    until = last + dt.timedelta(days=config.outage_hold_days)
    days = ", ".join(d.isoformat() for d in outage_days)
    return _no(
        rule,
        f"conversion tracking was down on {days}: no cut until its data has restated "
        f"(after {until.isoformat()})",
    )


# --------------------------------------------------------------------------- conflicts


def user_lock(candidate: CandidateChange, *, locks: Sequence[Lock], now: dt.datetime) -> RuleResult:
    """A person's lock on the campaign, or on the field, blocks everyone but people until it
    expires or is lifted. Safety actions still pass: a spend-limit pause protects the money
    the lock's owner is protecting too."""
    rule = "user_lock"
    if candidate.origin.kind == OriginKind.PERSON:
        return _ok(rule, "a person's own change")
    if candidate.safety:
        return _ok(rule, "safety action: passes locks")
    for lock in locks:
        if lock.campaign_id != candidate.campaign_id or not lock.active(now):
            continue
        if lock.field is None or lock.field == candidate.field:
            what = "campaign" if lock.field is None else f"{lock.field} of campaign"
            return _no(
                rule,
                f"{what} {candidate.campaign_id} is locked by {lock.created_by} until "
                f"{lock.expires_at.isoformat()} (lock {lock.lock_id}"
                + (f": {lock.reason}" if lock.reason else "")
                + ")",
            )
    return _ok(rule, "no active lock")


def resource_names(candidate: CandidateChange) -> set[str]:
    """Google resource names (without the customer prefix) an edit to the entity shows as."""
    e = candidate.entity
    names = {f"campaigns/{e.campaign_id}"} if e.kind == EntityKind.CAMPAIGN else set()
    if e.kind == EntityKind.AD_GROUP:
        names.add(f"adGroups/{e.ad_group_id}")
    elif e.kind == EntityKind.KEYWORD:
        names.add(f"adGroupCriteria/{e.ad_group_id}~{e.criterion_id}")
    elif e.kind == EntityKind.AD:
        names.add(f"adGroupAds/{e.ad_group_id}~{e.ad_id}")
    return names


def manual_edit_cooloff(
    candidate: CandidateChange,
    *,
    edits: Sequence[ManualEdit],
    as_of: dt.datetime,
    config: GuardrailConfig,
) -> RuleResult:
    """A change a person made in Google Ads itself (a client type other than ours) blocks
    agent changes to that entity for the cooling-off period. A campaign's budget is its own
    resource (CAMPAIGN_BUDGET), so a budget edit blocks the campaign-level change too.

    Google stamps change events on the account's clock, which is the logical clock here; an
    edit dated after ``as_of`` blocks as well (a backfill does not overrule a later edit)."""
    rule = "manual_edit_cooloff"
    if not candidate.by_agent:
        return _ok(rule, f"{candidate.origin.kind} change: cooling-off holds back the agent")
    names = resource_names(candidate)
    start = as_of - config.cooloff
    for edit in sorted(edits, key=lambda e: e.changed_at, reverse=True):
        if edit.client_type in config.our_client_types or edit.changed_at <= start:
            continue
        rn = (
            edit.resource_name.split("/", 2)[-1]
            if edit.resource_name.startswith("customers/")
            else edit.resource_name
        )
        same = rn in names or (
            candidate.entity.kind == EntityKind.CAMPAIGN
            and edit.resource_type == "CAMPAIGN_BUDGET"
            and edit.campaign_id == candidate.campaign_id
        )
        if same:
            until = edit.changed_at + config.cooloff
            who = edit.user_email or "a person"
            return _no(
                rule,
                f"{who} changed {edit.resource_name} in Google Ads ({edit.client_type}) at "
                f"{edit.changed_at.isoformat()}; the agent waits until {until.isoformat()}",
            )
    return _ok(rule, f"no manual edit of the entity in the last {config.cooloff_hours} h")


# --------------------------------------------------------------------------- approval


@dataclass(frozen=True)
class ApprovalContext:
    autopilot: bool
    converting: bool = False  # the entity converted in the analytics lookback


def approval_reasons(
    candidate: CandidateChange, *, context: ApprovalContext, policy: ApprovalPolicy
) -> list[str]:
    """Why a person must approve the change (empty: it may apply on autopilot)."""
    reasons: list[str] = []
    if not context.autopilot:
        reasons.append("the tenant's autopilot is off")
    kind = candidate.change_kind
    change = candidate.relative_change
    if (
        kind == ChangeKind.BUDGET
        and change is not None
        and change > policy.budget_increase_over + _EPS
    ):
        reasons.append(
            f"budget increase {_pct(change)} over {policy.budget_increase_over * 100:.0f} %"
        )
    if (
        policy.pause_converting
        and kind == ChangeKind.STATUS
        and candidate.proposed == "PAUSED"
        and context.converting
    ):
        reasons.append(f"pauses a converting {candidate.entity.kind.value}")
    if policy.new_ad_copy and kind == ChangeKind.AD_COPY:
        reasons.append("new ad copy")
    if (
        kind == ChangeKind.BUDGET
        and isinstance(candidate.current, int)
        and isinstance(candidate.proposed, int)
    ):
        delta = abs(candidate.proposed - candidate.current)
        if delta > policy.spend_threshold_micros:
            reasons.append(
                f"moves daily spend by {delta} micros (threshold {policy.spend_threshold_micros})"
            )
    return reasons


# --------------------------------------------------------------------------- all together

RULE_NAMES = (
    "magnitude_cap",
    "learning_rate",
    "spend_limits",
    "structure_limits",
    "statistical_gate",
    "user_lock",
    "manual_edit_cooloff",
    "outage_hold",
)


@dataclass(frozen=True)
class Facts:
    """Everything the rules read about one candidate, gathered by the service."""

    as_of: dt.datetime  # the logical time the change is judged at
    now: dt.datetime  # wall-clock time (a person's lock expires in real time)
    recent: Sequence[RecentChange] = ()
    locks: Sequence[Lock] = ()
    edits: Sequence[ManualEdit] = ()
    limits: SpendLimits = SpendLimits(None, None)
    counts: StructureCounts = StructureCounts()
    evidence: Sequence[Evidence] = ()
    autopilot: bool = False
    converting: bool = False
    outage_days: Sequence[dt.date] = ()  # tracking-outage exclusions of the hold window


@dataclass(frozen=True)
class Decision:
    """Every rule's result and whether a person must approve."""

    results: tuple[RuleResult, ...]
    approval: tuple[str, ...]

    @property
    def accepted(self) -> bool:
        return all(r.accepted for r in self.results)

    @property
    def requires_approval(self) -> bool:
        return self.accepted and bool(self.approval)

    @property
    def rejections(self) -> list[RuleResult]:
        return [r for r in self.results if not r.accepted]

    @property
    def reason(self) -> str:
        """One line: the rejections, or what approval waits for, or that it may apply."""
        if not self.accepted:
            return "; ".join(f"{r.rule}: {r.reason}" for r in self.rejections)
        if self.approval:
            return "requires approval: " + "; ".join(self.approval)
        return "passes every guardrail"


def evaluate(candidate: CandidateChange, facts: Facts, *, config: GuardrailConfig) -> Decision:
    """Run every rule (none short-circuits: a person sees every reason at once)."""
    cfg = config.for_tenant(candidate.tenant_id)
    checks: list[Callable[[], RuleResult]] = [
        lambda: magnitude_cap(candidate, caps=cfg.caps),
        lambda: learning_rate(candidate, recent=facts.recent, as_of=facts.as_of, config=cfg),
        lambda: spend_limits(candidate, limits=facts.limits),
        lambda: structure_limits(candidate, counts=facts.counts, limits=cfg.structure),
        lambda: statistical_gate(candidate, evidence=facts.evidence, config=cfg),
        lambda: user_lock(candidate, locks=facts.locks, now=facts.now),
        lambda: manual_edit_cooloff(candidate, edits=facts.edits, as_of=facts.as_of, config=cfg),
        lambda: outage_hold(candidate, outage_days=facts.outage_days, config=cfg),
    ]
    results = tuple(check() for check in checks)
    approval: list[str] = []
    if candidate.origin.kind == OriginKind.PROPOSAL:
        approval = approval_reasons(
            candidate,
            context=ApprovalContext(autopilot=facts.autopilot, converting=facts.converting),
            policy=cfg.approval,
        )
    return Decision(results, tuple(approval))


__all__ = [
    "GATED_KINDS",
    "RULE_NAMES",
    "ApprovalContext",
    "Decision",
    "Facts",
    "RuleResult",
    "approval_reasons",
    "evaluate",
    "is_cut",
    "is_significant",
    "learning_rate",
    "learning_window_free_at",
    "magnitude_cap",
    "manual_edit_cooloff",
    "outage_hold",
    "resource_names",
    "spend_limits",
    "statistical_gate",
    "structure_limits",
    "user_lock",
]
