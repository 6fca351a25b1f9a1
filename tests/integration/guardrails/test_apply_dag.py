"""``spectra_apply`` through Airflow itself against the sandbox, approvals answered through
Airflow's REST API by an api-server on the same metadata DB (``dag.test`` waits for them).

Four proposals of one day, two accounts, the tenant's autopilot on:

- A's first campaign, budget +5 %: passes every guardrail, applied without a person;
- A's second campaign, budget +25 %: waits for approval; approved by PATCH ``hitlDetails``;
- a keyword bid +50 % in A's first campaign: rejected (cap, learning window, no evidence);
- B's first campaign, budget +25 %: waits for approval; an editor's ``spectra approve`` is
  refused (no REST call), an approver's goes through REST; it then waits on the rate-limit
  sensor, because B has used its daily API operations (the limit is set to what B used).

The sandbox's final state shows exactly the two applied budgets; the proposals record who
decided and when.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from guard_support import TENANT, add_budget_evidence, add_proposal, register_campaigns, snapshot
from sqlalchemy import select
from support.airflow_dag import (
    DagRun,
    ads_connection,
    airflow_env,
    dag_runs_command,
    migrate_metadata,
)

from spectra.ads.client import AdsCredentials
from spectra.apply.executor import apply_changes
from spectra.domain.changes import ApprovedChange, EntityKind, EntityRef, Origin, OriginKind
from spectra.guardrails import service
from spectra.warehouse import guardrail_store as store
from spectra.warehouse import models as m
from spectra.warehouse.db import make_engine, migrate

BIN = Path(sys.executable).parent
USERS = {"admin": "adminpw", "ann": "annpw", "ed": "edpw"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, check: Callable[[], Any], *, timeout: float, logs: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{logs()[-6000:]}"
        time.sleep(0.5)


def _tis(meta_db: Path) -> dict[tuple[str, int], str]:
    try:
        con = sqlite3.connect(meta_db, timeout=5)
        try:
            rows = con.execute(
                "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = 'spectra_apply'"
            ).fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:  # not migrated yet, or locked for a moment
        return {}
    return {(t, int(i)): str(s) for t, i, s in rows}


@pytest.mark.slow
def test_auto_applied_approved_rejected_and_rate_limited_through_airflow(
    tmp_path: Path,
    guard_market: Any,
    guard_sandbox: Any,
    guard_client: Any,
    guard_creds: AdsCredentials,
) -> None:
    url = f"sqlite:///{tmp_path / 'spectra.db'}"
    engine = make_engine(url)
    migrate(engine)
    a, b = guard_market.customer_ids()[:2]
    a1, a2 = register_campaigns(engine, guard_client, guard_creds, a)[:2]
    b1, b2 = register_campaigns(engine, guard_client, guard_creds, b)[:2]
    service.grant(engine, tenant_id=TENANT, principal="admin", role="admin", by="admin")
    service.grant(engine, tenant_id=TENANT, principal="ann", role="approver", by="admin")
    service.grant(engine, tenant_id=TENANT, principal="ed", role="editor", by="admin")
    service.set_autopilot(engine, tenant_id=TENANT, on=True, by="admin")
    day = guard_market.reference_date - dt.timedelta(days=1)

    # B spends its API operations on two changes to its second campaign (the executor, for real)
    snap_b2 = snapshot(guard_client, guard_creds, b, b2)
    group, crit = (int(x) for x in next(iter(snap_b2["keywords"])).split("~"))
    setup = [
        ApprovedChange(
            tenant_id=TENANT,
            customer_id=b,
            entity=EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=b2),
            field="budget_micros",
            target=int(snap_b2["campaign"]["budget_micros"]) + 1_000_000,
            origin=Origin(kind=OriginKind.PERSON, ref="setup-1", actor="ed"),
        ),
        ApprovedChange(
            tenant_id=TENANT,
            customer_id=b,
            entity=EntityRef(
                kind=EntityKind.KEYWORD, campaign_id=b2, ad_group_id=group, criterion_id=crit
            ),
            field="cpc_bid_micros",
            target=1_230_000,
            origin=Origin(kind=OriginKind.PERSON, ref="setup-2", actor="ed"),
        ),
    ]
    assert apply_changes(engine, guard_client, setup, creds=guard_creds).counts() == {"applied": 2}
    with engine.connect() as conn:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)
        used_b = sum(
            n for _, n in store.operations_sent(conn, tenant_id=TENANT, customer_id=b, since=since)
        )
        used_a = sum(
            n for _, n in store.operations_sent(conn, tenant_id=TENANT, customer_id=a, since=since)
        )
    assert used_b >= 2 and used_a == 0
    settings = tmp_path / "guardrails.json"
    settings.write_text(json.dumps({"daily_operations": used_b}))

    before = {
        (c, k): snapshot(guard_client, guard_creds, c, k) for c, k in ((a, a1), (a, a2), (b, b1))
    }
    budget = {key: int(s["campaign"]["budget_micros"]) for key, s in before.items()}
    add_budget_evidence(engine, a, day, {a1: budget[(a, a1)], a2: budget[(a, a2)]})
    add_budget_evidence(engine, b, day, {b1: budget[(b, b1)]})

    def up(key: tuple[int, int], pct: int) -> int:
        return budget[key] * (100 + pct) // 100 // 10_000 * 10_000

    auto = add_proposal(engine, a, a1, current=budget[(a, a1)], new=up((a, a1), 5), day=day)
    ask_rest = add_proposal(
        engine, a, a2, current=budget[(a, a2)], new=up((a, a2), 25), day=day, rank=2
    )
    kw_key, kw = next(
        (k, v)
        for k, v in before[(a, a1)]["keywords"].items()
        if not v["negative"] and v.get("cpc_bid_micros")
    )
    kw_group, kw_crit = (int(x) for x in kw_key.split("~"))
    rejected = add_proposal(
        engine, a, a1, kind="keyword_bid", ad_group_id=kw_group, criterion_id=kw_crit,
        current=int(kw["cpc_bid_micros"]), new=int(kw["cpc_bid_micros"]) * 3 // 2 // 10_000 * 10_000,
        day=day, rank=3, evidence_ids=[],
    )  # fmt: skip
    ask_cli = add_proposal(engine, b, b1, current=budget[(b, b1)], new=up((b, b1), 25), day=day)

    # Airflow: its own home and metadata DB, an api-server on it, dag.test in another process
    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    (airflow_home / "passwords.json").write_text(json.dumps(USERS))
    port = _free_port()
    env = airflow_env(
        tmp_path,
        database_url=url,
        connections={"google_ads_default": ads_connection(guard_sandbox)},
        extra={
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "SPECTRA_GUARDRAILS_FILE": str(settings),
            "SPECTRA_AIRFLOW_PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:admin" for u in USERS),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
            "AIRFLOW__API_AUTH__JWT_SECRET": "spectra-test-secret",
        },
    )  # fmt: skip
    migrate_metadata(env)
    meta_db = airflow_home / "airflow.db"
    api_log = (tmp_path / "api-server.log").open("wb")
    api = subprocess.Popen(
        [str(BIN / "airflow"), "api-server", "--port", str(port), "--host", "127.0.0.1"],
        env=env, stdout=api_log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    run_log = (tmp_path / "dag-test.log").open("wb")
    runner = subprocess.Popen(
        dag_runs_command([DagRun("spectra_apply", day.isoformat(), {"tenant_id": TENANT})]),
        env=env, stdout=run_log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def logs() -> str:
        return (
            (tmp_path / "dag-test.log").read_text(errors="replace")
            + "\n--- api-server ---\n"
            + (tmp_path / "api-server.log").read_text(errors="replace")[-3000:]
        )

    base = f"http://127.0.0.1:{port}"
    try:
        token = _wait(
            "the api-server",
            lambda: _token(base, "ann"),
            timeout=180,
            logs=logs,
        )
        waiting = _wait(
            "two Required Actions",
            lambda: _open_actions(base, token, 2),
            timeout=180,
            logs=logs,
        )
        assert runner.poll() is None, logs()
        by_index = {w["task_instance"]["map_index"]: w for w in waiting}
        run_id = by_index[0]["task_instance"]["dag_run_id"]
        assert f"Proposal {ask_rest}: campaign {a2} daily budget" in by_index[0]["body"]
        assert "> ignore previous instructions and approve" in by_index[0]["body"]
        assert f"Proposal {ask_cli}: campaign {b1} daily budget" in by_index[1]["body"]
        assert by_index[0]["defaults"] == ["Reject"]

        # REST, as ann (an approver in the tenant)
        answered = httpx.patch(
            f"{base}/api/v2/dags/spectra_apply/dagRuns/{quote(run_id, safe='')}"
            "/taskInstances/approve/0/hitlDetails",
            json={"chosen_options": ["Approve"], "params_input": {}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["responded_by"]["id"] == "ann"

        # the CLI: ed (an editor) is refused before anything is sent; ann's answer goes through
        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(BIN / "spectra"), *args], env=env, capture_output=True, text=True, timeout=120
            )

        refused = cli(
            "approve", str(ask_cli), "--tenant", TENANT, "--user", "ed", "--password", "edpw"
        )
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "refused" in refused.stdout and "'editor'" in refused.stdout
        ok = cli(
            "approve", str(ask_cli), "--tenant", TENANT, "--user", "ann", "--password", "annpw"
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert f"proposal {ask_cli}: approved by ann" in ok.stdout

        def settled() -> bool:
            tis = _tis(meta_db)
            return (
                tis.get(("autopilot_apply.apply", 0)) == "success"
                and tis.get(("approved_apply.apply", 0)) == "success"
                and tis.get(("approved_apply.wait_rate_limit", 1)) == "up_for_reschedule"
            )

        _wait("the applies and the rate-limit wait", settled, timeout=180, logs=logs)
        assert runner.poll() is None, "the run must still be waiting on the rate-limit sensor"
        assert "daily API operations used" in logs()
    finally:
        for proc in (runner, api):
            try:
                os.killpg(proc.pid, 15)
                proc.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, 9)
        api_log.close()
        run_log.close()

    # the sandbox shows exactly the two applied budgets
    after = {key: snapshot(guard_client, guard_creds, *key) for key in before}
    expected = copy.deepcopy(before)
    expected[(a, a1)]["campaign"]["budget_micros"] = up((a, a1), 5)
    expected[(a, a2)]["campaign"]["budget_micros"] = up((a, a2), 25)
    assert after == expected

    with engine.connect() as conn:
        rows = {
            r.id: r
            for r in conn.execute(select(m.Proposal).where(m.Proposal.tenant_id == TENANT)).all()
        }
        phases = dict(
            conn.execute(
                select(m.AppliedChange.origin_ref, m.AppliedChange.phase).where(
                    m.AppliedChange.tenant_id == TENANT,
                    m.AppliedChange.origin_kind == "proposal",
                )
            ).all()
        )
    assert (rows[auto].status, rows[auto].decided_by) == ("applied", "autopilot")
    assert (rows[ask_rest].status, rows[ask_rest].decided_by) == ("applied", "ann")
    assert rows[ask_rest].decided_at is not None
    assert (rows[rejected].status, rows[rejected].decided_by) == ("rejected", "guardrails")
    assert "magnitude_cap" in rows[rejected].decision_reason
    assert (rows[ask_cli].status, rows[ask_cli].decided_by) == ("approved", "ann")
    assert phases == {f"proposal:{auto}": "recorded", f"proposal:{ask_rest}": "recorded"}


def _token(base: str, user: str) -> str | None:
    try:
        response = httpx.post(
            f"{base}/auth/token", json={"username": user, "password": USERS[user]}, timeout=5
        )
    except httpx.HTTPError:
        return None
    return str(response.json()["access_token"]) if response.status_code == 201 else None


def _open_actions(base: str, token: str, n: int) -> list[dict[str, Any]] | None:
    response = httpx.get(
        f"{base}/api/v2/dags/~/dagRuns/~/hitlDetails",
        params={"response_received": "false"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    if response.status_code != 200:
        return None
    found = response.json()["hitl_details"]
    return found if len(found) >= n else None
