"""`POST /v1/video/track` and `/v1/video/ask` (JSON), and their `/upload` variants.

A clip is a list of frames or one file (animated GIF or WebP, MP4), under the
`max_video_*` limits; see `locvlm.serving.video` for how it is answered.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from locvlm.api.deps import JSON_BODY, MULTIPART_BODY, ImagesDep, ServingDep, SettingsDep
from locvlm.api.limits import check_texts
from locvlm.api.routes import error_responses, split_phrases
from locvlm.serving.video import answer_motion, track
from locvlm_client import (
    CoordSpace,
    VideoAskRequest,
    VideoAskResponse,
    VideoTrackRequest,
    VideoTrackResponse,
)

__all__ = ["router"]

router = APIRouter(tags=["video"], responses=error_responses())

_FILE = File(description="The clip: an animated GIF or WebP, or an MP4.")


@router.post("/video/track", dependencies=[JSON_BODY])
async def track_json(
    body: VideoTrackRequest, serving: ServingDep, images: ImagesDep, settings: SettingsDep
) -> VideoTrackResponse:
    """Each phrase in every frame, linked into tracks with ids (boxes per frame)."""
    check_texts(body.phrases, settings, "phrases", max_count=settings.max_phrases)
    frames = await images.clip(body.frames, body.video)
    return await track(serving, frames, body.phrases, body.coords)


@router.post("/video/track/upload", dependencies=[MULTIPART_BODY])
async def track_upload(
    file: Annotated[UploadFile, _FILE],
    phrases: Annotated[list[str], Form(description="Phrases, comma-separated, or repeated.")],
    serving: ServingDep,
    images: ImagesDep,
    settings: SettingsDep,
    coords: Annotated[CoordSpace, Form()] = "pixel",
) -> VideoTrackResponse:
    """`/v1/video/track` for an uploaded file: `-F file=@clip.gif -F phrases='red circle'`."""
    phrases = split_phrases(phrases)
    check_texts(phrases, settings, "phrases", max_count=settings.max_phrases)
    frames = await images.video_upload(file)
    return await track(serving, frames, phrases, coords)


@router.post("/video/ask", dependencies=[JSON_BODY])
async def ask_json(
    body: VideoAskRequest, serving: ServingDep, images: ImagesDep, settings: SettingsDep
) -> VideoAskResponse:
    """A motion question: which way an object moves, or where it ends up; with its tracks."""
    check_texts([body.question], settings, "question")
    frames = await images.clip(body.frames, body.video)
    return await answer_motion(serving, frames, body.question, body.coords)


@router.post("/video/ask/upload", dependencies=[MULTIPART_BODY])
async def ask_upload(
    file: Annotated[UploadFile, _FILE],
    question: Annotated[str, Form(description="e.g. 'Which way does the red circle move?'")],
    serving: ServingDep,
    images: ImagesDep,
    settings: SettingsDep,
    coords: Annotated[CoordSpace, Form()] = "pixel",
) -> VideoAskResponse:
    """`/v1/video/ask` for an uploaded file."""
    check_texts([question], settings, "question")
    frames = await images.video_upload(file)
    return await answer_motion(serving, frames, question, coords)
