"""The shipped checkpoint's answers through the API are right, not only well formed.

`locvlm serve` with no `--model` (the embedded default) answers questions about shapes
scenes it never saw (a seed outside training, every aspect of the contract), and the
share of right answers is checked per endpoint. The floors sit well under what the
checkpoint scores on the held-out benchmark (`bench/results/eval-default.md`) and far
above what a broken pipeline gives: boxes mapped to the wrong pixel space, a prompt the
model was not trained on or a misread answer all fall to chance or zero.

Measured on this tree with the checkpoint of session 19 (runs/k2; 56 scenes of 1-4
objects), each phrase's own answer checked against its listing of every object
(`Sidecar.grounds_from` "answer"): grounding 55/56, absent phrases rejected 56/56, region
labels 56/56, detection precision 112/114 and recall 112/117 with the listing alone and
115/117 and 115/117 with `/v1/detect`'s second look (session 22; mean confidence of
right detections 0.95), 116/117 and 116/117 with a non-square image's crops listed too
(session 24, `Sidecar.detects_in_tiles`; grounding read from that detection for the
non-square images, `grounds_in_tiles`: 55/56 as before), left/right 19/20; chat (the
official `openai` SDK) presence questions 39/40 (answering "yes" to all scores 20/40).
Since session 27 a region without context is asked RevLoc's question, its category taken
from the listing (held-out: 0.952 -> 0.971); this module passed its floors with it.
The checkpoint of session 13 (runs/r11, grounding from its listing) scored 52, 56, 50,
108/110, 108/117, 20 and 40/40. Floors: 0.9, 0.92, 0.9, 0.92 and 0.92 (detection
precision and recall; 0.9 and 0.87 before session 24 and the second look), 0.85
and 0.9, about 0.05-0.1 under each measured share: on 56 scenes one standard error of a
share near 0.95 is 0.03 (0.05 on the 20 left/right questions), so a floor 2-3 errors
down fails only on a real loss.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from locvlm.data.shapes import CATEGORIES, SceneObject, ShapesConfig, render_scene
from locvlm_client import (
    DescribeResponse,
    DetectResponse,
    GroundResponse,
    SpatialResponse,
)
from tests.server.api import live

SEED = 913_000  # training streams use small seeds; the held-out benchmark uses 424242
SIZES = [(128, 128), (224, 112), (96, 192), (300, 300), (160, 96), (120, 240)]
SCENES = 60
WORKERS = 16  # requests in flight at once (the engine batch); the bound is twice that


@dataclass
class Case:
    """One scene and what it is asked."""

    png: bytes
    size: tuple[int, int]
    objects: list[SceneObject]
    target: SceneObject  # an object whose category is unique in the scene
    absent: str  # a category not in the scene
    pair: tuple[SceneObject, SceneObject] | None  # two unique objects clearly apart in x


def _unique(objects: list[SceneObject]) -> list[SceneObject]:
    names = [o.category for o in objects]
    return [o for o in objects if names.count(o.category) == 1]


def _case(i: int) -> Case | None:
    size = SIZES[i % len(SIZES)]
    image, objects = render_scene(SEED + i, ShapesConfig(size=size, max_objects=4))
    unique = _unique(objects)
    if not unique:
        return None
    present = {o.category for o in objects}
    absent = next(c for c in CATEGORIES[i % 24 :] + CATEGORIES if c not in present)
    pairs = [
        (a, b)
        for a in unique
        for b in unique
        if a is not b and abs(a.box.center[0] - b.box.center[0]) > 0.25 * size[0]
    ]
    return Case(live.encoded(image), size, objects, unique[0], absent, pairs[0] if pairs else None)


CASES = [c for c in map(_case, range(SCENES)) if c is not None]


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live.LiveServer]:
    """`locvlm serve` with no --model: the checkpoint shipped inside the package."""
    # a detect request asks 25 questions: on a slow, busy machine 32 in flight queue long
    env = {"LOCVLM_MAX_NEW_TOKENS": "96", "LOCVLM_MAX_IN_FLIGHT": str(2 * WORKERS),
           "LOCVLM_REQUEST_TIMEOUT_S": "900"}  # fmt: skip
    server = live.launch(None, tmp_path_factory.mktemp("default_server"), **env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def answers(default_server: live.LiveServer) -> dict[str, httpx.Response]:
    """Every question of every case, sent together so that the engine batches them."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    for i, case in enumerate(CASES):
        image = live.b64(case.png)
        phrases = [case.target.category, case.absent]
        calls[f"ground{i}"] = ("/v1/ground", {"json": {"image": image, "phrases": phrases}})
        region = case.target.box.model_dump()
        calls[f"describe{i}"] = (
            "/v1/describe",
            {"json": {"image": image, "regions": [region], "context": False}},
        )
        calls[f"detect{i}"] = ("/v1/detect", {"json": {"image": image}})
        if case.pair:
            a, b = case.pair
            question = f"Is the {a.category} to the left of the {b.category}?"
            calls[f"spatial{i}"] = ("/v1/spatial", {"json": {"image": image, "question": question}})
    return live.send_all(default_server, calls, workers=WORKERS)


def _ok(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_grounding_finds_the_phrase_in_the_callers_pixels(
    answers: dict[str, httpx.Response],
) -> None:
    hits = 0
    for i, case in enumerate(CASES):
        answer = GroundResponse.model_validate(_ok(answers[f"ground{i}"]))
        assert (answer.image_size.width, answer.image_size.height) == case.size
        boxes = answer.results[0].boxes
        hits += any(box.iou(case.target.box) >= 0.5 for box in boxes)
    assert hits / len(CASES) >= 0.9, f"{hits}/{len(CASES)} phrases grounded at IoU >= 0.5"


def test_absent_phrases_are_not_found(answers: dict[str, httpx.Response]) -> None:
    rejected = sum(
        not GroundResponse.model_validate(_ok(answers[f"ground{i}"])).results[1].found
        for i in range(len(CASES))
    )
    assert rejected / len(CASES) >= 0.92, f"{rejected}/{len(CASES)} absent phrases rejected"


def test_region_labels_name_the_object(answers: dict[str, httpx.Response]) -> None:
    right = 0
    for i, case in enumerate(CASES):
        answer = DescribeResponse.model_validate(_ok(answers[f"describe{i}"]))
        right += answer.results[0].label == case.target.category
    assert right / len(CASES) >= 0.9, f"{right}/{len(CASES)} regions labelled right"


def test_detection_lists_the_objects_present(answers: dict[str, httpx.Response]) -> None:
    found = listed = truth = 0
    for i, case in enumerate(CASES):
        answer = DetectResponse.model_validate(_ok(answers[f"detect{i}"]))
        labels = {d.label for d in answer.detections}
        present = {o.category for o in case.objects}
        found += len(labels & present)
        listed += len(labels)
        truth += len(present)
    assert listed, "nothing detected in any scene"
    precision, recall = found / listed, found / truth
    assert precision >= 0.92, f"{found}/{listed} listed labels are in the scene"
    assert recall >= 0.92, f"{found}/{truth} categories present are found"


def test_detections_are_confident_where_right(answers: dict[str, httpx.Response]) -> None:
    """Each detection has a confidence; a right one (its label present) is near sure."""
    right: list[float] = []
    wrong: list[float] = []
    for i, case in enumerate(CASES):
        answer = DetectResponse.model_validate(_ok(answers[f"detect{i}"]))
        present = {o.category for o in case.objects}
        for d in answer.detections:
            assert d.confidence is not None, d
            (right if d.label in present else wrong).append(d.confidence)
    assert sum(right) / len(right) >= 0.8  # measured 0.95 on these scenes (0.93 for r11)
    if len(wrong) >= 5:
        assert sum(wrong) / len(wrong) < sum(right) / len(right)


def test_left_right_questions_are_answered_right(answers: dict[str, httpx.Response]) -> None:
    asked = [(i, c) for i, c in enumerate(CASES) if c.pair]
    assert len(asked) >= 15
    right = 0
    for i, case in asked:
        assert case.pair
        answer = SpatialResponse.model_validate(_ok(answers[f"spatial{i}"]))
        a, b = case.pair
        truth = "yes" if a.box.center[0] < b.box.center[0] else "no"
        assert answer.answer_type == "yes_no"
        right += answer.answer == truth
    assert right / len(asked) >= 0.85, f"{right}/{len(asked)} left/right answers right"


def _yes_no_chat(sdk: openai.OpenAI, model: str, case: Case, phrase: str) -> str:
    url = "data:image/png;base64," + live.b64(case.png)["data"]
    article = "an" if phrase[0] in "aeiou" else "a"
    content: list[Any] = [{"type": "text", "text": f"Is there {article} {phrase} in the image?"},
                          {"type": "image_url", "image_url": {"url": url}}]  # fmt: skip
    done = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}], temperature=0
    )
    return (done.choices[0].message.content or "").strip().lower()


def test_chat_answers_presence_questions(default_server: live.LiveServer) -> None:
    sdk = openai.OpenAI(base_url=f"{default_server.url}/v1", api_key=live.API_KEY,
                        max_retries=0, timeout=120)  # fmt: skip
    with sdk:
        model = sdk.models.list().data[0].id
        asked = CASES[:20]
        with ThreadPoolExecutor(WORKERS) as pool:
            ask = lambda c, phrase: _yes_no_chat(sdk, model, c, phrase)  # noqa: E731
            present = list(pool.map(ask, asked, [c.target.category for c in asked]))
            absent = list(pool.map(ask, asked, [c.absent for c in asked]))
    right = sum(a.startswith("yes") for a in present) + sum(a.startswith("no") for a in absent)
    assert right / (2 * len(asked)) >= 0.9, f"{right}/{2 * len(asked)}: {present} {absent}"
