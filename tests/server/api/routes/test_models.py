"""`GET /v1/models` on the live server."""

import httpx
import pytest

from tests.server.api.live import LiveServer, b64, encoded, scene, serving


def test_lists_the_served_model(client: httpx.Client, server: LiveServer) -> None:
    response = client.get("/v1/models")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    (card,) = body["data"]
    assert card["object"] == "model"
    assert card["engine"] == "transformers-process"
    assert card["preset"] == "tiny-shapes"
    assert card["codec"]["name"]
    assert "red circle" in card["vocabulary"]
    assert card["image_size"] > 0
    assert card["created"] > 0
    assert card["listing"]  # the recipe trains the detect task


def test_the_listing_setting_overrides_the_checkpoints(request: pytest.FixtureRequest) -> None:
    image, objects = scene((96, 64))
    with serving(request, "direct", LOCVLM_LISTING="false") as server, server.client() as client:
        [card] = client.get("/v1/models").json()["data"]
        body = {"image": b64(encoded(image)), "phrases": [objects[0].category]}
        [result] = client.post("/v1/ground", json=body).json()["results"]
    assert card["listing"] is False
    # LocPred's answer (boxes, or "There is no ..."), where a listing starts with a category
    assert result["raw"].startswith(("[", "There is no"))


def test_needs_the_key(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/v1/models").status_code == 401
