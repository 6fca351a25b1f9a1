"""End to end, as a user sees it: `spectra demo` runs spectra_daily through Airflow's scheduler
(a backfill) against the sandbox, then a browser walks the Airflow UI.

One `airflow standalone` (own AIRFLOW_HOME, warehouse, TLS files and free loopback ports) serves
the whole module: the demo finds it answering and backfills through it, then headless Chromium
(Debian's `/usr/bin/chromium`, driven by Playwright; no browser download) logs in and checks
what the issue promises: the run is a backfill run with the timetable's logical date, its note
and the validate task's log say WARN for the account with the tracking outage, the Data Docs
page of that day opens from the run and renders its tables (offline: every request that leaves
the server is refused), and the Google Ads connection's edit form shows its fields.
Screenshots land in ``var/test-artifacts/browser/`` (gitignored).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from spectra.airflow.local import AirflowClient

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "var" / "test-artifacts" / "browser"
# Chromium on this kind of machine: no sandbox (root), no GPU, nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_DAYS = 2


def _free_port(span: int = 1) -> int:
    """A loopback port with ``span - 1`` free ports above it (Airflow's log servers)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + span > 65535:
            continue
        free = True
        for other in range(port + 1, port + span):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", other))
                except OSError:
                    free = False
        if free:
            return port
    raise RuntimeError("no free port range")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Airflow standalone up, then `spectra demo` through it; yields what the tests read."""
    tmp = tmp_path_factory.mktemp("ui")
    home = tmp / "home"
    home.mkdir()
    shutil.copy(ROOT / "airflow_settings.yaml", home / "airflow_settings.yaml")
    airflow_home = tmp / "airflow"
    port = _free_port(span=3)
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "SPECTRA_HOME": str(home),
        "SPECTRA_SANDBOX_PORT": str(_free_port()),
        "SPECTRA_LLM_PORT": str(_free_port()),  # the Gemini stand-in, served by the sandbox
        "SPECTRA_AIRFLOW_PORT": str(port),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
    }
    for key in list(env):
        # The suite's own Airflow settings (the Makefile's) must not leak into this stack.
        if key.startswith("AIRFLOW__") and key not in {
            "AIRFLOW__CORE__DAGS_FOLDER",
            "AIRFLOW__CORE__PLUGINS_FOLDER",
            "AIRFLOW__CORE__LOAD_EXAMPLES",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        }:
            env.pop(key)
    for key in ("SPECTRA_DATABASE_URL", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"):
        env.pop(key, None)
    migrate = subprocess.run(
        [str(BIN / "spectra"), "airflow", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    url = f"http://127.0.0.1:{port}"
    log = (tmp / "standalone.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "spectra"), "airflow", "standalone"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_ready(AirflowClient(url, password="admin"), server, tmp / "standalone.log")
        demo = subprocess.run(
            [str(BIN / "spectra"), "demo", "--days", str(DEMO_DAYS)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert demo.returncode == 0, (demo.stdout[-4000:], demo.stderr[-3000:])
        yield {"env": env, "url": url, "home": home, "airflow_home": airflow_home, "demo": demo}
    finally:
        try:
            os.killpg(server.pid, 15)
            server.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, 9)
        log.close()


def _wait_ready(client: AirflowClient, server: subprocess.Popen[bytes], log: Path) -> None:
    """Ready as `spectra up` means it: UI answers, scheduler healthy, DAG parsed."""
    deadline = time.monotonic() + 300
    while not client.ready("spectra_daily"):
        assert server.poll() is None, log.read_text()[-4000:]
        assert time.monotonic() < deadline, log.read_text()[-4000:]
        time.sleep(2)


@pytest.mark.slow
def test_demo_through_the_scheduler_and_the_ui_a_user_walks(stack: dict[str, object]) -> None:
    demo = stack["demo"]
    assert isinstance(demo, subprocess.CompletedProcess)
    out = demo.stdout
    home, airflow_home, url = (
        Path(str(stack["home"])),
        Path(str(stack["airflow_home"])),
        stack["url"],
    )

    # --- the demo: backfill runs through the scheduler, findings per account at the end
    assert f"{DEMO_DAYS}/{DEMO_DAYS} runs succeeded" in out
    assert "What Spectra found" in out
    assert "Tracking outage:" in out and "excluded from analytics" in out
    assert "Caught by the run for" in out
    assert "Budget envelope" in out and "Lag completion, last 7 days" in out
    assert f"{url}/spectra/docs/spectra/days/" in out
    assert "## Proposals for" in out and " proposals" in out and "why: " in out
    # the acting half: spectra_apply judged them; the accepted ones wait in Required Actions
    assert "## What spectra_apply did with them" in out
    assert "proposal(s) wait for a person" in out and "spectra approve " in out

    meta = sqlite3.connect(airflow_home / "airflow.db")
    runs = meta.execute(
        "SELECT run_id, run_type, logical_date, start_date, end_date, state FROM dag_run "
        "WHERE dag_id = 'spectra_daily' ORDER BY logical_date"
    ).fetchall()
    assert len(runs) == DEMO_DAYS
    for _, run_type, logical, start, end, state in runs:
        assert (run_type, state) == ("backfill", "success")
        assert " 06:00:00" in logical  # the timetable's logical date, not midnight
        assert start > logical and end > start  # wall-clock timestamps, not the logical date
    last_run_id, last_logical = runs[-1][0], runs[-1][2]
    day = last_logical[:10]
    warehouse = sqlite3.connect(home / "var" / "spectra.db")
    warned = warehouse.execute(
        "SELECT customer_id FROM quality_runs WHERE logical_date = ? AND status = 'warn'", (day,)
    ).fetchall()
    assert len(warned) == 1, "the demo market has one account with a tracking outage"
    warned_id = warned[0][0]
    # Real task logs on disk; the warned account's validate log is short and says WARN.
    run_logs = [
        p for p in (airflow_home / "logs").rglob("*.log") if f"run_id={last_run_id}" in str(p)
    ]
    tasks = {part for p in run_logs for part in p.parts if part.startswith("task_id=")}
    assert {"task_id=ingest", "task_id=validate", "task_id=analyze", "task_id=propose"} <= tasks
    validate_logs = [p.read_text() for p in run_logs if "task_id=validate" in str(p)]
    (warn_log,) = [t for t in validate_logs if "QUALITY GATE WARN" in t]
    assert len(warn_log.splitlines()) < 60, "GX's INFO chatter is back in the validate log"
    analyze_logs = [p.read_text() for p in run_logs if "task_id=analyze" in str(p)]
    assert all("Budget envelope" in t for t in analyze_logs)

    # --- `spectra report`: the full tables, as JSON
    report = subprocess.run(
        [str(BIN / "spectra"), "report", "--day", day, "--account", str(warned_id),
         "--format", "json"],
        env=stack["env"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    parsed = json.loads(report.stdout)
    (account,) = parsed["accounts"]
    assert account["customer_id"] == warned_id and account["gate"][0]["status"] == "warn"
    assert [o["date"] for o in account["outages"]] and account["budgets"]

    # --- the plugin checks Airflow's token itself
    page = f"{url}/spectra/docs/spectra/days/{day}.html"
    assert httpx.get(page, timeout=30).status_code == 401
    token = httpx.post(
        f"{url}/auth/token", json={"username": "admin", "password": "admin"}, timeout=30
    ).json()["access_token"]
    assert httpx.get(page, headers={"Authorization": "Bearer x"}, timeout=30).status_code in (
        401,
        403,
    )
    assert (
        httpx.get(page, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 200
    )

    waiting = httpx.get(
        f"{url}/api/v2/dags/~/dagRuns/~/hitlDetails",
        params={"response_received": "false"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()["hitl_details"]
    assert waiting and {w["task_instance"]["dag_id"] for w in waiting} == {"spectra_apply"}
    assert all(w["task_instance"]["state"] == "awaiting_input" for w in waiting)
    assert all(w["defaults"] == ["Reject"] for w in waiting)

    _walk_the_ui(str(url), last_run_id, day, f"demo/{warned_id}")


def _walk_the_ui(url: str, run_id: str, day: str, warned: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing and could not be installed (make test runs "
            "`apt-get install -y chromium` as root); the browser walk needs Debian's Chromium"
        )
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run_url = f"{url}/dags/spectra_daily/runs/{quote(run_id, safe='')}"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        # Offline, like a machine without internet: only the Airflow server answers.
        context.route(
            "**/*",
            lambda route: route.continue_() if route.request.url.startswith(url) else route.abort(),
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            # Log in.
            page.goto(f"{url}/")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "admin")
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            page.screenshot(path=ARTIFACTS / "01-home.png")

            # The run: a backfill with the timetable's logical date, its note says WARN.
            page.goto(run_url)
            expect(page.get_by_text("Backfill").first).to_be_visible()
            expect(page.get_by_text(f"{day} 06:00:00").first).to_be_visible()
            expect(page.get_by_text(f"Spectra quality {day}: 1 WARN, 1 pass")).to_be_visible()
            expect(page.get_by_text(f"WARN {warned}").first).to_be_visible()  # map index label
            page.screenshot(path=ARTIFACTS / "02-run-with-note.png")

            # The warned account's validate log says the verdict in its banner.
            page.get_by_role("link", name=f"WARN {warned}").first.click()
            expect(page.get_by_text(f"QUALITY GATE WARN: {warned} on {day}")).to_be_visible()
            expect(page.get_by_text("Skipping registering function")).to_have_count(0)
            page.screenshot(path=ARTIFACTS / "03-validate-log.png")

            # The run's Data Docs tab opens the day's page, rendered offline with its tables.
            page.goto(run_url)
            page.get_by_text("Data Docs", exact=True).first.click()
            frame = page.frame_locator("iframe").first
            expect(frame.get_by_role("heading", name=f"Data quality for {day}")).to_be_visible()
            row = frame.locator(f'#verdicts tr[data-account="{warned}"]')
            expect(row).to_contain_text("WARN")
            expect(row).to_contain_text("perf.tracking_ok")
            expect(frame.locator("table.checks").first.locator("tbody tr").first).to_be_visible()
            # Bootstrap (vendored) styled it: the warned row has Bootstrap's warning colour.
            background = row.evaluate("e => getComputedStyle(e).backgroundColor")
            assert background not in ("rgba(0, 0, 0, 0)", "transparent"), background
            page.screenshot(path=ARTIFACTS / "04-data-docs-day.png")

            # A GX page from there: assets local, Spectra's verdict stated.
            section = frame.locator(f'section[data-account="{warned}"]')
            section.get_by_role("link", name="performance_daily_days").first.click()
            expect(frame.locator("#spectra-verdict")).to_contain_text("WARN")
            expect(frame.get_by_text("Spectra: WARN")).to_be_visible()
            page.screenshot(path=ARTIFACTS / "05-gx-page.png")

            # Browse → Data Docs in the navigation.
            page.goto(f"{url}/")
            page.get_by_role("button", name="Browse").or_(
                page.get_by_role("link", name="Browse")
            ).first.click()
            page.get_by_role("menuitem", name="Data Docs").or_(
                page.get_by_role("link", name="Data Docs")
            ).first.click()
            expect(
                page.frame_locator("iframe").first.get_by_role(
                    "heading", name="Spectra data quality"
                )
            ).to_be_visible()
            page.screenshot(path=ARTIFACTS / "06-nav-data-docs.png")

            # Browse → Required Actions lists the proposals waiting for a person.
            page.goto(f"{url}/required_actions")
            expect(
                page.get_by_text("Spectra: approve a change to Google Ads").first
            ).to_be_visible()
            page.screenshot(path=ARTIFACTS / "07-required-actions.png")

            # The Google Ads connection's edit form shows its fields.
            page.goto(f"{url}/connections")
            page.get_by_role("row").filter(has_text="google_ads_default").get_by_label(
                "Edit Connection"
            ).click()
            dialog = page.get_by_role("dialog")
            expect(dialog.get_by_text("Google Ads (Spectra)")).to_be_visible()
            for label in ("API endpoint host", "OAuth client id", "OAuth client secret"):
                expect(dialog.get_by_text(label, exact=True)).to_be_visible()
            dialog.get_by_text("Extra Fields", exact=True).click()
            # The extras this connection holds, each with its label, help and secret masking.
            for label in ("Developer token", "CA certificate path", "Sandbox clock"):
                expect(dialog.get_by_text(label, exact=True)).to_be_visible()
            expect(
                dialog.get_by_text("Google Ads API developer token (API Center)")
            ).to_be_visible()
            expect(dialog.get_by_role("checkbox", name="Sandbox clock")).to_be_checked()
            page.screenshot(path=ARTIFACTS / "08-google-ads-connection.png", full_page=True)
        except Exception:
            page.screenshot(path=ARTIFACTS / "failure.png", full_page=True)
            raise
        finally:
            browser.close()
