"""Spectra's own Airflow on one machine: its settings, `airflow standalone`, readiness, backfills.

`spectra demo`, `spectra up` and `spectra backfill` run the real scheduler over the real DAG,
so every demo run is a backfill run with the timetable's logical dates (``D 06:00``), real
task logs and honest durations: what a user then browses in the UI is what production shows.

The Airflow settings Spectra relies on are filled in here when the environment lacks them
(``airflow_environment``), so `spectra …` works from a plain shell as it does under `make`:
AIRFLOW_HOME in the checkout (not ``~/airflow``), the API server and the execution API on one
port (``SPECTRA_AIRFLOW_PORT``, default 8080), a small LocalExecutor for 2 cores.

Nothing here imports Airflow: it drives Airflow's CLI and REST API (``/api/v2``) like a user.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spectra.settings import spectra_home

DEFAULT_AIRFLOW_PORT = 8080
DAG_ID = "spectra_daily"
# The DAG's timetable: the run for day D has logical date D 06:00 and starts at D+1 06:00.
SCHEDULE_HOUR = 6
ADMIN_USER = "admin"
# Seconds to keep re-posting a backfill Airflow refused because SQLite was locked.
BACKFILL_LOCK_PATIENCE = 120.0


def load_dag(dag_id: str) -> Any:
    """Parse the DAG folder the way Airflow's DAG processor does and return one DAG."""
    from airflow.dag_processing.dagbag import DagBag

    folder = Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", spectra_home() / "dags"))
    bag = DagBag(dag_folder=str(folder))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.dags.get(dag_id)
    if dag is None:
        raise LookupError(f"{folder} defines no DAG {dag_id!r}")
    return dag


def airflow_port() -> int:
    """The port of the API server (UI, REST and the tasks' execution API)."""
    return int(os.environ.get("SPECTRA_AIRFLOW_PORT") or DEFAULT_AIRFLOW_PORT)


def airflow_environment(
    env: Mapping[str, str] | None = None, *, port: int | None = None
) -> dict[str, str]:
    """``env`` (default: this process's) with Spectra's Airflow defaults for what it lacks.

    Explicit settings win, so the Makefile, docker-compose and tests keep control; derived
    values (database, passwords file, execution API URL) follow AIRFLOW_HOME and the port.
    """
    out = dict(os.environ if env is None else env)
    home = spectra_home()
    out.setdefault("SPECTRA_HOME", str(home))  # airflow_settings.yaml and tasks read it
    port = port or int(out.get("SPECTRA_AIRFLOW_PORT") or DEFAULT_AIRFLOW_PORT)
    airflow_home = Path(out.setdefault("AIRFLOW_HOME", str(home / ".airflow")))
    defaults = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # LocalExecutor starts `parallelism` worker processes: 32 by default, too many for 2 cores.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        # Tasks call home on this URL; it must follow the port or every task fails to connect.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
    }
    if port != DEFAULT_AIRFLOW_PORT:
        # The scheduler and triggerer also serve logs on fixed ports (8793, 8794): a second
        # Airflow on this machine takes the two ports above its API port instead.
        defaults["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(port + 1)
        defaults["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(port + 2)
    for key, value in defaults.items():
        out.setdefault(key, value)
    return out


def apply_airflow_environment() -> None:
    """Fill this process's environment with the defaults (before anything imports Airflow)."""
    os.environ.update(airflow_environment())


def base_url(env: Mapping[str, str] | None = None) -> str:
    """Where the UI answers (``[api] base_url`` when set, else host and port)."""
    env = airflow_environment(env)
    configured = env.get("AIRFLOW__API__BASE_URL", "").rstrip("/")
    return configured or f"http://{env['AIRFLOW__API__HOST']}:{env['AIRFLOW__API__PORT']}"


def ensure_password_file(env: Mapping[str, str] | None = None) -> Path:
    """The SimpleAuthManager passwords file, created with admin/admin when missing."""
    env = airflow_environment(env)
    path = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({ADMIN_USER: "admin"}))
    return path


def admin_password(env: Mapping[str, str] | None = None) -> str:
    return str(json.loads(ensure_password_file(env).read_text())[ADMIN_USER])


def run_airflow_cli(args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``airflow ARGS`` with Spectra's Airflow environment (the venv's ``airflow``)."""
    return subprocess.run(
        [_airflow_executable(), *args],
        env=_subprocess_env(),
        check=check,
        text=True,
        capture_output=True,
    )


def airflow_command(args: Sequence[str]) -> int:
    """``airflow ARGS`` in the foreground (its output is the user's), Spectra's settings applied."""
    ensure_password_file()  # else `airflow standalone` invents a password for admin
    return subprocess.run([_airflow_executable(), *args], env=_subprocess_env()).returncode


def _airflow_executable() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def _subprocess_env() -> dict[str, str]:
    env = airflow_environment()
    # `airflow standalone` starts its components as `airflow …` found on PATH: the venv's first.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


# --------------------------------------------------------------------------- logical dates


def logical_datetime(day: dt.date) -> dt.datetime:
    """The timetable's logical date for report day D: D 06:00 UTC."""
    return dt.datetime(day.year, day.month, day.day, SCHEDULE_HOUR, tzinfo=dt.UTC)


def last_complete_day(now: dt.datetime | None = None) -> dt.date:
    """The newest day whose interval ``[D 06:00, D+1 06:00)`` has ended."""
    now = now or dt.datetime.now(dt.UTC)
    return (now - dt.timedelta(days=1, hours=SCHEDULE_HOUR)).date()


# --------------------------------------------------------------------------- the server


class AirflowNotReady(RuntimeError):
    """Airflow did not come up in time (its log says why)."""


@dataclass
class AirflowProcess:
    """`airflow standalone` in its own process group (stopping it stops every component)."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def start_standalone(log_path: Path) -> AirflowProcess:
    """Start `airflow standalone` (API server, scheduler, DAG processor, triggerer)."""
    ensure_password_file()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [_airflow_executable(), "standalone"],
        env=_subprocess_env(),
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return AirflowProcess(proc, base_url(), log_path)


@contextmanager
def running_airflow(log_path: Path, *, timeout: float = 600) -> Iterator[AirflowClient]:
    """Airflow up and answering (an existing one on the port is reused), stopped afterwards."""
    client = AirflowClient(base_url())
    if client.answers():
        client.wait_ready(timeout=timeout)
        yield client
        return
    server = start_standalone(log_path)
    try:
        client.wait_ready(timeout=timeout, process=server)
        yield client
    finally:
        server.stop()


# --------------------------------------------------------------------------- REST client


@dataclass
class RunState:
    """One DAG run as the REST API reports it."""

    run_id: str
    logical_date: dt.datetime
    state: str
    start_date: dt.datetime | None
    end_date: dt.datetime | None
    note: str | None = None
    run_type: str = ""

    @property
    def day(self) -> dt.date:
        return self.logical_date.date()

    @property
    def seconds(self) -> float | None:
        if self.start_date is None or self.end_date is None:
            return None
        return (self.end_date - self.start_date).total_seconds()

    @property
    def finished(self) -> bool:
        return self.state in ("success", "failed")


@dataclass
class AirflowClient:
    """The few REST calls Spectra's commands make, as the admin user (SimpleAuthManager) or
    as ``username`` with its ``password`` (``spectra approve`` answers as the person)."""

    url: str
    password: str | None = field(default=None, repr=False)  # default: the passwords file's
    _token: str | None = field(default=None, repr=False)
    username: str = ADMIN_USER

    def answers(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.url}/api/v2/monitor/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(
        self,
        *,
        # Ends as soon as Airflow is ready (~25 s idle); a loaded 2-core machine took > 180 s.
        timeout: float = 600,
        process: AirflowProcess | None = None,
        dag_id: str = DAG_ID,
    ) -> float:
        """Block until the UI answers, the scheduler is healthy and ``dag_id`` is parsed."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if process is not None and process.proc.poll() is not None:
                raise AirflowNotReady(
                    f"airflow standalone exited with {process.proc.returncode}; "
                    f"see {process.log_path}"
                )
            if self.ready(dag_id):
                return time.monotonic() - started
            if time.monotonic() > deadline:
                where = f"; see {process.log_path}" if process else ""
                raise AirflowNotReady(f"Airflow at {self.url} not ready in {timeout:.0f} s{where}")
            time.sleep(1)

    def ready(self, dag_id: str = DAG_ID) -> bool:
        """The UI answers, the scheduler is healthy and ``dag_id`` is parsed."""
        import httpx

        try:
            health = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5)
            if health.status_code != 200:
                return False
            if health.json().get("scheduler", {}).get("status") != "healthy":
                return False
            if httpx.get(f"{self.url}/", timeout=5).status_code != 200:
                return False
            return self.request("GET", f"/api/v2/dags/{dag_id}", check=False).status_code == 200
        except httpx.HTTPError:
            return False

    def token(self) -> str:
        import httpx

        if self._token is None:
            response = httpx.post(
                f"{self.url}/auth/token",
                json={"username": self.username, "password": self.password or admin_password()},
                timeout=10,
            )
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return self._token

    def request(self, method: str, path: str, *, check: bool = True, **kwargs: Any) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {self.token()}"}
        response = httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)
        if check and response.status_code >= 400:
            raise RuntimeError(
                f"{method} {path} answered {response.status_code}: {response.text[:500]}"
            )
        return response

    def unpause(self, dag_id: str = DAG_ID) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, *, conf: Mapping[str, Any]) -> str:
        """A run of ``dag_id`` by hand (no logical date); its run id."""
        body = {"logical_date": None, "conf": dict(conf)}
        found = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body).json()
        return str(found["dag_run_id"])

    def task_states(self, dag_id: str, run_id: str) -> dict[tuple[str, int], str | None]:
        """(task id, map index) -> state of every task instance of the run."""
        from urllib.parse import quote

        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        found = self.request("GET", path, params={"limit": 1000}).json()
        return {
            (str(t["task_id"]), int(t["map_index"])): t.get("state")
            for t in found["task_instances"]
        }

    def wait_settled(
        self, dag_id: str, run_id: str, *, ready: str, timeout: float = 600, poll: float = 2.0
    ) -> dict[tuple[str, int], str | None]:
        """Wait until task ``ready`` is done and nothing of the run is running or queued for a
        few polls: what is left waits for a person (``awaiting_input``) or a sensor's next
        poke (``up_for_reschedule``), or the run has finished."""
        active = {"queued", "running", "scheduled", "up_for_retry", "restarting", "deferred"}
        deadline = time.monotonic() + timeout
        quiet = 0
        while True:
            states = self.task_states(dag_id, run_id)
            done = states.get((ready, -1)) in ("success", "skipped", "failed", "upstream_failed")
            quiet = quiet + 1 if done and not active & set(states.values()) else 0
            if quiet >= 3:
                return states
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} did not settle in {timeout:.0f} s")
            time.sleep(poll)

    def create_backfill(
        self,
        first: dt.date,
        last: dt.date,
        *,
        dag_id: str = DAG_ID,
        reprocess: str = "completed",
        max_active_runs: int = 1,
    ) -> int:
        """A backfill over report days ``first..last`` (their logical dates ``D 06:00``)."""
        body = {
            "dag_id": dag_id,
            "from_date": logical_datetime(first).isoformat(),
            "to_date": logical_datetime(last).isoformat(),
            "reprocess_behavior": reprocess,
            "max_active_runs": max_active_runs,
        }
        return int(self._post_backfill(body).json()["id"])

    def _post_backfill(self, body: Mapping[str, Any]) -> Any:
        """POST a backfill, retried while SQLite is locked.

        On SQLite, Airflow answers 503 ("Database is locked. Backfill creation is not supported
        on SQLite under concurrent access") when the scheduler writes at the same moment; the
        creation is rolled back, so posting again is safe. Seen in CI on a loaded 2-core runner.
        """
        from tenacity import (
            RetryCallState,
            retry,
            retry_if_result,
            stop_after_delay,
            wait_exponential_jitter,
        )

        def last_response(state: RetryCallState) -> Any:
            # Out of patience: hand back the last answer (reported below), not a RetryError.
            if state.outcome is None:  # tenacity calls this only after an attempt
                raise RuntimeError("backfill POST retried without an attempt")
            return state.outcome.result()

        @retry(
            retry=retry_if_result(lambda response: response.status_code == 503),
            wait=wait_exponential_jitter(initial=0.5, max=10),
            stop=stop_after_delay(BACKFILL_LOCK_PATIENCE),
            retry_error_callback=last_response,
        )
        def post() -> Any:
            return self.request("POST", "/api/v2/backfills", json=body, check=False)

        response = post()
        if response.status_code >= 400:
            raise RuntimeError(
                f"POST /api/v2/backfills answered {response.status_code}: {response.text[:500]}"
            )
        return response

    def backfill_done(self, backfill_id: int) -> bool:
        found = self.request("GET", f"/api/v2/backfills/{backfill_id}").json()
        return found.get("completed_at") is not None

    def runs(self, first: dt.date, last: dt.date, *, dag_id: str = DAG_ID) -> list[RunState]:
        """The DAG's runs whose logical dates fall on report days ``first..last``."""
        params = {
            "logical_date_gte": logical_datetime(first).isoformat(),
            "logical_date_lte": logical_datetime(last).isoformat(),
            "order_by": "logical_date",
            "limit": 1000,
        }
        found = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns", params=params).json()
        return [_run_state(r) for r in found["dag_runs"]]


def _run_state(raw: Mapping[str, Any]) -> RunState:
    def when(key: str) -> dt.datetime | None:
        value = raw.get(key)
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    logical = when("logical_date")
    if logical is None:
        raise ValueError(f"run {raw.get('dag_run_id')} has no logical date")
    return RunState(
        run_id=str(raw["dag_run_id"]),
        logical_date=logical,
        state=str(raw["state"]),
        start_date=when("start_date"),
        end_date=when("end_date"),
        note=raw.get("note"),
        run_type=str(raw.get("run_type") or ""),
    )


def backfill_and_wait(
    client: AirflowClient,
    days: Sequence[dt.date],
    *,
    on_run: Callable[[RunState], None] = lambda run: None,
    timeout: float = 3600,
    poll: float = 2.0,
) -> list[RunState]:
    """Backfill ``days`` through the scheduler and wait; ``on_run`` sees each run as it ends."""
    first, last = min(days), max(days)
    backfill_id = client.create_backfill(first, last)
    client.unpause()
    reported: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        # Only the timetable's runs: an older checkout may hold dag.test runs at midnight.
        runs = [
            r
            for r in client.runs(first, last)
            if r.run_type == "backfill" and r.logical_date.hour == SCHEDULE_HOUR
        ]
        for run in runs:
            if run.finished and run.run_id not in reported:
                reported.add(run.run_id)
                on_run(run)
        if client.backfill_done(backfill_id) and all(r.finished for r in runs):
            return runs
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} not done in {timeout:.0f} s")
        time.sleep(poll)
