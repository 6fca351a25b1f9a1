"""Spectra's own Airflow settings: one port drives the UI, the execution API and log servers."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from spectra.airflow import local
from spectra.airflow.local import (
    AirflowClient,
    airflow_environment,
    base_url,
    last_complete_day,
    logical_datetime,
)


def test_defaults_follow_home_and_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTRA_HOME", str(tmp_path))
    env = airflow_environment({"SPECTRA_AIRFLOW_PORT": "8201"})
    assert env["AIRFLOW_HOME"] == str(tmp_path / ".airflow")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path}/.airflow/airflow.db"
    assert env["AIRFLOW__API__PORT"] == "8201"
    # Tasks reach the API server on this URL: a port without it fails every task.
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8201/execution/"
    assert (env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"],
            env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]) == ("8202", "8203")  # fmt: skip
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(tmp_path / "plugins")
    assert base_url(env) == "http://127.0.0.1:8201"


def test_the_default_port_keeps_airflows_log_ports_and_explicit_settings_win() -> None:
    env = airflow_environment({"AIRFLOW_HOME": "/x", "AIRFLOW__CORE__PARALLELISM": "2"})
    assert env["AIRFLOW__API__PORT"] == "8080"
    assert "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT" not in env
    assert env["AIRFLOW__CORE__PARALLELISM"] == "2"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == "/x/passwords.json"
    assert (
        base_url({**env, "AIRFLOW__API__BASE_URL": "https://af.example/"}) == "https://af.example"
    )


def test_logical_dates_follow_the_timetable() -> None:
    assert logical_datetime(dt.date(2026, 11, 30)) == dt.datetime(2026, 11, 30, 6, tzinfo=dt.UTC)
    # The interval [D 06:00, D+1 06:00) must have ended.
    at = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)
    assert last_complete_day(at) == dt.date(2026, 11, 30)
    assert last_complete_day(at - dt.timedelta(seconds=1)) == dt.date(2026, 11, 29)


class _LockedAirflow(http.server.BaseHTTPRequestHandler):
    """Airflow's backfill endpoint as it answers on SQLite while the scheduler writes: 503."""

    answers: ClassVar[list[tuple[int, dict[str, object]]]] = []
    posts: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).posts.append(json.loads(self.rfile.read(length)))
        status, body = type(self).answers.pop(0)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def locked_airflow() -> Iterator[tuple[AirflowClient, type[_LockedAirflow]]]:
    _LockedAirflow.answers, _LockedAirflow.posts = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LockedAirflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = AirflowClient(f"http://127.0.0.1:{server.server_address[1]}", _token="t")
    yield client, _LockedAirflow
    server.shutdown()


LOCKED = (503, {"detail": "Database is locked. Backfill creation is not supported on SQLite"})


def test_a_backfill_refused_while_sqlite_is_locked_is_posted_again(
    locked_airflow: tuple[AirflowClient, type[_LockedAirflow]],
) -> None:
    client, airflow = locked_airflow
    airflow.answers = [LOCKED, LOCKED, (200, {"id": 7})]
    assert client.create_backfill(dt.date(2026, 11, 1), dt.date(2026, 11, 14)) == 7
    assert len(airflow.posts) == 3
    assert {p["from_date"] for p in airflow.posts} == {"2026-11-01T06:00:00+00:00"}


def test_a_backfill_airflow_rejects_is_an_error_at_once(
    locked_airflow: tuple[AirflowClient, type[_LockedAirflow]],
) -> None:
    client, airflow = locked_airflow
    airflow.answers = [(409, {"detail": "already running"}), (200, {"id": 8})]
    with pytest.raises(RuntimeError, match="409.*already running"):
        client.create_backfill(dt.date(2026, 11, 1), dt.date(2026, 11, 2))
    assert len(airflow.posts) == 1


def test_a_lock_that_outlasts_the_patience_names_the_last_answer(
    locked_airflow: tuple[AirflowClient, type[_LockedAirflow]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, airflow = locked_airflow
    monkeypatch.setattr(local, "BACKFILL_LOCK_PATIENCE", 0.0)
    airflow.answers = [LOCKED, (200, {"id": 9})]
    with pytest.raises(RuntimeError, match="503.*Database is locked"):
        client.create_backfill(dt.date(2026, 11, 1), dt.date(2026, 11, 2))
    assert len(airflow.posts) == 1
