"""A separate executor process for the crash and concurrency tests.

    python apply_worker.py DB_URL ENDPOINT CA_CERT CHANGES_JSON [--kill-at PHASE] [--stop-at PHASE]
                           [--ttl SECONDS]

``--kill-at`` SIGKILLs this process right after the executor reports PHASE (``mutated``: after
the mutate returned, before anything about it is recorded); ``--stop-at`` SIGSTOPs it there (a
paused writer whose lease runs out). Exit code 3: the fencing token was refused.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2]))  # tests/: the shared `support` package


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("endpoint")
    p.add_argument("ca")
    p.add_argument("changes")
    p.add_argument("--kill-at")
    p.add_argument("--stop-at")
    p.add_argument("--ttl", type=float, default=30.0)
    args = p.parse_args()

    from apply_support import fast_config, quick_breaker

    from spectra.ads.client import AdsCredentials, build_client
    from spectra.apply.executor import apply_changes
    from spectra.domain.changes import ApprovedChange
    from spectra.warehouse.apply_store import StaleLease
    from spectra.warehouse.db import make_engine

    creds = AdsCredentials(
        developer_token="dev", access_token="tok", endpoint=args.endpoint, ca_cert_path=args.ca
    )
    client = build_client(creds)
    engine = make_engine(args.db)
    changes = [ApprovedChange.from_payload(c) for c in json.loads(Path(args.changes).read_text())]

    def hook(phase: str, keys: Any) -> None:
        if phase == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if phase == args.stop_at:
            print(f"stopping at {phase}", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)

    try:
        report = apply_changes(
            engine,
            client,
            changes,
            creds=creds,
            on_phase=hook,
            config=fast_config(lease_ttl_s=args.ttl),
            breaker=quick_breaker(engine),
        )
    except StaleLease as exc:
        print(f"refused: {exc}", flush=True)
        return 3
    print(json.dumps(report.counts()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
