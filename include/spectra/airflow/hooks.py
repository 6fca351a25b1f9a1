"""Airflow hooks: Google Ads credentials come from an Airflow connection.

Pointing Spectra at Google instead of the sandbox is a change of connection only: host/port
(the endpoint), login/password (OAuth client id/secret) and extras (developer_token,
refresh_token, login_customer_id; sandbox only: access_token, ca_cert_path, sandbox_clock).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from spectra.ads.client import GOOGLE_ENDPOINT, AdsCredentials, build_client


class GoogleAdsHook(BaseHook):
    conn_name_attr = "gads_conn_id"
    default_conn_name = "google_ads_default"
    conn_type = "googleads"
    hook_name = "Google Ads (Spectra)"

    def __init__(self, gads_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.gads_conn_id = gads_conn_id

    def get_credentials(self) -> AdsCredentials:
        conn = self.get_connection(self.gads_conn_id)
        extra = dict(conn.extra_dejson)
        endpoint = GOOGLE_ENDPOINT
        if conn.host:
            endpoint = f"{conn.host}:{conn.port}" if conn.port else conn.host
        data: dict[str, Any] = {"endpoint": endpoint, **extra}
        if conn.login:
            data["client_id"] = conn.login
        if conn.password:
            data["client_secret"] = conn.password
        return AdsCredentials.from_mapping(data)

    def get_conn(self) -> tuple[Any, AdsCredentials]:
        creds = self.get_credentials()
        return build_client(creds), creds


class GeminiHook(BaseHook):
    """Gemini settings from an Airflow connection (type ``gemini``), as plain agent settings.

    Vertex AI (production): extras ``project``, ``location``, ``model`` and, optionally,
    ``credentials_path`` (a service-account key; else Application Default Credentials). Gemini
    API: ``vertexai: false`` and the API key as the password. The local stand-in: host/port
    give the base URL and the extra ``access_token`` a static bearer token.
    """

    conn_name_attr = "gemini_conn_id"
    default_conn_name = "gemini_default"
    conn_type = "gemini"
    hook_name = "Gemini (Spectra)"

    def __init__(self, gemini_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.gemini_conn_id = gemini_conn_id

    def get_settings(self) -> Any:
        from spectra.agent.settings import GeminiSettings

        conn = self.get_connection(self.gemini_conn_id)
        return GeminiSettings.from_connection(
            host=conn.host, port=conn.port, password=conn.password, extra=conn.extra_dejson
        )

    def get_conn(self) -> Any:
        from spectra.agent.client import GeminiClient

        return GeminiClient(self.get_settings())
