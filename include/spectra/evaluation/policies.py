"""The policies scored on the same markets and seeds.

- ``hands_off``: never changes anything (the baseline every uplift is measured from);
- ``greedy``: a naive rule bot reading what the Google Ads API returned for yesterday: raise a
  keyword's bid 20 % where its CPA was under target, cut 20 % where over (or where it spent a
  target CPA without converting), move 20 % of the worst campaign's budget to the best one; no
  lag, seasonality, significance or rate limits — a careless rule engine or blind auto-apply;
- ``spectra``: the product's loop (``steps``), LLM stand-in in sound mode;
- ``oracle``: the market's true profit-optimal settings for the next day
  (``Truth.oracle``), reached under Spectra's own limits: per campaign one change set per
  72 h, bids ±20 %, budgets ±30 %, target CPAs ±15 % (rounded to billable units inside the
  cap), budgets within the spend limit, and the same hourly spend and policy monitors that
  pause a campaign about to pass its daily spend limit (Google may spend two daily budgets on
  a day, so a budget within the limit alone does not keep spend within it);
- ``oracle_unconstrained``: the same optimum set at once, every day.

Only the oracles read the market's truth; every other policy sees what the API returns. Every
policy that changes something goes through the apply executor over gRPC, so its changes are in
the same ledger and take effect the same way (when the day's daily run has pulled: the next
day, 06:00 UTC).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spectra.domain.changes import ApprovedChange, EntityKind, EntityRef, Origin, OriginKind
from spectra.evaluation import steps
from spectra.evaluation.metrics import spend_limits
from spectra.evaluation.world import World
from spectra.warehouse import evaluation_store as store
from spectra.warehouse.analytics_store import ad_group_bids

BILLABLE_UNIT = 10_000  # micros: one cent (the shipped scenarios' accounts bill in USD)
GREEDY_STEP = 0.20
GREEDY_PULL_DAYS = 1  # the bot reads yesterday only
CAPS = {"bid": 0.20, "budget": 0.30, "target": 0.15}
LEARNING_DAYS = 3  # 72 h


def _unit(value: float) -> int:
    return max(BILLABLE_UNIT, int(round(value / BILLABLE_UNIT)) * BILLABLE_UNIT)


def _capped(current: int, wanted: float, cap: float) -> int:
    """``wanted`` within ``current`` ± ``cap``, in billable units that stay inside the cap: a
    bound is rounded toward ``current`` (a 0.58 bid raised 20 % is 0.69, not the 0.70 rounding
    to the nearest cent gives, which is 20.7 %: a magnitude violation)."""
    eps = 1e-9  # float noise: 500 000 x 0.8 is 400 000.00000000006
    lo = math.ceil(current * (1 - cap) / BILLABLE_UNIT - eps) * BILLABLE_UNIT
    hi = math.floor(current * (1 + cap) / BILLABLE_UNIT + eps) * BILLABLE_UNIT
    return max(BILLABLE_UNIT, min(max(_unit(wanted), lo), hi))


@dataclass(frozen=True)
class Policy:
    name: str
    act: Callable[[World, dt.date, steps.DayLog], None]
    reads_truth: bool = False
    needs_history: bool = True  # False: its world needs no warm-up history ingested


def _send(world: World, day: dt.date, changes: Sequence[ApprovedChange]) -> int:
    from spectra.apply.executor import ApplyConfig, apply_changes
    from spectra.domain.clock import daily_pull_instant

    if not changes:
        return 0
    report = apply_changes(
        world.engine, world.client, list(changes), creds=world.creds,
        config=ApplyConfig(as_of=daily_pull_instant(day)),
    )  # fmt: skip
    return report.counts().get("applied", 0)


def _change(
    world: World, cid: int, entity: EntityRef, field: str, target: int, *, who: str, day: dt.date
) -> ApprovedChange:
    ref = f"{who}:{day.isoformat()}:{entity.kind.value}:{entity.campaign_id}:"
    ref += f"{entity.ad_group_id or 0}:{entity.criterion_id or 0}:{field}"
    return ApprovedChange(
        tenant_id=world.tenant_id,
        customer_id=cid,
        entity=entity,
        field=field,
        target=int(target),
        origin=Origin(kind=OriginKind.PERSON, ref=ref, actor=who),
    )


# --------------------------------------------------------------------------- hands-off


def _hands_off(world: World, day: dt.date, out: steps.DayLog) -> None:
    """Nothing: no pull, no change."""


# --------------------------------------------------------------------------- greedy


def _greedy(world: World, day: dt.date, out: steps.DayLog) -> None:
    from spectra.domain.clock import daily_pull_instant
    from spectra.ingest.daily import ingest_account

    target_cpa = world.scenario.targets.cpa * 1e6
    for cid in world.customer_ids:
        # yesterday is all it reads: a one-day pull returns that day's rows exactly as the
        # 30-day re-pull would (the restated older days are never read)
        ingest_account(
            world.engine, world.client, world.creds, tenant_id=world.tenant_id,
            customer_id=cid, logical_date=day, repull_days=GREEDY_PULL_DAYS,
            pulled_at=daily_pull_instant(day),
        )  # fmt: skip
        tenant = world.tenant_id
        with world.engine.connect() as conn:
            keywords = store.keyword_day_rows(conn, tenant_id=tenant, customer_id=cid, day=day)
            campaigns = store.campaign_day_rows(conn, tenant_id=tenant, customer_id=cid, day=day)
            bids = store.positive_keyword_bids(conn, tenant_id=tenant, customer_id=cid)
            groups = {
                int(group): int(bid)  # type: ignore[arg-type]  # a None bid fails, as before
                for group, bid in ad_group_bids(conn, tenant_id=tenant, customer_id=cid).items()
            }
            camp_rows = store.campaigns_by_id(conn, tenant_id=tenant, customer_id=cid)
        changes: list[ApprovedChange] = []
        for campaign_id, group, crit, cost, conversions in keywords:
            camp = camp_rows.get(int(campaign_id))
            if camp is None or camp.bidding_strategy_type != "MANUAL_CPC":
                continue
            current = bids.get((int(group), int(crit))) or groups.get(int(group), 0)
            if current <= 0 or (cost == 0 and conversions == 0):
                continue
            cpa = cost / conversions if conversions > 0 else float("inf")
            if conversions > 0 and cpa < target_cpa:
                wanted = current * (1 + GREEDY_STEP)
            elif cpa > target_cpa and cost > 0:
                wanted = current * (1 - GREEDY_STEP)
            else:
                continue
            target = _unit(wanted)
            if target != current:
                entity = EntityRef(
                    kind=EntityKind.KEYWORD, campaign_id=int(campaign_id),
                    ad_group_id=int(group), criterion_id=int(crit),
                )  # fmt: skip
                changes.append(
                    _change(world, cid, entity, "cpc_bid_micros", target, who="greedy", day=day)
                )
        # budget: from yesterday's worst campaign (by ROAS) to its best
        scored = [
            (value / cost if cost else 0.0, int(camp_id))
            for camp_id, cost, conv, value in campaigns
            if int(camp_id) in camp_rows
        ]
        if len(scored) >= 2:
            scored.sort()
            worst, best = scored[0][1], scored[-1][1]
            moved = camp_rows[worst].budget_micros * GREEDY_STEP
            for camp_id, budget in (
                (worst, camp_rows[worst].budget_micros - moved),
                (best, camp_rows[best].budget_micros + moved),
            ):
                entity = EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=camp_id)
                changes.append(
                    _change(
                        world, cid, entity, "budget_micros", _unit(budget), who="greedy", day=day
                    )
                )
        out.applied += _send(world, day, changes)


# --------------------------------------------------------------------------- oracle


def _oracle(constrained: bool) -> Callable[[World, dt.date, steps.DayLog], None]:
    who = "oracle" if constrained else "oracle_unconstrained"

    def act(world: World, day: dt.date, out: steps.DayLog) -> None:
        from spectra.sandbox.market.truth import Truth

        if constrained:  # Spectra's spend limits hold it too: the same hourly monitors
            steps.monitors(world, day, out)
        oracle = Truth(world.market).oracle(day + dt.timedelta(days=1))
        limits = spend_limits(world.engine, world.tenant_id)
        last = _last_change_days(world, who) if constrained else {}
        for cid in world.customer_ids:
            changes: list[ApprovedChange] = []
            camps = oracle.campaigns[oracle.campaigns["customer_id"] == cid]
            kws = oracle.keyword_bids[oracle.keyword_bids["customer_id"] == cid]
            for row in camps.itertuples():
                campaign_id = int(row.campaign_id)
                if constrained and campaign_id in last:  # both in force the day after
                    if (day + dt.timedelta(days=1) - last[campaign_id]).days < LEARNING_DAYS:
                        continue
                camp_changes = []
                budget_target = float(row.optimal_budget_micros)
                limit = limits.get(campaign_id)
                if constrained and limit:
                    budget_target = min(budget_target, limit)
                current = int(row.current_budget_micros)
                new_budget = (
                    _capped(current, budget_target, CAPS["budget"])
                    if constrained
                    else _unit(budget_target)
                )
                if abs(new_budget - current) > 0.01 * current:
                    entity = EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=campaign_id)
                    camp_changes.append(
                        _change(world, cid, entity, "budget_micros", new_budget, who=who, day=day)
                    )
                if row.bidding == "TARGET_CPA" and row.current_target_cpa_micros > 0:
                    cur_t = int(row.current_target_cpa_micros)
                    want = float(row.optimal_target_cpa_micros)
                    new_t = _capped(cur_t, want, CAPS["target"]) if constrained else _unit(want)
                    if abs(new_t - cur_t) > 0.01 * cur_t:
                        entity = EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=campaign_id)
                        camp_changes.append(
                            _change(
                                world, cid, entity, "target_cpa_micros", new_t, who=who, day=day
                            )
                        )
                else:
                    for kw in kws[kws["campaign_id"] == campaign_id].itertuples():
                        cur_b = int(kw.current_bid_micros)
                        want = float(kw.optimal_bid_micros) or BILLABLE_UNIT
                        if cur_b <= 0:
                            continue
                        new_b = _capped(cur_b, want, CAPS["bid"]) if constrained else _unit(want)
                        if abs(new_b - cur_b) > 0.01 * cur_b:
                            entity = EntityRef(
                                kind=EntityKind.KEYWORD, campaign_id=campaign_id,
                                ad_group_id=int(kw.ad_group_id), criterion_id=int(kw.criterion_id),
                            )  # fmt: skip
                            camp_changes.append(
                                _change(
                                    world, cid, entity, "cpc_bid_micros", new_b, who=who, day=day
                                )
                            )
                changes.extend(camp_changes)
            out.applied += _send(world, day, changes)

    return act


def _last_change_days(world: World, who: str) -> dict[int, dt.date]:
    with world.engine.connect() as conn:
        return store.last_change_days(conn, tenant_id=world.tenant_id, origin=who)


# --------------------------------------------------------------------------- spectra


def _spectra(world: World, day: dt.date, out: steps.DayLog) -> None:
    steps.monitors(world, day, out)  # hourly, as deployed, on every account size
    steps.daily(world, day, out)
    steps.apply(world, day, out)


POLICIES: dict[str, Policy] = {
    "hands_off": Policy("hands_off", _hands_off, needs_history=False),
    "greedy": Policy("greedy", _greedy, needs_history=False),  # pulls its own window daily
    "spectra": Policy("spectra", _spectra),
    "oracle": Policy("oracle", _oracle(True), reads_truth=True, needs_history=False),
    "oracle_unconstrained": Policy(
        "oracle_unconstrained", _oracle(False), reads_truth=True, needs_history=False
    ),
}
DEFAULT_POLICIES = tuple(POLICIES)


def policies(names: Sequence[str] | None) -> list[Policy]:
    chosen = list(names or DEFAULT_POLICIES)
    unknown = [n for n in chosen if n not in POLICIES]
    if unknown:
        raise ValueError(f"unknown policies {unknown}; choose from {list(POLICIES)}")
    return [POLICIES[n] for n in chosen]


def needs_model(selected: Sequence[Policy]) -> bool:
    return any(p.name == "spectra" for p in selected)
