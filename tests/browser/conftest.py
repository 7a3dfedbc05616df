"""The browser tier: the playground page in Debian's headless Chromium, driven by
Playwright, against the session's real `locvlm serve` on loopback.

    scripts/install-chromium.sh && .venv/bin/pytest -m browser tests/browser

Playwright's own browser download cannot work here (closed network), so it drives
`/usr/bin/chromium` (`LOCVLM_CHROMIUM` to use another), in a fresh profile that
Playwright makes per launch. Screenshots are kept in `tests/browser/artifacts/`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.server.api.live import API_KEY, LiveServer, shared_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = Path(os.environ.get("LOCVLM_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).parent / "artifacts"
# No background traffic: this machine's network is closed, and Chromium's calls home
# would be refused many at a time (see the machine notes on Chromium).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync"]  # fmt: skip
RUN_TIMEOUT_MS = 180_000  # one engine request on a loaded two-core CI box


@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest) -> LiveServer:
    """The shared `locvlm serve` on the tiny-shapes export (API key `API_KEY`)."""
    return shared_server(request)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium; fails (not skips) without it: this tier must run."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-chromium.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


class Playground:
    """The page, as a user drives it: by its labels and buttons."""

    def __init__(self, page: Page, url: str) -> None:
        self.page, self.url = page, url
        self.problems: list[str] = []  # uncaught errors, CSP refusals, console errors
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium logs every non-2xx fetch as "Failed to load resource": expected here
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(f"console: {message.text}")

    def open(self, api_key: str = API_KEY) -> None:
        self.page.goto(self.url)
        self.page.get_by_label("API key").fill(api_key)

    def sample(self) -> None:
        self.page.get_by_role("button", name="Try a sample").click()
        self.wait_image("320x208")

    def upload(self, path: Path, size: str) -> None:
        self.page.get_by_label("Image file").set_input_files(path)
        self.wait_image(size)

    def wait_image(self, size: str) -> None:
        """Wait until the canvas shows an image of `size` ("WxH", original pixels)."""
        self.page.wait_for_function(
            "size => document.getElementById('canvas').dataset.imageSize === size", arg=size
        )

    def task(self, value: str) -> None:
        self.page.get_by_label("Task").select_option(value)

    def ask(self, task: str, field: str, text: str) -> tuple[int | None, Any]:
        """Pick `task`, type `text` into the field labelled `field`, and `run`."""
        self.task(task)
        self.page.get_by_label(field).fill(text)
        return self.run()

    def run(self) -> tuple[int | None, Any]:
        """Click Run, wait for the answer: the HTTP status and the JSON panel's content."""
        result = self.page.get_by_role("region", name="Response")
        runs = int(result.get_attribute("data-runs") or 0)
        self.page.get_by_role("button", name="Run").click()
        self.page.wait_for_function(
            "n => Number(document.getElementById('result').dataset.runs) > n",
            arg=runs,
            timeout=RUN_TIMEOUT_MS,
        )
        status = result.get_attribute("data-status")
        text = self.page.get_by_label("JSON response").text_content() or ""
        return (int(status) if status else None), (json.loads(text) if text else None)

    def boxes(self) -> int:
        """How many boxes the page says it drew."""
        return int(self.page.locator("#canvas").get_attribute("data-boxes") or -1)

    def drag(self, start: tuple[float, float], end: tuple[float, float], size: str) -> None:
        """Drag on the canvas between two points given in the image's original pixels."""
        box = self.page.locator("#canvas").bounding_box()
        assert box is not None
        width, height = (int(n) for n in size.split("x"))

        def at(x: float, y: float) -> tuple[float, float]:
            return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height

        self.page.mouse.move(*at(*start))
        self.page.mouse.down()
        self.page.mouse.move(*at(*end), steps=6)
        self.page.mouse.up()

    def count_color(self, rgb: tuple[int, int, int], tolerance: int = 3) -> int:
        """Canvas pixels within `tolerance` of `rgb` (per channel)."""
        script = """([rgb, tol]) => {
            const c = document.getElementById('canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) {
                if (Math.abs(d[i] - rgb[0]) <= tol && Math.abs(d[i + 1] - rgb[1]) <= tol
                    && Math.abs(d[i + 2] - rgb[2]) <= tol) n++;
            }
            return n;
        }"""
        return int(self.page.evaluate(script, [list(rgb), tolerance]))

    def shot(self, name: str) -> Path:
        """A full-page screenshot kept as a test artifact."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path


@pytest.fixture
def playground(
    browser: Browser, server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Playground]:
    """The playground open in a fresh browser context, with the API key typed in.

    Its final state is screenshotted (`artifacts/final-<test>.png`), failed or not, and
    the page must have logged no errors (a CSP refusal would show here).
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    playground = Playground(page, f"{server.url}/")
    playground.open()
    try:
        yield playground
    finally:
        playground.shot(f"final-{request.node.name}".replace("[", "-").replace("]", ""))
        context.close()
    assert not playground.problems, playground.problems
