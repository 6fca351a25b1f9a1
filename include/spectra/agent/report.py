"""The day's proposals in words: per account, kind, before → after, expected effect, a one-line
reason, prompt version and AI cost (task log, ``spectra demo``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine

from spectra.warehouse import agent_store as store
from spectra.warehouse.repositories import account_currency

MONEY_KINDS = {"campaign_budget", "keyword_bid", "target_cpa"}


def _money(micros: Any, currency: str) -> str:
    return f"{int(micros) / 1e6:,.2f} {currency}" if isinstance(micros, int) else "?"


def _change(row: dict[str, Any], currency: str) -> str:
    kind, cur, new = row["kind"], row["current_value"], row["new_value"]
    if kind in MONEY_KINDS:
        return f"{_money(cur, currency)} → {_money(new, currency)}"
    if kind == "target_roas":
        return f"{cur} → {new}"
    if kind in ("pause_keyword", "enable_keyword"):
        return f"{cur} → {new}"
    if kind == "negative_keyword":
        return f"+ negative [{new.get('match_type')}] {new.get('text')!r}"
    if kind == "rsa_copy":
        return f"new RSA: {len(new.get('headlines', []))} headlines, {len(new.get('descriptions', []))} descriptions"
    return f"{cur} → {new}"


def _effect(row: dict[str, Any], currency: str) -> str:
    delta = row["expected_value_delta_micros"]
    if delta is None:
        return "effect: not estimated"
    text = f"value {int(delta) / 1e6:+,.2f} {currency}/day"
    if row["expected_low_micros"] is not None and row["expected_high_micros"] is not None:
        text += (
            f" (95% {int(row['expected_low_micros']) / 1e6:+,.2f}"
            f" .. {int(row['expected_high_micros']) / 1e6:+,.2f})"
        )
    return text


def _campaign_costs(
    engine: Engine, *, tenant_id: str, customer_id: int, day: dt.date
) -> dict[int | None, int]:
    with engine.connect() as conn:
        costs = store.cost_by_campaign(conn, tenant_id=tenant_id, logical_date=day)
    return {
        campaign: cost for (customer, campaign), cost in costs.items() if customer == customer_id
    }


def account_lines(engine: Engine, *, tenant_id: str, customer_id: int, day: dt.date) -> list[str]:
    """One line per proposal of the account's day, then the account's AI cost."""
    with engine.connect() as conn:
        rows = store.day_proposals(
            conn, tenant_id=tenant_id, logical_date=day, customer_id=customer_id
        )
        account = account_currency(conn, tenant_id=tenant_id, customer_id=customer_id)
        currency = (account[0] if account else None) or "USD"
        calls = store.ai_call_outcomes(
            conn, tenant_id=tenant_id, customer_id=customer_id, logical_date=day
        )
    costs = _campaign_costs(engine, tenant_id=tenant_id, customer_id=customer_id, day=day)
    lines = [f"{tenant_id}/{customer_id} on {day}: {len(rows)} proposals"]
    for row in rows:
        reason = " ".join(str(row["reasoning"]).split())[:110]
        source = (
            row["source"]
            if row["source"] != "fallback"
            else f"fallback ({row['fallback_reason'][:60]})"
        )
        lines.append(
            f"  {row['kind']:<16} campaign {row['campaign_id']}: {_change(row, currency)}; "
            f"{_effect(row, currency)}\n"
            f"  {'':<16} why: {reason}\n"
            f"  {'':<16} {row['prompt_id']} {row['prompt_version']} · {row['model']} · {source} · "
            f"campaign AI cost ${costs.get(row['campaign_id'], 0) / 1e6:.6f}"
        )
    total = sum(costs.values())
    lines.append(
        f"  AI: {len(calls)} calls ({', '.join(sorted(set(calls))) or 'none'}), "
        f"${total / 1e6:.6f} for the account"
    )
    return lines


def proposals_text(
    engine: Engine, days: Sequence[dt.date], accounts: Iterable[tuple[str, int]]
) -> str:
    """The last day's proposals for every account (what ``spectra demo`` prints)."""
    day = max(days)
    out = [f"## Proposals for {day} (pending approval; table `proposals`, cost in `ai_calls`)", ""]
    for tenant_id, customer_id in accounts:
        out += account_lines(engine, tenant_id=tenant_id, customer_id=customer_id, day=day)
        out.append("")
    return "\n".join(out)


def prompt_ab_report(engine: Engine, *, tenant_id: str) -> list[dict[str, Any]]:
    """Per prompt version: how the campaigns' applied proposals turned out.

    Joins the tenant's applied proposals to the analytics step's change-effect estimates for
    the same campaign on a change date on or after the proposal's day (the analysis measures
    the change once applied; its latest look wins), and averages the difference-in-differences
    per prompt version — the A/B readout of two prompts assigned by a stable campaign hash.
    """
    with engine.connect() as conn:
        applied = store.applied_proposals(conn, tenant_id=tenant_id)
        effects = store.measured_change_effects(conn, tenant_id=tenant_id)
    latest: dict[tuple[int, int, dt.date, str], Any] = {}
    for row in effects:  # the newest look of each change and metric
        latest[(int(row.customer_id), int(row.campaign_id), row.change_date, row.metric)] = row
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for prop in applied:
        key = (prop.prompt_id, prop.prompt_version)
        group = groups.setdefault(
            key, {"proposals": 0, "measured": 0, "did_pct": [], "improved": 0}
        )
        group["proposals"] += 1
        found = [
            r for (cust, camp, day, metric), r in latest.items()
            if cust == prop.customer_id and camp == prop.campaign_id and day >= prop.logical_date
            and metric == "conversions_value"
        ] or [
            r for (cust, camp, day, _metric), r in latest.items()
            if cust == prop.customer_id and camp == prop.campaign_id and day >= prop.logical_date
        ]  # fmt: skip
        if found:
            first = min(found, key=lambda r: r.change_date)
            group["measured"] += 1
            group["did_pct"].append(float(first.did_pct))
            group["improved"] += first.verdict in ("improved", "increase", "positive")
    out = []
    for (prompt_id, version), g in sorted(groups.items()):
        values = g.pop("did_pct")
        out.append(
            {"prompt_id": prompt_id, "prompt_version": version, **g,
             "mean_did_pct": sum(values) / len(values) if values else None}
        )  # fmt: skip
    return out
