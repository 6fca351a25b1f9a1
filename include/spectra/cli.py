"""`spectra …`: the command line. Thin: every command calls one function of the package."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spectra.settings import spectra_home

DEFAULT_SANDBOX_PORT = 50151
DEFAULT_LLM_PORT = 50251
DEMO_TENANT = "demo"


def _sandbox_port(arg: int | None = None) -> int:
    return arg or int(os.environ.get("SPECTRA_SANDBOX_PORT", DEFAULT_SANDBOX_PORT))


def _llm_port(arg: int | None = None) -> int:
    return arg if arg is not None else int(os.environ.get("SPECTRA_LLM_PORT", DEFAULT_LLM_PORT))


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


# --------------------------------------------------------------------------- sandbox


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from spectra.sandbox.market import Market
    from spectra.sandbox.server import SandboxServer

    market = Market.from_scenario(args.scenario)
    clock = dt.date.fromisoformat(args.clock) if args.clock else None
    server = SandboxServer(market, clock=clock, port=_sandbox_port(args.port), host=args.host)
    server.start()
    print(
        f"sandbox: scenario {args.scenario!r}, Google Ads API v26 on {server.endpoint} (TLS, CA "
        f"{server.ca_cert}); accounts {', '.join(map(str, market.customer_ids()))}",
        flush=True,
    )
    llm = _start_llm_standin(_llm_port(args.llm_port), host=args.host)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()
    finally:
        if llm is not None:
            llm.stop()
    return 0


def _start_llm_standin(port: int, *, host: str = "localhost") -> Any:
    """The Gemini stand-in beside the Google Ads sandbox (same process); None when off (port 0)
    or when the port is already served."""
    from spectra.sandbox.llm import LlmStandIn

    if not port or _port_open(port):
        return None
    mode = os.environ.get("SPECTRA_LLM_MODE", "sound")
    llm = LlmStandIn(mode=mode, port=port, host="127.0.0.1" if host == "localhost" else host)
    llm.start()
    print(f"sandbox: Gemini stand-in ({mode}) on {llm.base_url}", flush=True)
    return llm


def cmd_sandbox_llm(args: argparse.Namespace) -> int:
    """Only the Gemini stand-in (generateContent, countTokens), in the foreground."""
    from spectra.sandbox.llm import LlmStandIn

    llm = LlmStandIn(mode=args.mode, port=_llm_port(args.port), host=args.host)
    print(f"Gemini stand-in ({args.mode}) on {llm.base_url}", flush=True)
    try:
        llm.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def start_sandbox_process(
    scenario: str, port: int, log_path: Path, *, clock: dt.date | None = None
) -> subprocess.Popen[bytes] | None:
    """Start `spectra sandbox serve` in its own process group; None if the port is already served."""
    if _port_open(port):
        return None
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "spectra.cli", "sandbox", "serve", "--scenario", scenario]
    cmd += ["--port", str(port)]
    if clock is not None:
        cmd += ["--clock", clock.isoformat()]
    proc = subprocess.Popen(
        cmd, stdout=log_path.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while not _port_open(port):
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox exited with {proc.returncode}; see {log_path}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"sandbox did not open port {port} within 60 s; see {log_path}")
        time.sleep(0.2)
    return proc


def stop_process_group(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


# --------------------------------------------------------------------------- warehouse


def cmd_db_migrate(args: argparse.Namespace) -> int:
    from spectra.warehouse.db import database_url, migrate

    print(f"warehouse {database_url()} at revision {migrate()}")
    return 0


def register_accounts(tenant_id: str, tenant_name: str, customer_ids: Sequence[int]) -> None:
    from spectra.warehouse.db import make_engine
    from spectra.warehouse.repositories import register_account, register_tenant

    engine = make_engine()
    try:
        with engine.begin() as conn:
            register_tenant(conn, tenant_id=tenant_id, name=tenant_name)
            for cid in customer_ids:
                register_account(conn, tenant_id=tenant_id, customer_id=int(cid))
    finally:
        engine.dispose()


def cmd_tenant_add(args: argparse.Namespace) -> int:
    register_accounts(args.tenant_id, args.name or args.tenant_id, args.customer_ids)
    print(f"tenant {args.tenant_id}: accounts {', '.join(map(str, args.customer_ids)) or 'none'}")
    return 0


def cmd_account_accept(args: argparse.Namespace) -> int:
    """Accept the currency / time zone change ingest holds for an account."""
    from spectra.quality.settings import NoHeldSettings, accept_account_settings
    from spectra.warehouse.db import make_engine, unit_of_work

    engine = make_engine()
    try:
        with unit_of_work(engine) as uow:
            change = accept_account_settings(
                uow.connection,
                tenant_id=args.tenant,
                customer_id=args.customer,
                actor=args.by,
                today=dt.datetime.now(dt.UTC).date(),
            )
            uow.commit()
    except NoHeldSettings as exc:
        print(exc)
        return 1
    finally:
        engine.dispose()
    b, a = change["before"], change["after"]
    print(
        f"{args.tenant}/{args.customer}: accepted currency {b['currency_code']} -> "
        f"{a['currency_code']}, time zone {b['time_zone']} -> {a['time_zone']} (by {args.by}); "
        "re-run the held days to validate them"
    )
    return 0


# --------------------------------------------------------------------------- airflow


def cmd_airflow_settings(args: argparse.Namespace) -> int:
    from spectra.airflow.settings_loader import load

    counts = load(Path(args.file))
    print(f"loaded {args.file}: {counts}")
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    """`airflow ARGS` with Spectra's Airflow settings (AIRFLOW_HOME in the checkout, the port)."""
    from spectra.airflow.local import airflow_command

    return airflow_command(args.airflow_args)


# --------------------------------------------------------------------------- demo


def warehouse_summary() -> list[tuple[str, int, str]]:
    """(table, rows, first .. last day) for every warehouse table, in the models' order."""
    from spectra.warehouse.db import make_engine
    from spectra.warehouse.report_store import table_spans

    engine = make_engine()
    try:
        with engine.connect() as conn:
            return table_spans(conn)
    finally:
        engine.dispose()


def cmd_report(args: argparse.Namespace) -> int:
    from spectra.report import build_report, newest_day, render_json, render_markdown
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        day = dt.date.fromisoformat(args.day) if args.day else newest_day(engine)
        if day is None:
            print("no analyzed or validated day in the warehouse yet: run `make demo` first")
            return 1
        report = build_report(engine, day=day, tenant_id=args.tenant, customer_id=args.account)
    finally:
        engine.dispose()
    print(render_json(report) if args.format == "json" else render_markdown(report))
    if args.warehouse:
        summary = warehouse_summary()
        width = max(len(table) for table, _, _ in summary)
        print("\n## Warehouse\n")
        for table, count, span in summary:
            print(f"    {table:<{width}} {count:>8} rows  {span}")
    return 0


def prepare_local_state(
    scenario: str, *, port: int | None = None
) -> subprocess.Popen[bytes] | None:
    """Warehouse migrated, sandbox serving, Airflow settings loaded, demo tenant registered.

    Returns the sandbox process when this call started it (the caller stops it).
    """
    from spectra.airflow.settings_loader import load
    from spectra.sandbox.market import Market
    from spectra.warehouse.db import database_url, migrate

    home = spectra_home()
    print(f"warehouse   {database_url()} at revision {migrate()}", flush=True)
    port = _sandbox_port(port)
    os.environ["SPECTRA_SANDBOX_PORT"] = str(port)  # airflow_settings.yaml's connection port
    os.environ["SPECTRA_LLM_PORT"] = str(_llm_port())  # the Gemini stand-in, same process
    customer_ids = Market.from_scenario(scenario).customer_ids()
    proc = start_sandbox_process(scenario, port, home / "var" / "sandbox" / "sandbox.log")
    print(
        f"sandbox     scenario {scenario!r} on localhost:{port} "
        f"({'started' if proc else 'already running'}); Gemini stand-in on localhost:"
        f"{_llm_port()} ({'serving' if _port_open(_llm_port()) else 'NOT serving: fallback only'})",
        flush=True,
    )
    try:
        counts = load(home / "airflow_settings.yaml")
        register_accounts(DEMO_TENANT, "Demo tenant", customer_ids)
    except BaseException:
        stop_process_group(proc)
        raise
    print(
        f"airflow     settings loaded ({counts}); tenant {DEMO_TENANT!r}, accounts "
        f"{', '.join(map(str, customer_ids))}",
        flush=True,
    )
    return proc


def run_backfill(
    days: Sequence[dt.date], *, then: Callable[[Any], str] | None = None
) -> tuple[list[Any], str]:
    """Backfill ``days`` through Airflow's scheduler (started here unless already up); prints
    each run as it ends. ``then`` runs with the Airflow client before Airflow stops; its text
    is returned with the runs."""
    from spectra.airflow.local import backfill_and_wait, running_airflow
    from spectra.quality.report import gate_counts

    log_path = Path(os.environ.get("AIRFLOW_HOME", spectra_home() / ".airflow")) / "standalone.log"
    started = time.monotonic()
    with running_airflow(log_path) as client:
        print(
            f"airflow     ready at {client.url} in {time.monotonic() - started:.0f} s", flush=True
        )
        print(f"backfill    spectra_daily {days[0]} .. {days[-1]} ({len(days)} runs)", flush=True)

        def show(run: Any) -> None:
            took = f"{run.seconds:.0f} s" if run.seconds is not None else "?"
            print(
                f"  {run.day}  {run.state:<7} {took:>5}  {gate_counts(run.day)}  {run.run_id}",
                flush=True,
            )

        runs = backfill_and_wait(client, days, on_run=show)
        return runs, (then(client) if then is not None else "")


def cmd_demo(args: argparse.Namespace) -> int:
    from spectra.airflow.local import base_url, last_complete_day

    started = time.monotonic()
    last = last_complete_day()
    days = [last - dt.timedelta(days=i) for i in range(args.days - 1, -1, -1)]
    sandbox = prepare_local_state(args.scenario, port=args.port)
    from spectra.cli_guardrails import demo_apply
    from spectra.cli_launch import demo_launch

    def acting(client: Any) -> str:
        return demo_apply(client, days[-1]) + "\n\n" + demo_launch(client)

    try:
        runs, approvals = run_backfill(days, then=acting)
    finally:
        stop_process_group(sandbox)
    failed = [r for r in runs if r.state != "success"]
    print(
        f"\n{len(runs) - len(failed)}/{len(runs)} runs succeeded; "
        f"demo took {time.monotonic() - started:.0f} s.\n",
        flush=True,
    )
    from spectra.report import findings_text

    print(findings_text(days, ui_url=base_url()))
    print(demo_proposals(days))
    print(approvals)
    return 1 if failed or len(runs) != len(days) else 0


def demo_proposals(days: Sequence[dt.date]) -> str:
    """The last day's proposals of the demo tenant's accounts (after the runs)."""
    from spectra.agent.report import proposals_text
    from spectra.warehouse.db import make_engine
    from spectra.warehouse.repositories import list_active_accounts

    engine = make_engine()
    try:
        with engine.connect() as conn:
            accounts = list_active_accounts(conn, tenant_id=DEMO_TENANT)
        return proposals_text(engine, days, [(a.tenant_id, int(a.customer_id)) for a in accounts])
    finally:
        engine.dispose()


def cmd_backfill(args: argparse.Namespace) -> int:
    """Backfill report days FROM..TO through the scheduler (Airflow is started if not up)."""
    first, last = dt.date.fromisoformat(args.from_date), dt.date.fromisoformat(args.to_date)
    if last < first:
        raise SystemExit(f"--to-date {last} is before --from-date {first}")
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    sandbox = prepare_local_state(args.scenario)
    try:
        runs, _ = run_backfill(days)
    finally:
        stop_process_group(sandbox)
    return 0 if all(r.state == "success" for r in runs) else 1


def cmd_up(args: argparse.Namespace) -> int:
    """`airflow standalone` over the demo's state, with the sandbox beside it."""
    from spectra.airflow.local import AirflowClient, admin_password, start_standalone

    sandbox = prepare_local_state(args.scenario)
    log_path = Path(os.environ["AIRFLOW_HOME"]) / "standalone.log"
    airflow = start_standalone(log_path)

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt  # so `finally` stops Airflow's and the sandbox's process groups

    signal.signal(signal.SIGTERM, terminate)
    started = time.monotonic()
    print(f"airflow     starting (log {log_path}) …", flush=True)
    try:
        AirflowClient(airflow.url).wait_ready(process=airflow)
        print(
            f"\nready in {time.monotonic() - started:.0f} s: {airflow.url}  "
            f"login admin / {admin_password()}  (Ctrl-C stops everything)",
            flush=True,
        )
        return airflow.proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        airflow.stop()
        stop_process_group(sandbox)


# --------------------------------------------------------------------------- apply: rollback, dlq, audit

ENV_ADS_CREDENTIALS = "SPECTRA_ADS_CREDENTIALS"


def ads_client_from_env() -> tuple[Any, Any]:
    """(client, credentials) for commands run outside Airflow.

    ``$SPECTRA_ADS_CREDENTIALS`` names a JSON file with the Google Ads connection's fields
    (developer_token, client_id, client_secret, refresh_token, login_customer_id, endpoint);
    without it, the local sandbox on ``$SPECTRA_SANDBOX_PORT``.
    """
    import json

    from spectra.ads.client import AdsCredentials, build_client

    path = os.environ.get(ENV_ADS_CREDENTIALS, "").strip()
    if path:
        creds = AdsCredentials.from_mapping(json.loads(Path(path).read_text()))
    else:
        creds = AdsCredentials(
            developer_token="sandbox-developer-token",
            access_token="sandbox-access-token",
            endpoint=f"localhost:{_sandbox_port(None)}",
            ca_cert_path=str(spectra_home() / "var" / "sandbox" / "tls" / "ca.pem"),
        )
    return build_client(creds), creds


def _actor(args: argparse.Namespace) -> str:
    return args.actor or os.environ.get("USER") or "cli"


def cmd_rollback(args: argparse.Namespace) -> int:
    from spectra.apply.rollback import rollback
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    client, creds = ads_client_from_env()
    try:
        result = rollback(
            engine,
            client,
            tenant_id=args.tenant,
            customer_id=args.customer,
            campaign_id=args.campaign,
            to_version=args.to_version,
            actor=_actor(args),
            reason=args.reason,
            creds=creds,
        )
    finally:
        engine.dispose()
    if result.nothing_to_do:
        print(f"campaign {args.campaign} already equals version {args.to_version}: nothing to do")
    for key, outcome in sorted(result.outcomes.items()):
        print(f"  {key}  {outcome}")
    for item in result.unrestorable:
        print(f"  cannot restore: {item}")
    bad = [o for o in result.outcomes.values() if o != "applied"]
    return 1 if bad or result.unrestorable else 0


def cmd_dlq(args: argparse.Namespace) -> int:
    from spectra.apply import dlq
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        if args.dlq_command == "list":
            jobs = dlq.list_dead_letters(
                engine, tenant_id=args.tenant, status=None if args.all else "open"
            )
            for job in jobs:
                print(
                    f"{job['id']:>6}  {job['status']:<9} attempts={job['attempts']:<3} "
                    f"first={job['first_failed_at']:%Y-%m-%d %H:%M} last={job['last_failed_at']:%Y-%m-%d %H:%M}  "
                    f"{job['idempotency_key'][:12]}  {job['error'][:80]}"
                )
            print(f"{len(jobs)} dead letter(s)")
            return 0
        if args.dlq_command == "show":
            import json

            print(
                json.dumps(
                    dlq.show_dead_letter(engine, tenant_id=args.tenant, job_id=args.id),
                    indent=2,
                    default=str,
                )
            )
            return 0
        if args.dlq_command == "retry":
            client, creds = ads_client_from_env()
            outcome = dlq.retry_dead_letter(
                engine,
                client,
                tenant_id=args.tenant,
                job_id=args.id,
                actor=_actor(args),
                creds=creds,
            )
            print(f"dead letter {args.id}: {outcome}")
            return 0 if outcome == "applied" else 1
        reason = args.reason if args.reason is not None else input("reason for discarding: ")
        dlq.discard_dead_letter(
            engine, tenant_id=args.tenant, job_id=args.id, actor=_actor(args), reason=reason
        )
        print(f"dead letter {args.id} discarded")
        return 0
    finally:
        engine.dispose()


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from spectra.observability.audit import verify
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    try:
        reports = verify(engine, tenant_id=args.tenant)
    finally:
        engine.dispose()
    for report in reports:
        status = "ok" if report.ok else f"{len(report.problems)} problem(s)"
        print(f"tenant {report.tenant_id}: {report.rows} rows, {status}")
        for problem in report.problems:
            print(f"  row {problem.seq}: {problem.kind}: {problem.message}")
    return 0 if all(r.ok for r in reports) else 1


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spectra", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run spectra_daily through Airflow on the sandbox")
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--scenario", default="demo")
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(fn=cmd_demo)

    p = sub.add_parser("up", help="airflow standalone + sandbox; says 'ready' when the UI answers")
    p.add_argument("--scenario", default="demo")
    p.set_defaults(fn=cmd_up)

    p = sub.add_parser(
        "backfill", help="run spectra_daily for report days FROM..TO through the scheduler"
    )
    p.add_argument("--from-date", required=True, help="first report day (YYYY-MM-DD)")
    p.add_argument("--to-date", required=True, help="last report day (YYYY-MM-DD)")
    p.add_argument("--scenario", default="demo")
    p.set_defaults(fn=cmd_backfill)

    p = sub.add_parser("report", help="a day's findings: quality gate, outages, analytics")
    p.add_argument("--day", default=None, help="report day (default: the newest analyzed)")
    p.add_argument("--account", type=int, default=None, help="one Google Ads customer id")
    p.add_argument("--tenant", default=None)
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.add_argument("--warehouse", action="store_true", help="also list every table's rows")
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser(
        "airflow",
        help="the airflow CLI with Spectra's settings (AIRFLOW_HOME in the checkout)",
        add_help=False,
    )
    p.add_argument("airflow_args", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_airflow)

    sandbox = sub.add_parser("sandbox", help="the Google Ads sandbox").add_subparsers(
        dest="sandbox_command", required=True
    )
    p = sandbox.add_parser("serve", help="serve the Google Ads API from a simulated market")
    p.add_argument("--scenario", default="demo")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--host", default="localhost")
    p.add_argument("--clock", default=None, help="default 'today' (YYYY-MM-DD)")
    p.add_argument(
        "--llm-port",
        type=int,
        default=None,
        help="Gemini stand-in port ($SPECTRA_LLM_PORT; 0: off)",
    )
    p.set_defaults(fn=cmd_sandbox_serve)
    p = sandbox.add_parser("llm", help="serve only the Gemini stand-in")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--mode", default=os.environ.get("SPECTRA_LLM_MODE", "sound"))
    p.set_defaults(fn=cmd_sandbox_llm)

    db = sub.add_parser("db", help="warehouse").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", help="upgrade the warehouse to the latest schema").set_defaults(
        fn=cmd_db_migrate
    )

    p = sub.add_parser("tenant", help="register a tenant and its Google Ads accounts")
    p.add_argument("tenant_id")
    p.add_argument("customer_ids", nargs="*", type=int)
    p.add_argument("--name", default=None)
    p.set_defaults(fn=cmd_tenant_add)

    account = sub.add_parser("account", help="a Google Ads account's settings").add_subparsers(
        dest="account_command", required=True
    )
    p = account.add_parser(
        "accept", help="accept the currency / time zone change ingest holds (audited)"
    )
    p.add_argument("--tenant", required=True)
    p.add_argument("--customer", type=int, required=True)
    p.add_argument("--by", required=True, help="who accepts it (audited)")
    p.set_defaults(fn=cmd_account_accept)

    p = sub.add_parser("rollback", help="revert a campaign to an earlier version (audited)")
    p.add_argument("campaign", type=int)
    p.add_argument("--to-version", type=int, required=True)
    p.add_argument("--tenant", required=True)
    p.add_argument("--customer", type=int, required=True)
    p.add_argument("--reason", default="rollback from the command line")
    p.add_argument("--actor", default=None)
    p.set_defaults(fn=cmd_rollback)

    dlq = sub.add_parser("dlq", help="dead letters (changes that exhausted their retries)")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    for name in ("list", "show", "retry", "discard"):
        q = dlq_sub.add_parser(name)
        q.add_argument("--tenant", required=True)
        q.add_argument("--actor", default=None)
        if name == "list":
            q.add_argument("--all", action="store_true", help="also retried and discarded ones")
        else:
            q.add_argument("id", type=int)
        if name == "discard":
            q.add_argument("--reason", default=None, help="asked for when not given")
        q.set_defaults(fn=cmd_dlq)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True
    )
    p = audit.add_parser("verify", help="check every tenant's hash chain; names bad rows")
    p.add_argument("--tenant", default=None)
    p.set_defaults(fn=cmd_audit_verify)

    p = sub.add_parser("airflow-settings", help="load airflow_settings.yaml into Airflow")
    p.add_argument("file", nargs="?", default=str(spectra_home() / "airflow_settings.yaml"))
    p.set_defaults(fn=cmd_airflow_settings)

    from spectra.cli_guardrails import register as register_guardrails

    register_guardrails(sub)  # lock, unlock, locks, role, autopilot
    from spectra.cli_monitors import register as register_monitors

    register_monitors(sub)  # metrics serve, alerts
    from spectra.cli_launch import register as register_launch

    # campaign create, show, list, launch, approve, reject, autopilot
    register_launch(sub, ads_client=ads_client_from_env, llm_port=_llm_port)
    from spectra.cli_evaluate import register as register_evaluate

    register_evaluate(sub)  # evaluate
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from spectra.airflow.local import apply_airflow_environment

    logging.basicConfig(level=os.environ.get("SPECTRA_LOG_LEVEL", "WARNING"))
    apply_airflow_environment()
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
