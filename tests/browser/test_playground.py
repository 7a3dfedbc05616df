"""The playground at `/` in headless Chromium against a real `locvlm serve`.

    scripts/install-chromium.sh && .venv/bin/pytest -m browser tests/browser

The model is barely trained: answers must be well formed and drawn, not yet right.
Each test leaves screenshots in `tests/browser/artifacts/`.
"""

import base64
import re
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import Playground
from tests.server.api.live import LiveServer, encoded, scene

pytestmark = pytest.mark.browser

IMAGE, OBJECTS = scene((160, 96))  # non-square: the page must keep the aspect
SIZE = "160x96"
FIRST_BOX_RGB = (0xE6, 0x19, 0x4B)  # the page's first label color (PALETTE[0])


@pytest.fixture
def scene_png(tmp_path: Path) -> Path:
    """A real PNG file of a shapes scene, as a user would choose it."""
    path = tmp_path / "scene.png"
    path.write_bytes(encoded(IMAGE))
    return path


def _assert_inside(box: dict[str, float], width: int, height: int) -> None:
    assert 0 <= box["x1"] <= box["x2"] <= width, box
    assert 0 <= box["y1"] <= box["y2"] <= height, box


def test_the_page_is_open_and_self_contained(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/", timeout=30)  # no API key
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", response.text)
    assert "@import" not in response.text


def test_sample_scene_and_ground(playground: Playground) -> None:
    playground.sample()
    status, body = playground.ask("ground", "Phrases", "red circle, blue square")

    assert status == 200, body
    assert body["image_size"] == {"width": 320, "height": 208}
    assert [r["phrase"] for r in body["results"]] == ["red circle", "blue square"]
    for result in body["results"]:
        assert result["found"] == bool(result["boxes"])
        for box in result["boxes"]:
            _assert_inside(box, 320, 208)
    assert playground.boxes() == sum(len(r["boxes"]) for r in body["results"])
    playground.shot("ground-sample")


def test_upload_a_file_and_detect(playground: Playground, scene_png: Path) -> None:
    playground.upload(scene_png, SIZE)
    canvas = playground.page.locator("#canvas").bounding_box()
    assert canvas is not None
    assert canvas["width"] / canvas["height"] == pytest.approx(160 / 96, rel=0.02)
    playground.task("detect")
    status, body = playground.run()

    assert status == 200, body
    assert body["image_size"] == {"width": 160, "height": 96}
    for detection in body["detections"]:
        assert isinstance(detection["label"], str)
        _assert_inside(detection["box"], 160, 96)
    assert playground.boxes() == len(body["detections"])
    playground.shot("detect-upload")


def test_drag_a_region_and_describe(playground: Playground, scene_png: Path) -> None:
    playground.upload(scene_png, SIZE)
    playground.task("describe")
    target = OBJECTS[1].box  # the purple square, clear of the edges: the drag starts on it
    start, end = (target.x1 - 4, target.y1 - 4), (target.x2 + 4, target.y2 + 4)
    playground.drag(start, end, SIZE)
    typed = [float(n) for n in playground.page.get_by_label("Region").input_value().split(",")]
    assert typed == pytest.approx([*start, *end], abs=1)  # original pixels, not the canvas's
    playground.shot("describe-dragged")
    assert playground.count_color(FIRST_BOX_RGB) == 0
    status, body = playground.run()

    assert status == 200, body
    [result] = body["results"]
    region = result["region"]
    assert [region[k] for k in ("x1", "y1", "x2", "y2")] == pytest.approx(typed, abs=0.01)
    assert isinstance(result["description"], str)
    assert "label" in result
    assert playground.boxes() == 1
    assert playground.count_color(FIRST_BOX_RGB) > 100  # the box and its label, drawn
    playground.shot("describe-answered")


def test_spatial_question(playground: Playground) -> None:
    playground.sample()
    question = "Is the red circle left of the blue square?"
    status, body = playground.ask("spatial", "Question", question)

    assert status == 200, body
    assert isinstance(body["answer"], str)
    assert body["answer_type"] in {"yes_no", "side", "category", "count", "free"}
    for evidence in body["evidence"]:
        assert isinstance(evidence["label"], str)
        _assert_inside(evidence["box"], 320, 208)
    assert playground.boxes() == len(body["evidence"])
    summary = playground.page.locator("#summary").inner_text()
    assert summary == f"Answer: {body['answer']} ({body['answer_type']})"
    playground.shot("spatial-sample")


def test_a_wrong_api_key_shows_the_401(playground: Playground) -> None:
    playground.open(api_key="not-the-key")
    playground.sample()
    status, body = playground.ask("ground", "Phrases", "red circle")

    assert status == 401
    assert body["error"]["type"] == "unauthorized"
    alert = playground.page.get_by_role("alert")
    assert alert.is_visible()
    text = alert.inner_text()
    assert "HTTP 401" in text
    assert body["error"]["message"] in text
    assert "Check the API key" in text
    assert playground.boxes() == 0
    playground.shot("error-401")


def test_run_without_an_image_says_what_to_do(playground: Playground) -> None:
    playground.page.get_by_role("button", name="Run").click()
    alert = playground.page.get_by_role("alert")
    assert "Choose, drop or paste an image first" in alert.inner_text()
    assert playground.page.locator("#result").get_attribute("data-runs") == "0"  # no request


DISPATCH = """([how, b64]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], "scene.png", { type: "image/png" }));
    const event = how === "drop"
        ? new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true })
        : new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
    (how === "drop" ? document.getElementById("drop") : document).dispatchEvent(event);
}"""


@pytest.mark.parametrize("how", ["drop", "paste"])
def test_drop_or_paste_an_image(playground: Playground, how: str) -> None:
    playground.page.evaluate(DISPATCH, [how, base64.b64encode(encoded(IMAGE)).decode()])
    playground.wait_image(SIZE)
    label = playground.page.get_by_role("img").get_attribute("aria-label") or ""
    assert label == "scene.png, 160 by 96 pixels"
    playground.shot(f"image-{how}")
