"""`POST /v1/describe` and `/v1/describe/upload` on the live server."""

import json
from typing import Any

import httpx
import pytest

from locvlm_client import DescribeResponse
from tests.server.api.live import LiveServer, assert_inside, b64, encoded, error_of, scene, send_all

IMAGE, OBJECTS = scene((96, 160), seed=11)
PNG = encoded(IMAGE)
INSIDE = OBJECTS[0].box.model_dump()
OUTSIDE = {"x1": 80, "y1": 150, "x2": 500, "y2": 900}  # reaches past the 96x160 image
UNIT = {"x1": INSIDE["x1"] / 96, "y1": INSIDE["y1"] / 160, "x2": INSIDE["x2"] / 96,
        "y2": INSIDE["y2"] / 160}  # fmt: skip


@pytest.fixture(scope="module")
def answers(server: LiveServer) -> dict[str, httpx.Response]:
    """This module's engine requests, sent together."""
    upload = {"files": {"file": ("scene.png", PNG, "image/png")},
              "data": {"regions": json.dumps([INSIDE]), "context": "false"}}  # fmt: skip
    return send_all(server, {
        "json": ("/v1/describe", {"json": {"image": b64(PNG), "regions": [INSIDE, OUTSIDE]}}),
        "upload": ("/v1/describe/upload", upload),
        "normalized": ("/v1/describe", {"json": {"image": b64(PNG), "regions": [UNIT],
                                                 "coords": "normalized"}}),
    })  # fmt: skip


def _described(response: httpx.Response, count: int) -> DescribeResponse:
    assert response.status_code == 200, response.text
    answer = DescribeResponse.model_validate(response.json())
    assert (answer.image_size.width, answer.image_size.height) == (96, 160)
    assert len(answer.results) == count
    for result in answer.results:
        assert_inside(result.region.model_dump(), (96, 160))  # clipped to the image
        assert result.label is None or isinstance(result.label, str)
        assert isinstance(result.description, str)
    return answer


def test_regions_are_described_and_clipped(answers: dict[str, httpx.Response]) -> None:
    answer = _described(answers["json"], 2)
    assert answer.results[0].region.model_dump() == INSIDE
    assert answer.results[1].region.model_dump() == {"x1": 80, "y1": 150, "x2": 96, "y2": 160}


def test_normalized_regions_are_read_and_answered_in_the_unit_square(
    answers: dict[str, httpx.Response],
) -> None:
    assert answers["normalized"].status_code == 200, answers["normalized"].text
    [unit] = DescribeResponse.model_validate(answers["normalized"].json()).results
    [pixel, _] = DescribeResponse.model_validate(answers["json"].json()).results
    assert unit.region.to_xyxy() == pytest.approx(list(UNIT.values()))
    assert (unit.label, unit.raw) == (pixel.label, pixel.raw)  # the same question was asked


def test_upload(answers: dict[str, httpx.Response]) -> None:
    _described(answers["upload"], 1)


IMG = b64(PNG)
BOX = {"x1": 1, "y1": 2, "x2": 30, "y2": 40}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"image": IMG, "regions": []}, "regions"),  # no region
        ({"image": IMG, "regions": [BOX] * 5}, "regions"),  # over max_regions (4)
        ({"image": IMG, "regions": [{**BOX, "x2": 0}]}, "regions[0]"),  # x2 < x1
        ({"image": IMG, "regions": [{"x1": 1, "y1": 2}]}, "regions[0].x2"),  # corner missing
        ({"image": IMG, "regions": [BOX], "context": "maybe"}, "context"),  # not a bool
    ],
)
def test_bad_requests(body: dict[str, Any], param: str, client: httpx.Client) -> None:
    assert error_of(client.post("/v1/describe", json=body), 422)["param"] == param


@pytest.mark.parametrize(
    ("regions", "param"),
    [
        ("not json", "regions"),  # not JSON
        ("[]", "regions"),  # no region
        (json.dumps([BOX] * 5), "regions"),  # over max_regions
        (json.dumps([{**BOX, "y2": -1}]), "regions[0]"),  # y2 < y1
    ],
)
def test_bad_upload_regions(regions: str, param: str, client: httpx.Client) -> None:
    response = client.post(
        "/v1/describe/upload", files={"file": ("s.png", PNG)}, data={"regions": regions}
    )
    assert error_of(response, 422)["param"] == param
