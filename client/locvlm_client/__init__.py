"""Python SDK of locvlm: the wire types the server speaks (and, later, its clients).

The package depends only on httpx and pydantic; it never imports the server, torch
or vllm, so it installs anywhere.
"""

from locvlm_client._box import Box, ImageSize, SizeLike, as_size
from locvlm_client._types import (
    AnswerType,
    CoordSpace,
    DescribeRequest,
    DescribeResponse,
    Detection,
    DetectRequest,
    DetectResponse,
    ErrorBody,
    ErrorResponse,
    GroundRequest,
    GroundResponse,
    GroundResult,
    ImageInput,
    RegionResult,
    SpatialRequest,
    SpatialResponse,
)

__all__ = [
    "AnswerType",
    "Box",
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
    "ImageSize",
    "RegionResult",
    "SizeLike",
    "SpatialRequest",
    "SpatialResponse",
    "as_size",
]
__version__ = "0.1.0"
