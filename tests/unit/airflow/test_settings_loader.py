"""airflow_settings.yaml (Astro format) → the shapes `airflow … import` reads; clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from spectra.airflow.settings_loader import SettingsError, convert

ROOT = Path(__file__).resolve().parents[3]


def test_repo_settings_convert(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTRA_HOME", "/srv/spectra")
    monkeypatch.setenv("SPECTRA_SANDBOX_PORT", "50999")
    monkeypatch.delenv("SPECTRA_SANDBOX_HOST", raising=False)
    conns, pools, variables = convert(yaml.safe_load((ROOT / "airflow_settings.yaml").read_text()))
    gads = conns["google_ads_default"]
    assert gads["host"] == "localhost" and gads["port"] == 50999
    extra = json.loads(gads["extra"])
    assert extra["ca_cert_path"] == "/srv/spectra/var/sandbox/tls/ca.pem"
    assert extra["developer_token"] and extra["sandbox_clock"] is True
    assert pools["google_ads_api"]["slots"] >= 1
    assert "spectra_sandbox_scenario" in variables


def test_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {
        "airflow": {
            "connections": [{"conn_id": "c", "conn_type": "http", "conn_host": "${H:-fallback}"}]
        }
    }
    monkeypatch.delenv("H", raising=False)
    assert convert(doc)[0]["c"]["host"] == "fallback"
    monkeypatch.setenv("H", "set")
    assert convert(doc)[0]["c"]["host"] == "set"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"airflow": {"connections": [{"conn_type": "http"}]}}, r"connections\[0\] needs conn_id"),
        ({"airflow": {"pools": [{"pool_name": "p"}]}}, r"pools\[0\] needs pool_name and pool_slot"),
        (
            {"airflow": {"variables": [{"variable_value": 1}]}},
            r"variables\[0\] needs variable_name",
        ),
        (
            {
                "airflow": {
                    "connections": [
                        {"conn_id": "c", "conn_type": "x", "conn_host": "${NOPE_UNSET}"}
                    ]
                }
            },
            "NOPE_UNSET is not set",
        ),
    ],
)
def test_bad_settings_name_the_entry(doc: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        convert(doc)
