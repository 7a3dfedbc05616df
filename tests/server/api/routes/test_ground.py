"""`POST /v1/ground` and `/v1/ground/upload` on the live server.

The shared server's model is barely trained (fast to make, and its malformed answers
exercise the parsers): answers must be well formed, schema-valid and in the caller's pixel
space (or normalized to it). That they are right is `test_answers.py`'s job, on the
shipped checkpoint.
"""

import json
from typing import Any

import httpx
import pytest

from locvlm_client import GroundResponse
from tests.server.api.live import (
    LiveServer,
    assert_inside,
    b64,
    encoded,
    error_of,
    exif_rotated,
    scene,
    send_all,
)

IMAGE, OBJECTS = scene((160, 96))
PNG = encoded(IMAGE)
PHRASES = [OBJECTS[0].category, "orange diamond"]


@pytest.fixture(scope="module")
def answers(server: LiveServer) -> dict[str, httpx.Response]:
    """This module's engine requests, sent together."""
    upload = {"files": {"file": ("scene.png", PNG, "image/png")},
              "data": {"phrases": PHRASES, "coords": "normalized"}}  # fmt: skip
    return send_all(server, {
        "pixel": ("/v1/ground", {"json": {"image": b64(PNG), "phrases": PHRASES}}),
        "normalized": ("/v1/ground", {"json": {"image": b64(PNG), "phrases": PHRASES[:1],
                                               "coords": "normalized"}}),
        "exif": ("/v1/ground", {"json": {"image": b64(exif_rotated(IMAGE)), "phrases": PHRASES}}),
        "upload": ("/v1/ground/upload", upload),
        "comma": ("/v1/ground/upload", {"files": {"file": ("scene.png", PNG, "image/png")},
                                        "data": {"phrases": ", ".join(PHRASES)}}),
    })  # fmt: skip


def _ground(response: httpx.Response, phrases: list[str]) -> GroundResponse:
    assert response.status_code == 200, response.text
    answer = GroundResponse.model_validate(response.json())
    assert [r.phrase for r in answer.results] == phrases
    for result in answer.results:
        assert result.found == bool(result.boxes)
        assert isinstance(result.raw, str)
    return answer


def test_boxes_in_the_original_pixels(answers: dict[str, httpx.Response]) -> None:
    answer = _ground(answers["pixel"], PHRASES)
    assert (answer.image_size.width, answer.image_size.height) == (160, 96)
    for result in answer.results:
        for box in result.boxes:
            assert_inside(box.model_dump(), (160, 96))


def test_an_upload_splits_its_phrases_on_commas(answers: dict[str, httpx.Response]) -> None:
    _ground(answers["comma"], PHRASES)


@pytest.mark.parametrize("name", ["normalized", "upload"])
def test_normalized_boxes_are_in_the_unit_square(
    name: str, answers: dict[str, httpx.Response]
) -> None:
    answer = _ground(answers[name], PHRASES[: len(answers[name].json()["results"])])
    assert (answer.image_size.width, answer.image_size.height) == (160, 96)
    for result in answer.results:
        for box in result.boxes:
            assert_inside(box.model_dump(), (1, 1))


def test_exif_orientation_is_applied(answers: dict[str, httpx.Response]) -> None:
    answer = _ground(answers["exif"], PHRASES)
    assert (answer.image_size.width, answer.image_size.height) == (96, 160)  # upright
    for result in answer.results:
        for box in result.boxes:
            assert_inside(box.model_dump(), (96, 160))


IMG = b64(PNG)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"image": IMG, "phrases": []}, 422, "phrases"),  # no phrase
        ({"image": IMG, "phrases": ["a"] * 7}, 422, "phrases"),  # over max_phrases (6)
        ({"image": IMG, "phrases": ["x" * 201]}, 422, "phrases[0]"),  # over max_phrase_chars
        ({"image": IMG, "phrases": ["a", "  "]}, 422, "phrases[1]"),  # blank phrase
        ({"image": IMG, "phrases": ["red\x00circle"]}, 422, "phrases[0]"),  # a NUL
        ({"image": IMG, "phrases": ["a", "b\x1bc"]}, 422, "phrases[1]"),  # an escape
        ({"image": IMG, "phrases": ["a"], "coords": "polar"}, 422, "coords"),  # unknown space
        ({"image": {}, "phrases": ["a"]}, 422, "image"),  # neither data nor url
        ({"phrases": ["a"]}, 422, "image"),  # no image
        ({"image": {"data": "%%%"}, "phrases": ["a"]}, 400, "image.data"),  # not base64
        ({"image": b64(b"GIF87a?"), "phrases": ["a"]}, 400, "image.data"),  # truncated GIF
        ({"image": b64(b"hello"), "phrases": ["a"]}, 415, "image.data"),  # not an image
        ({"image": {"url": "http://127.0.0.1/a.png"}, "phrases": ["a"]}, 400, "image.url"),  # SSRF
    ],
)
def test_bad_requests(
    body: dict[str, Any], status: int, param: str | None, client: httpx.Client
) -> None:
    error = error_of(client.post("/v1/ground", json=body), status)
    assert error["param"] == param


def test_a_lone_surrogate_is_refused_at_the_edge(client: httpx.Client) -> None:
    body = json.dumps({"image": IMG, "phrases": ["red \ud800 circle"]})  # ASCII-escaped
    response = client.post("/v1/ground", content=body, headers={"content-type": "application/json"})
    error = error_of(response, 422)
    assert (error["param"], error["message"]) == (
        "phrases[0]",
        "must not contain the character U+D800",
    )


@pytest.mark.parametrize(
    ("kwargs", "status", "param"),
    [
        ({"data": {"phrases": ["a"]}, "files": {"x": ("f", b"")}}, 422, "file"),  # no file
        ({"files": {"file": ("s.png", PNG)}}, 422, "phrases"),  # no phrase
        ({"files": {"file": ("a.txt", b"text")}, "data": {"phrases": "a"}}, 415, "file"),  # text
        ({"json": {"image": IMG, "phrases": ["a"]}}, 415, "content-type"),  # JSON, not a form
    ],
)
def test_bad_uploads(kwargs: dict[str, Any], status: int, param: str, client: httpx.Client) -> None:
    error = error_of(client.post("/v1/ground/upload", **kwargs), status)
    assert error["param"] == param
