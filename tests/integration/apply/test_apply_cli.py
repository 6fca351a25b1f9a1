"""`spectra rollback`, `spectra dlq …` and `spectra audit verify` from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apply_support import TENANT, fast_config, random_changes, register_campaigns, snapshot
from sqlalchemy import Engine, update

from spectra.ads.client import AdsCredentials
from spectra.apply.executor import apply_changes
from spectra.cli import main
from spectra.warehouse.models import AuditRow


def test_rollback_dlq_and_audit_verify_commands(
    sqlite_engine: Engine,
    apply_market: Any,
    apply_client: Any,
    apply_creds: AdsCredentials,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = sqlite_engine
    creds_file = tmp_path / "ads.json"
    creds_file.write_text(
        json.dumps(
            {
                "developer_token": "dev",
                "access_token": "tok",
                "endpoint": apply_creds.endpoint,
                "ca_cert_path": apply_creds.ca_cert_path,
            }
        )
    )
    monkeypatch.setenv("SPECTRA_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("SPECTRA_ADS_CREDENTIALS", str(creds_file))
    cid = apply_market.customer_ids()[0]
    campaign = register_campaigns(engine, apply_client, apply_creds, cid)[0]
    v1 = snapshot(apply_client, apply_creds, cid, campaign)
    changes = random_changes(apply_client, apply_creds, cid, [campaign], 3, seed=1234, ref="cli")
    assert apply_changes(
        engine, apply_client, changes, creds=apply_creds, config=fast_config()
    ).counts() == {"applied": 3}
    argv = [
        "rollback",
        str(campaign),
        "--to-version",
        "1",
        "--tenant",
        TENANT,
        "--customer",
        str(cid),
    ]
    assert main(argv) == 0
    assert snapshot(apply_client, apply_creds, cid, campaign) == v1
    assert main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["dlq", "list", "--tenant", TENANT]) == 0
    assert "0 dead letter(s)" in capsys.readouterr().out
    assert main(["audit", "verify", "--tenant", TENANT]) == 0
    with engine.begin() as conn:
        conn.execute(update(AuditRow).where(AuditRow.seq == 4).values(actor="mallory"))
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "row 4: edited" in out
