"""`GET /metrics`: what real requests to a live server add to each series.

`server` is this module's own (one slot in flight, 64 KiB bodies), so nothing else
moves its counters between two scrapes.
"""

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from locvlm.api.app import create_app
from locvlm.api.lifecycle import Lifecycle
from locvlm.api.metrics import Metrics
from locvlm.api.settings import Settings
from locvlm.coords import Codec, get_codec
from locvlm.engines.base import GenerationRequest, GenerationResult
from locvlm.model.sidecar import Sidecar
from locvlm.serving.context import ServingContext
from locvlm.serving.ground import ground
from locvlm.tasks import TASKS, detect, locpred
from locvlm_client import Box
from tests.server.api.live import HeldBody, LiveServer, b64, encoded, scene, serving
from tests.server.engines.scripted import ScriptedEngine

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

IMAGE, OBJECTS = scene((128, 96))
PNG = encoded(IMAGE)
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    with serving(request, "metrics", LOCVLM_MAX_IN_FLIGHT="1",
                 LOCVLM_MAX_REQUEST_BYTES=str(64 * 1024)) as server:  # fmt: skip
        yield server


def _parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(server: LiveServer) -> Samples:
    """Every sample on `/metrics` (no API key)."""
    response = httpx.get(f"{server.url}/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return _parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample `name{labels}`; 0 when it has not appeared yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str) -> float:
    """`name` summed over all its labels."""
    return sum(v for (n, _), v in samples.items() if n == name)


def test_metrics_need_no_key_and_start_at_zero(server: LiveServer) -> None:
    samples = scrape(server)
    assert value(samples, "locvlm_requests_in_flight") == 0
    assert value(samples, "locvlm_engine_queued_requests") == 0
    assert value(samples, "locvlm_engine_running_requests") == 0
    assert total(samples, "locvlm_engine_generations_total") == 0
    assert total(samples, "locvlm_rejections_total") == 0


def test_a_grounding_request_counts_everywhere(server: LiveServer) -> None:
    phrases = [OBJECTS[0].category, "orange diamond"]
    with server.client() as client:
        card = client.get("/v1/models").json()["data"][0]
        codec = get_codec(**card["codec"])
        before = scrape(server)
        response = client.post("/v1/ground", json={"image": b64(PNG), "phrases": phrases})
    after = scrape(server)
    assert response.status_code == 200, response.text
    results = response.json()["results"]

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ground = {"route": "/v1/ground"}
    assert grew("locvlm_http_requests_total", **ground, method="POST", status="200") == 1
    assert grew("locvlm_http_request_duration_seconds_count", **ground) == 1
    assert grew("locvlm_image_load_seconds_count", source="data") == 1
    # the recipe trains the detect task: one listing of every object answers both phrases;
    # a phrase it names none of is asked again on its own (its raw: the listing when that
    # adds nothing, its own answer when it does), in one more engine call
    assert card["listing"]
    listed = [r["found"] and re.match(r"[a-z]+ [a-z]+ \[", r["raw"]) for r in results]
    again = sum(not x for x in listed)
    assert (
        total(after, "locvlm_engine_generations_total")
        - total(before, "locvlm_engine_generations_total")
        == 1 + again
    )
    assert grew("locvlm_engine_generation_seconds_count") == 1 + again
    assert grew("locvlm_engine_prompt_tokens_total") > 0
    assert grew("locvlm_engine_completion_tokens_total") > 0
    boxes = sum(len(r["boxes"]) for r in results)
    assert grew("locvlm_boxes_returned_total", task="ground") == boxes
    unread = sum(detect.parse(r["raw"], codec, IMAGE.size) is None  # neither a listing
                 and TASKS["locpred"].read(r["raw"], codec, IMAGE.size) is None  # nor a second look
                 for r in results)  # fmt: skip
    assert grew("locvlm_parse_failures_total", task="ground") == unread


def test_a_detect_request_asks_each_category_again(
    server: LiveServer,
) -> None:
    """The second look: one answer per known category (or per requested one) beside the
    listing; `second_look: false` asks the listing alone."""
    body = {"image": b64(PNG)}
    with server.client() as client:
        vocabulary = client.get("/v1/models").json()["data"][0]["vocabulary"]
        counts = [scrape(server)]
        for extra in ({"second_look": False}, {}, {"categories": [OBJECTS[0].category]}):
            response = client.post("/v1/detect", json=body | extra)
            assert response.status_code == 200, response.text
            counts.append(scrape(server))

    def grew(name: str, k: int) -> float:
        return total(counts[k + 1], name) - total(counts[k], name)

    answers = [grew("locvlm_engine_generations_total", k) for k in range(3)]
    assert answers == [1, 1 + len(vocabulary), 2]  # one call: tests/server/serving/test_detect


def test_rejections_by_reason(server: LiveServer) -> None:
    big = b'{"pad": "' + b"x" * (64 * 1024) + b'"}'
    bad_image = json.dumps({"image": {"data": "%%%"}, "phrases": ["a"]}).encode()
    before = scrape(server)
    with server.client() as client:

        def idle() -> None:  # the one slot is released just after each answer is sent
            _wait_for(lambda: value(scrape(server), "locvlm_requests_in_flight") == 0)

        assert client.post("/v1/ground", content=big, headers=JSON).status_code == 413
        idle()
        assert client.post("/v1/ground", content=b"a=b").status_code == 415
        idle()
        assert httpx.post(f"{server.url}/v1/ground", json={}).status_code == 401
        idle()
        assert client.get("/v1/nowhere").status_code == 404
        idle()
        assert client.get("/nowhere").status_code == 404  # not an API request: no rejection
        held = HeldBody(bad_image)  # holds the one slot while its body is read
        with server.client() as other, ThreadPoolExecutor(1) as pool:
            first = pool.submit(other.post, "/v1/ground", content=held, headers=JSON)
            _wait_for(lambda: value(scrape(server), "locvlm_requests_in_flight") == 1)
            refused = client.post("/v1/ground", content=bad_image, headers=JSON)
            held.release()
            assert first.result().status_code == 400
        assert refused.status_code == 429
    after = scrape(server)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for reason in ("payload_too_large", "unsupported_media_type", "unauthorized",
                   "not_found", "rate_limited", "invalid_request"):  # fmt: skip
        assert grew("locvlm_rejections_total", reason=reason) == 1, reason
    for status in ("413", "415", "401", "429", "400"):
        assert grew("locvlm_http_requests_total", route="/v1/ground", method="POST",
                    status=status) == 1, status  # fmt: skip
    assert grew("locvlm_http_requests_total", route="unmatched", method="GET", status="404") == 2
    assert value(after, "locvlm_requests_in_flight") == 0


def _wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- without a server: the registry is the app's, serving reports what it parsed --------
def test_each_app_has_its_own_registry() -> None:
    first, second = create_app(Settings()), create_app(Settings())
    first.state.metrics.request_done("/v1/ground", "POST", 429, 0.01)
    one, two = (_parse(app.state.metrics.exposition().decode()) for app in (first, second))
    assert value(one, "locvlm_rejections_total", reason="rate_limited") == 1
    assert value(two, "locvlm_rejections_total", reason="rate_limited") == 0


class _ScriptedEngine(ScriptedEngine):
    """Answers the red circle's question with one box, anything else with nonsense."""

    def __init__(self, codec: Codec) -> None:
        super().__init__(Sidecar(codec={"name": "ivb"}, preset="tiny-shapes", image_size=32))
        self.codec = codec

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        box = Box(x1=8, y1=8, x2=24, y2=20)
        return [
            GenerationResult(
                locpred.answer([box], self.codec, r.image.size)
                if "red circle" in r.question else "zzz", prompt_tokens=5,
                completion_tokens=3, finish_reason="stop" if "red" in r.question else "length",
            )
            for r in requests
        ]  # fmt: skip


def test_serving_reports_generations_parse_failures_and_boxes() -> None:
    metrics = Metrics(Lifecycle(Settings()))
    engine = _ScriptedEngine(get_codec(name="ivb"))
    ctx = ServingContext(engine, engine.sidecar, observer=metrics)
    image = scene((64, 48))[0]
    answer = asyncio.run(ground(ctx, image, ["red circle", "blue square", "green star"]))
    assert [len(r.boxes) for r in answer.results] == [1, 0, 0]
    samples = _parse(metrics.exposition().decode())
    assert value(samples, "locvlm_parse_failures_total", task="ground") == 2
    assert value(samples, "locvlm_boxes_returned_total", task="ground") == 1
    assert value(samples, "locvlm_engine_generations_total", finish_reason="stop") == 1
    assert value(samples, "locvlm_engine_generations_total", finish_reason="length") == 2
    assert value(samples, "locvlm_engine_prompt_tokens_total") == 15
    assert value(samples, "locvlm_engine_completion_tokens_total") == 9
    assert value(samples, "locvlm_engine_generation_seconds_count") == 3
