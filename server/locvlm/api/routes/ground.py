"""`POST /v1/ground` (JSON) and `POST /v1/ground/upload` (multipart): where is each phrase?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from locvlm.api.deps import JSON_BODY, MULTIPART_BODY, ImagesDep, ServingDep, SettingsDep
from locvlm.api.limits import check_texts
from locvlm.api.routes import error_responses, split_phrases
from locvlm.serving.ground import ground
from locvlm_client import CoordSpace, GroundRequest, GroundResponse

__all__ = ["router"]

router = APIRouter(tags=["grounding"], responses=error_responses())


@router.post("/ground", dependencies=[JSON_BODY])
async def ground_json(
    body: GroundRequest, serving: ServingDep, images: ImagesDep, settings: SettingsDep
) -> GroundResponse:
    """Every instance of each phrase, boxes in the image's pixels (or normalized)."""
    check_texts(body.phrases, settings, "phrases", max_count=settings.max_phrases)
    image = await images.load(body.image)
    return await ground(serving, image, body.phrases, body.coords)


@router.post("/ground/upload", dependencies=[MULTIPART_BODY])
async def ground_upload(
    file: Annotated[UploadFile, File(description="The image file.")],
    phrases: Annotated[
        list[str],
        Form(description="Phrases, comma-separated ('red circle, blue square'), or repeated."),
    ],
    serving: ServingDep,
    images: ImagesDep,
    settings: SettingsDep,
    coords: Annotated[CoordSpace, Form()] = "pixel",
) -> GroundResponse:
    """`/v1/ground` for an uploaded file: `-F file=@scene.png -F phrases='red circle, cube'`.

    Each field is split on commas, as the playground splits its phrase box.
    """
    phrases = split_phrases(phrases)
    check_texts(phrases, settings, "phrases", max_count=settings.max_phrases)
    image = await images.upload(file)
    return await ground(serving, image, phrases, coords)
