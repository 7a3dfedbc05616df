"""OpenAI chat-completions request and response bodies (the subset this server uses).

The OpenAI wire shape is the contract here (the official `openai` SDK and vLLM's
clients speak it); the server validates with these models and the SDK parses answers
with them. Fields the server has no use for (`top_p`, `seed`, `user`, ...) are
accepted and ignored, as OpenAI-compatible servers do, so existing clients work
unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from locvlm_client._box import Box
from locvlm_client._types import CoordSpace

__all__ = [
    "AssistantMessage",
    "ChatBox",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatMessage",
    "Choice",
    "ChunkChoice",
    "ContentPart",
    "Delta",
    "FinishReason",
    "ImagePart",
    "ImageURL",
    "ResponseFormat",
    "ResponseMessage",
    "StreamOptions",
    "StructuredOutputs",
    "SystemMessage",
    "TextPart",
    "Usage",
    "UserMessage",
]

FinishReason = Literal["stop", "length"]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- the request -----------------------------------------------------------------------
class TextPart(_Lenient):
    """A piece of a message's text."""

    type: Literal["text"]
    text: str


class ImageURL(_Lenient):
    """Where the image is."""

    url: str = Field(description="`data:image/...;base64,...`, or an http(s) URL (SSRF-checked).")
    detail: Literal["auto", "low", "high"] | None = Field(
        None, description="Ignored: the model sees one fixed input size."
    )


class ImagePart(_Lenient):
    """The request's image (exactly one per request: the model is single-image)."""

    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class SystemMessage(_Lenient):
    """Instructions; accepted, not shown to the model (trained without them)."""

    role: Literal["system", "developer"]
    content: str | list[TextPart]


class UserMessage(_Lenient):
    """A user turn: text, and the image in one of the turns."""

    role: Literal["user"]
    content: str | list[ContentPart]


class AssistantMessage(_Lenient):
    """An earlier answer; accepted, not shown to the model (one question per request)."""

    role: Literal["assistant"]
    content: str | list[TextPart] | None = None


ChatMessage = Annotated[SystemMessage | UserMessage | AssistantMessage, Field(discriminator="role")]


class StructuredOutputs(_Lenient):
    """vLLM's output constraint: the answer matches `regex`, or is one of `choice`."""

    regex: str | None = Field(None, description="A regular expression (no lookarounds).")
    choice: list[str] | None = Field(None, min_length=1, description="The allowed answers.")

    @model_validator(mode="after")
    def _one(self) -> StructuredOutputs:
        if (self.regex is None) == (self.choice is None):
            raise ValueError("give exactly one of structured_outputs.regex and .choice")
        return self


class ResponseFormat(_Lenient):
    """OpenAI's `response_format`: only `text` is served.

    The model writes boxes as text, not JSON, so `json_object` and `json_schema` are
    refused (400); constrain the answer with `structured_outputs` instead.
    """

    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = Field(None, description="Refused with a 400.")


class StreamOptions(_Lenient):
    """Options of a streamed answer."""

    include_usage: bool = Field(False, description="Send a last chunk with the token usage.")


class ChatCompletionRequest(_Lenient):
    """`POST /v1/chat/completions`: one question about one image."""

    model: str = Field(
        description="The served model's id (`GET /v1/models`), or `default`; another name "
        "is a 404, as vLLM answers."
    )
    messages: list[ChatMessage] = Field(
        min_length=1,
        description="The last user message's text is the question; exactly one image_url "
        "part, in any user message.",
    )
    max_tokens: int | None = Field(
        None, ge=1, description="Longest answer; capped by the server's LOCVLM_MAX_NEW_TOKENS."
    )
    max_completion_tokens: int | None = Field(None, ge=1, description="Alias of max_tokens.")
    temperature: float | None = Field(
        None, ge=0, le=2, description="Accepted; decoding is always greedy (temperature 0)."
    )
    n: int = Field(1, ge=1, le=1, description="Only 1: greedy decoding has one answer.")
    stream: bool = Field(False, description="Answer as server-sent events (chunks).")
    stream_options: StreamOptions | None = None
    structured_outputs: StructuredOutputs | None = Field(
        None, description="Constrain the answer (vLLM's field): a regex or a list of choices."
    )
    response_format: ResponseFormat | None = Field(
        None, description='Only `{"type": "text"}`; the JSON modes are a 400.'
    )
    coords: CoordSpace = Field(
        "pixel",
        description="A locvlm extension: the space of `message.boxes`, the request image's "
        "pixels or [0, 1] of its sides.",
    )


# --- the response ----------------------------------------------------------------------
class Usage(BaseModel):
    """Tokens of the prompt and the answer."""

    prompt_tokens: int = Field(description="Prompt tokens, the image's included.")
    completion_tokens: int = Field(description="Tokens generated.")
    total_tokens: int = Field(description="Their sum.")


class ChatBox(BaseModel):
    """A box the answer's text writes, in the request image's space (see `coords`)."""

    label: str | None = Field(None, description="What the text names beside the box.")
    box: Box


class ResponseMessage(BaseModel):
    """The model's answer."""

    role: Literal["assistant"] = "assistant"
    content: str = Field(
        description="The answer text, as the model wrote it: its boxes in the model's own "
        "coordinates (grid cells for locvlm's checkpoints); `boxes` has them in the image's."
    )
    boxes: list[ChatBox] = Field(
        default_factory=list,
        description="A locvlm extension: every box in `content`, in the request image's "
        "pixels (or normalized, with `coords`), in the order written.",
    )


class _Choice(BaseModel):
    index: int = Field(0, description="Always 0 (n is always 1).")
    logprobs: None = Field(None, description="Not provided.")


class Choice(_Choice):
    """The one answer."""

    message: ResponseMessage
    finish_reason: FinishReason = Field(description="`length`: cut at max_tokens.")


class _Completion(BaseModel):
    id: str = Field(description="`chatcmpl-` and a random hex id, the same in every chunk.")
    created: int = Field(description="Unix seconds.")
    model: str = Field(description="The served model's name.")


class ChatCompletion(_Completion):
    """The answer, in OpenAI's `chat.completion` shape."""

    object: Literal["chat.completion"] = "chat.completion"
    choices: list[Choice]
    usage: Usage


class Delta(BaseModel):
    """What a chunk adds to the answer; unset fields are left out of the JSON."""

    role: Literal["assistant"] | None = Field(None, description="In the first chunk only.")
    content: str | None = Field(None, description="The next piece of the answer.")
    boxes: list[ChatBox] | None = Field(
        None, description="In the finish chunk: the answer's boxes, as `message.boxes`."
    )

    @model_serializer(mode="wrap")
    def _set_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class ChunkChoice(_Choice):
    """One step of the streamed answer."""

    delta: Delta
    finish_reason: FinishReason | None = Field(None, description="Set in the last chunk.")


class ChatCompletionChunk(_Completion):
    """One server-sent event of a streamed answer (`chat.completion.chunk`)."""

    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    choices: list[ChunkChoice] = Field(description="Empty in the usage chunk.")
    usage: Usage | None = Field(None, description="Only in the last chunk, if asked for.")
