"""The Imagen client (google-genai's generate_images, Vertex mode) against the Imagen stand-in:
images come back as PNGs of Imagen's sizes; 5xx and 429 are retried; an answer with every image
filtered is ImagesWithheld (not retried); a bad request is permanent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spectra.agent.client import LlmRequestRejected, LlmUnavailable
from spectra.agent.imagen import ImagenClient, ImagesWithheld, png_size
from spectra.agent.settings import GeminiSettings
from spectra.sandbox.llm import LlmStandIn


@pytest.fixture(scope="module")
def standin() -> Iterator[LlmStandIn]:
    with LlmStandIn() as server:
        yield server


@pytest.fixture
def imagen(standin: LlmStandIn) -> ImagenClient:
    standin.image_mode = "sound"
    settings = GeminiSettings(project="p", base_url=standin.base_url, access_token="t",
                              timeout_seconds=5)  # fmt: skip
    return ImagenClient(settings, retry_attempts=3, retry_total_seconds=5,
                        retry_max_wait_seconds=0.02)  # fmt: skip


def test_images_in_the_requested_shape(standin: LlmStandIn, imagen: ImagenClient) -> None:
    reply = imagen.generate(prompt="a trail shoe", number_of_images=2, aspect_ratio="16:9")
    assert [(i.width, i.height) for i in reply.images] == [(1408, 768), (1408, 768)]
    assert all(png_size(i.data) == (1408, 768) and i.mime_type == "image/png" for i in reply.images)
    assert reply.images[0].data != reply.images[1].data
    body = standin.image_requests()[-1]["body"]
    assert body["instances"] == [{"prompt": "a trail shoe"}]
    assert body["parameters"]["sampleCount"] == 2 and body["parameters"]["aspectRatio"] == "16:9"


def test_transient_errors_are_retried_then_given_up(
    standin: LlmStandIn, imagen: ImagenClient
) -> None:
    standin.image_mode = "server_error*2"
    assert imagen.generate(prompt="x").attempts == 3
    standin.image_mode = "rate_limited*1"
    assert imagen.generate(prompt="x").attempts == 2
    standin.image_mode = "server_error"
    before = len(standin.image_requests())
    with pytest.raises(LlmUnavailable):
        imagen.generate(prompt="x")
    assert len(standin.image_requests()) - before == 3


def test_filtered_or_bad_requests_are_not_retried(
    standin: LlmStandIn, imagen: ImagenClient
) -> None:
    standin.image_mode = "filtered"
    before = len(standin.image_requests())
    with pytest.raises(ImagesWithheld, match="filtered"):
        imagen.generate(prompt="x")
    assert len(standin.image_requests()) - before == 1
    standin.image_mode = "sound"
    with pytest.raises(LlmRequestRejected, match="aspectRatio"):
        imagen.generate(prompt="x", aspect_ratio="2:1")
