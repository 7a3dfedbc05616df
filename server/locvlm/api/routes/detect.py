"""`POST /v1/detect` (JSON) and `/v1/detect/upload` (multipart): every object, labelled."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from locvlm.api.deps import JSON_BODY, MULTIPART_BODY, ImagesDep, ServingDep, SettingsDep
from locvlm.api.limits import check_texts
from locvlm.api.routes import error_responses
from locvlm.serving.detect import detect
from locvlm_client import CoordSpace, DetectRequest, DetectResponse

__all__ = ["router"]

router = APIRouter(tags=["detection"], responses=error_responses())


@router.post("/detect", dependencies=[JSON_BODY])
async def detect_json(
    body: DetectRequest, serving: ServingDep, images: ImagesDep, settings: SettingsDep
) -> DetectResponse:
    """Every object of `categories` (all the model knows when none are given)."""
    check_texts(body.categories or [], settings, "categories", max_count=settings.max_phrases)
    image = await images.load(body.image)
    second_look = settings.detect_second_look if body.second_look is None else body.second_look
    return await detect(serving, image, body.categories, body.coords, second_look)


@router.post("/detect/upload", dependencies=[MULTIPART_BODY])
async def detect_upload(
    file: Annotated[UploadFile, File(description="The image file.")],
    serving: ServingDep,
    images: ImagesDep,
    settings: SettingsDep,
    categories: Annotated[list[str] | None, Form(description="Repeat for more; none: all.")] = None,
    coords: Annotated[CoordSpace, Form()] = "pixel",
    second_look: Annotated[bool | None, Form(description="See DetectRequest.second_look.")] = None,
) -> DetectResponse:
    """`/v1/detect` for an uploaded file."""
    check_texts(categories or [], settings, "categories", max_count=settings.max_phrases)
    image = await images.upload(file)
    look = settings.detect_second_look if second_look is None else second_look
    return await detect(serving, image, categories, coords, look)
