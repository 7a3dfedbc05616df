"""`GET /v1/models` on the live server."""

import httpx

from tests.server.api.live import LiveServer


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


def test_needs_the_key(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/v1/models").status_code == 401
