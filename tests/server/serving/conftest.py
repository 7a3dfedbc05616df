"""The serving tests run on asyncio (no trio)."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
