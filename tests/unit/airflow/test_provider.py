"""The Google Ads connection type reaches Airflow's connection form through the provider entry
point: Airflow's own ProvidersManager finds it, validates it and serves its fields."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema

from spectra.airflow.provider import CONNECTION_TYPES, get_provider_info


def test_provider_info_is_valid_for_airflow_and_the_hooks_import() -> None:
    from importlib import import_module

    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)
    for conn in CONNECTION_TYPES:
        module, _, name = conn["hook-class-name"].rpartition(".")
        hook = getattr(import_module(module), name)
        assert hook.conn_type == conn["connection-type"]
        assert hook.hook_name == conn["hook-name"]
    # The stricter development schema checks the form declarations themselves.
    strict = json.loads(files("airflow").joinpath("provider.yaml.schema.json").read_text())
    jsonschema.validate(CONNECTION_TYPES, strict["properties"]["connection-types"])


def test_providers_manager_serves_the_google_ads_form() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "spectra" in manager.providers
    meta = {m.connection_type: m for m in manager.iter_connection_type_hook_ui_metadata()}
    google = meta["googleads"]
    assert google.hook_name == "Google Ads (Spectra)"
    assert google.field_behaviour["relabeling"]["login"] == "OAuth client id"
    assert "schema" in google.field_behaviour["hidden_fields"]
    widgets = manager._connection_form_widgets_from_metadata
    token = widgets["extra__googleads__developer_token"]
    assert token.is_sensitive and token.field["schema"]["title"] == "Developer token"
    # The hook reads exactly the extras the form writes (no prefix: Airflow 3 stores the name).
    assert {"refresh_token", "login_customer_id", "ca_cert_path", "sandbox_clock"} <= {
        w.field_name for k, w in widgets.items() if k.startswith("extra__googleads__")
    }
