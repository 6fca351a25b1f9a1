"""Plain settings of the proposal agent and of its Gemini client (no Airflow here)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from spectra.agent.brand_safety import BrandPolicy

DEFAULT_MODEL = "gemini-2.5-flash"
ENV_PREFIX = "SPECTRA_GEMINI_"


@dataclass(frozen=True)
class GeminiSettings:
    """How to reach Gemini: Vertex AI (project + location) or the Gemini API (api_key).

    ``base_url`` points the real client at the local stand-in; with it, ``access_token`` is a
    static bearer token so no Application Default Credentials are looked up. Project and
    location are always passed as arguments: with only environment variables and a custom
    base URL the SDK posts to ``/`` without auth.
    """

    model: str = DEFAULT_MODEL
    vertexai: bool = True
    project: str | None = None
    location: str = "us-central1"
    api_key: str | None = None
    base_url: str | None = None
    api_version: str = "v1"
    access_token: str | None = None
    credentials_path: str | None = None  # a service-account key file (else ADC)
    timeout_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.vertexai and not self.api_key and not self.project:
            raise ValueError("Gemini on Vertex AI needs a project (or an api_key for express mode)")
        if not self.vertexai and not self.api_key:
            raise ValueError("Gemini API mode needs an api_key")

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> GeminiSettings:
        """Build from a flat mapping (a connection's fields and extras, or the environment)."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value not in (None, "") else None

        vertexai = data.get("vertexai", True)
        if isinstance(vertexai, str):
            vertexai = vertexai.strip().lower() not in ("0", "false", "no", "")
        return cls(
            model=text("model") or DEFAULT_MODEL,
            vertexai=bool(vertexai),
            project=text("project"),
            location=text("location") or "us-central1",
            api_key=text("api_key"),
            base_url=text("base_url"),
            api_version=text("api_version") or "v1",
            access_token=text("access_token"),
            credentials_path=text("credentials_path"),
            timeout_seconds=float(str(data.get("timeout_seconds") or 60.0)),
        )

    @classmethod
    def from_connection(
        cls,
        *,
        host: str | None,
        port: int | None,
        password: str | None,
        extra: Mapping[str, object],
    ) -> GeminiSettings:
        """From an Airflow connection's fields (``gemini_default``): host and port make the
        base URL of a local stand-in (``http://`` when the host names no scheme), the
        password is a Gemini API key, the extras name the rest."""
        data: dict[str, object] = dict(extra)
        if host:
            url = host if "://" in host else f"http://{host}"
            data["base_url"] = f"{url}:{port}" if port else url
        if password:
            data["api_key"] = password
        return cls.from_mapping(data)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GeminiSettings:
        """``SPECTRA_GEMINI_<FIELD>`` variables (e.g. SPECTRA_GEMINI_BASE_URL)."""
        env = os.environ if environ is None else environ
        data = {k[len(ENV_PREFIX) :].lower(): v for k, v in env.items() if k.startswith(ENV_PREFIX)}
        return cls.from_mapping(data)


@dataclass(frozen=True)
class AgentSettings:
    """What the proposal step may do and spend."""

    # A campaign's proposals of one day go out as one change set (one learning window, the
    # guardrails' learning_rate): the set should carry every envelope the evidence supports.
    # Measured in the closed-loop evaluation (steady, seed 1): 11 keyword bids significantly
    # above 2x break-even, 5 of them in one campaign, 4 in another: 3 a campaign left 3 out.
    max_proposals_per_campaign: int = 10
    prompt_token_budget: int = 6_000  # per campaign prompt, counted with count_tokens
    daily_ai_budget_micros: int = 5_000_000  # per tenant and logical day, USD micros
    temperature: float = 0.2
    max_output_tokens: int = 4_096
    prompt_versions: tuple[str, ...] = ("v1", "v2")  # A/B arms by a stable campaign hash
    negative_min_clicks: int = 5
    negative_window_days: int = 30
    negatives_per_campaign: int = 5
    retry_attempts: int = 4
    retry_total_seconds: float = 30.0
    retry_max_wait_seconds: float = 8.0
    breaker_fail_max: int = 5
    breaker_reset_seconds: float = 60.0
    brand_policies: Mapping[str, BrandPolicy] = field(default_factory=dict)  # per tenant
