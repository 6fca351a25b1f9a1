"""Spectra's own Airflow settings: one port drives the UI, the execution API and log servers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from spectra.airflow.local import (
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
