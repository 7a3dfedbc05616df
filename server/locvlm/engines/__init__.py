"""Inference engines behind one protocol: transformers (in a child process), vLLM, remote."""

from locvlm.engines.base import (
    Constraint,
    Engine,
    EngineStats,
    GenerationRequest,
    GenerationResult,
)
from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import (
    EngineDeadError,
    EngineUnavailableError,
    InvalidInputError,
    PromptTooLongError,
)

__all__ = [
    "Constraint",
    "Engine",
    "EngineConfig",
    "EngineDeadError",
    "EngineStats",
    "EngineUnavailableError",
    "GenerationRequest",
    "GenerationResult",
    "InvalidInputError",
    "PromptTooLongError",
]
