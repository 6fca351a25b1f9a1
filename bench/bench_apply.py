"""Apply executor benchmarks: exactly once under ≥ 20 % faults at scale, and what safety costs.

Figures (added to ``results``), on SQLite and (when reachable) PostgreSQL, one sandbox each:
- changes/s through the executor with 0 % faults; baseline = bare ``GoogleAdsService.Mutate``
  calls of the same changes (one request per campaign, no reads, no ledger) in the same run,
  so the ratio is what the lease, the recorded phases, read-before-send, preflight, read-back,
  versions and the audit chain cost;
- changes/s through the executor under CHAOS (tests/integration/apply/apply_support.py: every
  fault kind, lost responses and stream cuts on read-back); baseline = the 0 % figure;
- the chaos run's correctness over ≥ 500 changes on several campaigns: changes not applied
  exactly once by the sandbox's own log (must be 0), faults injected per call, dead letters.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration" / "apply"))
sys.path.insert(0, str(HERE.parent / "tests"))  # the shared `support` package

N_CHANGES = 600


def _fig(
    results: dict[str, Any], name: str, value: float, unit: str, baseline: float | None
) -> None:
    ratio = value / baseline if baseline else None
    results[name] = {"value": value, "unit": unit, "baseline": baseline, "ratio": ratio}
    print(f"   {name}: {value:,.3f} {unit} (baseline {baseline}, ratio {ratio})", flush=True)


def _bare(client: Any, creds: Any, changes: list[Any]) -> float:
    """Seconds to send the changes as plain mutates, one request per campaign."""
    from spectra.ads.entities import read_campaign
    from spectra.ads.mutate import build_operation, mutate

    by_campaign: dict[int, list[Any]] = {}
    for change in changes:
        by_campaign.setdefault(change.campaign_id, []).append(change)
    reads = {
        c: read_campaign(client, creds, customer_id=changes[0].customer_id, campaign_id=c)
        for c in by_campaign
    }
    started = time.perf_counter()
    for campaign_id, group in by_campaign.items():
        waves: list[list[Any]] = []
        seen: dict[tuple[str, str], int] = {}
        for change in group:  # one slot once per request, like the executor
            n = seen.get(change.slot, 0)
            seen[change.slot] = n + 1
            if n == len(waves):
                waves.append([])
            waves[n].append(change)
        for wave in waves:
            ops = [build_operation(client, c, reads[campaign_id]) for c in wave]
            mutate(client, creds, customer_id=wave[0].customer_id, operations=ops)
    return time.perf_counter() - started


def run(results: dict[str, Any]) -> None:
    import logging

    from apply_support import (
        TENANT,
        expected_mutation,
        fast_config,
        quick_breaker,
        random_changes,
        register_campaigns,
        run_chaos,
    )
    from bench_common import warehouses

    from spectra.ads.client import AdsCredentials, build_client
    from spectra.apply.executor import apply_changes
    from spectra.sandbox.market import Market
    from spectra.sandbox.server import SandboxServer

    logging.getLogger("spectra.ads.retry").setLevel(logging.ERROR)
    customer_id = Market.from_scenario("demo").customer_ids()[0]
    for backend, engine in warehouses(
        tenant_id=TENANT, customer_id=customer_id, prefix="bench-apply-"
    ):
        market = Market.from_scenario("demo")
        with SandboxServer(market, clock=market.reference_date) as server:
            creds = AdsCredentials(
                developer_token="bench",
                access_token="bench",
                endpoint=server.endpoint,
                ca_cert_path=str(server.ca_cert),
            )
            client = build_client(creds)
            campaigns = register_campaigns(engine, client, creds, customer_id)
            # 0 % faults: executor vs bare mutates of the same kind of changes
            clean = random_changes(
                client, creds, customer_id, campaigns, N_CHANGES, seed=1, ref="clean"
            )
            started = time.perf_counter()
            report = apply_changes(
                engine,
                client,
                clean,
                creds=creds,
                config=fast_config(),
                breaker=quick_breaker(engine),
            )
            executor_s = time.perf_counter() - started
            assert report.counts() == {"applied": len(clean)}, report.counts()
            bare_changes = random_changes(
                client, creds, customer_id, campaigns, N_CHANGES, seed=2, ref="bare"
            )
            bare_s = _bare(client, creds, bare_changes)
            clean_rate = len(clean) / executor_s
            _fig(
                results,
                f"apply [{backend}]: changes/s through the executor, 0% faults (vs bare mutate)",
                clean_rate,
                "changes/s",
                len(bare_changes) / bare_s,
            )
            # ≥ 20 % faults of every kind, ≥ 500 changes on several campaigns
            out = run_chaos(
                engine, market, server, client, creds, customer_id, campaigns, N_CHANGES, seed=3
            )
            changes = out["changes"]
            wrong = sum(
                1
                for c in changes
                if out["log"][expected_mutation(c, out["budget_rns"][c.campaign_id])] != 1
            )
            unfinished = sum(
                1
                for p in out["after_chaos"].values()
                if p not in ("recorded", "rejected", "dead_lettered")
            )
            _fig(
                results,
                f"apply [{backend}]: changes/s through the executor, chaos (vs 0% faults)",
                len(changes) / out["seconds"],
                "changes/s",
                clean_rate,
            )
            _fig(
                results,
                f"apply [{backend}]: chaos changes not applied exactly once (of {len(changes)} on {len(campaigns)} campaigns)",
                float(wrong + unfinished),
                "changes",
                None,
            )
            _fig(
                results,
                f"apply [{backend}]: chaos faults injected per call",
                out["faults"] / max(out["calls"], 1),
                "faults/call",
                None,
            )
            _fig(
                results,
                f"apply [{backend}]: chaos dead letters (retried to applied)",
                float(out["dead_letters"]),
                "changes",
                None,
            )
