"""`/docs` (Swagger UI) and `/redoc` render in Chromium with every non-loopback request
refused: their scripts, styles and fonts come from package files, not a CDN.

ReDoc's bundle also shows a "powered by" logo from its CDN; the image removes itself when
it fails to load, so it is the one request an air-gapped page may lose."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest

from tests.server.api.live import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("path", "title"),
    [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")],
)
def test_the_api_docs_render_offline(
    path: str, title: str, server: LiveServer, browser: Browser
) -> None:
    refused: list[tuple[str, str]] = []

    def offline(route: Route) -> None:  # an air-gapped machine: only the server answers
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            refused.append((route.request.resource_type, route.request.url))
            route.abort("internetdisconnected")

    page = browser.new_page()
    try:
        page.route("**/*", offline)
        page.goto(server.url + path)
        heading = page.locator(title).first
        heading.wait_for(timeout=60_000)
        assert "locvlm" in heading.inner_text()
    finally:
        page.close()
    needed = [(kind, url) for kind, url in refused if kind != "image"]
    assert needed == []
    assert all(url.endswith("logo-mini.svg") for _, url in refused)
