"""`POST /v1/detect` and `/v1/detect/upload` on the live server."""

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from locvlm_client import DetectResponse
from tests.server.api.live import (
    LiveServer,
    assert_inside,
    b64,
    encoded,
    error_of,
    scene,
    send_all,
    serving,
)

IMAGE, OBJECTS = scene((200, 128), seed=3)
PNG = encoded(IMAGE)
WANTED = [OBJECTS[0].category]


@pytest.fixture(scope="module")
def answers(server: LiveServer) -> dict[str, httpx.Response]:
    """This module's engine requests, sent together."""
    return send_all(server, {
        "all": ("/v1/detect", {"json": {"image": b64(PNG)}}),
        "some": ("/v1/detect", {"json": {"image": b64(PNG), "categories": WANTED,
                                         "coords": "normalized"}}),
        "upload": ("/v1/detect/upload", {"files": {"file": ("s.png", PNG)},
                                         "data": {"categories": WANTED}}),
    })  # fmt: skip


@pytest.mark.parametrize(
    ("name", "space", "labels"),
    [
        ("all", (200, 128), None),  # every known category, pixels
        ("some", (1, 1), WANTED),  # one category, normalized
        ("upload", (200, 128), WANTED),  # multipart
    ],
)
def test_detections(
    name: str, space: tuple[int, int], labels: list[str] | None, answers: dict[str, httpx.Response]
) -> None:
    response = answers[name]
    assert response.status_code == 200, response.text
    answer = DetectResponse.model_validate(response.json())
    assert (answer.image_size.width, answer.image_size.height) == (200, 128)
    for item in answer.detections:
        assert_inside(item.box.model_dump(), space)
        assert labels is None or item.label in labels


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"image": b64(PNG), "categories": ["a"] * 7}, "categories"),  # over max_phrases
        ({"image": b64(PNG), "categories": [""]}, "categories[0]"),  # blank
        ({"image": b64(PNG), "coords": "pixels"}, "coords"),  # unknown space
    ],
)
def test_bad_requests(body: dict[str, Any], param: str, client: httpx.Client) -> None:
    assert error_of(client.post("/v1/detect", json=body), 422)["param"] == param


def _generations(server: LiveServer) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == "locvlm_engine_generations_total")  # fmt: skip


def test_the_server_default_of_the_second_look_is_a_setting(request: pytest.FixtureRequest) -> None:
    """`LOCVLM_DETECT_SECOND_LOOK=false`: a request that does not say asks the listing
    alone; one that sets `second_look` (JSON or form) gets what it asked for."""
    json, form = {"image": b64(PNG)}, {"files": {"file": ("s.png", PNG)}}
    sent: list[tuple[str, dict[str, Any]]] = [
        ("/v1/detect", {"json": json}),
        ("/v1/detect", {"json": json | {"second_look": True}}),
        ("/v1/detect/upload", form | {"data": {"second_look": "true"}}),
    ]
    asked = []
    with serving(request, "no-second-look", LOCVLM_DETECT_SECOND_LOOK="false") as server:
        client = server.client()
        known = len(client.get("/v1/models").json()["data"][0]["vocabulary"])
        for path, kwargs in sent:
            before = _generations(server)
            assert client.post(path, **kwargs).status_code == 200
            asked.append(_generations(server) - before)
        client.close()
    assert asked == [1, 1 + known, 1 + known]


def test_a_non_square_image_is_listed_in_tiles_where_the_server_says_so(
    request: pytest.FixtureRequest, server: LiveServer
) -> None:
    """`LOCVLM_TILES=true` lists a non-square image's three square crops too (`raw`: the
    whole image's listing, then each crop's); this checkpoint's own default is the whole."""
    body = {"image": b64(PNG)}
    with server.client() as client:
        whole = DetectResponse.model_validate(client.post("/v1/detect", json=body).json())
    assert "\n" not in whole.raw
    with serving(request, "tiled", LOCVLM_TILES="true") as tiled, tiled.client() as client:
        answer = client.post("/v1/detect", json=body)
    assert answer.status_code == 200, answer.text
    assert DetectResponse.model_validate(answer.json()).raw.count("\n") == 3
