"""Inference engines behind one protocol: vLLM in-process, transformers, remote pool."""

from locvlm.engines.base import (
    Constraint,
    Engine,
    EngineDeadError,
    EngineStats,
    GenerationRequest,
    GenerationResult,
)

__all__ = [
    "Constraint",
    "Engine",
    "EngineDeadError",
    "EngineStats",
    "GenerationRequest",
    "GenerationResult",
]
