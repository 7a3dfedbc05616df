"""Fixtures of the engine tests: the event loop backend, a config for the tiny export;
and `until`, which polls an engine's state."""

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from locvlm.engines.config import EngineConfig


@pytest.fixture
def anyio_backend() -> str:
    """The engines run on asyncio (vLLM's AsyncLLM needs it)."""
    return "asyncio"


@pytest.fixture(scope="session")
def tiny_config(tiny_shapes_export: Path) -> EngineConfig:
    """The transformers engine's config for the barely trained tiny-shapes export.

    One torch thread: on a busy two-core machine, two threads wait on each other at every
    operator (measured 10-30x slower than one while a training run shares the cores).
    """
    return EngineConfig(kind="transformers", model=str(tiny_shapes_export), threads=1)


async def until(condition: Callable[[], bool], timeout: float = 60.0) -> float:
    """Seconds until `condition` holds, polling the engine's state."""
    start = time.perf_counter()
    while not condition():
        assert time.perf_counter() - start < timeout, "condition never held"
        await asyncio.sleep(0.002)
    return time.perf_counter() - start
