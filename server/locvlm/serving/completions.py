"""`POST /v1/chat/completions`: an OpenAI chat request -> one question about one image.

The model is single-image and was trained on one question per conversation, so a
request carries exactly one image (an `image_url` part in any user message) and the
last user message's text is the question; system and assistant turns are accepted and
not shown to the model. The engine formats the question with the checkpoint's chat
format (`locvlm.model.prompt_format`), as for every other endpoint.

The answer's `content` is the model's text as it wrote it, boxes in the model's own
coordinates (grid cells for our checkpoints), so it is what vLLM serving the same model
answers and a `structured_outputs` pattern the caller gave still matches it. The boxes
are also in `message.boxes` (a field OpenAI's and vLLM's clients keep, as extras), read
by the family's adapter and put in the request image's pixels (or normalized, with the
`coords` extension). `response_format` other than `text` is refused: the model writes no
JSON, and a constraint it cannot meet would only give garbage.

Decoding is greedy whatever `temperature` says. With `stream`, the answer is sent as
server-sent events as it is decoded (`Engine.stream`: the transformers engines send a
piece per token, in the same micro-batches as every other request; vLLM and remote
engines the whole text as one piece): a role chunk, a content chunk per piece, a finish
chunk with `boxes`, the usage chunk if asked for, and `data: [DONE]`. The role chunk
waits for the first piece, so errors before it (a dead engine, a prompt too long) are
ordinary HTTP errors; one after it is an `{"error": ...}` event, then the stream ends.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from PIL import Image

from locvlm.engines.base import Constraint, GenerationResult
from locvlm.engines.errors import EngineDeadError, InvalidInputError
from locvlm.serving.context import ServingContext
from locvlm.serving.space import in_space
from locvlm_client import CoordSpace, ErrorBody
from locvlm_client.openai_types import (
    ChatBox,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    FinishReason,
    ImagePart,
    ResponseMessage,
    StructuredOutputs,
    TextPart,
    Usage,
    UserMessage,
)

__all__ = [
    "ChatTurn",
    "answer_regex",
    "check_constraint",
    "complete",
    "read_turn",
    "stream_events",
]


@dataclass(frozen=True)
class ChatTurn:
    """What a chat request asks: a question about one image, and how to answer it."""

    question: str
    question_param: str  # where it sits, for errors: messages[2].content
    image_url: str
    image_param: str  # messages[0].content[1].image_url
    regex: str | None = None  # the answer's constraint
    max_new_tokens: int | None = None
    regex_param: str | None = None  # structured_outputs.regex (or .choice)
    coords: CoordSpace = "pixel"  # the space of the answer's `boxes`


def read_turn(request: ChatCompletionRequest, max_regex_chars: int) -> ChatTurn:
    """The question (last user message's text), the one image and the constraint.

    Raises:
        InvalidInputError: no user message, no image or more than one, a constraint
            over `max_regex_chars`, or a `response_format` other than text.
    """
    if request.response_format is not None and request.response_format.type != "text":
        raise InvalidInputError(
            f"response_format {request.response_format.type} is not served: the model "
            "writes text with boxes, not JSON; constrain it with structured_outputs.regex",
            param="response_format.type",
        )
    images: list[tuple[str, str]] = []
    question: tuple[str, str] | None = None
    for i, message in enumerate(request.messages):
        if not isinstance(message, UserMessage):
            continue
        where = f"messages[{i}].content"
        if isinstance(message.content, str):
            question = (message.content, where)
            continue
        texts = [p.text for p in message.content if isinstance(p, TextPart)]
        question = ("".join(texts), where)  # joined as the saved chat template joins them
        images.extend(
            (p.image_url.url, f"{where}[{j}].image_url")
            for j, p in enumerate(message.content)
            if isinstance(p, ImagePart)
        )
    if question is None:
        raise InvalidInputError("send a user message", param="messages")
    if not images:
        raise InvalidInputError(
            "send one image: an image_url part in a user message", param="messages"
        )
    if len(images) > 1:
        raise InvalidInputError("the model takes exactly one image", param=images[1][1])
    regex, regex_param = answer_regex(request.structured_outputs, max_regex_chars)
    limit = request.max_completion_tokens or request.max_tokens
    return ChatTurn(
        question[0], question[1], images[0][0], images[0][1], regex, limit, regex_param,
        request.coords,
    )  # fmt: skip


def answer_regex(spec: StructuredOutputs | None, max_chars: int) -> tuple[str | None, str | None]:
    """The constraint regex of `structured_outputs`, and where it sits in the request.

    Raises:
        InvalidInputError: longer than `max_chars`.
    """
    if spec is None:
        return None, None
    if spec.regex is None:
        choices = tuple(spec.choice or ())
        param = "structured_outputs.choice"
        regex = Constraint(choices=choices).as_regex()
    else:
        param, regex = "structured_outputs.regex", spec.regex
    if len(regex) > max_chars:
        raise InvalidInputError(f"longer than {max_chars} characters as a regex", param=param)
    return regex, param


async def check_constraint(ctx: ServingContext, turn: ChatTurn) -> None:
    """Ask the engine whether it can use the turn's constraint, before any work is done.

    So a pattern the engine cannot compile is the caller's error, not a failed batch.

    Raises:
        InvalidInputError: not a pattern the engine supports (naming `turn.regex_param`).
    """
    if turn.regex is None or not ctx.constrained:
        return
    try:
        await ctx.engine.check_constraint(Constraint(regex=turn.regex))
    except InvalidInputError as exc:
        raise InvalidInputError(exc.message, param=turn.regex_param) from None


async def complete(
    ctx: ServingContext, image: Image.Image, turn: ChatTurn, model: str
) -> ChatCompletion:
    """Ask the turn's question about `image`; answer in the `chat.completion` shape."""
    (out,) = await ctx.ask(image, [turn.question], [turn.regex], turn.max_new_tokens)
    finish, usage, boxes = _answered(out, image, turn, ctx)
    message = ResponseMessage(content=out.text, boxes=boxes)
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=model,
        choices=[Choice(message=message, finish_reason=finish)], usage=usage,
    )  # fmt: skip


def _answered(
    out: GenerationResult, image: Image.Image, turn: ChatTurn, ctx: ServingContext
) -> tuple[FinishReason, Usage, list[ChatBox]]:
    """The finish reason, the usage and the answer's boxes in the turn's space."""
    finish: FinishReason = "length" if out.finish_reason == "length" else "stop"
    usage = Usage(
        prompt_tokens=out.prompt_tokens,
        completion_tokens=out.completion_tokens,
        total_tokens=out.prompt_tokens + out.completion_tokens,
    )
    found = ctx.adapter.read_detect(out.text, image.size) or []
    boxes = [ChatBox(label=f.label, box=in_space(f.box, image.size, turn.coords)) for f in found]
    return finish, usage, boxes


async def stream_events(
    ctx: ServingContext, image: Image.Image, turn: ChatTurn, model: str, include_usage: bool
) -> AsyncIterator[str]:
    """The answer as server-sent `chat.completion.chunk` events while it is decoded.

    Nothing is yielded before the engine's first piece: what fails before it raises here.
    """
    head = ChatCompletionChunk(
        id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=model, choices=[]
    )

    def event(choices: list[ChunkChoice], usage: Usage | None = None) -> str:
        chunk = head.model_copy(update={"choices": choices, "usage": usage})
        return f"data: {chunk.model_dump_json()}\n\n"

    pieces = ctx.stream(image, turn.question, turn.regex, turn.max_new_tokens)
    try:
        first = await anext(pieces)
        yield event([ChunkChoice(delta=Delta(role="assistant", content=""))])
        piece: str | GenerationResult = first
        try:
            while isinstance(piece, str):
                yield event([ChunkChoice(delta=Delta(content=piece))])
                piece = await anext(pieces)
        except Exception as exc:  # the answer has begun: tell the client in the stream
            kind = "unavailable" if isinstance(exc, EngineDeadError) else "internal_error"
            error = ErrorBody(type=kind, message=f"the answer failed after it began: {exc}")
            yield f"data: {json.dumps({'error': error.model_dump()})}\n\n"
            return
        finish, usage, boxes = _answered(piece, image, turn, ctx)
        yield event([ChunkChoice(delta=Delta(boxes=boxes), finish_reason=finish)])
        if include_usage:
            yield event([], usage)
        yield "data: [DONE]\n\n"
    finally:
        await pieces.aclose()  # a client gone mid-answer frees the engine's row
