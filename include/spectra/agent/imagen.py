"""The image-generation client: Imagen through the real ``google-genai`` SDK
(``client.models.generate_images``), to Vertex AI or to the local stand-in.

Built on :class:`spectra.agent.client.GeminiClient` (same settings, same SDK client, same
error split and tenacity retries: 429 / 5xx / transport errors are retried with full-jitter
backoff bounded in attempts and total time, other 4xx are permanent). An answer in which every
image was withheld by the responsible-AI filter, or none came back, is
:class:`ImagesWithheld` — permanent, since asking again with the same prompt gets the same.
See https://googleapis.github.io/python-genai/#generate-images and
https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/imagen-api.
"""

from __future__ import annotations

import dataclasses
import struct
import time
import warnings
from dataclasses import dataclass
from typing import Any

from spectra.agent.client import GeminiClient, LlmError
from spectra.agent.settings import GeminiSettings

DEFAULT_IMAGE_MODEL = "imagen-4.0-generate-001"


class ImagesWithheld(LlmError):
    """The model answered without any image (filtered by responsible AI, or empty)."""


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    mime_type: str
    width: int
    height: int


@dataclass(frozen=True)
class ImageReply:
    images: tuple[GeneratedImage, ...]
    model: str
    latency_ms: int
    attempts: int
    filtered: tuple[str, ...] = ()  # reasons of images the filter withheld


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG from its IHDR chunk; (0, 0) for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return 0, 0


class ImagenClient:
    """``models.generate_images`` with :class:`GeminiClient`'s configuration and retries."""

    def __init__(
        self,
        settings: GeminiSettings,
        *,
        model: str = DEFAULT_IMAGE_MODEL,
        retry_attempts: int = 3,
        retry_total_seconds: float = 30.0,
        retry_max_wait_seconds: float = 4.0,
    ) -> None:
        self.model = model
        self._gemini = GeminiClient(
            dataclasses.replace(settings, model=model),
            retry_attempts=retry_attempts,
            retry_total_seconds=retry_total_seconds,
            retry_max_wait_seconds=retry_max_wait_seconds,
        )

    def generate(
        self,
        *,
        prompt: str,
        number_of_images: int = 1,
        aspect_ratio: str = "1:1",
        negative_prompt: str | None = None,
    ) -> ImageReply:
        """Generate images; raises LlmError subclasses (ImagesWithheld when none came back)."""
        types = self._gemini._types
        config = types.GenerateImagesConfig(
            number_of_images=number_of_images,
            aspect_ratio=aspect_ratio,
            negative_prompt=negative_prompt,
            include_rai_reason=True,
            output_mime_type="image/png",
        )
        started = time.perf_counter()
        with warnings.catch_warnings():
            # google-genai 3.x marks generate_images deprecated ("not before Jan. 1 2027") in
            # favour of generate_content with image models; Imagen's predict is what we target
            warnings.simplefilter("ignore", category=Warning)
            response, attempts = self._gemini._call(
                lambda: self._gemini._client.models.generate_images(
                    model=self.model, prompt=prompt, config=config
                )
            )
        latency_ms = int((time.perf_counter() - started) * 1000)
        images: list[GeneratedImage] = []
        filtered: list[str] = []
        for generated in response.generated_images or []:
            image: Any = generated.image
            if image is not None and image.image_bytes:
                width, height = png_size(image.image_bytes)
                images.append(
                    GeneratedImage(image.image_bytes, image.mime_type or "image/png", width, height)
                )
            elif generated.rai_filtered_reason:
                filtered.append(str(generated.rai_filtered_reason))
        if not images:
            why = "; ".join(filtered) or "the model returned no image"
            raise ImagesWithheld(f"no image generated: {why}")
        return ImageReply(tuple(images), self.model, latency_ms, attempts, tuple(filtered))


__all__ = [
    "DEFAULT_IMAGE_MODEL",
    "GeneratedImage",
    "ImageReply",
    "ImagenClient",
    "ImagesWithheld",
    "png_size",
]
