"""The Gemini client: the real ``google-genai`` SDK, to Vertex AI or to the local stand-in.

Errors are split as the style guide asks: ``LlmRateLimited`` (429, with the server's retry
delay) and ``LlmUnavailable`` (5xx, timeouts, connection errors) are retried with tenacity
(exponential backoff with full jitter, bounded in attempts and total time, the server's
``RetryInfo`` honoured when it gives one); ``LlmRequestRejected`` (other 4xx) is permanent.
Token usage comes from ``usage_metadata`` (prompt, candidates, thoughts).
See https://googleapis.github.io/python-genai/ and
https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/control-generated-output.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import tenacity

from spectra.agent.settings import GeminiSettings


class LlmError(RuntimeError):
    """The model gave no usable answer."""


class LlmRateLimited(LlmError):
    """429: quota exhausted; ``retry_after`` is the server's suggested delay in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LlmUnavailable(LlmError):
    """5xx, timeout or connection failure: the provider is unwell (trips the breaker)."""


class LlmRequestRejected(LlmError):
    """A permanent 4xx (bad request, permission): retrying will not help."""


@dataclass(frozen=True)
class LlmReply:
    text: str
    model: str
    prompt_tokens: int
    output_tokens: int
    thinking_tokens: int
    latency_ms: int
    attempts: int
    response_id: str | None = None


class ProposalModel(Protocol):
    """What the agent needs from a model: one structured answer, and token counts."""

    model: str

    def generate(
        self,
        *,
        system: str,
        prompt: str,
        response_schema: type[Any],
        temperature: float,
        max_output_tokens: int,
    ) -> LlmReply: ...

    def count_tokens(self, text: str) -> int: ...


_DELAY = re.compile(r"^(?P<s>\d+(?:\.\d+)?)s$")


def retry_after_seconds(details: Any, headers: Any = None) -> float | None:
    """The delay a 429 asks for: ``google.rpc.RetryInfo.retryDelay`` ("2s"), else Retry-After."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    for item in (error.get("details") or []) if isinstance(error, dict) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            if m := _DELAY.match(str(item.get("retryDelay", ""))):
                return float(m.group("s"))
    if headers is not None:
        value = headers.get("retry-after") if hasattr(headers, "get") else None
        if value and str(value).replace(".", "", 1).isdigit():
            return float(value)
    return None


def classify(error: BaseException) -> LlmError:
    """Map an SDK / transport exception to our retryable or permanent error."""
    from google.genai import errors

    if isinstance(error, LlmError):
        return error
    if isinstance(error, errors.APIError):
        code = int(error.code or 0)
        message = f"{code} {error.status}: {error.message}"
        if code == 429:
            headers = getattr(getattr(error, "response", None), "headers", None)
            return LlmRateLimited(message, retry_after_seconds(error.details, headers))
        if code >= 500 or code == 408:
            return LlmUnavailable(message)
        return LlmRequestRejected(message)
    if isinstance(error, _transport_errors()):
        return LlmUnavailable(f"{type(error).__name__}: {error}")
    raise error


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection and timeout errors of the HTTP stacks google-genai may use (httpx2 in 3.x)."""
    import importlib

    found: list[type[BaseException]] = [TimeoutError, ConnectionError]
    for module in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _wait(max_wait: float) -> Callable[[tenacity.RetryCallState], float]:
    jitter = tenacity.wait_random_exponential(multiplier=0.25, max=max_wait)

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, LlmRateLimited) and error.retry_after is not None:
            return min(error.retry_after, max_wait)
        return jitter(state)

    return wait


class GeminiClient:
    """``genai.Client`` configured from :class:`GeminiSettings`, with bounded retries."""

    def __init__(
        self,
        settings: GeminiSettings,
        *,
        retry_attempts: int = 4,
        retry_total_seconds: float = 30.0,
        retry_max_wait_seconds: float = 8.0,
    ) -> None:
        from google import genai
        from google.genai import types

        self.settings = settings
        self.model = settings.model
        self._types = types
        http = types.HttpOptions(
            base_url=settings.base_url,
            api_version=settings.api_version,
            timeout=int(settings.timeout_seconds * 1000),
        )
        kwargs: dict[str, Any] = {"http_options": http}
        if settings.vertexai:
            kwargs["vertexai"] = True
            if settings.api_key and not settings.project:
                kwargs["api_key"] = settings.api_key  # Vertex express mode
            else:
                kwargs.update(project=settings.project, location=settings.location)
                creds = _credentials(settings)
                if creds is not None:
                    kwargs["credentials"] = creds
        else:
            kwargs["api_key"] = settings.api_key
        self._client = genai.Client(**kwargs)
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((LlmRateLimited, LlmUnavailable)),
            stop=tenacity.stop_after_attempt(retry_attempts)
            | tenacity.stop_after_delay(retry_total_seconds),
            wait=_wait(retry_max_wait_seconds),
            reraise=True,
        )

    def _call(self, fn: Callable[[], Any]) -> tuple[Any, int]:
        attempts = 0

        def once() -> Any:
            nonlocal attempts
            attempts += 1
            try:
                return fn()
            except Exception as error:
                raise classify(error) from error

        return self._retrying(once), attempts

    def generate(
        self,
        *,
        system: str,
        prompt: str,
        response_schema: type[Any],
        temperature: float = 0.2,
        max_output_tokens: int = 4096,
    ) -> LlmReply:
        types = self._types
        config = types.GenerateContentConfig(
            system_instruction=system,
            response_mime_type="application/json",
            response_schema=response_schema,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
        )
        started = time.perf_counter()
        response, attempts = self._call(
            lambda: self._client.models.generate_content(
                model=self.model, contents=prompt, config=config
            )
        )
        latency_ms = int((time.perf_counter() - started) * 1000)
        usage = response.usage_metadata
        try:
            text = response.text or ""
        except ValueError:  # no candidates / blocked
            text = ""
        return LlmReply(
            text=text,
            model=self.model,
            prompt_tokens=int(getattr(usage, "prompt_token_count", 0) or 0),
            output_tokens=int(getattr(usage, "candidates_token_count", 0) or 0),
            thinking_tokens=int(getattr(usage, "thoughts_token_count", 0) or 0),
            latency_ms=latency_ms,
            attempts=attempts,
            response_id=getattr(response, "response_id", None),
        )

    def count_tokens(self, text: str) -> int:
        response, _ = self._call(
            lambda: self._client.models.count_tokens(model=self.model, contents=text)
        )
        return int(response.total_tokens or 0)


def _credentials(settings: GeminiSettings) -> Any:
    if settings.access_token:
        from google.oauth2.credentials import Credentials

        return Credentials(token=settings.access_token)
    if settings.credentials_path:
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_file(
            settings.credentials_path,
            scopes=["https://www.googleapis.com/auth/cloud-platform"],
        )
    return None  # Application Default Credentials


__all__ = [
    "GeminiClient",
    "LlmError",
    "LlmRateLimited",
    "LlmReply",
    "LlmRequestRejected",
    "LlmUnavailable",
    "ProposalModel",
    "classify",
    "retry_after_seconds",
]
