"""Every SDK method, sync and async, against a real `locvlm serve` on loopback.

The server's model is the tests' barely trained one: answers must be well formed and
in the caller's pixel space; their rightness is checked with the shipped checkpoint in
the API's own tests.
"""

import io

import anyio
import numpy as np
import pytest
from PIL import Image

from locvlm_client import (
    AsyncClient,
    AuthenticationError,
    Box,
    Client,
    DescribeResponse,
    DetectResponse,
    GroundResponse,
    SpatialResponse,
    UnsupportedMediaTypeError,
    user_message,
)
from tests.server.api.live import API_KEY, LiveServer, scene, shared_server

IMAGE, OBJECTS = scene((160, 96))
REGION = OBJECTS[0].box


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> LiveServer:
    return shared_server(request)


@pytest.fixture
def client(server: LiveServer) -> Client:
    with Client(base_url=server.url, api_key=API_KEY, timeout=120) as c:
        yield c


def _inside(box: Box, width: float = 160, height: float = 96) -> None:
    assert 0 <= box.x1 <= box.x2 <= width
    assert 0 <= box.y1 <= box.y2 <= height


def test_ground(client: Client) -> None:
    answer = client.ground(IMAGE, [OBJECTS[0].category, "orange diamond"])
    assert isinstance(answer, GroundResponse)
    assert (answer.image_size.width, answer.image_size.height) == (160, 96)
    assert [r.phrase for r in answer.results] == [OBJECTS[0].category, "orange diamond"]
    for _, box in answer.labelled():
        _inside(box)
    normalized = client.ground(IMAGE, OBJECTS[0].category, coords="normalized")
    for _, box in normalized.labelled():
        _inside(box, 1, 1)


def test_describe_takes_boxes_and_tuples(client: Client) -> None:
    answer = client.describe(IMAGE, [REGION, REGION.to_xyxy()], context=True)
    assert isinstance(answer, DescribeResponse)
    assert [r.region for r in answer.results] == [REGION, REGION]
    assert all(isinstance(r.description, str) for r in answer.results)
    single = client.describe(IMAGE, REGION.to_xyxy(), context=False)
    assert len(single.results) == 1


def test_spatial_and_detect(client: Client) -> None:
    answer = client.spatial(IMAGE, "Is the red circle left of the blue square?")
    assert isinstance(answer, SpatialResponse)
    assert answer.answer_type in {"yes_no", "free"}  # free: text this model could not finish
    if answer.answer_type == "yes_no":
        assert answer.answer in {"yes", "no"}
    found = client.detect(IMAGE, ["red circle", "blue square"])
    assert isinstance(found, DetectResponse)
    for _, box in found.labelled():
        _inside(box)


def test_numpy_bgr_and_file_paths(client: Client, tmp_path) -> None:
    bgr = np.asarray(IMAGE)[:, :, ::-1].copy()
    from_array = client.ground(bgr, OBJECTS[0].category, channels="bgr")
    file = tmp_path / "scene.png"
    IMAGE.save(file)
    from_file = client.ground(file, OBJECTS[0].category)
    assert from_array.results[0].raw == from_file.results[0].raw  # the same pixels arrive


def test_chat_models_health(client: Client) -> None:
    reply = client.chat([user_message("How many red circles are there?", IMAGE)], max_tokens=8)
    assert reply.choices[0].message.role == "assistant"
    assert reply.usage.completion_tokens <= 8
    models = client.models()
    assert models.data[0].image_size > 0
    assert models.data[0].vocabulary
    health = client.health()
    assert health.ready
    assert health.status == "ready"


def test_server_errors_arrive_as_typed_exceptions(server: LiveServer) -> None:
    bad = Client(base_url=server.url, api_key="wrong", max_retries=0)
    with bad, pytest.raises(AuthenticationError) as caught:
        bad.models()
    assert caught.value.request_id
    good = Client(base_url=server.url, api_key=API_KEY)
    with good, pytest.raises(UnsupportedMediaTypeError) as caught_bad:
        good.ground(b"this is not an image", "red circle")
    assert caught_bad.value.status_code == 415
    assert caught_bad.value.param == "image.data"
    assert "not an image" in caught_bad.value.message


def test_draw_on_a_live_answer(client: Client) -> None:
    answer = client.detect(IMAGE)
    drawn = answer.draw(IMAGE)
    assert drawn.size == IMAGE.size
    buf = io.BytesIO()
    drawn.save(buf, format="PNG")
    assert Image.open(buf).size == (160, 96)


@pytest.mark.anyio
async def test_async_client_has_every_method(server: LiveServer) -> None:
    async with AsyncClient(base_url=server.url, api_key=API_KEY, timeout=120) as client:
        results: dict[str, object] = {}

        async def run(name: str, call) -> None:  # type: ignore[no-untyped-def]
            results[name] = await call

        async with anyio.create_task_group() as group:
            group.start_soon(run, "ground", client.ground(IMAGE, ["red circle"]))
            group.start_soon(run, "describe", client.describe(IMAGE, REGION))
            group.start_soon(
                run, "spatial", client.spatial(IMAGE, "What is left of the red circle?")
            )
            group.start_soon(run, "detect", client.detect(IMAGE))
            group.start_soon(
                run, "chat", client.chat([user_message("Count.", IMAGE)], max_tokens=4)
            )
        assert isinstance(results["ground"], GroundResponse)
        assert isinstance(results["describe"], DescribeResponse)
        assert isinstance(results["spatial"], SpatialResponse)
        assert isinstance(results["detect"], DetectResponse)
        assert (await client.models()).data
        assert (await client.health()).ready
