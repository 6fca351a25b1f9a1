"""``spectra evaluate``'s loop is the DAGs' loop.

Two worlds of the same scenario and seed (each its own market, sandbox and warehouse, history
loaded by the same package function). In one, ``spectra_daily`` then ``spectra_apply`` run
through Airflow (``dag.test`` in a fresh process, connections to that world's sandbox and the
Gemini stand-in) for each of two days; in the other, ``evaluate``'s steps run for the same
days. The warehouses end the same (performance rows, quality verdicts, analytics, proposals
with their verdicts and outcomes, the apply ledger) and so do the two markets' settings.

Approvals: the run's guardrail settings let nothing wait for a person here (``dag.test`` blocks
on a Required Action); ``test_evaluate`` and the apply DAG's own test cover answering them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from support.airflow_dag import DagRun, ads_connection, gemini_connection, run_dags

from spectra.evaluation import steps
from spectra.evaluation.replay import current_budgets, keyword_bids
from spectra.evaluation.scenarios import EvalScenario
from spectra.evaluation.world import World, open_world, prepare
from spectra.sandbox.llm import LlmStandIn

# (table, columns compared, order): run ids, wall-clock stamps and surrogate ids differ by
# design between the two runs and are left out
TABLES: list[tuple[str, str, str]] = [
    ("performance_daily",
     "level, entity_id, campaign_id, ad_group_id, date, impressions, clicks, cost_micros, "
     "conversions, conversions_value_micros, reported_as_of", "level, entity_id, ad_group_id, date"),
    ("quality_runs", "logical_date, status, blocking, warnings, rows_validated, quarantined_rows, "
     "excluded_days", "logical_date"),
    ("analytics_verdicts", "*", ""),
    ("analytics_envelopes", "*", ""),
    ("proposals",
     "logical_date, option_key, kind, campaign_id, ad_group_id, criterion_id, current_value, "
     "new_value, reasoning, rank, source, status, guardrail_status, guardrail_reason, "
     "decided_by", "logical_date, option_key"),
    ("apply_changes",
     "campaign_id, entity_key, field, target, origin_kind, phase, before_value, after_value, "
     "effective_date", "effective_date, entity_key, field"),
]  # fmt: skip
VOLATILE = {"id", "run_id", "dag_run_id", "created_at", "updated_at", "computed_at", "analyzed_at"}


def _rows(engine: Engine, table: str, columns: str, order: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        if columns == "*":
            names = [
                c for c in conn.execute(text(f"SELECT * FROM {table} LIMIT 0")).keys()
                if c not in VOLATILE and not c.endswith("_at") and not c.endswith("_id_ref")
            ]  # fmt: skip
            columns = ", ".join(names)
            order = columns
        sql = f"SELECT {columns} FROM {table}" + (f" ORDER BY {order}" if order else "")
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def _settings(world: World) -> tuple[dict[Any, int], dict[int, int]]:
    last = world.days[-1]
    return keyword_bids(world.market, world.customer_id, last), current_budgets(
        world.market, world.customer_id, last
    )


@pytest.mark.slow
def test_dags_and_evaluate_leave_the_same_warehouse_and_changes(
    small_scenario: EvalScenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "guardrails.json"
    settings.write_text(
        json.dumps(
            {"approval": {"budget_increase_over": 10.0, "spend_threshold_micros": 10**15,
                          "pause_converting": False, "new_ad_copy": False}}
        )
    )  # fmt: skip
    monkeypatch.setenv("SPECTRA_GUARDRAILS_FILE", str(settings))
    days = small_scenario.horizon()
    with LlmStandIn(mode="sound") as llm:
        # evaluate's steps
        with open_world(
            small_scenario, 0, workdir=tmp_path / "evaluate", gemini_base_url=llm.base_url
        ) as world:
            prepare(world)
            logs = []
            for day in days:
                out = steps.DayLog(day)
                steps.daily(world, day, out, data_docs=True)
                steps.apply(world, day, out)
                logs.append(out)
            evaluated = {t: _rows(world.engine, t, c, o) for t, c, o in TABLES}
            evaluated_settings = _settings(world)
        assert sum(o.applied for o in logs) > 0, "the days must change something to compare"
        assert sum(o.approvals_requested for o in logs) == 0

        # the DAGs through Airflow
        url = f"sqlite:///{tmp_path / 'dags.db'}"
        with open_world(
            small_scenario, 0, workdir=tmp_path / "dags", database_url=_migrated(url)
        ) as world:
            prepare(world)
            connections = {
                "google_ads_default": ads_connection(world.server),
                "gemini_default": gemini_connection(
                    llm, project="spectra-evaluation", access_token="evaluation-token"
                ),
            }
            runs = run_dags(
                tmp_path,
                [
                    DagRun(dag_id, day.isoformat(), conf)
                    for day in days
                    for dag_id, conf in (
                        ("spectra_daily", None),
                        ("spectra_apply", {"tenant_id": world.tenant_id, "day": day.isoformat()}),
                    )
                ],
                database_url=url,
                connections=connections,
                extra_env={"SPECTRA_GUARDRAILS_FILE": str(settings)},
                timeout=900,
            )
            failed = [[ti[0] for ti in r["tis"] if ti[2] == "failed"] for r in runs]
            assert [(r["run"], f) for r, f in zip(runs, failed, strict=True)] == [
                ("success", [])
            ] * 2 * len(days), runs
            through_airflow = {t: _rows(world.engine, t, c, o) for t, c, o in TABLES}
            airflow_settings = _settings(world)

    for table, _, _ in TABLES:
        assert through_airflow[table], f"{table} is empty: nothing to compare"
        assert evaluated[table] == through_airflow[table], table
    assert evaluated_settings == airflow_settings


def _migrated(url: str) -> str:
    from spectra.warehouse.db import make_engine, migrate

    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url
