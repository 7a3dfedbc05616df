"""`POST /v1/spatial` and `/v1/spatial/upload` on the live server."""

from typing import Any

import httpx
import pytest

from locvlm_client import SpatialResponse
from tests.server.api import live

IMAGE, OBJECTS = live.scene((160, 120), seed=5)
PNG = live.encoded(IMAGE)
QUESTIONS = {
    "yes_no": "Is the red circle to the left of the blue square?",
    "count": "How many green triangles are there?",
    "free": "What is going on here?",
}


@pytest.fixture(scope="module")
def answers(server: live.LiveServer) -> dict[str, httpx.Response]:
    """This module's engine requests, sent together."""
    yes_no = QUESTIONS["yes_no"]
    calls = {
        kind: ("/v1/spatial", {"json": {"image": live.b64(PNG), "question": q}})
        for kind, q in QUESTIONS.items()
    }
    rotated = {"image": live.b64(live.exif_rotated(IMAGE)), "question": yes_no}
    calls["exif"] = ("/v1/spatial", {"json": rotated})
    upload = {"files": {"file": ("s.png", PNG)}, "data": {"question": yes_no}}
    calls["upload"] = ("/v1/spatial/upload", upload)
    normalized = {"image": live.b64(PNG), "question": yes_no, "coords": "normalized"}
    calls["normalized"] = ("/v1/spatial", {"json": normalized})
    return live.send_all(server, calls)


def _answered(response: httpx.Response, size: tuple[int, int]) -> SpatialResponse:
    assert response.status_code == 200, response.text
    answer = SpatialResponse.model_validate(response.json())
    assert answer.answer_type in ("yes_no", "side", "category", "count", "free")
    for item in answer.evidence:
        assert item.label
        live.assert_inside(item.box.model_dump(), size)
    return answer


@pytest.mark.parametrize("kind", ["yes_no", "count", "free", "upload"])
def test_answers_are_well_formed(kind: str, answers: dict[str, httpx.Response]) -> None:
    answer = _answered(answers[kind], (160, 120))
    if answer.answer_type == "yes_no":
        assert answer.answer in ("yes", "no")
    if answer.answer_type == "count":
        assert answer.answer.isdigit()
    if kind == "free":
        assert answer.answer_type == "free"
        assert not answer.evidence  # no template: nothing is grounded


def test_normalized_evidence_is_the_pixel_evidence_over_the_size(
    answers: dict[str, httpx.Response],
) -> None:
    unit = _answered(answers["normalized"], (1, 1))
    pixel = _answered(answers["yes_no"], (160, 120))
    assert unit.answer == pixel.answer
    got = [v for e in unit.evidence for v in e.box.to_xyxy()]
    assert got == pytest.approx(
        [v for e in pixel.evidence for v in e.box.to_normalized((160, 120))]
    )


def test_evidence_is_in_the_upright_image(answers: dict[str, httpx.Response]) -> None:
    _answered(answers["exif"], (120, 160))


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"image": live.b64(PNG), "question": ""}, "question"),  # empty
        ({"image": live.b64(PNG), "question": "   "}, "question"),  # blank
        ({"image": live.b64(PNG), "question": "why? " * 41}, "question"),  # over max_phrase_chars
        ({"image": live.b64(PNG)}, "question"),  # missing
    ],
)
def test_bad_requests(body: dict[str, Any], param: str, client: httpx.Client) -> None:
    assert live.error_of(client.post("/v1/spatial", json=body), 422)["param"] == param


def test_a_question_of_too_many_tokens_is_a_400(client: httpx.Client) -> None:
    body = {"image": live.b64(PNG), "question": "\U0001f600" * 200}  # free text, 4 bytes each
    error = live.error_of(client.post("/v1/spatial", json=body), 400)
    assert "context" in error["message"]


def test_bad_upload(client: httpx.Client) -> None:
    response = client.post("/v1/spatial/upload", files={"file": ("s.png", PNG)})
    assert live.error_of(response, 422)["param"] == "question"
