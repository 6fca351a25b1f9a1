"""SQL of the proposal agent: the day's inputs, the prompt registry, prices, the AI call log and
proposals. Every query is scoped by ``tenant_id`` (and the account); functions take a Core
``Connection`` in the caller's transaction and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select

from spectra.warehouse.models import (
    Ad,
    AdAccount,
    AdGroup,
    AiCall,
    AnomalyRow,
    Campaign,
    CampaignVersion,
    ChangeEffectRow,
    Envelope,
    Keyword,
    ModelPrice,
    PromptVersion,
    Proposal,
    ProposalRejection,
    SearchTermDaily,
    Verdict,
)


class PromptChangedWithoutNewVersion(ValueError):
    """A prompt file's text differs from the registered text of the same id and version."""


@dataclass(frozen=True)
class DayInputs:
    """Everything the agent reads for one account and day (rows as plain dicts)."""

    tenant_id: str
    customer_id: int
    logical_date: dt.date
    billable_unit_micros: int
    currency_code: str
    campaigns: list[dict[str, Any]]
    ad_groups: list[dict[str, Any]]
    keywords: list[dict[str, Any]]
    envelopes: list[dict[str, Any]]
    search_terms: list[dict[str, Any]]  # aggregated over the window, per (campaign, term)
    ads: list[dict[str, Any]]
    verdicts: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    change_effects: list[dict[str, Any]]
    versions: list[dict[str, Any]]


def _rows(conn: Connection, stmt: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(stmt)]


def search_term_totals(
    conn: Connection,
    *,
    tenant_id: str,
    since: dt.date,
    until: dt.date,
    customer_id: int | None = None,
    campaign_id: int | None = None,
) -> list[dict[str, Any]]:
    """Search terms summed over ``since`` .. ``until`` per (campaign, term) — a term served
    by several ad groups is one row — ordered by campaign, cost descending. The agent's
    negative-keyword options and the guardrails' re-check of them read the same sums."""
    s = SearchTermDaily
    where = [s.tenant_id == tenant_id, s.date >= since, s.date <= until]
    if customer_id is not None:
        where.append(s.customer_id == customer_id)
    if campaign_id is not None:
        where.append(s.campaign_id == campaign_id)
    return _rows(
        conn,
        select(
            s.campaign_id,
            s.search_term,
            func.max(s.term_status).label("term_status"),
            func.sum(s.clicks).label("clicks"),
            func.sum(s.impressions).label("impressions"),
            func.sum(s.cost_micros).label("cost_micros"),
            func.sum(s.conversions).label("conversions"),
        )
        .where(*where)
        .group_by(s.campaign_id, s.search_term)
        .order_by(s.campaign_id, func.sum(s.cost_micros).desc(), s.search_term),
    )


def read_day_inputs(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    search_term_days: int = 30,
) -> DayInputs:

    def where(model: Any) -> Any:
        return and_(model.tenant_id == tenant_id, model.customer_id == customer_id)

    account = conn.execute(
        select(AdAccount.billable_unit_micros, AdAccount.currency_code).where(
            AdAccount.tenant_id == tenant_id, AdAccount.customer_id == customer_id
        )
    ).first()
    unit = int(account.billable_unit_micros or 10_000) if account else 10_000
    currency = str(account.currency_code) if account else "USD"
    c = Campaign
    campaigns = _rows(
        conn,
        select(
            c.campaign_id, c.name, c.status, c.serving_status, c.bidding_strategy_type,
            c.budget_micros, c.advertising_channel_type,
        ).where(where(c)).order_by(c.campaign_id),
    )  # fmt: skip
    g = AdGroup
    ad_groups = _rows(
        conn,
        select(g.campaign_id, g.ad_group_id, g.name, g.serving_status, g.cpc_bid_micros)
        .where(where(g))
        .order_by(g.ad_group_id),
    )
    k = Keyword
    keywords = _rows(
        conn,
        select(
            k.campaign_id, k.ad_group_id, k.criterion_id, k.text, k.match_type,
            k.serving_status, k.negative, k.cpc_bid_micros,
        ).where(where(k)).order_by(k.ad_group_id, k.criterion_id),
    )  # fmt: skip
    e = Envelope
    envelopes = _rows(
        conn,
        select(*e.__table__.columns)
        .where(where(e), e.logical_date == logical_date)
        .order_by(e.kind, e.id),
    )
    search_terms = search_term_totals(
        conn,
        tenant_id=tenant_id,
        customer_id=customer_id,
        since=logical_date - dt.timedelta(days=search_term_days - 1),
        until=logical_date,
    )
    a = Ad
    ads = _rows(
        conn,
        select(
            a.campaign_id, a.ad_group_id, a.ad_id, a.ad_type, a.serving_status,
            a.approval_status, a.headlines, a.descriptions,
        ).where(where(a)).order_by(a.ad_group_id, a.ad_id),
    )  # fmt: skip
    v = Verdict
    verdicts = _rows(
        conn,
        select(
            v.id, v.level, v.entity_id, v.campaign_id, v.ad_group_id, v.metric, v.verdict,
            v.relative_effect, v.ci_low, v.ci_high, v.p_adjusted,
        ).where(where(v), v.logical_date == logical_date, v.verdict.in_(["increase", "decrease"])),
    )  # fmt: skip
    an = AnomalyRow
    anomalies = _rows(
        conn,
        select(
            an.id, an.entity_level, an.entity_id, an.metric, an.date, an.observed,
            an.expected, an.severity, an.direction, an.reason,
        ).where(where(an), an.logical_date == logical_date, an.flagged.is_(True)),
    )  # fmt: skip
    ce = ChangeEffectRow
    effects = _rows(
        conn,
        select(
            ce.id, ce.campaign_id, ce.change_date, ce.metric, ce.look, ce.did_pct,
            ce.did_ci_low, ce.did_ci_high, ce.verdict,
        ).where(where(ce), ce.logical_date == logical_date).order_by(ce.change_date),
    )  # fmt: skip
    cv = CampaignVersion
    versions = _rows(
        conn,
        select(cv.campaign_id, cv.version, cv.snapshot, cv.reason, cv.created_by, cv.created_at)
        .where(where(cv))
        .order_by(cv.campaign_id, cv.version),
    )
    return DayInputs(
        tenant_id=tenant_id,
        customer_id=customer_id,
        logical_date=logical_date,
        billable_unit_micros=unit,
        currency_code=currency,
        campaigns=campaigns,
        ad_groups=ad_groups,
        keywords=keywords,
        envelopes=envelopes,
        search_terms=search_terms,
        ads=ads,
        verdicts=verdicts,
        anomalies=anomalies,
        change_effects=effects,
        versions=versions,
    )


# --------------------------------------------------------------------------- prompts, prices


def register_prompt(
    conn: Connection, *, prompt_id: str, version: str, content_hash: str, body: str
) -> None:
    """Record a prompt version the first time it is used; refuse an edited text."""
    row = conn.execute(
        select(PromptVersion.content_hash).where(
            PromptVersion.prompt_id == prompt_id, PromptVersion.version == version
        )
    ).first()
    if row is None:
        conn.execute(
            insert(PromptVersion).values(
                prompt_id=prompt_id, version=version, content_hash=content_hash, body=body
            )
        )
    elif row.content_hash != content_hash:
        raise PromptChangedWithoutNewVersion(
            f"prompt {prompt_id} {version} was registered with hash {row.content_hash[:12]}, "
            f"the file now hashes to {content_hash[:12]}: give the new text a new version"
        )


@dataclass(frozen=True)
class Price:
    id: int
    model: str
    input_micros_per_mtok: int
    output_micros_per_mtok: int
    source: str


def price_for(conn: Connection, model: str, day: dt.date) -> Price | None:
    """The model's price in force on ``day`` (the newest row effective on or before it)."""
    p = ModelPrice
    row = conn.execute(
        select(p.id, p.model, p.input_micros_per_mtok, p.output_micros_per_mtok, p.source)
        .where(p.model == model, p.effective_from <= day)
        .order_by(p.effective_from.desc())
        .limit(1)
    ).first()
    return Price(*row) if row else None


# --------------------------------------------------------------------------- AI calls


def insert_ai_call(conn: Connection, values: Mapping[str, Any]) -> int:
    result = conn.execute(insert(AiCall).values(**values).returning(AiCall.id))
    return int(result.scalar_one())


def tenant_cost_micros(conn: Connection, *, tenant_id: str, logical_date: dt.date) -> int:
    """What the tenant's AI calls for the day have cost so far."""
    return int(
        conn.execute(
            select(func.coalesce(func.sum(AiCall.cost_micros), 0)).where(
                AiCall.tenant_id == tenant_id, AiCall.logical_date == logical_date
            )
        ).scalar_one()
    )


def cost_by_campaign(
    conn: Connection, *, tenant_id: str, logical_date: dt.date | None = None
) -> dict[tuple[int, int | None], int]:
    """(account, campaign) -> cost micros of the tenant's calls (one day, or all time)."""
    a = AiCall
    stmt = (
        select(a.customer_id, a.campaign_id, func.sum(a.cost_micros))
        .where(a.tenant_id == tenant_id)
        .group_by(a.customer_id, a.campaign_id)
    )
    if logical_date is not None:
        stmt = stmt.where(a.logical_date == logical_date)
    return {(int(c), None if g is None else int(g)): int(s) for c, g, s in conn.execute(stmt)}


def cost_by_tenant(conn: Connection, *, logical_date: dt.date | None = None) -> dict[str, int]:
    a = AiCall
    stmt = select(a.tenant_id, func.sum(a.cost_micros)).group_by(a.tenant_id)
    if logical_date is not None:
        stmt = stmt.where(a.logical_date == logical_date)
    return {str(t): int(s) for t, s in conn.execute(stmt)}


# --------------------------------------------------------------------------- proposals


def replace_pending_proposals(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    rows: Sequence[Mapping[str, Any]],
) -> tuple[int, int]:
    """Delete the day's pending proposals of the account, insert ``rows``; an option that
    already has a decided proposal (approved, rejected, applied), or one ``spectra_apply`` has
    judged, keeps it. Returns
    (inserted, kept_decided)."""
    p = Proposal
    scope = and_(
        p.tenant_id == tenant_id, p.customer_id == customer_id, p.logical_date == logical_date
    )
    # a pending proposal spectra_apply has taken (judged, maybe waiting for a person) stays
    conn.execute(delete(p).where(scope, p.status == "pending", p.guardrail_status.is_(None)))
    decided = {r[0] for r in conn.execute(select(p.option_key).where(scope))}
    fresh = [dict(r) for r in rows if r["option_key"] not in decided]
    for row in fresh:
        row.update(tenant_id=tenant_id, customer_id=customer_id, logical_date=logical_date)
    if fresh:
        conn.execute(insert(p), fresh)
    return len(fresh), len(rows) - len(fresh)


def day_proposals(
    conn: Connection, *, tenant_id: str, logical_date: dt.date, customer_id: int | None = None
) -> list[dict[str, Any]]:
    """The tenant's proposals of the day (one account or all), best first per account."""
    p = Proposal
    stmt = select(*p.__table__.columns).where(
        p.tenant_id == tenant_id, p.logical_date == logical_date
    )
    if customer_id is not None:
        stmt = stmt.where(p.customer_id == customer_id)
    return _rows(conn, stmt.order_by(p.customer_id, p.rank, p.id))


def replace_rejections(
    conn: Connection,
    *,
    tenant_id: str,
    customer_id: int,
    logical_date: dt.date,
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """The day's brand-safety rejections of the account, replaced (a re-run judges anew)."""
    r = ProposalRejection
    conn.execute(
        delete(r).where(
            r.tenant_id == tenant_id, r.customer_id == customer_id, r.logical_date == logical_date
        )
    )
    if rows:
        conn.execute(
            insert(r),
            [
                {
                    **row,
                    "tenant_id": tenant_id,
                    "customer_id": customer_id,
                    "logical_date": logical_date,
                }
                for row in rows
            ],
        )


def ai_call_outcomes(
    conn: Connection, *, tenant_id: str, customer_id: int, logical_date: dt.date
) -> list[str]:
    """The outcome of every AI call made for the account's day."""
    a = AiCall
    return list(
        conn.execute(
            select(a.outcome).where(
                a.tenant_id == tenant_id,
                a.customer_id == customer_id,
                a.logical_date == logical_date,
            )
        )
        .scalars()
        .all()
    )


def applied_proposals(conn: Connection, *, tenant_id: str) -> list[Any]:
    """(prompt id, prompt version, customer id, campaign id, logical date) of every applied
    proposal of the tenant."""
    p = Proposal
    return list(
        conn.execute(
            select(
                p.prompt_id, p.prompt_version, p.customer_id, p.campaign_id, p.logical_date
            ).where(p.tenant_id == tenant_id, p.status == "applied")
        ).all()
    )


def measured_change_effects(conn: Connection, *, tenant_id: str) -> list[Any]:
    """The tenant's change-effect estimates with a difference-in-differences, oldest analysis
    first: (customer id, campaign id, change date, logical date, metric, did_pct, verdict)."""
    e = ChangeEffectRow
    return list(
        conn.execute(
            select(
                e.customer_id,
                e.campaign_id,
                e.change_date,
                e.logical_date,
                e.metric,
                e.did_pct,
                e.verdict,
            )
            .where(e.tenant_id == tenant_id, e.did_pct.is_not(None))
            .order_by(e.logical_date)
        ).all()
    )


def proposal_scopes_of_runs(
    conn: Connection, run_ids: Sequence[str]
) -> list[tuple[str, int, dt.date]]:
    """(tenant, customer id, logical date) of the proposals written by the DAG runs ``run_ids``.

    Deliberately not scoped by tenant: a run id names one daily run, which maps over every
    tenant's accounts; the apply run then works each (tenant, account, day) on its own.
    """
    p = Proposal
    rows = conn.execute(
        select(p.tenant_id, p.customer_id, p.logical_date)
        .where(p.dag_run_id.in_(sorted(run_ids)))
        .distinct()
    ).all()
    return [(str(t), int(c), d) for t, c, d in rows]
