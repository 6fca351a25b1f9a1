"""One evaluation world: a scenario's market for one seed, served over the real Google Ads gRPC
API (TLS, the real ``google-ads`` client), the Gemini stand-in (``sound`` mode) for the agent,
and a warehouse of its own with the tenant registered and the account's history ingested.

Every policy gets a fresh world built from the same scenario and seed, so they face the same
market; only the settings they change differ. The warehouse is a SQLite file copied from one
migrated template per run (a file copy, not a migration, per world).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from spectra.ads.client import AdsCredentials, build_client
from spectra.evaluation.scenarios import EvalScenario
from spectra.sandbox.market import Market
from spectra.sandbox.market.scenario import scenario_from_dict
from spectra.sandbox.server import SandboxServer
from spectra.warehouse.db import make_engine, migrate, sqlite_checkpoint

TENANT = "eval"
APPROVER = "evaluation-approver"  # the run's approval policy answers as this approver
SPEND_LIMIT_FACTOR = 2  # a person's daily spend limit: twice the budget the account starts with


def migrated_template(folder: Path) -> Path:
    """A migrated, empty warehouse file to copy per world."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "template.db"
    if not path.exists():
        engine = make_engine(f"sqlite:///{path}")
        try:
            migrate(engine)
            with engine.connect() as conn:
                sqlite_checkpoint(conn)
        finally:
            engine.dispose()
    return path


@dataclass
class World:
    """What a policy acts on: the market (truth: scoring and the oracle only), the Google Ads
    client and credentials every other policy goes through, the warehouse, the agent's model."""

    scenario: EvalScenario
    seed_index: int
    market: Market
    server: SandboxServer
    creds: AdsCredentials
    client: Any
    engine: Engine
    database_url: str
    model: Any = None  # the Gemini client (spectra policy only)
    tenant_id: str = TENANT
    customer_ids: list[int] = field(default_factory=list)
    initial_budgets: dict[int, int] = field(default_factory=dict)

    @property
    def days(self) -> list[dt.date]:
        return self.scenario.horizon()

    @property
    def customer_id(self) -> int:
        return self.customer_ids[0]


def build_market(scenario: EvalScenario, seed_index: int) -> Market:
    """The seed's market; an A/A scenario's account starts (and stays) at its true optimum."""
    market = Market(scenario_from_dict(scenario.market_dict(seed_index)))
    if scenario.aa:
        start_at_optimum(market, scenario.horizon()[len(scenario.horizon()) // 2])
    return market


AA_BUDGET_HEADROOM = 3.0  # budgets three times the optimal spend: they never bind


def start_at_optimum(market: Market, day: dt.date) -> None:
    """Make the market's starting settings the truth's profit-optimal ones (keyword bids,
    target CPAs; budgets that never bind), from its first day of history on: a null world in
    which no change can earn anything, so every change is a false action. World construction
    (the harness's own use of the truth); the policies then see only the API."""
    from spectra.sandbox.market.truth import Truth

    oracle = Truth(market).oracle(day)
    st, base = market.struct, market._base_state
    optimal = oracle.keyword_bids["optimal_bid_micros"].to_numpy()
    unit = st.unit_of("keyword")
    base.keyword_bid = np.where(optimal > 0, optimal, unit).astype(np.int64)
    camps = oracle.campaigns
    smart = (camps["bidding"] == "TARGET_CPA").to_numpy()
    base.campaign_target_cpa = np.where(
        smart, camps["optimal_target_cpa_micros"].to_numpy(), base.campaign_target_cpa
    ).astype(np.int64)
    spend = camps["optimal_spend_micros"].to_numpy()
    base.campaign_budget = (
        np.maximum(np.rint(spend * AA_BUDGET_HEADROOM / 1_000_000), 1) * 1_000_000
    ).astype(np.int64)
    market._invalidate(market.history_start.toordinal(), structural=True)


@contextmanager
def open_world(
    scenario: EvalScenario,
    seed_index: int,
    *,
    workdir: Path,
    days: int | None = None,
    database_url: str | None = None,
    gemini_base_url: str | None = None,
) -> Iterator[World]:
    """Start the market for one seed and serve it; yields the world with its history loaded."""
    from spectra.agent.client import GeminiClient
    from spectra.agent.settings import GeminiSettings

    if days is not None:
        scenario = scenario.model_copy(update={"days": days})
    market = build_market(scenario, seed_index)
    workdir.mkdir(parents=True, exist_ok=True)
    if database_url is None:
        path = workdir / "spectra.db"
        shutil.copyfile(migrated_template(workdir.parent / "_template"), path)
        database_url = f"sqlite:///{path}"
    engine = make_engine(database_url)
    server = SandboxServer(market, clock=scenario.horizon()[0])
    server.start()
    try:
        creds = AdsCredentials(
            developer_token="evaluation-dev-token",
            access_token="evaluation-token",
            endpoint=server.endpoint,
            ca_cert_path=str(server.ca_cert),
            sandbox_clock=True,
        )
        model = None
        if gemini_base_url:
            model = GeminiClient(
                GeminiSettings(
                    project="spectra-evaluation",
                    location="us-central1",
                    base_url=gemini_base_url,
                    access_token="evaluation-token",
                    timeout_seconds=30,
                ),
            )
        world = World(
            scenario=scenario,
            seed_index=seed_index,
            market=market,
            server=server,
            creds=creds,
            client=build_client(creds),
            engine=engine,
            database_url=database_url,
            model=model,
            customer_ids=[int(c) for c in market.customer_ids()],
        )
        yield world
    finally:
        server.stop()
        engine.dispose()


def register(world: World) -> None:
    """The tenant and its accounts, the run's approver, autopilot on (what needs a person is
    answered by the run's approval policy and counted)."""
    from spectra.guardrails import service
    from spectra.warehouse.repositories import register_account, register_tenant

    with world.engine.begin() as conn:
        register_tenant(conn, tenant_id=world.tenant_id, name="Evaluation")
        for cid in world.customer_ids:
            register_account(conn, tenant_id=world.tenant_id, customer_id=cid)
    service.grant(
        world.engine, tenant_id=world.tenant_id, principal="evaluation", role="admin",
        by="evaluation",
    )  # fmt: skip
    service.grant(
        world.engine, tenant_id=world.tenant_id, principal=APPROVER, role="approver",
        by="evaluation",
    )  # fmt: skip
    service.set_autopilot(world.engine, tenant_id=world.tenant_id, on=True, by="evaluation")


def load_history(world: World, *, days: int | None = None) -> None:
    """Ingest the warm-up window (the scenario's ``warmup_days`` before day 1, or ``days``)
    through the real client, as a new account's first run would, and set a person's daily
    spend limits (``SPEND_LIMIT_FACTOR`` x the starting budgets) on the campaigns."""
    from spectra.domain.clock import daily_pull_instant
    from spectra.ingest.daily import ingest_account
    from spectra.warehouse.evaluation_store import cap_spend_at_budgets

    before = world.days[0] - dt.timedelta(days=1)
    for cid in world.customer_ids:
        ingest_account(
            world.engine,
            world.client,
            world.creds,
            tenant_id=world.tenant_id,
            customer_id=cid,
            logical_date=before,
            repull_days=days or world.scenario.warmup_days,
            pulled_at=daily_pull_instant(before),
        )
    with world.engine.begin() as conn:
        budgets = cap_spend_at_budgets(conn, tenant_id=world.tenant_id, factor=SPEND_LIMIT_FACTOR)
    world.initial_budgets = budgets


def prepare(world: World, *, history: bool = True) -> World:
    """Register the tenant and load the account; ``history=False`` (a policy that never reads
    the warehouse) ingests one day only: the structure and budgets the spend limits come from."""
    register(world)
    load_history(world, days=None if history else 1)
    return world
