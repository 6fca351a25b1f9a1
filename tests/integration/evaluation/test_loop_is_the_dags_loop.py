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
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from spectra.evaluation import steps
from spectra.evaluation.replay import current_budgets, keyword_bids
from spectra.evaluation.scenarios import EvalScenario
from spectra.evaluation.world import World, open_world, prepare
from spectra.sandbox.llm import LlmStandIn

REPO = Path(__file__).resolve().parents[3]

RUN = textwrap.dedent(
    """
    import json, sys
    import pendulum
    from spectra.airflow.local import load_dag

    daily, apply = load_dag("spectra_daily"), load_dag("spectra_apply")
    states = []
    for day in sys.argv[2:]:
        for dag, conf in ((daily, None), (apply, {"tenant_id": sys.argv[1], "day": day})):
            run = dag.test(logical_date=pendulum.parse(day), run_conf=conf)
            failed = [ti.task_id for ti in run.get_task_instances() if str(ti.state) == "failed"]
            states.append([dag.dag_id, day, str(run.state), failed])
    print("RESULT " + json.dumps(states))
    """
)

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
            host, port = world.server.endpoint.rsplit(":", 1)
            env = _airflow_env(tmp_path, url, host, int(port), str(world.server.ca_cert), llm.port)
            env["SPECTRA_GUARDRAILS_FILE"] = str(settings)
            airflow = Path(sys.executable).with_name("airflow")
            subprocess.run(
                [str(airflow), "db", "migrate"], env=env, check=True, capture_output=True,
                timeout=300,
            )  # fmt: skip
            done = subprocess.run(
                [sys.executable, "-c", RUN, world.tenant_id, *(d.isoformat() for d in days)],
                env=env, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
            assert lines, done.stdout[-3000:] + done.stderr[-5000:]
            runs = json.loads(lines[-1].removeprefix("RESULT "))
            assert [(r[2], r[3]) for r in runs] == [("success", [])] * 2 * len(days), runs
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


def _airflow_env(
    tmp: Path, url: str, host: str, port: int, ca_cert: str, llm_port: int
) -> dict[str, str]:
    home = tmp / "airflow"
    home.mkdir(exist_ok=True)
    ads = {
        "conn_type": "googleads", "host": host, "port": port,
        "login": "client-id", "password": "client-secret",
        "extra": {"developer_token": "evaluation-dev-token", "access_token": "evaluation-token",
                  "ca_cert_path": ca_cert, "sandbox_clock": True},
    }  # fmt: skip
    gemini = {
        "conn_type": "gemini", "host": "http://127.0.0.1", "port": llm_port,
        "extra": {"project": "spectra-evaluation", "location": "us-central1",
                  "access_token": "evaluation-token"},
    }  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "SPECTRA_HOME": str(tmp),
            "SPECTRA_DATABASE_URL": url,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW_CONN_GOOGLE_ADS_DEFAULT": json.dumps(ads),
            "AIRFLOW_CONN_GEMINI_DEFAULT": json.dumps(gemini),
        }
    )
    return env
