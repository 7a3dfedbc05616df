"""Every model family behind the same API: a tiny random checkpoint of each, served by
`locvlm serve --model DIR` with no `locvlm.json` (the family comes from `config.json`),
answers `/v1/ground` and `/v1/detect` with boxes in the caller's pixels.

The weights are random, so what the boxes point at means nothing; that they parse under
constrained decoding (no parse failure is counted), lie inside images of several sizes
and aspects, and come back at all, is what is checked. `/v1/models` says which adapter
serves, and a task the family cannot do is a 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from locvlm.adapters import ADAPTERS
from tests.server.api.live import LiveServer, assert_inside, b64, encoded, error_of, launch, scene
from tests.server.model.tiny_families import FAMILIES, build_family

SIZES = [(160, 96), (96, 160), (128, 128)]


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, LiveServer]]:
    """A server of the family's tiny checkpoint (one at a time)."""
    name: str = request.param
    model = build_family(name, tmp_path_factory.mktemp(f"tiny_{name}") / "model")
    server = launch(model, Path(tmp_path_factory.mktemp(f"log_{name}")), LOCVLM_MAX_NEW_TOKENS="96")
    try:
        server.wait_ready()
        yield name, server
    finally:
        server.stop()


def _parse_failures(server: LiveServer) -> float:
    with server.client() as client:
        text = client.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("locvlm_parse_failures_total")
    )


def test_ground_and_detect_answer_boxes_in_the_callers_pixels(family):
    name, server = family
    boxes = 0
    with server.client() as client:
        for size in SIZES:
            image, objects = scene(size)
            png = b64(encoded(image))
            grounded = client.post(
                "/v1/ground", json={"image": png, "phrases": [objects[0].category]}
            )
            assert grounded.status_code == 200, grounded.text
            for result in grounded.json()["results"]:
                for box in result["boxes"]:
                    assert_inside(box, size)
                    boxes += 1
            detected = client.post(
                "/v1/detect", json={"image": png, "categories": [objects[0].category]}
            )
            if "detect" not in ADAPTERS[name].tasks:
                assert "cannot do detect" in error_of(detected, 400)["message"]
                continue
            assert detected.status_code == 200, detected.text
            for found in detected.json()["detections"]:
                assert_inside(found["box"], size)
                boxes += 1
    assert boxes > 0, f"{name}: no box in any answer"
    assert _parse_failures(server) == 0


def test_models_names_the_adapter_and_its_tasks(family):
    name, server = family
    with server.client() as client:
        [card] = client.get("/v1/models").json()["data"]
    assert card["adapter"] == name
    assert card["tasks"] == [
        t for t in ("ground", "detect", "describe", "spatial") if t in ADAPTERS[name].tasks
    ]
    assert card["codec"]["name"] == ADAPTERS[name].codec_name
