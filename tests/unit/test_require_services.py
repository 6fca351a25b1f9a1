"""SPECTRA_REQUIRE_SERVICES=1 (set by .ci/run) turns a missing PostgreSQL or Redis into a failure.

Runs real tests of the suite in a child pytest against addresses where nothing listens: on a
developer's machine they skip; under the flag the run fails, so CI cannot go green untested.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = {
    "SPECTRA_TEST_PG_URL": "postgresql+psycopg2://nobody@127.0.0.1:9/test",
    "SPECTRA_TEST_REDIS_URL": "redis://127.0.0.1:9/0",
}
NEEDS_SERVICES = [
    "tests/integration/warehouse/test_repositories.py::test_unknown_campaign[postgres]",
    "tests/integration/reliability/test_breaker_storage.py::test_business_errors_never_open_it[redis]",
]


def _run(required: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **NOWHERE, "SPECTRA_REQUIRE_SERVICES": required}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:xdist", "-rs",
         *NEEDS_SERVICES],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_absent_services_skip_on_a_developer_machine() -> None:
    done = _run("")
    assert done.returncode == 0, done.stdout[-2000:]
    assert "2 skipped" in done.stdout, done.stdout[-2000:]


def test_absent_services_fail_under_the_ci_flag() -> None:
    done = _run("1")
    assert done.returncode != 0, done.stdout[-2000:]
    assert done.stdout.count("forbids skipping") >= 2, done.stdout[-2000:]
    assert "PostgreSQL unreachable" in done.stdout and "Redis unreachable" in done.stdout
