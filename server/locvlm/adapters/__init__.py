"""Model-family adapters: each family's prompts, codec, coordinate rule and chat format."""

from locvlm.adapters.base import (
    SERVING_TASKS,
    Adapter,
    Described,
    Found,
    Question,
    ServingTask,
    UnsupportedTaskError,
)
from locvlm.adapters.registry import ADAPTERS, get_adapter, read_sidecar

__all__ = [
    "ADAPTERS",
    "SERVING_TASKS",
    "Adapter",
    "Described",
    "Found",
    "Question",
    "ServingTask",
    "UnsupportedTaskError",
    "get_adapter",
    "read_sidecar",
]
