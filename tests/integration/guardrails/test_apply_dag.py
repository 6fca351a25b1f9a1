"""``spectra_apply`` through Airflow itself (``dag.test`` in a fresh process with its own
AIRFLOW_HOME) against the sandbox: with autopilot on, a small budget change passes every
guardrail and is applied without a person; a change over the cap is rejected and never sent.
No approval is asked for, so the mapped ApprovalOperator expands over nothing and the run
still reaches apply. (Approval through the REST API needs an api-server on the same metadata
DB: not here yet.)"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from guard_support import TENANT, add_budget_evidence, register_campaigns, snapshot
from sqlalchemy import select

from spectra.ads.client import AdsCredentials
from spectra.domain.changes import ApprovedChange, EntityKind, EntityRef, Origin, OriginKind
from spectra.guardrails import service
from spectra.warehouse import models as m
from spectra.warehouse.db import make_engine, migrate

REPO = Path(__file__).resolve().parents[3]

RUN = textwrap.dedent(
    """
    import json, sys
    import pendulum
    from spectra.airflow.local import load_dag

    day = pendulum.parse(sys.argv[1])
    dag = load_dag("spectra_apply")
    run = dag.test(logical_date=day, run_conf={"changes": json.loads(sys.argv[2])})
    states = [[ti.task_id, ti.map_index, str(ti.state)] for ti in run.get_task_instances()]
    print("RESULT " + json.dumps({"run": str(run.state), "tis": states}))
    """
)


@pytest.mark.slow
def test_autopilot_applies_what_passes_and_nothing_else(
    tmp_path: Path,
    guard_market: Any,
    guard_sandbox: Any,
    guard_client: Any,
    guard_creds: AdsCredentials,
) -> None:
    url = f"sqlite:///{tmp_path / 'spectra.db'}"
    engine = make_engine(url)
    migrate(engine)
    cid = guard_market.customer_ids()[0]
    first, second = register_campaigns(engine, guard_client, guard_creds, cid)[:2]
    service.grant(engine, tenant_id=TENANT, principal="root", role="admin", by="root")
    service.set_autopilot(engine, tenant_id=TENANT, on=True, by="root")
    day = guard_market.reference_date - dt.timedelta(days=1)
    before = {c: snapshot(guard_client, guard_creds, cid, c)["campaign"] for c in (first, second)}
    add_budget_evidence(
        engine, cid, day, {c: int(before[c]["budget_micros"]) for c in (first, second)}
    )

    def item(campaign_id: int, factor: float, ref: str) -> dict[str, Any]:
        current = int(before[campaign_id]["budget_micros"])
        change = ApprovedChange(
            tenant_id=TENANT,
            customer_id=cid,
            entity=EntityRef(kind=EntityKind.CAMPAIGN, campaign_id=campaign_id),
            field="budget_micros",
            target=int(round(current * factor / 10_000)) * 10_000,
            origin=Origin(kind=OriginKind.PROPOSAL, ref=ref),
            evidence_ids=(f"envelope:{campaign_id}",),
        )
        return {"change": change.payload(), "current": current, "ref": ref}

    items = [item(first, 1.05, "p-ok"), item(second, 1.5, "p-too-far")]

    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    host, port = guard_sandbox.endpoint.rsplit(":", 1)
    connection = {
        "conn_type": "googleads",
        "host": host,
        "port": int(port),
        "login": "client-id",
        "password": "client-secret",
        "extra": {
            "developer_token": "dev-token",
            "access_token": "token",
            "ca_cert_path": str(guard_sandbox.ca_cert),
            "sandbox_clock": True,
        },
    }
    env = {
        **os.environ,
        "SPECTRA_HOME": str(tmp_path),
        "SPECTRA_DATABASE_URL": url,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW_CONN_GOOGLE_ADS_DEFAULT": json.dumps(connection),
    }
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run(
        [str(airflow), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
    )
    done = subprocess.run(
        [sys.executable, "-c", RUN, day.isoformat(), json.dumps(items)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    states = {(t, i): s for t, i, s in result["tis"]}
    assert result["run"] == "success", result
    assert states[("apply", -1)] == "success"

    after = {c: snapshot(guard_client, guard_creds, cid, c)["campaign"] for c in (first, second)}
    assert after[first]["budget_micros"] == items[0]["change"]["target"]
    assert after[second]["budget_micros"] == before[second]["budget_micros"]
    with engine.connect() as conn:
        decisions = dict(
            conn.execute(
                select(m.GuardrailDecision.candidate_ref, m.GuardrailDecision.accepted).where(
                    m.GuardrailDecision.tenant_id == TENANT
                )
            ).all()
        )
        phases = conn.execute(
            select(m.AppliedChange.origin_ref, m.AppliedChange.phase).where(
                m.AppliedChange.tenant_id == TENANT
            )
        ).all()
    assert decisions == {"p-ok": True, "p-too-far": False}
    assert [(r.origin_ref, r.phase) for r in phases] == [("p-ok", "recorded")]
