"""`spectra campaign create --brief FILE`: a bad brief exits 2 naming every bad field and
stores nothing; the shipped example is stored in DRAFT and shown by `campaign show`/`list`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, func, select

from spectra.cli import main
from spectra.warehouse.models import LaunchBrief
from spectra.warehouse.repositories import register_account, register_tenant

EXAMPLE = Path(__file__).parents[3] / "examples" / "briefs" / "northwind-trail-running.yaml"


def test_create_from_the_command_line(
    sqlite_engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SPECTRA_DATABASE_URL", sqlite_engine.url.render_as_string())
    with sqlite_engine.begin() as conn:
        register_tenant(conn, tenant_id="demo", name="Demo")
        register_account(conn, tenant_id="demo", customer_id=1607371462)

    bad = yaml.safe_load(EXAMPLE.read_text())
    bad.update(daily_budget="-1", goal="FAME", landing_page="ftp://x")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert main(["campaign", "create", "--brief", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: 3 bad fields")
    for field in ("daily_budget", "goal", "landing_page"):
        assert f"\n  {field}: " in err
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LaunchBrief)).scalar_one() == 0

    assert main(["campaign", "create", "--brief", str(EXAMPLE), "--by", "ann"]) == 0
    out = capsys.readouterr().out
    assert "launch 1 stored" in out and "is DRAFT" in out
    assert main(["campaign", "create", "--brief", str(EXAMPLE)]) == 0
    assert "launch 1 already stored" in capsys.readouterr().out

    assert main(["campaign", "show", "1", "--tenant", "demo"]) == 0
    assert "state: DRAFT — brief validated" in capsys.readouterr().out
    assert main(["campaign", "list", "--tenant", "demo"]) == 0
    assert "DRAFT" in capsys.readouterr().out
    assert main(["campaign", "show", "1", "--tenant", "other"]) == 2


def test_approve_and_autopilot_check_the_role(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from spectra.guardrails.service import grant
    from spectra.launch.lifecycle import load_launch
    from spectra.launch.pipeline import approval_required, is_approved

    monkeypatch.setenv("SPECTRA_DATABASE_URL", sqlite_engine.url.render_as_string())
    with sqlite_engine.begin() as conn:
        register_tenant(conn, tenant_id="demo", name="Demo")
        register_account(conn, tenant_id="demo", customer_id=1607371462)
    grant(sqlite_engine, tenant_id="demo", principal="root", role="admin", by="root")
    grant(sqlite_engine, tenant_id="demo", principal="ed", role="editor", by="root")
    assert main(["campaign", "create", "--brief", str(EXAMPLE)]) == 0
    launch = load_launch(sqlite_engine, tenant_id="demo", launch_id=1)

    assert main(["campaign", "approve", "1", "--tenant", "demo", "--by", "ed"]) == 3
    assert "refused" in capsys.readouterr().err
    assert not is_approved(sqlite_engine, launch)
    assert main(["campaign", "approve", "1", "--tenant", "demo", "--by", "root"]) == 0
    assert is_approved(sqlite_engine, launch)

    assert main(["campaign", "autopilot", "on", "--tenant", "demo", "--by", "ed"]) == 3
    assert approval_required(sqlite_engine, tenant_id="demo")
    assert main(["campaign", "autopilot", "on", "--tenant", "demo", "--by", "root"]) == 0
    assert not approval_required(sqlite_engine, tenant_id="demo")
