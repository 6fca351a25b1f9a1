"""Spectra as an Airflow provider: the connection types its hooks read, with their forms.

Registered through the ``apache_airflow_provider`` entry point (pyproject.toml), so Admin →
Connections offers "Google Ads (Spectra)" with labelled fields instead of a type no provider
knows. The forms are declared the way Airflow 3.2+ reads them without importing hooks
(``conn-fields`` stored in the connection's extra JSON, ``ui-field-behaviour`` for the
standard fields); the hook-side ``get_connection_form_widgets`` is deprecated there.

Adding a connection type is one more entry in ``CONNECTION_TYPES`` (a hook class path, its
type, its extra fields and how the standard fields are labelled).
"""

from __future__ import annotations

from typing import Any


def _text(label: str, description: str, *, secret: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if secret:
        schema["format"] = "password"
    return {"label": label, "description": description, "schema": schema}


def _flag(label: str, description: str) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": ["boolean", "null"]}}


GOOGLE_ADS = {
    "connection-type": "googleads",
    "hook-class-name": "spectra.airflow.hooks.GoogleAdsHook",
    "hook-name": "Google Ads (Spectra)",
    "conn-fields": {
        "developer_token": _text(
            "Developer token", "Google Ads API developer token (API Center)", secret=True
        ),
        "refresh_token": _text(
            "OAuth refresh token",
            "refresh token of the user who can access the accounts",
            secret=True,
        ),
        "login_customer_id": _text(
            "Login customer id", "manager account id, digits only, when acting through an MCC"
        ),
        "access_token": _text(
            "Static access token",
            "sandbox only: a fixed bearer token instead of OAuth",
            secret=True,
        ),
        "ca_cert_path": _text(
            "CA certificate path", "sandbox only: the self-signed CA of the local sandbox"
        ),
        "sandbox_clock": _flag(
            "Sandbox clock", "sandbox only: send the run's logical date as the sandbox's today"
        ),
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema"],
        "relabeling": {
            "host": "API endpoint host",
            "port": "API endpoint port",
            "login": "OAuth client id",
            "password": "OAuth client secret",
        },
        "placeholders": {
            "host": "googleads.googleapis.com",
            "port": "empty for Google (443)",
            "login": "1234-abc.apps.googleusercontent.com",
        },
    },
}

GEMINI = {
    "connection-type": "gemini",
    "hook-class-name": "spectra.airflow.hooks.GeminiHook",
    "hook-name": "Gemini (Spectra)",
    "conn-fields": {
        "project": _text("Google Cloud project", "Vertex AI: the project that is billed"),
        "location": _text("Location", "Vertex AI region, e.g. us-central1 or global"),
        "model": _text("Model", "e.g. gemini-2.5-flash (priced in the model_prices table)"),
        "vertexai": _flag("Vertex AI", "off: the Gemini API with the API key (password)"),
        "api_version": _text("API version", "v1 (Vertex AI) or v1beta (Gemini API)"),
        "credentials_path": _text(
            "Service-account key path", "Vertex AI: a key file; empty for Application Default"
        ),
        "access_token": _text(
            "Static access token", "local stand-in only: a fixed bearer token", secret=True
        ),
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "login"],
        "relabeling": {
            "host": "Endpoint override (base URL)",
            "port": "Endpoint port",
            "password": "API key (Gemini API / Vertex express)",
        },
        "placeholders": {
            "host": "empty for Google; http://localhost for the stand-in",
            "port": "empty for Google",
        },
    },
}

CONNECTION_TYPES: list[dict[str, Any]] = [GOOGLE_ADS, GEMINI]


def get_provider_info() -> dict[str, Any]:
    """The ``apache_airflow_provider`` entry point: what Airflow's ProvidersManager reads."""
    return {
        "package-name": "spectra",
        "name": "Spectra",
        "description": "Safe, autonomous Google Ads optimisation as Airflow DAGs.",
        "versions": ["0.1.0"],
        "connection-types": CONNECTION_TYPES,
    }
