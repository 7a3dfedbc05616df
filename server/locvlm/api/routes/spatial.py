"""`POST /v1/spatial` (JSON) and `/v1/spatial/upload` (multipart): answer a spatial question."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from locvlm.api.deps import JSON_BODY, MULTIPART_BODY, ImagesDep, ServingDep, SettingsDep
from locvlm.api.limits import check_texts
from locvlm.api.routes import error_responses
from locvlm.serving.spatial import answer_spatial
from locvlm_client import CoordSpace, SpatialRequest, SpatialResponse

__all__ = ["router"]

router = APIRouter(tags=["spatial questions"], responses=error_responses())


@router.post("/spatial", dependencies=[JSON_BODY])
async def spatial_json(
    body: SpatialRequest, serving: ServingDep, images: ImagesDep, settings: SettingsDep
) -> SpatialResponse:
    """The answer, its type, and the boxes of the objects it rests on."""
    check_texts([body.question], settings, "question")
    image = await images.load(body.image)
    return await answer_spatial(serving, image, body.question, body.coords)


@router.post("/spatial/upload", dependencies=[MULTIPART_BODY])
async def spatial_upload(
    file: Annotated[UploadFile, File(description="The image file.")],
    question: Annotated[str, Form(description="e.g. 'Is the red circle left of the blue square?'")],
    serving: ServingDep,
    images: ImagesDep,
    settings: SettingsDep,
    coords: Annotated[CoordSpace, Form()] = "pixel",
) -> SpatialResponse:
    """`/v1/spatial` for an uploaded file."""
    check_texts([question], settings, "question")
    image = await images.upload(file)
    return await answer_spatial(serving, image, question, coords)
