"""Python SDK of locvlm: `Client`/`AsyncClient` and the wire types the server speaks.

    from locvlm_client import Client
    with Client() as client:  # LOCVLM_BASE_URL / LOCVLM_API_KEY, or keyword arguments
        result = client.ground("scene.png", ["red circle", "blue square"])

The package depends only on httpx and pydantic; it never imports the server, torch
or vllm, so it installs anywhere. Pillow, numpy and supervision are optional extras.
"""

from locvlm_client._box import Box, ImageSize, SizeLike, as_size
from locvlm_client._client import DEFAULT_BASE_URL, AsyncClient, Client, user_message
from locvlm_client._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    GatewayTimeoutError,
    InternalServerError,
    InvalidArgumentError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
)
from locvlm_client._images import Channels, ImageLike
from locvlm_client._service import EngineState, Health, ModelCard, ModelList, Phase, Readiness
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
from locvlm_client._video import (
    Track,
    VideoAnswerType,
    VideoAskRequest,
    VideoAskResponse,
    VideoInput,
    VideoTrackRequest,
    VideoTrackResponse,
)
from locvlm_client.openai_types import (
    ChatBox,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ResponseMessage,
    Usage,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "Track",
    "VideoAnswerType",
    "VideoAskRequest",
    "VideoAskResponse",
    "VideoInput",
    "VideoTrackRequest",
    "VideoTrackResponse",
    "APIConnectionError",
    "APIError",
    "InvalidArgumentError",
    "APIStatusError",
    "APITimeoutError",
    "AnswerType",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Box",
    "Channels",
    "ChatBox",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "Choice",
    "Client",
    "CoordSpace",
    "DescribeRequest",
    "DescribeResponse",
    "DetectRequest",
    "DetectResponse",
    "Detection",
    "EngineState",
    "ErrorBody",
    "ErrorResponse",
    "GatewayTimeoutError",
    "GroundRequest",
    "GroundResponse",
    "GroundResult",
    "Health",
    "ImageInput",
    "ImageLike",
    "ImageSize",
    "InternalServerError",
    "ModelCard",
    "ModelList",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Phase",
    "RateLimitError",
    "Readiness",
    "RegionResult",
    "ResponseMessage",
    "ServiceUnavailableError",
    "SizeLike",
    "SpatialRequest",
    "SpatialResponse",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "Usage",
    "as_size",
    "user_message",
]
__version__ = "0.1.0"
