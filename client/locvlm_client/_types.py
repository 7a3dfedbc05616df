"""Request and response bodies of the REST API: one schema for the server and the SDK."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from locvlm_client._box import Box, ImageSize

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "AnswerType",
    "CoordSpace",
    "DescribeRequest",
    "DescribeResponse",
    "DetectRequest",
    "DetectResponse",
    "Detection",
    "ErrorBody",
    "ErrorResponse",
    "GroundRequest",
    "GroundResponse",
    "GroundResult",
    "ImageInput",
    "RegionResult",
    "SpatialRequest",
    "SpatialResponse",
]

CoordSpace = Literal["pixel", "normalized"]
AnswerType = Literal["yes_no", "side", "category", "count", "free"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Boxes(_Body):
    """A response that holds labelled boxes: hands them to supervision or draws them."""

    def labelled(self) -> list[tuple[str, Box]]:
        """`(label, box)` pairs in the response's order."""
        raise NotImplementedError

    def confidences(self) -> list[float] | None:
        """Each box's confidence, in `labelled` order; None where the response has none."""
        return None

    def to_supervision(self, classes: Sequence[str] | None = None) -> Any:
        """The boxes as `supervision.Detections` (needs the `supervision` package).

        `class_id` indexes `classes` when given, else labels in order of appearance;
        the labels are in `data["class_name"]`; `confidence` where the response has one
        for every box (detect).
        """
        from locvlm_client._visual import to_detections

        return to_detections(self.labelled(), classes, self.confidences())

    def draw(self, image: Any, channels: Literal["rgb", "bgr"] | None = None) -> PILImage.Image:
        """A PIL copy of `image` (anything the client accepts, but a URL) with the boxes."""
        from locvlm_client._images import open_pil
        from locvlm_client._visual import draw_boxes

        return draw_boxes(open_pil(image, channels), self.labelled())


class ImageInput(_Body):
    """An image: exactly one of base64 `data` (or a data URL) and an http(s) `url`."""

    data: str | None = Field(
        None, description="Base64 image bytes, or a `data:image/...;base64,` URL."
    )
    url: str | None = Field(None, description="An http(s) URL the server fetches (SSRF-checked).")

    @model_validator(mode="after")
    def _one(self) -> ImageInput:
        if (self.data is None) == (self.url is None):
            raise ValueError("give exactly one of image.data and image.url")
        return self


class GroundRequest(_Body):
    """Where is each phrase? Every instance comes back."""

    image: ImageInput
    phrases: list[str] = Field(min_length=1, description="Phrases to ground, e.g. 'red circle'.")
    coords: CoordSpace = Field(
        "pixel", description="Boxes in original pixels or normalized to [0, 1]."
    )


class GroundResult(_Body):
    """The boxes of one phrase."""

    phrase: str
    found: bool = Field(description="False when the model says the phrase is not in the image.")
    boxes: list[Box] = Field(default_factory=list, description="Every instance, reading order.")
    raw: str = Field("", description="The model's text, for debugging.")
    warning: str | None = Field(
        None,
        description="Why the answer is not the model's: the phrase is not in its vocabulary "
        "(see /v1/models), so it was not asked and found is false.",
    )


class GroundResponse(_Boxes):
    """Grounding results, one per phrase, in request order."""

    image_size: ImageSize
    results: list[GroundResult]

    def labelled(self) -> list[tuple[str, Box]]:
        """Every box found, labelled with its phrase."""
        return [(r.phrase, box) for r in self.results for box in r.boxes]


class DescribeRequest(_Body):
    """What is in each region (and how it relates to the rest of the scene)?"""

    image: ImageInput
    regions: list[Box] = Field(
        min_length=1, description="Regions in original pixels, or normalized with `coords`."
    )
    context: bool = Field(True, description="Relate each region to another object.")
    coords: CoordSpace = Field(
        "pixel", description="The regions' space, given and answered: pixels or [0, 1]."
    )


class RegionResult(_Body):
    """The description of one region."""

    region: Box
    label: str | None = Field(description="The category at the region; None if unreadable.")
    description: str = Field(description="e.g. 'the red circle left of the blue square'.")
    raw: str = ""


class DescribeResponse(_Boxes):
    """Region descriptions, in request order."""

    image_size: ImageSize
    results: list[RegionResult]

    def labelled(self) -> list[tuple[str, Box]]:
        """Each region with its label (`?` when the model's answer was unreadable)."""
        return [(r.label or "?", r.region) for r in self.results]


class SpatialRequest(_Body):
    """A spatial question about the image."""

    image: ImageInput
    question: str = Field(
        min_length=1, description="e.g. 'Is the red circle left of the blue square?'"
    )
    coords: CoordSpace = Field(
        "pixel", description="The evidence boxes in original pixels or normalized to [0, 1]."
    )


class Detection(_Body):
    """One labelled box, and how sure the model was of it (detect only)."""

    label: str
    box: Box
    confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Geometric mean of the probabilities of the tokens that wrote this "
        "detection (label and box); None where the engine gives none (spatial evidence).",
    )


class SpatialResponse(_Boxes):
    """The answer and the boxes it rests on."""

    answer: str
    answer_type: AnswerType
    evidence: list[Detection] = Field(
        default_factory=list, description="Objects the answer rests on."
    )
    raw: str = ""
    warning: str | None = Field(
        None, description="Set when the question names an object outside the model's vocabulary."
    )

    def labelled(self) -> list[tuple[str, Box]]:
        """The evidence boxes."""
        return [(d.label, d.box) for d in self.evidence]


class DetectRequest(_Body):
    """Find every object (of the given categories, or all known ones)."""

    image: ImageInput
    categories: list[str] | None = None
    coords: CoordSpace = "pixel"
    second_look: bool | None = Field(
        None,
        description="Also ask the model about each category on its own (in the same batch) "
        "and add the objects those answers find where the listing has none: higher recall, "
        "one more short answer per category. False: the listing alone. None: the server's "
        "default (LOCVLM_DETECT_SECOND_LOOK, on unless set).",
    )


class DetectResponse(_Boxes):
    """Every object found."""

    image_size: ImageSize
    detections: list[Detection]
    raw: str = ""

    def labelled(self) -> list[tuple[str, Box]]:
        """Every detection."""
        return [(d.label, d.box) for d in self.detections]

    def confidences(self) -> list[float] | None:
        """Each detection's confidence; None unless every detection has one."""
        scores = [d.confidence for d in self.detections]
        return None if any(c is None for c in scores) else [c for c in scores if c is not None]


class ErrorBody(_Body):
    """What went wrong."""

    type: str = Field(description="e.g. invalid_request, unsupported_media_type, rate_limited.")
    message: str
    param: str | None = Field(None, description="The request field at fault, if one is.")


class ErrorResponse(_Body):
    """Every error answer has this shape."""

    error: ErrorBody
