"""A separate process that runs (or resumes) one campaign build, for the crash tests.

    python operation_worker.py DB_URL ENDPOINT CA_CERT BUILD_JSON [--kill-at EVENT:STEP] [--ttl S]

``--kill-at sent:campaign`` SIGKILLs this process right after the step's ``:sent`` recovery
point is written (before the create request); ``mutated:STEP`` right after the create returned
(the resources exist, nothing about them is recorded); ``done:STEP`` after the step is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2]))  # tests/: the shared `support` package


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("endpoint")
    p.add_argument("ca")
    p.add_argument("build")
    p.add_argument("--kill-at")
    p.add_argument("--ttl", type=float, default=30.0)
    args = p.parse_args()

    from apply_support import fast_config, quick_breaker

    from spectra.ads.client import AdsCredentials, build_client
    from spectra.apply.operations import CampaignBuild, build_campaign
    from spectra.warehouse.db import make_engine

    creds = AdsCredentials(
        developer_token="dev", access_token="tok", endpoint=args.endpoint, ca_cert_path=args.ca
    )
    engine = make_engine(args.db)
    build = CampaignBuild.model_validate_json(Path(args.build).read_text())

    def hook(event: str, step: str) -> None:
        if f"{event}:{step}" == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    report = build_campaign(
        engine,
        build_client(creds),
        build,
        creds=creds,
        on_step=hook,
        config=fast_config(lease_ttl_s=args.ttl),
        breaker=quick_breaker(engine),
    )
    print(json.dumps({"status": report.status, "error": report.error}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
