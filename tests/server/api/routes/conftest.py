"""Fixtures of the route tests: the session's live server and a client for it."""

from collections.abc import Iterator

import httpx
import pytest

from tests.server.api.live import LiveServer, shared_server


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> LiveServer:
    """The shared `locvlm serve` on the tiny-shapes export."""
    return shared_server(request)


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """A client with the API key."""
    with server.client() as client:
        yield client
