"""`POST /v1/describe` (JSON) and `/v1/describe/upload` (multipart): what is in each region?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import TypeAdapter, ValidationError

from locvlm.api.deps import JSON_BODY, MULTIPART_BODY, ImagesDep, ServingDep, SettingsDep
from locvlm.api.errors import UnprocessableError, validation_error
from locvlm.api.routes import error_responses
from locvlm.serving.describe import describe
from locvlm_client import Box, CoordSpace, DescribeRequest, DescribeResponse

__all__ = ["router"]

router = APIRouter(tags=["region description"], responses=error_responses())
_BOXES = TypeAdapter(list[Box])


def _check_count(regions: list[Box], limit: int) -> None:
    if not regions:
        raise UnprocessableError("give at least one region", param="regions")
    if len(regions) > limit:
        raise UnprocessableError(f"at most {limit} regions per request", param="regions")


@router.post("/describe", dependencies=[JSON_BODY])
async def describe_json(
    body: DescribeRequest, serving: ServingDep, images: ImagesDep, settings: SettingsDep
) -> DescribeResponse:
    """Each region's category and, in context, how it relates to another object."""
    _check_count(body.regions, settings.max_regions)
    image = await images.load(body.image)
    return await describe(serving, image, body.regions, body.context, body.coords)


@router.post("/describe/upload", dependencies=[MULTIPART_BODY])
async def describe_upload(
    file: Annotated[UploadFile, File(description="The image file.")],
    regions: Annotated[
        str, Form(description='JSON list of boxes: [{"x1":0,"y1":0,"x2":10,"y2":10}]')
    ],
    serving: ServingDep,
    images: ImagesDep,
    settings: SettingsDep,
    context: Annotated[bool, Form()] = True,
    coords: Annotated[CoordSpace, Form()] = "pixel",
) -> DescribeResponse:
    """`/v1/describe` for an uploaded file, the regions as a JSON form field."""
    try:
        boxes = _BOXES.validate_json(regions)
    except ValidationError as exc:
        raise validation_error(
            [{**e, "loc": ("regions", *e["loc"])} for e in exc.errors()]
        ) from None
    _check_count(boxes, settings.max_regions)
    image = await images.upload(file)
    return await describe(serving, image, boxes, context, coords)
