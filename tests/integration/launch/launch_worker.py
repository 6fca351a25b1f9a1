"""A separate process that deploys (or resumes deploying) one launch, for the crash tests.

    python launch_worker.py DB_URL ENDPOINT CA_CERT TENANT LAUNCH_ID [--kill-at EVENT:STEP] [--ttl S]

``--kill-at mutated:keywords`` SIGKILLs this process right after the step's create request
returned (the resources exist in Google Ads, nothing about them is recorded yet) — the
operation's hook points, as in tests/integration/apply/operation_worker.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))  # tests/: the shared `support` package


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("endpoint")
    p.add_argument("ca")
    p.add_argument("tenant")
    p.add_argument("launch_id", type=int)
    p.add_argument("--kill-at")
    p.add_argument("--ttl", type=float, default=30.0)
    args = p.parse_args()

    from support.executor_config import fast_config, quick_breaker

    from spectra.ads.client import AdsCredentials, build_client
    from spectra.launch.pipeline import deploy
    from spectra.warehouse.db import make_engine

    creds = AdsCredentials(
        developer_token="dev", access_token="tok", endpoint=args.endpoint, ca_cert_path=args.ca
    )
    engine = make_engine(args.db)

    def hook(event: str, step: str) -> None:
        if f"{event}:{step}" == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    launch = deploy(
        engine, build_client(creds), creds, tenant_id=args.tenant, launch_id=args.launch_id,
        config=fast_config(lease_ttl_s=args.ttl), breaker=quick_breaker(engine), on_step=hook,
    )  # fmt: skip
    print(json.dumps({"state": launch.state.value, "reason": launch.state_reason}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
