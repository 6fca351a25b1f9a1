"""``spectra metrics serve`` and ``spectra alerts``: the monitors' commands."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any


def cmd_metrics_serve(args: argparse.Namespace) -> int:
    """Serve the Prometheus metrics (``/metrics``) until interrupted; ``--once`` prints them."""
    from prometheus_client import generate_latest, start_http_server

    from spectra.observability.metrics import registry
    from spectra.warehouse.db import make_engine

    engine = make_engine()
    airflow_url = args.airflow_db or os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    airflow_engine = make_engine(airflow_url) if airflow_url else None
    reg = registry(engine, airflow_engine=airflow_engine)
    if args.once:
        print(generate_latest(reg).decode(), end="")
        return 0
    server, thread = start_http_server(args.port, addr=args.host, registry=reg)
    print(f"metrics on http://{args.host}:{args.port}/metrics", flush=True)
    try:
        while thread.is_alive():
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        engine.dispose()
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from spectra.warehouse.db import make_engine
    from spectra.warehouse.monitor_store import list_alerts

    engine = make_engine()
    try:
        with engine.connect() as conn:
            rows = list_alerts(conn, tenant_id=args.tenant, status=None if args.all else "open")
    finally:
        engine.dispose()
    for a in rows:
        print(
            f"{a['id']:>6} {a['status']:<8} {a['severity']:<8} {a['monitor']:<8} "
            f"{a['opened_at']:%Y-%m-%d %H:%M} {a['title']}"
        )
    return 0


def register(sub: Any) -> None:
    metrics = sub.add_parser("metrics", help="Prometheus metrics").add_subparsers(
        dest="metrics_command", required=True
    )
    p = metrics.add_parser("serve", help="serve /metrics for Prometheus")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("SPECTRA_METRICS_PORT", 9108)))
    p.add_argument("--airflow-db", default=None, help="Airflow metadata DB URL (queue depth)")
    p.add_argument("--once", action="store_true", help="print the metrics once and exit")
    p.set_defaults(fn=cmd_metrics_serve)

    p = sub.add_parser("alerts", help="the monitors' alerts (open ones unless --all)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--all", action="store_true")
    p.set_defaults(fn=cmd_alerts)
