"""The errors engines and serving raise, free of HTTP; only `locvlm.api` gives them statuses.

    raise InvalidInputError("the model takes exactly one image", param="messages[0].content")

Here, in the lowest layer, so that both the engines and `locvlm.serving` (which imports
the engines) can raise them; `locvlm.api.errors.from_domain` maps each to its answer.
Every class is built from its message alone, so the process engine can rebuild one
that its child raised.
"""

from __future__ import annotations

__all__ = [
    "EngineDeadError",
    "EngineUnavailableError",
    "InvalidInputError",
    "PromptTooLongError",
]


class InvalidInputError(Exception):
    """The caller asked for something that cannot be served as asked (their mistake).

    Attributes:
        message: Written for the caller.
        param: The request field at fault (dotted, e.g. `messages[0].content`), if one is.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


class PromptTooLongError(InvalidInputError):
    """A prompt and its longest answer do not fit the model's context (in tokens).

    Within the character limits some scripts take several tokens a character, so only
    the engine, which tokenizes, can tell.
    """


class EngineDeadError(RuntimeError):
    """The engine failed (or was shut down) and cannot serve; readiness reports it."""


class EngineUnavailableError(RuntimeError):
    """The chosen engine cannot be built in this environment (a package is missing)."""
