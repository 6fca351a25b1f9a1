"""Each guardrail rule at its boundary: the last accepted value and the first rejected one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spectra.domain.changes import EntityKind, EntityRef, Origin, OriginKind
from spectra.guardrails.candidate import (
    CandidateChange,
    ChangeKind,
    Evidence,
    Lock,
    ManualEdit,
    RecentChange,
    SpendLimits,
    StructureCounts,
)
from spectra.guardrails.config import (
    ApprovalPolicy,
    GuardrailConfig,
    StructureLimits,
    TenantOverrides,
)
from spectra.guardrails.rules import (
    ApprovalContext,
    Facts,
    approval_reasons,
    evaluate,
    learning_rate,
    learning_window_free_at,
    magnitude_cap,
    manual_edit_cooloff,
    spend_limits,
    statistical_gate,
    structure_limits,
    user_lock,
)

T0 = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
AGENT = Origin(kind=OriginKind.PROPOSAL, ref="p-1")
PERSON = Origin(kind=OriginKind.PERSON, ref="ticket-9", actor="alice")
CAMPAIGN = EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=11)
KEYWORD = EntityRef(kind=EntityKind.KEYWORD, campaign_id=11, ad_group_id=22, criterion_id=33)
CFG = GuardrailConfig()


def cand(**kw: Any) -> CandidateChange:
    values: dict[str, Any] = {
        "tenant_id": "acme",
        "customer_id": 1,
        "ref": "p-1",
        "entity": CAMPAIGN,
        "field": "budget_micros",
        "origin": AGENT,
        "evidence_ids": ("envelope:1",),
    }
    values.update(kw)
    return CandidateChange(**values)


def budget(current: int, proposed: int, **kw: Any) -> CandidateChange:
    return cand(current=current, proposed=proposed, **kw)


def bid(current: int, proposed: int, **kw: Any) -> CandidateChange:
    return budget(current, proposed, entity=KEYWORD, field="cpc_bid_micros", **kw)


# --------------------------------------------------------------------------- candidate


def test_kind_comes_from_the_field_or_must_be_named() -> None:
    assert budget(100, 110).change_kind == ChangeKind.BUDGET
    assert bid(100, 110).change_kind == ChangeKind.BID
    with pytest.raises(ValueError, match="no default change kind"):
        budget(100, 110, field="headline")
    with pytest.raises(ValueError, match="must be micros"):
        budget(100, "PAUSED")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- magnitude


@pytest.mark.parametrize(
    ("make", "current", "ok", "too_far"),
    [
        (bid, 1_000_000, 1_200_000, 1_200_001),  # +-20 %
        (budget, 10_000_000, 13_000_000, 13_000_001),  # +-30 %
    ],
)
def test_magnitude_cap_boundary_up_and_down(make: Any, current: int, ok: int, too_far: int) -> None:
    assert magnitude_cap(make(current, ok), caps=CFG.caps).accepted
    no = magnitude_cap(make(current, too_far), caps=CFG.caps)
    assert not no.accepted and "exceeds the cap" in no.reason
    down_ok = 2 * current - ok
    assert magnitude_cap(make(current, down_ok), caps=CFG.caps).accepted
    assert not magnitude_cap(make(current, down_ok - 1), caps=CFG.caps).accepted


def test_target_cap_is_15_percent_and_tenant_override_narrows_it() -> None:
    target = budget(10_000_000, 11_500_000, field="target_cpa_micros")
    assert magnitude_cap(target, caps=CFG.caps).accepted
    assert not magnitude_cap(
        budget(10_000_000, 11_500_001, field="target_cpa_micros"), caps=CFG.caps
    ).accepted
    cfg = GuardrailConfig(tenants={"acme": TenantOverrides(caps={"target": 0.10})})
    assert not magnitude_cap(target, caps=cfg.for_tenant("acme").caps).accepted
    assert cfg.for_tenant("acme").caps["bid"] == 0.20  # other kinds keep the default
    assert magnitude_cap(target, caps=cfg.for_tenant("other").caps).accepted


def test_magnitude_needs_a_current_value() -> None:
    no = magnitude_cap(budget(0, 100), caps=CFG.caps)
    assert not no.accepted and "no positive current" in no.reason
    status = cand(field="status", current="ENABLED", proposed="PAUSED")
    assert magnitude_cap(status, caps=CFG.caps).accepted


# --------------------------------------------------------------------------- learning rate


def applied(at: dt.datetime, field: str = "budget_micros", campaign_id: int = 11) -> RecentChange:
    return RecentChange(
        campaign_id=campaign_id,
        entity_key="campaign:11",
        field=field,
        effective_at=at,
        before=100,
        after=110,
    )


def test_learning_rate_window_boundary() -> None:
    c = bid(1_000_000, 1_100_000)
    recent = [applied(T0)]
    at_72h = learning_rate(c, recent=recent, as_of=T0 + dt.timedelta(hours=72), config=CFG)
    assert at_72h.accepted
    just_before = learning_rate(
        c, recent=recent, as_of=T0 + dt.timedelta(hours=71, minutes=59), config=CFG
    )
    assert not just_before.accepted and "next allowed after" in just_before.reason
    assert learning_window_free_at(11, recent=recent, config=CFG) == T0 + dt.timedelta(hours=72)


def test_learning_rate_counts_a_later_change_for_a_backfill() -> None:
    c = bid(1_000_000, 1_100_000)
    # a backfill judges an older logical date than a change already made
    no = learning_rate(c, recent=[applied(T0)], as_of=T0 - dt.timedelta(days=10), config=CFG)
    assert not no.accepted


def test_learning_rate_other_campaign_safety_and_insignificant() -> None:
    c = bid(1_000_000, 1_100_000)
    assert learning_rate(c, recent=[applied(T0, campaign_id=99)], as_of=T0, config=CFG).accepted
    safe = bid(1_000_000, 1_100_000, safety=True)
    assert learning_rate(safe, recent=[applied(T0)], as_of=T0, config=CFG).accepted
    neg = cand(
        kind=ChangeKind.NEGATIVE_KEYWORD,
        field="status",
        current=None,
        proposed="ENABLED",
        entity=EntityRef(
            kind=EntityKind.NEGATIVE_KEYWORD, campaign_id=11, text="free", match_type="BROAD"
        ),
    )
    assert learning_rate(neg, recent=[applied(T0)], as_of=T0, config=CFG).accepted
    cfg = GuardrailConfig(significant_min_change=0.15)
    small = bid(1_000_000, 1_100_000)  # 10 % < 15 %: not significant itself
    assert learning_rate(small, recent=[applied(T0)], as_of=T0, config=cfg).accepted


def test_one_change_set_per_window_in_force_together() -> None:
    """Changes of one campaign in force at the same instant are one set: a day's budget and
    its keywords' bids go out together; the next set waits 72 h; the same entity never
    changes twice in a set."""
    day2 = T0 + dt.timedelta(days=1)  # a proposal of T0's day is in force the next day
    budget_in_set = applied(day2)  # the campaign's budget, accepted earlier in the batch
    keyword = bid(1_000_000, 1_200_000, effective_at=day2)
    ok = learning_rate(keyword, recent=[budget_in_set], as_of=T0, config=CFG)
    assert ok.accepted, ok.reason
    again = budget(110, 120, effective_at=day2)  # the same budget a second time that day
    assert not learning_rate(again, recent=[budget_in_set], as_of=T0, config=CFG).accepted
    # the next day's proposals are a new set, inside the first one's 72 h
    tomorrow = bid(1_000_000, 1_200_000, effective_at=day2 + dt.timedelta(days=1))
    no = learning_rate(tomorrow, recent=[budget_in_set], as_of=day2, config=CFG)
    assert not no.accepted and "next allowed after" in no.reason
    # without an instant of its own a candidate is judged at as_of, as before
    assert not learning_rate(
        bid(1_000_000, 1_200_000), recent=[budget_in_set], as_of=T0, config=CFG
    ).accepted
    # the rate-limit sensor lets the set's second change out after the first
    free = learning_window_free_at(11, recent=[budget_in_set], config=CFG, candidate=keyword)
    assert free is None
    assert learning_window_free_at(11, recent=[budget_in_set], config=CFG) == day2 + 3 * (
        dt.timedelta(days=1)
    )


def test_learning_window_runs_between_the_days_changes_are_in_force() -> None:
    """A change proposed on day D is in force on D + 1 (the ledger's effective date), so the
    next set may be proposed on D + 3 and be in force on D + 4: 72 h after the first, not 96."""
    first = applied(T0 + dt.timedelta(days=1))  # proposed on T0's day
    day3 = bid(1_000_000, 1_200_000, effective_at=T0 + dt.timedelta(days=4))
    assert learning_rate(day3, recent=[first], as_of=T0 + dt.timedelta(days=3), config=CFG).accepted
    day2 = bid(1_000_000, 1_200_000, effective_at=T0 + dt.timedelta(days=3))
    assert not learning_rate(
        day2, recent=[first], as_of=T0 + dt.timedelta(days=2), config=CFG
    ).accepted


# --------------------------------------------------------------------------- spend limits


def test_budget_above_daily_limit_rejected_at_the_boundary() -> None:
    limits = SpendLimits(max_daily_spend_micros=50_000_000, total_spend_limit_micros=None)
    assert spend_limits(budget(40_000_000, 50_000_000), limits=limits).accepted
    no = spend_limits(budget(40_000_000, 50_000_001), limits=limits)
    assert not no.accepted and "daily limit" in no.reason


def test_budget_projected_over_the_flight_total_rejected() -> None:
    limits = SpendLimits(
        max_daily_spend_micros=None,
        total_spend_limit_micros=1_000_000_000,
        spent_micros=700_000_000,
        days_remaining=10,
    )
    assert spend_limits(budget(25_000_000, 30_000_000), limits=limits).accepted  # 700+300
    no = spend_limits(budget(25_000_000, 30_000_001), limits=limits)
    assert not no.accepted and "total limit" in no.reason


def test_agent_never_raises_a_spend_limit_but_may_lower_it() -> None:
    up = budget(100, 101, field="max_daily_spend_micros", evidence_ids=())
    assert not spend_limits(up, limits=SpendLimits(None, None)).accepted
    total_up = budget(100, 101, field="total_spend_limit_micros")
    assert not spend_limits(total_up, limits=SpendLimits(None, None)).accepted
    down = budget(100, 99, field="max_daily_spend_micros")
    assert spend_limits(down, limits=SpendLimits(None, None)).accepted
    person = budget(100, 101, field="max_daily_spend_micros", origin=PERSON)
    assert spend_limits(person, limits=SpendLimits(None, None)).accepted


# --------------------------------------------------------------------------- structure


def test_structure_limits_at_googles_limits() -> None:
    limits = StructureLimits()
    add_kw = cand(entity=KEYWORD, field="keyword", kind=ChangeKind.STRUCTURE, created=5)
    full_minus_5 = StructureCounts(keywords_in_ad_group=19_995)
    assert structure_limits(add_kw, counts=full_minus_5, limits=limits).accepted
    full_minus_4 = StructureCounts(keywords_in_ad_group=19_996)
    no = structure_limits(add_kw, counts=full_minus_4, limits=limits)
    assert not no.accepted and "20000" in no.reason
    ad = EntityRef(kind=EntityKind.AD, campaign_id=11, ad_group_id=22, ad_id=44)
    enable = cand(entity=ad, field="status", current="PAUSED", proposed="ENABLED")
    assert structure_limits(
        enable, counts=StructureCounts(enabled_ads_in_ad_group=2), limits=limits
    ).accepted
    assert not structure_limits(
        enable, counts=StructureCounts(enabled_ads_in_ad_group=3), limits=limits
    ).accepted


# --------------------------------------------------------------------------- statistical gate


def ev(**kw: Any) -> Evidence:
    values: dict[str, Any] = {
        "evidence_id": "envelope:1",
        "kind": "envelope",
        "campaign_id": 11,
        "entity_id": 11,
        "significant": True,
        "lag_complete": True,
        "seasonally_adjusted": True,
        "direction": "increase",
        "max_change_pct": 0.2,
    }
    values.update(kw)
    return Evidence(**values)


def test_statistical_gate_needs_significant_lag_complete_evidence() -> None:
    c = budget(10_000_000, 12_000_000)
    assert statistical_gate(c, evidence=[ev()], config=CFG).accepted
    for bad, why in [
        ({"significant": False}, "not significant"),
        ({"lag_complete": False}, "lag not complete"),
        ({"seasonally_adjusted": False}, "seasonally"),
        ({"campaign_id": 12}, "not 11"),
        ({"direction": "decrease"}, "allows decrease"),
        ({"max_change_pct": 0.19}, "beyond the envelope"),
    ]:
        no = statistical_gate(c, evidence=[ev(**bad)], config=CFG)
        assert not no.accepted and why in no.reason, (bad, no.reason)
    assert (
        "no evidence"
        in statistical_gate(budget(1, 2, evidence_ids=()), evidence=[], config=CFG).reason
    )
    assert "not found: envelope:1" in statistical_gate(c, evidence=[], config=CFG).reason


def test_statistical_gate_exempts_safety_and_people() -> None:
    pause = cand(field="status", current="ENABLED", proposed="PAUSED", evidence_ids=(), safety=True)
    assert statistical_gate(pause, evidence=[], config=CFG).accepted
    assert not statistical_gate(
        pause.model_copy(update={"safety": False}), evidence=[], config=CFG
    ).accepted
    assert statistical_gate(
        budget(1, 2, origin=PERSON, evidence_ids=()), evidence=[], config=CFG
    ).accepted


# --------------------------------------------------------------------------- conflicts


def test_a_lock_blocks_the_agent_until_it_expires_or_is_lifted() -> None:
    c = bid(1_000_000, 1_100_000)
    lock = Lock(1, 11, None, "alice", expires_at=T0 + dt.timedelta(hours=1), reason="launch")
    no = user_lock(c, locks=[lock], now=T0)
    assert not no.accepted and "locked by alice" in no.reason and "launch" in no.reason
    assert user_lock(c, locks=[lock], now=T0 + dt.timedelta(hours=1)).accepted  # expired
    lifted = Lock(1, 11, None, "alice", T0 + dt.timedelta(hours=1), lifted_at=T0)
    assert user_lock(c, locks=[lifted], now=T0).accepted
    field_lock = Lock(2, 11, "budget_micros", "bob", T0 + dt.timedelta(hours=1))
    assert user_lock(c, locks=[field_lock], now=T0).accepted  # a bid, not the budget
    assert not user_lock(budget(1, 2), locks=[field_lock], now=T0).accepted
    assert user_lock(budget(1, 2, origin=PERSON), locks=[field_lock], now=T0).accepted


def edit(at: dt.datetime, client: str = "GOOGLE_ADS_WEB_CLIENT", **kw: Any) -> ManualEdit:
    values: dict[str, Any] = {
        "resource_name": "customers/1/adGroupCriteria/22~33",
        "resource_type": "AD_GROUP_CRITERION",
        "campaign_id": 11,
        "changed_at": at,
        "client_type": client,
        "user_email": "alice@example.com",
    }
    values.update(kw)
    return ManualEdit(**values)


def test_a_manual_edit_blocks_the_agent_for_the_cooloff() -> None:
    c = bid(1_000_000, 1_100_000)
    e = edit(T0)
    no = manual_edit_cooloff(c, edits=[e], as_of=T0 + dt.timedelta(hours=71), config=CFG)
    assert not no.accepted and "alice@example.com" in no.reason
    assert manual_edit_cooloff(c, edits=[e], as_of=T0 + dt.timedelta(hours=72), config=CFG).accepted
    ours = edit(T0, client="GOOGLE_ADS_API")
    assert manual_edit_cooloff(c, edits=[ours], as_of=T0, config=CFG).accepted
    other_kw = edit(T0, resource_name="customers/1/adGroupCriteria/22~34")
    assert manual_edit_cooloff(c, edits=[other_kw], as_of=T0, config=CFG).accepted
    budget_edit = edit(
        T0, resource_name="customers/1/campaignBudgets/5", resource_type="CAMPAIGN_BUDGET"
    )
    assert not manual_edit_cooloff(budget(1, 2), edits=[budget_edit], as_of=T0, config=CFG).accepted
    assert manual_edit_cooloff(
        budget(1, 2, origin=PERSON), edits=[budget_edit], as_of=T0, config=CFG
    ).accepted


# --------------------------------------------------------------------------- approval


def test_approval_rule_boundaries() -> None:
    policy = ApprovalPolicy(budget_increase_over=0.10, spend_threshold_micros=5_000_000)
    on = ApprovalContext(autopilot=True)
    assert approval_reasons(budget(10_000_000, 11_000_000), context=on, policy=policy) == []
    assert approval_reasons(budget(10_000_000, 11_000_001), context=on, policy=policy) == [
        "budget increase +10.0 % over 10 %"
    ]
    big = approval_reasons(budget(100_000_000, 105_000_001), context=on, policy=policy)
    assert any("moves daily spend" in r for r in big)
    off = approval_reasons(
        budget(10_000_000, 10_000_000), context=ApprovalContext(autopilot=False), policy=policy
    )
    assert off == ["the tenant's autopilot is off"]
    pause = cand(field="status", current="ENABLED", proposed="PAUSED")
    assert approval_reasons(pause, context=on, policy=policy) == []
    assert approval_reasons(
        pause, context=ApprovalContext(autopilot=True, converting=True), policy=policy
    ) == ["pauses a converting campaign"]
    ad = EntityRef(kind=EntityKind.AD, campaign_id=11, ad_group_id=22, ad_id=44)
    copy = cand(
        entity=ad, field="headline", kind=ChangeKind.AD_COPY, current=None, proposed="Buy now"
    )
    assert approval_reasons(copy, context=on, policy=policy) == ["new ad copy"]


def test_evaluate_reports_every_rejection_at_once() -> None:
    c = budget(10_000_000, 20_000_000)  # +100 %: over the cap, no evidence loaded
    facts = Facts(
        as_of=T0,
        now=T0,
        recent=[applied(T0 - dt.timedelta(hours=1))],
        locks=[Lock(1, 11, None, "alice", T0 + dt.timedelta(hours=1))],
        autopilot=True,
    )
    d = evaluate(c, facts, config=CFG)
    assert not d.accepted and not d.requires_approval
    assert {r.rule for r in d.rejections} == {
        "magnitude_cap",
        "learning_rate",
        "statistical_gate",
        "user_lock",
    }
    ok = evaluate(
        budget(10_000_000, 10_500_000),
        Facts(as_of=T0, now=T0, evidence=[ev()], autopilot=True),
        config=CFG,
    )
    assert ok.accepted and not ok.requires_approval and ok.reason == "passes every guardrail"
    wait = evaluate(
        budget(10_000_000, 10_500_000), Facts(as_of=T0, now=T0, evidence=[ev()]), config=CFG
    )
    assert wait.requires_approval and "autopilot is off" in wait.reason
