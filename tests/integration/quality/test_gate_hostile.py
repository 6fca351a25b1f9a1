"""Ingest and the gate under hostile data, on SQLite and PostgreSQL, over a warehouse that
already holds clean earlier days (issue 12).

Each test validates a clean day first (the warehouse then holds 30 clean days, and the
account's settings are pinned), then serves a fault for a day inside both windows through the
sandbox, the real client and ingest, and validates the next day. It checks that every row the
server sent is written or held with its reason (none unaccounted, none both), that every
earlier good value survives in what analytics reads, and the verdict and its message.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from quality_defects import (
    CurrencyChange,
    DefectMarket,
    DropCampaignDay,
    SetField,
    clicks_over_impressions,
    negative_cost,
)
from quality_gate import REPULL, TENANT, Gate
from sqlalchemy import func, select
from support.accounting import Accounting, account_for, clean_snapshot, served_rows

from spectra.cli import main as cli_main
from spectra.domain.windows import ingest_window
from spectra.ingest.daily import planned_pulls
from spectra.quality.checks import GateStatus
from spectra.quality.runner import GateOutcome
from spectra.sandbox.chaos import HOSTILE_TEXT, Chaos, ChaosConfig
from spectra.warehouse import models as m

BAD_DAY_BACK = 3  # the fault's day, days before the logical date: in both windows


def failed(outcome: GateOutcome) -> set[str]:
    return {o.key for o in outcome.expectations if not o.success}


@dataclass
class Hostile:
    """A warehouse with clean earlier days, then one hostile pull and its validation."""

    gate: Gate
    market: DefectMarket
    account: int
    day: dt.date
    before: dict[tuple[Any, ...], Any]

    @property
    def bad_day(self) -> dt.date:
        return self.day - dt.timedelta(days=BAD_DAY_BACK)

    def run(self, *defects: Any) -> tuple[GateOutcome, Accounting, dict[tuple[Any, ...], Any]]:
        self.market.defects.extend(defects)
        outcome = self.gate.run(self.account, self.day)
        served = served_rows(self.gate.client, self.gate.creds, self.account, self.day, REPULL)
        accounting = account_for(
            self.gate.engine,
            served,
            tenant_id=TENANT,
            customer_id=self.account,
            logical_date=self.day,
            repull_days=REPULL,
        )
        assert accounting.unaccounted == [], accounting.unaccounted[:3]
        assert accounting.both == [], accounting.both[:3]
        after = clean_snapshot(self.gate.engine, TENANT, self.account)
        return outcome, accounting, after

    def assert_earlier_values_survive(
        self, after: dict[tuple[Any, ...], Any], *, kept: set[tuple[Any, ...]] = frozenset()
    ) -> None:
        """Every key analytics saw before is still there; ``kept`` keys with the old value."""
        lost = [key for key in self.before if key not in after]
        assert lost == [], lost[:5]
        for key in kept:
            assert after[key] == self.before[key], key


@pytest.fixture
def hostile(
    gate_any_backend: Gate, defect_market: DefectMarket, account: int, ref_day: dt.date
) -> Hostile:
    earlier = ref_day - dt.timedelta(days=1)
    first = gate_any_backend.run(account, earlier)
    assert first.status is GateStatus.PASS, first.blocking + first.warnings
    before = clean_snapshot(gate_any_backend.engine, TENANT, account)
    return Hostile(gate_any_backend, defect_market, account, ref_day, before)


def held_keys(h: Hostile, check_prefix: str) -> set[tuple[Any, ...]]:
    q = m.QualityQuarantine
    with h.gate.engine.connect() as conn:
        rows = conn.execute(
            select(q.level, q.entity_id, q.ad_group_id, q.date).where(
                q.stage == "ingest",
                q.logical_date == h.day,
                q.active.is_(True),
                q.check_name.like(f"{check_prefix}%"),
                q.source_table == "performance_daily",
            )
        ).all()
    return {("perf", r.level, r.entity_id, r.ad_group_id or 0, r.date) for r in rows}


# ----------------------------------------------------------------------------- item 1


def test_a_block_defect_over_a_stored_good_row_blocks_for_itself_only(hostile: Hostile) -> None:
    """The held row replaces its stored version in the batch on both backends: no false
    ``keys_unique``, and the stored good row stays visible (SQLite compared ISO strings with
    date objects and flagged both)."""
    outcome, accounting, after = hostile.run(negative_cost(hostile.account, hostile.bad_day))
    assert outcome.status is GateStatus.BLOCK
    assert "perf.non_negative:cost_micros" in failed(outcome)
    assert "perf.keys_unique" not in failed(outcome), outcome.blocking
    assert outcome.blocking[0].startswith("perf.non_negative:cost_micros")
    assert accounting.held == {"keyword_performance": 1}
    kept = held_keys(hostile, "perf.non_negative")
    assert len(kept) == 1 and kept <= set(hostile.before)
    hostile.assert_earlier_values_survive(after, kept=kept)
    with hostile.gate.engine.connect() as conn:
        q = m.QualityQuarantine
        assert conn.scalar(select(func.count()).where(q.stage == "validate")) == 0


# ----------------------------------------------------------------------------- item 2


@pytest.mark.parametrize(
    ("make", "check"),
    [
        pytest.param(clicks_over_impressions, "perf.clicks_le_impressions", id="clicks>impr"),
        pytest.param(
            lambda c, d: SetField(c, (d,), values={"metrics.impressions": 0}),
            "perf.clicks_le_impressions",
            id="no-impressions-with-clicks",
        ),
        pytest.param(
            lambda c, d: SetField(
                c,
                (d,),
                values={
                    "metrics.clicks": 1,
                    "metrics.impressions": 100,
                    "metrics.cost_micros": 900_000_000,
                },
            ),
            "perf.cpc_plausible",
            id="absurd-cpc",
        ),
    ],
)
def test_a_warn_defect_keeps_the_last_good_version(
    hostile: Hostile, make: Callable[[int, dt.date], Any], check: str
) -> None:
    """The flagged row is held at ingest (stage ``ingest``, severity warn, its reason) and the
    stored good version stays what analytics reads; the verdict is warn, never block."""
    outcome, accounting, after = hostile.run(make(hostile.account, hostile.bad_day))
    assert outcome.status is GateStatus.WARN, outcome.blocking
    assert check in failed(outcome)
    assert any(w.startswith(check) for w in outcome.warnings), outcome.warnings
    assert accounting.held == {"keyword_performance": 1}
    kept = held_keys(hostile, check)
    assert len(kept) == 1 and kept <= set(hostile.before)
    hostile.assert_earlier_values_survive(after, kept=kept)
    reasons = accounting.reasons["keyword_performance"]
    assert any(" above " in r for r in reasons), reasons


# ----------------------------------------------------------------------------- item 3

INT64_MAX = 2**63 - 1


@pytest.mark.parametrize("clicks", [5, 0], ids=["with-clicks", "no-clicks"])
def test_an_impossible_cost_is_held_and_sums_stay_exact(hostile: Hostile, clicks: int) -> None:
    outcome, accounting, after = hostile.run(
        SetField(
            hostile.account,
            (hostile.bad_day,),
            values={"metrics.cost_micros": INT64_MAX, "metrics.clicks": clicks},
        )
    )
    assert outcome.status is GateStatus.BLOCK
    assert "perf.within_bounds:cost_micros" in failed(outcome)
    assert any(
        "perf.within_bounds:cost_micros" in b and str(INT64_MAX) in b for b in outcome.blocking
    )
    assert accounting.held == {"keyword_performance": 1}
    kept = held_keys(hostile, "perf.within_bounds")
    hostile.assert_earlier_values_survive(after, kept=kept)
    p = m.PerformanceDaily
    with hostile.gate.engine.connect() as conn:
        total = conn.scalar(select(func.sum(p.cost_micros)).where(p.customer_id == hostile.account))
        biggest = conn.scalar(select(func.max(p.cost_micros)))
    assert 0 < total < 2**53 and biggest < 2**53


def test_a_cost_far_beyond_the_accounts_history_is_a_held_warning(hostile: Hostile) -> None:
    """Below every ceiling, but 10^4 times anything the account spent on one keyword."""
    with hostile.gate.engine.connect() as conn:
        top = conn.scalar(
            select(func.max(m.PerformanceDaily.cost_micros)).where(
                m.PerformanceDaily.level == "keyword"
            )
        )
    cost = max(top, 10**9) * 10_000
    outcome, accounting, after = hostile.run(
        SetField(
            hostile.account,
            (hostile.bad_day,),
            values={"metrics.cost_micros": cost, "metrics.clicks": 0},
        )
    )
    assert outcome.status is GateStatus.WARN, outcome.blocking
    assert "perf.history_plausible:cost_micros" in failed(outcome)
    assert accounting.held == {"keyword_performance": 1}
    hostile.assert_earlier_values_survive(after, kept=held_keys(hostile, "perf.history"))


# ----------------------------------------------------------------------------- item 4


def test_hostile_text_is_held_with_its_reason_the_same_on_both_backends(
    hostile: Hostile, caplog: pytest.LogCaptureFixture
) -> None:
    """The sandbox's fault injection rewrites, at the gRPC layer, one search term per slice
    and one keyword text to 10 000 characters with NUL, C0 controls and a bidi override: the
    screen holds each such row with its reason (PostgreSQL no longer aborts the account-day
    in COPY), the rest of the day is written, the verdict is warn on both backends, and
    nothing raw reaches the log."""
    caplog.set_level(logging.INFO)
    chaos = Chaos(ChaosConfig(methods=("GoogleAdsService/SearchStream",), hostile_text=1.0))
    chaos.install(hostile.gate.sandbox.state)
    outcome, accounting, after = hostile.run()
    slices = sum(1 for name, _ in planned_pulls(*ingest_window(hostile.day, REPULL)[:2])
                 if name == "search_terms")  # fmt: skip
    assert {i.detail.split(" ")[0] for i in chaos.injected} == {
        "search_term_view.search_term",
        "ad_group_criterion.keyword.text",
    }
    assert outcome.status is GateStatus.WARN, outcome.blocking
    assert {"st.text_valid:search_term", "struct.text_valid:text"} <= failed(outcome)
    assert accounting.held == {"search_terms": slices, "keywords": 1}
    assert accounting.written["search_terms"] > 10 and accounting.written["keywords"] > 10
    for reasons in accounting.reasons.values():
        assert all("U+202E" in r and f"{len(HOSTILE_TEXT)} characters" in r for r in reasons), (
            reasons
        )
        assert all("\u202e" not in r and "\x00" not in r for r in reasons)
    hostile.assert_earlier_values_survive(after)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "\u202e" not in logged and "\x00" not in logged and "\x1b" not in logged
    assert any(w.startswith("st.text_valid:search_term") for w in outcome.warnings)
    with hostile.gate.engine.connect() as conn:
        longest = conn.scalar(select(func.max(func.length(m.SearchTermDaily.search_term))))
        spelled = conn.scalars(
            select(m.QualityQuarantine.search_term).where(
                m.QualityQuarantine.search_term.is_not(None)
            )
        ).all()
    assert longest <= 512
    assert spelled and all("\\u202e" in t and "\x00" not in t for t in spelled)


def test_hostile_names_are_held_and_the_stored_names_stay(hostile: Hostile) -> None:
    """A campaign's, an ad group's and the account's name rewritten at the gRPC layer to
    10 000 characters with controls: each row is held with its reason (PostgreSQL stores at
    most 255 and would otherwise abort the account's load), the names stored from the clean
    day stay, and every other row of the pull is written."""
    names = ("campaign.name", "ad_group.name", "customer.descriptive_name")
    chaos = Chaos(
        ChaosConfig(methods=("GoogleAdsService/SearchStream",), hostile_text=1.0, text_fields=names)
    )
    with hostile.gate.engine.connect() as conn:
        stored_before = {
            "campaigns": dict(conn.execute(select(m.Campaign.campaign_id, m.Campaign.name)).all()),
            "ad_groups": dict(conn.execute(select(m.AdGroup.ad_group_id, m.AdGroup.name)).all()),
        }
    chaos.install(hostile.gate.sandbox.state)
    outcome, accounting, after = hostile.run()
    assert {i.detail.split(" ")[0] for i in chaos.injected} == set(names)
    assert {"struct.text_valid:name", "account.text_valid:descriptive_name"} <= failed(outcome), (
        failed(outcome)
    )
    assert accounting.written["keywords"] > 10 and accounting.written["search_terms"] > 10
    q = m.QualityQuarantine
    with hostile.gate.engine.connect() as conn:
        held = conn.execute(
            select(q.source_table, q.check_name, q.reason).where(
                q.stage == "ingest", q.logical_date == hostile.day, q.active.is_(True)
            )
        ).all()
    assert sorted(r.source_table for r in held) == ["ad_accounts", "ad_groups", "campaigns"], held
    assert all(f"{len(HOSTILE_TEXT)} characters" in r.reason for r in held), held
    assert all("\u202e" not in r.reason and "\x00" not in r.reason for r in held)
    hostile.assert_earlier_values_survive(after)
    with hostile.gate.engine.connect() as conn:
        longest = max(
            conn.scalar(select(func.max(func.length(m.Campaign.name)))),
            conn.scalar(select(func.max(func.length(m.AdGroup.name)))),
            conn.scalar(select(func.max(func.length(m.AdAccount.descriptive_name)))),
        )
        assert longest <= 255
        assert (
            dict(conn.execute(select(m.Campaign.campaign_id, m.Campaign.name)).all())
            == (stored_before["campaigns"])
        )
        assert (
            dict(conn.execute(select(m.AdGroup.ad_group_id, m.AdGroup.name)).all())
            == (stored_before["ad_groups"])
        )


# ----------------------------------------------------------------------------- item 5


def test_a_currency_change_is_held_until_a_person_accepts_it(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """USD -> EUR: the gate blocks and ingest does not relabel the account (its history keeps
    reading as USD); the message says what is pinned and how to accept; after
    ``spectra account accept`` the account is EUR and the re-run passes the settings checks."""
    a = m.AdAccount
    outcome, _, after = hostile.run(CurrencyChange(hostile.account, currency="EUR"))
    assert outcome.status is GateStatus.BLOCK
    assert "account.currency_expected" in failed(outcome)
    message = next(b for b in outcome.blocking if b.startswith("account.currency_expected"))
    accept = f"spectra account accept --tenant {TENANT} --customer {hostile.account}"
    assert "'EUR'" in message and "pinned USD" in message and accept in message
    with hostile.gate.engine.connect() as conn:
        assert conn.scalar(select(a.currency_code).where(a.customer_id == hostile.account)) == "USD"
    hostile.assert_earlier_values_survive(after)

    monkeypatch.setenv("SPECTRA_DATABASE_URL", hostile.gate.engine.url.render_as_string(False))
    assert cli_main(["account", "accept", "--tenant", TENANT, "--customer",
                     str(hostile.account), "--by", "ann"]) == 0  # fmt: skip
    assert "USD -> EUR" in capsys.readouterr().out
    with hostile.gate.engine.connect() as conn:
        assert conn.scalar(select(a.currency_code).where(a.customer_id == hostile.account)) == "EUR"
        pin = conn.execute(select(m.AccountExpectation)).one()
        audited = conn.scalar(
            select(func.count()).where(m.AuditRow.action == "account_settings_accepted")
        )
    assert (pin.currency_code, pin.source) == ("EUR", "accepted") and audited == 1
    rerun = hostile.gate.run(hostile.account, hostile.day)
    assert "account.currency_expected" not in failed(rerun), rerun.blocking
    # nothing is waiting any more: a second accept says so
    assert cli_main(["account", "accept", "--tenant", TENANT, "--customer",
                     str(hostile.account), "--by", "ann"]) == 1  # fmt: skip


# ----------------------------------------------------------------------------- item 6


def test_a_repull_that_loses_a_campaign_day_warns_and_keeps_the_stored_numbers(
    hostile: Hostile, market: Any
) -> None:
    campaign = next(
        k[2]
        for k in hostile.before
        if k[0] == "perf" and k[1] == "campaign" and k[4] == hostile.bad_day
    )
    outcome, _, after = hostile.run(
        DropCampaignDay(hostile.account, (hostile.bad_day,), campaign_id=campaign)
    )
    assert outcome.status is GateStatus.WARN, outcome.blocking
    warning = next(w for w in outcome.warnings if w.startswith("perf.repull_complete"))
    assert f"campaign {campaign} has no row for {hostile.bad_day}" in warning
    assert "the stored numbers are kept" in warning
    lost = {
        k
        for k in hostile.before
        if k[0] == "perf" and k[4] == hostile.bad_day and campaign_of(hostile, k) == campaign
    }
    assert ("perf", "campaign", campaign, 0, hostile.bad_day) in lost
    hostile.assert_earlier_values_survive(after, kept=lost)


def campaign_of(h: Hostile, key: tuple[Any, ...]) -> int | None:
    """The campaign of a clean-snapshot performance key (campaign rows: the entity)."""
    if key[0] != "perf":
        return None
    if key[1] == "campaign":
        return key[2]
    p = m.PerformanceDaily
    with h.gate.engine.connect() as conn:
        return conn.scalar(
            select(p.campaign_id).where(
                p.level == key[1], p.entity_id == key[2], p.ad_group_id == key[3], p.date == key[4]
            )
        )
