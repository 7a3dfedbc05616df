"""`POST /v1/video/track`, `/v1/video/ask` and their uploads, on the live server.

Real files made here (GIF, WebP, MP4) and frame lists; the shared server's clip limit is
16 frames (`live.MAIN_ENV`). What the answers are worth is the shipped checkpoint's
business (`bench/video.py`); here the shapes of the answers and every refusal.
"""

from pathlib import Path
from typing import Any

import httpx
import pytest

from locvlm_client import Client, VideoAskResponse, VideoTrackResponse
from tests.server.api import live
from tests.server.api.clips import ENCODERS, animated, clip

FRAMES = clip(8, (160, 96))
PHRASES = ["red circle", "blue square"]
FILES = {fmt: encode(FRAMES) for fmt, encode in ENCODERS.items()}
NAMES = {"GIF": "c.gif", "WEBP": "c.webp", "MP4": "c.mp4"}


@pytest.fixture(scope="module")
def answers(server: live.LiveServer) -> dict[str, httpx.Response]:
    """This module's engine requests, sent together."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    for fmt, data in FILES.items():
        upload = {"files": {"file": (NAMES[fmt], data)}, "data": {"phrases": ", ".join(PHRASES)}}
        calls[f"upload-{fmt}"] = ("/v1/video/track/upload", upload)
    calls["json-video"] = (
        "/v1/video/track",
        {"json": {"video": live.b64(FILES["GIF"]), "phrases": PHRASES}},
    )
    frames = [live.b64(live.encoded(f)) for f in FRAMES]
    calls["json-frames"] = ("/v1/video/track", {"json": {"frames": frames, "phrases": PHRASES}})
    calls["normalized"] = (
        "/v1/video/track",
        {"json": {"frames": frames, "phrases": PHRASES, "coords": "normalized"}},
    )
    ask = {"video": live.b64(FILES["WEBP"]), "question": "Which way does the red circle move?"}
    calls["ask"] = ("/v1/video/ask", {"json": ask})
    calls["ask-free"] = ("/v1/video/ask", {"json": {**ask, "question": "What is this?"}})
    upload = {
        "files": {"file": ("c.mp4", FILES["MP4"])},
        "data": {"question": "Does the red circle end up left of the blue square?"},
    }
    calls["ask-upload"] = ("/v1/video/ask/upload", upload)
    return live.send_all(server, calls, workers=6)  # the shared server admits 8 at once


def _tracked(response: httpx.Response, size: tuple[float, float] = (160, 96)) -> VideoTrackResponse:
    assert response.status_code == 200, response.text
    out = VideoTrackResponse.model_validate(response.json())
    assert out.frames == len(FRAMES)
    assert (out.image_size.width, out.image_size.height) == (160, 96)
    assert len({t.id for t in out.tracks}) == len(out.tracks)
    for t in out.tracks:
        assert t.label in PHRASES
        assert len(t.boxes) == len(FRAMES)
        for box in t.boxes:
            if box is not None:
                live.assert_inside(box.model_dump(), size)
    return out


@pytest.mark.parametrize("name", ["upload-GIF", "upload-WEBP", "upload-MP4", "json-video",
                                  "json-frames"])  # fmt: skip
def test_tracks_are_well_formed_for_every_kind_of_clip(
    name: str, answers: dict[str, httpx.Response]
) -> None:
    _tracked(answers[name])


def test_a_lossless_clip_tracks_as_its_frames_do(answers: dict[str, httpx.Response]) -> None:
    as_frames = _tracked(answers["json-frames"])
    assert _tracked(answers["upload-WEBP"]) == as_frames  # WebP lossless: the same pixels


def test_normalized_tracks_are_inside_the_unit_square(answers: dict[str, httpx.Response]) -> None:
    out = _tracked(answers["normalized"], size=(1.0, 1.0))
    pixel = _tracked(answers["json-frames"])
    assert [t.frames for t in out.tracks] == [t.frames for t in pixel.tracks]


@pytest.mark.parametrize("name", ["ask", "ask-upload"])
def test_motion_answers_come_with_their_tracks(
    name: str, answers: dict[str, httpx.Response]
) -> None:
    assert answers[name].status_code == 200, answers[name].text
    said = VideoAskResponse.model_validate(answers[name].json())
    if said.answer_type == "direction":
        assert said.answer in ("left", "right", "up", "down")
    elif said.answer_type == "yes_no":
        assert said.answer in ("yes", "no")
    for t in said.tracks:
        assert t.label in PHRASES


def test_a_question_about_no_motion_says_what_to_ask(answers: dict[str, httpx.Response]) -> None:
    said = VideoAskResponse.model_validate(answers["ask-free"].json())
    assert said.answer_type == "free"
    assert "which way" in said.answer.lower()


def test_the_sdk_tracks_files_and_frame_lists(server: live.LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "clip.gif"
    path.write_bytes(FILES["GIF"])
    with Client(base_url=server.url, api_key=live.API_KEY, timeout=120) as sdk:
        from_file = sdk.track(path, PHRASES)
        from_frames = sdk.track(list(FRAMES), PHRASES)
        said = sdk.ask_video(path, "Which way does the blue square move?")
    assert from_file.frames == from_frames.frames == len(FRAMES)
    assert said.answer_type in ("direction", "free")


@pytest.mark.parametrize(
    ("files", "status", "needle"),
    [
        ({"file": ("c.gif", animated(clip(17), "GIF"))}, 413, "17 frames; the limit is 16"),
        ({"file": ("c.png", live.encoded(FRAMES[0]))}, 415, "GIF, WEBP, MP4"),
        ({"file": ("c.mp4", FILES["MP4"][:100])}, 400, "corrupt"),
    ],
)
def test_bad_files_are_refused_clearly(
    client: httpx.Client, files: dict[str, Any], status: int, needle: str
) -> None:
    response = client.post("/v1/video/track/upload", files=files, data={"phrases": "red circle"})
    error = live.error_of(response, status)
    assert needle in error["message"]
    assert error["param"] == "file"


def test_bad_bodies_are_refused_clearly(client: httpx.Client) -> None:
    frame = live.b64(live.encoded(FRAMES[0]))
    other = live.b64(live.encoded(clip(8, (96, 160))[0]))
    both = {"frames": [frame], "video": live.b64(FILES["GIF"]), "phrases": PHRASES}
    assert "exactly one of frames and video" in str(
        live.error_of(client.post("/v1/video/track", json=both), 422)
    )
    mixed = {"frames": [frame, other], "phrases": PHRASES}
    error = live.error_of(client.post("/v1/video/track", json=mixed), 400)
    assert "differ in size" in error["message"]
    assert error["param"] == "frames"
    many = {"frames": [frame] * 17, "question": "Which way does the red circle move?"}
    error = live.error_of(client.post("/v1/video/ask", json=many), 413)
    assert error["param"] == "frames"
