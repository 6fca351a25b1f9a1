"""Quality gate cost: validating 200k keyword-day rows, as a ratio to ingesting them.

The same ~200k keyword_performance rows bench_ingest uses (the ``bench`` scenario, 20 days,
one account) are pulled from a sandbox in its own process and ingested end to end (SearchStream
decode + ingest's quarantine screen + upsert); then the validate step runs on that window
(read back, six Great Expectations suites, verdict, results, Data Docs). Great Expectations is
imported before timing (its ~6 s import is a per-process constant, reported as its own figure).
SQLite always, PostgreSQL when reachable.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SCENARIO = "bench"
CLOCK = dt.date(2026, 6, 1)
DAYS = 20
TENANT = "bench"


def _gx_import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import great_expectations; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


from bench_common import best, free_port, warehouses  # noqa: E402


def run(results: dict[str, Any]) -> None:

    from spectra.ads.client import AdsCredentials, build_client
    from spectra.ads.stream import load_query, stream_columns
    from spectra.cli import start_sandbox_process, stop_process_group
    from spectra.ingest.daily import hold_back, write_pulled
    from spectra.quality.checks import QualityConfig
    from spectra.quality.runner import validate_account
    from spectra.quality.screen import FACT_QUERIES, Rejected, screen_columns
    from spectra.sandbox.market import Market
    from spectra.sandbox.tls import ensure_tls
    from spectra.settings import spectra_home

    gx_import = _gx_import_seconds()
    results["quality: import great_expectations (once per task process)"] = {
        "value": gx_import,
        "unit": "s",
        "baseline": None,
        "ratio": None,
    }
    print(f"   import great_expectations: {gx_import:.1f} s (cold, own process)")
    import great_expectations  # noqa: F401  (warm for the timed runs)

    customer_id = Market.from_scenario(SCENARIO).customer_ids()[0]
    logical_date = CLOCK - dt.timedelta(days=1)
    port = free_port()
    log = spectra_home() / "var" / "bench" / "sandbox-quality.log"
    proc = start_sandbox_process(SCENARIO, port, log, clock=CLOCK)
    try:
        creds = AdsCredentials(
            developer_token="bench",
            access_token="bench",
            endpoint=f"localhost:{port}",
            ca_cert_path=str(ensure_tls().ca_cert),
            sandbox_clock=True,
        )
        client = build_client(creds)
        query = load_query("keyword_performance")
        window: dict[str, Any] = {
            "date_from": (CLOCK - dt.timedelta(days=DAYS)).isoformat(),
            "date_to": logical_date.isoformat(),
        }

        def pull() -> dict[str, list[Any]]:
            return stream_columns(
                client, creds, customer_id=customer_id, query=query, as_of=CLOCK, **window
            )

        cols = pull()  # warms the sandbox's cache, as bench_ingest does
        rows = len(cols["segments.date"])
        screen_s, _ = best(
            lambda: screen_columns(FACT_QUERIES["keyword_performance"], cols), repeat=3
        )

        ingest_seconds: dict[str, float] = {}
        tmp = Path(tempfile.mkdtemp(prefix="spectra-bench-quality-"))
        for backend, engine in warehouses(
            tenant_id=TENANT, customer_id=customer_id, prefix="spectra-bench-quality-"
        ):

            def ingest(engine: Any = engine) -> int:
                pulled = pull()
                rejected: list[Rejected] = []
                with engine.begin() as conn:  # ingest's writer, then its hold-back, as a run
                    write_pulled(
                        conn,
                        {"keyword_performance": pulled},
                        tenant_id=TENANT,
                        customer_id=customer_id,
                        as_of=CLOCK,
                        logical_date=logical_date,
                        rejected=rejected,
                    )
                    hold_back(
                        conn,
                        rejected,
                        tenant_id=TENANT,
                        customer_id=customer_id,
                        as_of=CLOCK,
                        logical_date=logical_date,
                    )
                return len(pulled["segments.date"])

            ingest_s, _ = best(ingest, repeat=1)  # the first load, as bench_ingest's
            ingest_seconds[backend] = ingest_s
            config = QualityConfig(quality_dir=tmp / f"quality-{backend}")

            def validate(engine: Any = engine, config: QualityConfig = config) -> Any:
                return validate_account(
                    engine,
                    tenant_id=TENANT,
                    customer_id=customer_id,
                    logical_date=logical_date,
                    repull_days=DAYS,
                    config=config,
                )

            validate_s, outcome = best(validate, repeat=2)
            results[f"quality: validate {rows // 1000}k keyword-day rows, {backend}"] = {
                "value": validate_s,
                "unit": "s",
                "baseline": ingest_s,
                "ratio": validate_s / ingest_s,
            }
            print(
                f"   {backend}: ingest {rows} rows {ingest_s:.2f} s, validate {validate_s:.2f} s "
                f"= {validate_s / ingest_s:.2f}x ingest (verdict {outcome.status.value}, "
                f"{outcome.rows_validated} rows)"
            )
        baseline = ingest_seconds["sqlite"]
        results[f"quality: ingest screen of {rows // 1000}k rows (share of sqlite ingest)"] = {
            "value": screen_s,
            "unit": "s",
            "baseline": baseline,
            "ratio": screen_s / baseline,
        }
        print(f"   ingest's quarantine screen: {screen_s * 1000:.0f} ms for {rows} rows")
    finally:
        stop_process_group(proc)
