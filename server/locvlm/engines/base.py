"""The `Engine` protocol every inference backend implements (after vLLM's EngineClient).

An engine turns (image, question) pairs into text. Callers pass the *question*; the
engine formats it with the model family's chat format (`Adapter.render`), prepares the
image as the family takes it (`Adapter.prepare`: our checkpoints squash it to their
square input, a no-op for an image already squashed, as `locvlm.serving` sends them),
applies an optional output constraint (a
regular expression or a list of choices), and reports token counts. A constraint a
caller wrote is offered to `check_constraint` first, so one that cannot be compiled fails
alone rather than the batch it would join. Engines are built from an `EngineConfig` and
torn down in `async with Engine.open(config)`; what they raise is in `engines.errors`.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image

from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import InvalidInputError

if TYPE_CHECKING:
    from locvlm.adapters import Adapter
    from locvlm.model.sidecar import Sidecar

__all__ = [
    "Constraint",
    "Engine",
    "EngineStats",
    "GenerationRequest",
    "GenerationResult",
    "TokenLogprob",
    "pieces_until",
    "token_logprobs",
]

_XGRAMMAR_ERROR = re.compile(r"Regex parsing error at position \d+: [^\n]*")


@dataclass(frozen=True)
class Constraint:
    """What the output must match: a regular expression, or one of `choices`."""

    regex: str | None = None
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if (self.regex is None) == (self.choices is None):
            raise ValueError("a constraint has exactly one of regex or choices")

    def as_regex(self) -> str:
        """The constraint as one regular expression."""
        if self.regex is not None:
            return self.regex
        return "(?:" + "|".join(re.escape(c) for c in self.choices or ()) + ")"

    def for_engine(self) -> str:
        """The regex every engine constrains generation with.

        A leading space is allowed (answers are trained as `" " + answer`, so the first
        token usually carries it) and an escaped space is written plainly (xgrammar, which
        both vLLM and our transformers engine use, warns on that escape).
        """
        cleaned = re.sub(r"(?<!\\)((?:\\\\)*)\\ ", r"\1 ", self.as_regex())
        return f"[ ]?(?:{cleaned})"


@dataclass(frozen=True)
class GenerationRequest:
    """One question about one image."""

    image: Image.Image
    question: str
    max_new_tokens: int = EngineConfig.max_new_tokens
    constraint: Constraint | None = None
    request_id: str = ""
    coming: int = 0
    """A batching hint: how many more requests the caller (the API) has admitted and not
    yet sent (`locvlm.serving.arrivals`). The transformers engine holds a micro-batch open
    for them, up to its longest wait; other engines ignore it."""
    logprobs: bool = False
    """Also return each generated token's log-probability (`GenerationResult.logprobs`)."""


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token: where it ends in the answer text, and its log-probability.

    The log-probability is the model's own, before any constraint masked the logits, so
    a token the constraint forced against the model's belief scores low.
    """

    end: int  # offset in `GenerationResult.text` just past the token's characters
    logprob: float


@dataclass(frozen=True)
class GenerationResult:
    """The answer text and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"  # "stop" or "length"
    logprobs: tuple[TokenLogprob, ...] = ()  # when the request asked for them


def token_logprobs(
    pieces: Sequence[str], logprobs: Sequence[float], stripped: int, length: int
) -> tuple[TokenLogprob, ...]:
    """Each token's end offset, from the text `pieces` it wrote in order.

    `stripped`: characters the answer text lost at its start (whitespace stripped);
    `length`: the answer text's length. Offsets are clamped into the text.
    """
    ends, at = [], 0
    for piece in pieces:
        at += len(piece)
        ends.append(min(max(at - stripped, 0), length))
    return tuple(TokenLogprob(e, lp) for e, lp in zip(ends, logprobs, strict=False))


async def pieces_until(
    texts: asyncio.Queue[str], answer: asyncio.Future[GenerationResult]
) -> AsyncIterator[str | GenerationResult]:
    """Stream pieces: the new text of each partial answer on `texts`, then the rest.

    The helper of `Engine.stream` for engines that decode in steps: after the partial
    texts, `answer`'s text past them, then `answer` itself.

    A partial text that does not extend what was sent (a token that decodes differently
    once the next one arrives) is held back; a trailing U+FFFD (half a character) too.

    Raises:
        What `answer` raises.
    """
    sent = ""
    while not answer.done():
        getter = asyncio.ensure_future(texts.get())
        try:
            waiting: set[asyncio.Future[Any]] = {getter, answer}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            getter.cancel()
        if not getter.cancelled() and getter.done():
            text = getter.result().rstrip("\ufffd")
            if text.startswith(sent) and len(text) > len(sent):
                yield text[len(sent) :]
                sent = text
    result = answer.result()
    if result.text.startswith(sent) and len(result.text) > len(sent):
        yield result.text[len(sent) :]
    yield result


@dataclass
class EngineStats:
    """A snapshot for metrics and readiness."""

    queued: int = 0
    running: int = 0
    finished: int = 0
    details: dict[str, float] = field(default_factory=dict)


class Engine(abc.ABC):
    """A running inference backend."""

    name: str = "engine"
    sidecar: Sidecar

    @functools.cached_property
    def adapter(self) -> Adapter:
        """The served model's family adapter: its chat format and image preparation."""
        from locvlm.adapters import get_adapter

        return get_adapter(self.sidecar)

    @abc.abstractmethod
    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Answer every request (batched as the engine sees fit).

        Cancelling the awaiting task frees the engine's work for these requests.

        Raises:
            EngineDeadError: the engine has failed.
            PromptTooLongError: a prompt and its answer would not fit the model's context.
        """

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | GenerationResult]:
        """Answer one request as it is decoded: text pieces, then the whole result.

        The pieces joined are the result's text. The default (engines that answer whole
        requests) sends the text as one piece once it is done; the transformers engines
        send a piece per decoded token. Cancelling the consumer frees the work.

        Raises:
            What `generate` raises, before any piece or in the middle of the stream.
        """
        (result,) = await self.generate([request])
        if result.text:
            yield result.text
        yield result

    async def check_constraint(self, constraint: Constraint) -> None:
        """Refuse a constraint this engine cannot constrain generation with.

        The default asks xgrammar, which vLLM and the transformers engine constrain with;
        it is imported on first use (it imports torch), so an engine in a child process
        asks its child instead.

        Raises:
            InvalidInputError: not a pattern the engine supports, with xgrammar's reason.
        """
        import xgrammar as xgr

        try:
            xgr.Grammar.from_regex(constraint.for_engine())
        except Exception as exc:  # xgrammar raises RuntimeError with its C++ source location
            found = _XGRAMMAR_ERROR.search(str(exc))
            why = found[0] if found else "not a supported regular expression"
            raise InvalidInputError(why) from None

    @property
    @abc.abstractmethod
    def ready(self) -> bool:
        """Loaded and able to serve."""

    @property
    def errored(self) -> bool:
        """Failed for good (a dead worker, a crashed engine process)."""
        return False

    def stats(self) -> EngineStats:
        """Queue depth and running requests."""
        return EngineStats()

    @abc.abstractmethod
    async def shutdown(self) -> None:
        """Stop, freeing every process and thread; idempotent."""

    @classmethod
    @abc.abstractmethod
    async def create(cls, config: EngineConfig) -> Engine:
        """Build and load the engine."""

    @classmethod
    @asynccontextmanager
    async def open(cls, config: EngineConfig) -> AsyncIterator[Engine]:
        """Build the engine, yield it, and always shut it down."""
        engine = await cls.create(config)
        try:
            yield engine
        finally:
            await engine.shutdown()
