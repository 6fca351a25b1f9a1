"""Today's options: every change the envelope allows, computed without the model.

An option is the unit the model chooses among and the validator checks against: its id, the
entity it touches, the current value, the allowed absolute range (the envelope: between the
current value and the envelope's next value, in whole billable units) and the value the
deterministic fallback would take. The model cannot create an option; it can only pick one.

- ``campaign_budget``: a budget envelope that is not ``hold``;
- ``keyword_bid``: a bid envelope that is not ``hold``, on a manual-CPC campaign only (Smart
  Bidding sets its own bids; its levers are the target and the budget);
- ``pause_keyword``: a keyword whose bid envelope says decrease and which converted nothing
  over the evidence window;
- ``enable_keyword``: a paused keyword whose bid envelope (from the days it ran) says
  increase: its clicks paid well above break-even; no fallback (the model proposes it);
- ``negative_keyword``: a search term of the last ``negative_window_days`` with at least
  ``negative_min_clicks`` clicks and no conversion where its campaign's conversion rate made
  zero unlikely (``analytics.search_terms``: exact Poisson, Bonferroni over the campaign's
  terms, family-wise 0.01), not already a keyword;
- ``rsa_copy``: an ad group with no approved ad (new copy is the lever there); no fallback;
- ``target_cpa`` / ``target_roas``: a Smart Bidding campaign's ``target`` envelope (evidence
  names the strategy; tROAS is the ratio in micros).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spectra.agent.schema import ProposalKind
from spectra.agent.settings import AgentSettings
from spectra.analytics.search_terms import campaign_term_tests, search_term_evidence_id, term_key
from spectra.analytics.targets import MANUAL_BIDDING
from spectra.warehouse.agent_store import DayInputs


@dataclass(frozen=True)
class Option:
    option_id: str
    kind: ProposalKind
    campaign_id: int
    ad_group_id: int | None = None
    criterion_id: int | None = None
    current: Any = None  # micros, a status, or None
    min_micros: int | None = None
    max_micros: int | None = None
    suggested_micros: int | None = None  # the fallback's value (the envelope's next value)
    suggested_status: str | None = None
    negative_text: str | None = None  # untrusted (a search term)
    label: str = ""  # untrusted (keyword text, campaign or ad group name)
    expected_value_delta_micros: int | None = None
    expected_low_micros: int | None = None
    expected_high_micros: int | None = None
    reason: str = ""  # written by our analytics, not by a customer
    evidence_ids: tuple[str, ...] = ()
    has_fallback: bool = True
    facts: Mapping[str, Any] = field(default_factory=dict)

    def for_prompt(self) -> dict[str, Any]:
        """The option as the model sees it: ids and numbers; no untrusted text."""
        data: dict[str, Any] = {
            "option_id": self.option_id,
            "kind": self.kind.value,
            "campaign_id": self.campaign_id,
            "ad_group_id": self.ad_group_id,
            "criterion_id": self.criterion_id,
            "current": self.current,
            "allowed_min_micros": self.min_micros,
            "allowed_max_micros": self.max_micros,
            "suggested_micros": self.suggested_micros,
            "expected_value_delta_micros": self.expected_value_delta_micros,
            "reason": self.reason,
            "evidence_ids": list(self.evidence_ids),
        }
        data.update(self.facts)
        return {k: v for k, v in data.items() if v is not None}


def _range(current: int, nxt: int) -> tuple[int, int]:
    return (min(current, nxt), max(current, nxt))


def _interval(delta: int | None, rel_se: Any) -> tuple[int | None, int | None]:
    if delta is None:
        return None, None
    try:
        se = float(rel_se)
    except (TypeError, ValueError):
        return None, None
    if se != se or se <= 0:  # NaN or no spread
        return None, None
    half = abs(delta) * 1.96 * se
    return int(round(delta - half)), int(round(delta + half))


def build_options(inputs: DayInputs, settings: AgentSettings) -> list[Option]:
    """Every option of the day for the account, in a stable order."""
    campaigns = {int(c["campaign_id"]): c for c in inputs.campaigns}
    enabled = {cid for cid, c in campaigns.items() if c["serving_status"] == "ENABLED"}
    keywords = {(int(k["ad_group_id"]), int(k["criterion_id"])): k for k in inputs.keywords}
    options: list[Option] = []
    verdict_ids: dict[int, list[str]] = {}
    for v in inputs.verdicts:
        if v["campaign_id"] is not None:
            verdict_ids.setdefault(int(v["campaign_id"]), []).append(f"verdict:{v['id']}")
    for env in inputs.envelopes:
        cid = int(env["campaign_id"])
        if env["direction"] == "hold" or cid not in enabled:
            continue
        camp = campaigns[cid]
        lo, hi = _range(int(env["current_micros"]), int(env["next_micros"]))
        evidence = (f"envelope:{env['id']}", *verdict_ids.get(cid, [])[:3])
        if env["kind"] == "budget":
            delta = env["expected_value_delta_micros"]
            low, high = _interval(delta, (env["evidence"] or {}).get("curve_rel_se"))
            options.append(
                Option(
                    option_id=f"campaign_budget:{cid}",
                    kind=ProposalKind.CAMPAIGN_BUDGET,
                    campaign_id=cid,
                    current=int(env["current_micros"]),
                    min_micros=lo,
                    max_micros=hi,
                    suggested_micros=int(env["next_micros"]),
                    label=str(camp["name"]),
                    expected_value_delta_micros=delta,
                    expected_low_micros=low,
                    expected_high_micros=high,
                    reason=str(env["reason"]),
                    evidence_ids=evidence,
                    facts={"direction": env["direction"]},
                )
            )
        elif env["kind"] == "target":
            strategy = str((env["evidence"] or {}).get("strategy", "TARGET_CPA"))
            if strategy == "TARGET_ROAS":  # the ratio, stored in micros (4.0 = 4 000 000)
                options.append(
                    Option(
                        option_id=f"target_roas:{cid}",
                        kind=ProposalKind.TARGET_ROAS,
                        campaign_id=cid,
                        current=int(env["current_micros"]) / 1e6,
                        label=str(camp["name"]),
                        expected_value_delta_micros=env["expected_value_delta_micros"],
                        reason=str(env["reason"]),
                        evidence_ids=evidence,
                        facts={
                            "allowed_min_roas": lo / 1e6,
                            "allowed_max_roas": hi / 1e6,
                            "suggested_roas": int(env["next_micros"]) / 1e6,
                        },
                    )
                )
            else:
                options.append(
                    Option(
                        option_id=f"target_cpa:{cid}",
                        kind=ProposalKind.TARGET_CPA,
                        campaign_id=cid,
                        current=int(env["current_micros"]),
                        min_micros=lo,
                        max_micros=hi,
                        suggested_micros=int(env["next_micros"]),
                        label=str(camp["name"]),
                        expected_value_delta_micros=env["expected_value_delta_micros"],
                        reason=str(env["reason"]),
                        evidence_ids=evidence,
                    )
                )
        elif env["kind"] == "bid":
            if (camp["bidding_strategy_type"] or "MANUAL_CPC") not in MANUAL_BIDDING:
                continue  # Smart Bidding sets keyword bids itself
            ag, crit = int(env["ad_group_id"]), int(env["entity_id"])
            kw = keywords.get((ag, crit))
            if kw is None or kw["negative"]:
                continue
            ev = env["evidence"] or {}
            if kw["serving_status"] == "PAUSED":
                # its envelope rests on the days it ran: paying keywords may serve again (a
                # bid change would do nothing while it is paused)
                if env["direction"] == "increase":
                    options.append(
                        Option(
                            option_id=f"enable_keyword:{ag}:{crit}",
                            kind=ProposalKind.ENABLE_KEYWORD,
                            campaign_id=cid,
                            ad_group_id=ag,
                            criterion_id=crit,
                            current="PAUSED",
                            suggested_status="ENABLED",
                            label=str(kw["text"]),
                            reason=f"paused, but while it ran: {env['reason']}",
                            evidence_ids=evidence,
                            has_fallback=False,  # re-enabling is the model's call, then a person's
                            facts={"clicks": ev.get("clicks"), "roas": ev.get("roas")},
                        )
                    )
                continue
            if kw["serving_status"] != "ENABLED":
                continue  # removed: nothing to move
            options.append(
                Option(
                    option_id=f"keyword_bid:{ag}:{crit}",
                    kind=ProposalKind.KEYWORD_BID,
                    campaign_id=cid,
                    ad_group_id=ag,
                    criterion_id=crit,
                    current=int(env["current_micros"]),
                    min_micros=lo,
                    max_micros=hi,
                    suggested_micros=int(env["next_micros"]),
                    label=str(kw["text"]),
                    reason=str(env["reason"]),
                    evidence_ids=evidence,
                    facts={"direction": env["direction"], "clicks": ev.get("clicks")},
                )
            )
            if env["direction"] == "decrease" and not ev.get("conversions"):
                options.append(
                    Option(
                        option_id=f"pause_keyword:{ag}:{crit}",
                        kind=ProposalKind.PAUSE_KEYWORD,
                        campaign_id=cid,
                        ad_group_id=ag,
                        criterion_id=crit,
                        current=str(kw["serving_status"]),
                        suggested_status="PAUSED",
                        label=str(kw["text"]),
                        reason=f"no conversion from {ev.get('clicks')} clicks; {env['reason']}",
                        evidence_ids=evidence,
                        has_fallback=False,  # the bid decrease is the deterministic step
                    )
                )
    options += _negative_options(inputs, settings, enabled, keywords)
    options += _copy_options(inputs, enabled)
    return options


def _negative_options(
    inputs: DayInputs,
    settings: AgentSettings,
    enabled: set[int],
    keywords: Mapping[tuple[int, int], Mapping[str, Any]],
) -> list[Option]:
    """Search terms that had clicks enough to convert and did not (analytics.search_terms);
    the evidence id names the campaign, the term's key and the window, so the guardrails
    re-run the same test on the same sums."""
    existing = {str(k["text"]).strip().lower() for k in keywords.values()}
    until = inputs.logical_date
    since = until - dt.timedelta(days=settings.negative_window_days - 1)
    tests = campaign_term_tests(inputs.search_terms)
    out: list[Option] = []
    per_campaign: dict[int, int] = {}
    for t in inputs.search_terms:  # ordered by campaign, cost desc
        cid = int(t["campaign_id"])
        term = str(t["search_term"])
        if cid not in enabled or t["term_status"] not in (None, "NONE", "UNKNOWN"):
            continue
        if float(t["conversions"] or 0) > 0 or int(t["clicks"] or 0) < settings.negative_min_clicks:
            continue
        if term.strip().lower() in existing:
            continue
        key = term_key(cid, term)
        test = tests[(cid, key)]
        if not test.significant():
            continue
        if per_campaign.get(cid, 0) >= settings.negatives_per_campaign:
            continue
        per_campaign[cid] = per_campaign.get(cid, 0) + 1
        daily = int(t["cost_micros"]) // max(1, settings.negative_window_days)
        out.append(
            Option(
                option_id=f"negative_keyword:{cid}:{key}",
                kind=ProposalKind.NEGATIVE_KEYWORD,
                campaign_id=cid,
                current=None,
                negative_text=term,
                label=term,
                # the spend it stops, which bought nothing in the window
                expected_value_delta_micros=daily,
                reason=(
                    f"{test.describe()} in {settings.negative_window_days} days; "
                    f"{int(t['cost_micros']) / 1e6:.2f} spent (~{daily / 1e6:.2f} a day saved)"
                ),
                evidence_ids=(search_term_evidence_id(cid, key, since, until),),
                facts={
                    "clicks": int(t["clicks"]),
                    "cost_micros": int(t["cost_micros"]),
                    "expected_conversions": round(test.expected_conversions, 2),
                    "p_value": test.p_value,
                },
            )
        )
    return out


def _copy_options(inputs: DayInputs, enabled: set[int]) -> list[Option]:
    approved: set[int] = set()
    seen: set[int] = set()
    for ad in inputs.ads:
        seen.add(int(ad["ad_group_id"]))
        if ad["approval_status"] in ("APPROVED", "APPROVED_LIMITED"):
            approved.add(int(ad["ad_group_id"]))
    out = []
    for g in inputs.ad_groups:
        ag, cid = int(g["ad_group_id"]), int(g["campaign_id"])
        if cid not in enabled or g["serving_status"] != "ENABLED" or ag in approved:
            continue
        if ag not in seen:
            continue  # ads not ingested for it: nothing says the copy is the problem
        out.append(
            Option(
                option_id=f"rsa_copy:{ag}",
                kind=ProposalKind.RSA_COPY,
                campaign_id=cid,
                ad_group_id=ag,
                label=str(g["name"]),
                reason="no approved ad serves in this ad group",
                evidence_ids=(f"ad_group:{ag}",),
                has_fallback=False,
            )
        )
    return out


def by_campaign(options: Sequence[Option]) -> dict[int, list[Option]]:
    grouped: dict[int, list[Option]] = {}
    for option in options:
        grouped.setdefault(option.campaign_id, []).append(option)
    return dict(sorted(grouped.items()))
