"""Gemini settings from the Airflow connection ``gemini_default`` and from the environment."""

from __future__ import annotations

import json

import pytest

from spectra.agent.settings import GeminiSettings


def test_the_hook_reads_the_stand_in_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from spectra.airflow.hooks import GeminiHook

    conn = {
        "conn_type": "gemini", "host": "http://localhost", "port": 50291,
        "extra": {"project": "p1", "location": "europe-west4", "model": "gemini-2.5-pro",
                  "access_token": "tok"},
    }  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_GEMINI_DEFAULT", json.dumps(conn))
    settings = GeminiHook().get_settings()
    assert settings == GeminiSettings(
        model="gemini-2.5-pro", project="p1", location="europe-west4",
        base_url="http://localhost:50291", access_token="tok",
    )  # fmt: skip


def test_the_hook_reads_a_vertex_connection_without_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from spectra.airflow.hooks import GeminiHook

    conn = {"conn_type": "gemini", "extra": {"project": "prod", "location": "global"}}
    monkeypatch.setenv("AIRFLOW_CONN_GEMINI_DEFAULT", json.dumps(conn))
    settings = GeminiHook().get_settings()
    assert (settings.base_url, settings.project, settings.vertexai) == (None, "prod", True)


def test_settings_from_env_and_their_errors() -> None:
    env = {"SPECTRA_GEMINI_PROJECT": "p", "SPECTRA_GEMINI_BASE_URL": "http://127.0.0.1:1"}
    assert GeminiSettings.from_env(env).base_url == "http://127.0.0.1:1"
    with pytest.raises(ValueError, match="needs a project"):
        GeminiSettings.from_env({})
    with pytest.raises(ValueError, match="needs an api_key"):
        GeminiSettings.from_mapping({"vertexai": "false"})
