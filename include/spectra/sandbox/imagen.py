"""The Imagen stand-in: Vertex AI's image-generation ``predict`` REST shape, beside the Gemini
stand-in on the same server (spectra.sandbox.llm routes ``…/models/{m}:predict`` here).

Shape, as google-genai's ``models.generate_images`` sends and reads it in Vertex AI mode
(google/genai/models.py: ``_GenerateImagesParameters_to_vertex`` and
``_GenerateImagesResponse_from_vertex``; https://cloud.google.com/vertex-ai/generative-ai/docs/
model-reference/imagen-api):

    POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:predict
    {"instances": [{"prompt": "..."}],
     "parameters": {"sampleCount": 2, "aspectRatio": "1:1", "negativePrompt": "...", ...}}
    → {"predictions": [{"bytesBase64Encoded": "...", "mimeType": "image/png"}, ...]}

Images are deterministic PNGs (colour bands from the prompt's hash) at Imagen's documented
output sizes per aspect ratio (1:1 → 1024×1024, 16:9 → 1408×768, …). Chaos modes, set like the
LLM's (``name``, ``name@first``, ``name*N``) through ``image_mode``: ``server_error`` (500),
``rate_limited`` (429 with RetryInfo), ``filtered`` (every image withheld by the responsible-AI
filter: only ``raiFilteredReason``, as Imagen answers with ``includeRaiReason``), ``empty``
(no predictions), ``slow``.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from collections.abc import Mapping
from typing import Any

SOUND = "sound"
IMAGE_MODES = frozenset({SOUND, "server_error", "rate_limited", "filtered", "empty", "slow"})
# Imagen's output size per aspect ratio (Vertex AI Imagen API reference)
SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "3:4": (896, 1280),
    "4:3": (1280, 896),
    "9:16": (768, 1408),
    "16:9": (1408, 768),
}
MAX_SAMPLES = 4
FILTERED_REASON = (
    "Unable to show generated images. All images were filtered out because they violated "
    "Vertex AI's usage guidelines. (stand-in)"
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width: int, height: int, seed: bytes) -> bytes:
    """A valid RGB PNG: horizontal colour bands chosen by ``seed`` (compresses to a few KB)."""
    bands = [seed[i : i + 3] for i in range(0, 24, 3)]
    rows = []
    band_height = max(1, height // len(bands))
    for band in bands:
        row = b"\x00" + band * width
        rows.append(row * band_height)
    raw = b"".join(rows)
    missing = height - band_height * len(bands)
    raw += (b"\x00" + bands[-1] * width) * missing
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


def _error(code: int, status: str, message: str, details: list[Any]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, "details": details}}


def answer(
    body: Mapping[str, Any], mode: str, *, retry_delay_seconds: float = 0.05
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for one ``:predict`` request in ``mode``."""
    instances = body.get("instances") or []
    prompt = str((instances[0] if instances else {}).get("prompt") or "")
    params = body.get("parameters") or {}
    if not prompt:
        return 400, _error(400, "INVALID_ARGUMENT", "instances[0].prompt is required", [])
    ratio = str(params.get("aspectRatio") or "1:1")
    if ratio not in SIZES:
        return 400, _error(
            400, "INVALID_ARGUMENT", f"aspectRatio {ratio!r}: one of {sorted(SIZES)}", []
        )
    count = int(params.get("sampleCount") or 1)
    if not 1 <= count <= MAX_SAMPLES:
        return 400, _error(400, "INVALID_ARGUMENT", f"sampleCount must be 1-{MAX_SAMPLES}", [])
    if mode == "server_error":
        return 500, _error(500, "INTERNAL", "Internal error (stand-in)", [])
    if mode == "rate_limited":
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{retry_delay_seconds}s",
            }
        ]
        return 429, _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded (stand-in)", details)
    if mode == "empty":
        return 200, {}
    if mode == "filtered":
        return 200, {"predictions": [{"raiFilteredReason": FILTERED_REASON}]}
    width, height = SIZES[ratio]
    predictions = []
    for i in range(count):
        seed = hashlib.sha256(f"{prompt}|{params.get('seed', '')}|{i}".encode()).digest()
        data = png(width, height, seed)
        predictions.append(
            {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": "image/png"}
        )
    return 200, {"predictions": predictions}


__all__ = ["IMAGE_MODES", "SIZES", "answer", "png"]
