"""`POST /v1/chat/completions`: an OpenAI chat request -> one question about one image.

The model is single-image and was trained on one question per conversation, so a
request carries exactly one image (an `image_url` part in any user message) and the
last user message's text is the question; system and assistant turns are accepted and
not shown to the model. The engine formats the question with the checkpoint's chat
format (`locvlm.model.chat`), as for every other endpoint.

Decoding is greedy whatever `temperature` says. The engines answer whole requests
(batched), so a streamed answer is generated first and then sent as server-sent events:
a role chunk, one content chunk, a finish chunk, the usage chunk if asked for, and
`data: [DONE]`. Errors therefore come before the stream, as ordinary HTTP errors.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import xgrammar as xgr
from PIL import Image

from locvlm.api.errors import InvalidRequestError
from locvlm.engines.base import Constraint
from locvlm.serving.context import ServingContext
from locvlm_client.openai_types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ImagePart,
    ResponseMessage,
    StructuredOutputs,
    TextPart,
    Usage,
    UserMessage,
)

__all__ = ["ChatTurn", "answer_regex", "complete", "read_turn", "sse_events"]

_XGRAMMAR_ERROR = re.compile(r"Regex parsing error at position \d+: [^\n]*")


@dataclass(frozen=True)
class ChatTurn:
    """What a chat request asks: a question about one image, and how to answer it."""

    question: str
    question_param: str  # where it sits, for errors: messages[2].content
    image_url: str
    image_param: str  # messages[0].content[1].image_url
    regex: str | None = None  # the answer's constraint
    max_new_tokens: int | None = None


def read_turn(request: ChatCompletionRequest, max_regex_chars: int) -> ChatTurn:
    """The question (last user message's text), the one image and the constraint.

    Raises:
        InvalidRequestError: 400, no user message, no image or more than one, or a
            constraint the engines cannot use.
    """
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
        raise InvalidRequestError("send a user message", param="messages")
    if not images:
        raise InvalidRequestError(
            "send one image: an image_url part in a user message", param="messages"
        )
    if len(images) > 1:
        raise InvalidRequestError("the model takes exactly one image", param=images[1][1])
    regex = answer_regex(request.structured_outputs, max_regex_chars)
    limit = request.max_completion_tokens or request.max_tokens
    return ChatTurn(question[0], question[1], images[0][0], images[0][1], regex, limit)


def answer_regex(spec: StructuredOutputs | None, max_chars: int) -> str | None:
    """The constraint regex of `structured_outputs`, checked before it reaches an engine.

    Checked with xgrammar, the library the engines constrain with, so a pattern they
    cannot compile is the caller's 400 rather than a failed batch.

    Raises:
        InvalidRequestError: 400, too long or not a pattern the engines support.
    """
    if spec is None:
        return None
    if spec.regex is None:
        choices = tuple(spec.choice or ())
        param = "structured_outputs.choice"
        regex = Constraint(choices=choices).as_regex()
    else:
        param, regex = "structured_outputs.regex", spec.regex
    if len(regex) > max_chars:
        raise InvalidRequestError(f"longer than {max_chars} characters as a regex", param=param)
    try:
        xgr.Grammar.from_regex(Constraint(regex=regex).for_engine())
    except Exception as exc:  # xgrammar raises RuntimeError with its C++ source location
        found = _XGRAMMAR_ERROR.search(str(exc))
        why = found[0] if found else "not a supported regular expression"
        raise InvalidRequestError(why, param=param) from None
    return regex


async def complete(
    ctx: ServingContext, image: Image.Image, turn: ChatTurn, model: str
) -> ChatCompletion:
    """Ask the turn's question about `image`; answer in the `chat.completion` shape."""
    (out,) = await ctx.ask(image, [turn.question], [turn.regex], turn.max_new_tokens)
    finish = "length" if out.finish_reason == "length" else "stop"
    usage = Usage(
        prompt_tokens=out.prompt_tokens,
        completion_tokens=out.completion_tokens,
        total_tokens=out.prompt_tokens + out.completion_tokens,
    )
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=model,
        choices=[Choice(message=ResponseMessage(content=out.text), finish_reason=finish)],
        usage=usage,
    )  # fmt: skip


def sse_events(completion: ChatCompletion, include_usage: bool = False) -> Iterator[str]:
    """`completion` as server-sent events of `chat.completion.chunk`s, then `[DONE]`."""
    choice = completion.choices[0]
    steps = [
        ChunkChoice(delta=Delta(role="assistant", content="")),
        ChunkChoice(delta=Delta(content=choice.message.content)),
        ChunkChoice(delta=Delta(), finish_reason=choice.finish_reason),
    ]
    chunks = [_chunk(completion, [step]) for step in steps]
    if include_usage:
        chunks.append(_chunk(completion, [], completion.usage))
    for chunk in chunks:
        yield f"data: {chunk.model_dump_json()}\n\n"
    yield "data: [DONE]\n\n"


def _chunk(
    completion: ChatCompletion, choices: list[ChunkChoice], usage: Usage | None = None
) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id=completion.id, created=completion.created, model=completion.model,
        choices=choices, usage=usage,
    )  # fmt: skip
