"""Fixtures of the engine tests: the event loop backend, settings for the tiny export."""

from pathlib import Path

import pytest

from locvlm.api.settings import Settings


@pytest.fixture
def anyio_backend() -> str:
    """The engines run on asyncio (vLLM's AsyncLLM needs it)."""
    return "asyncio"


@pytest.fixture(scope="session")
def tiny_settings(tiny_shapes_export: Path) -> Settings:
    """Transformers-engine settings for the barely trained tiny-shapes export.

    One torch thread: on a busy two-core machine, two threads wait on each other at every
    operator (measured 10-30x slower than one while a training run shares the cores).
    """
    return Settings(model=str(tiny_shapes_export), engine="transformers", threads=1)
