"""The container tier's request: one grounding call through the SDK, its answer checked.

    .venv/bin/python tests/container/ground_check.py --base-url http://127.0.0.1:8123 \
        --api-key KEY --image docs/examples/scene.png

Run by scripts/container-test.sh against the running image (not collected by pytest:
the image must be built first). Exits 0 when the answer is well formed: exactly one
HTTP exchange, status 200, one result per phrase in order, `image_size` equal to the
sent image's size, and every box inside the image. The shipped checkpoint is interim,
so whether the boxes are *right* is not checked here.
"""

from __future__ import annotations

import argparse
import sys
import time

import httpx
from PIL import Image

from locvlm_client import Client, GroundResponse

PHRASES = ["yellow circle", "blue square"]


class _Recording(httpx.HTTPTransport):
    """httpx's transport, noting the status of every response (the SDK hides it)."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        return response


def problems(answer: GroundResponse, size: tuple[int, int], statuses: list[int]) -> list[str]:
    """What is wrong with the exchange; empty when it is well formed."""
    width, height = size
    found = []
    if statuses != [200]:
        found.append(f"expected one 200 response, got statuses {statuses}")
    if (answer.image_size.width, answer.image_size.height) != size:
        found.append(f"image_size {answer.image_size} != the sent image's {width}x{height}")
    if [r.phrase for r in answer.results] != PHRASES:
        found.append(f"results for {[r.phrase for r in answer.results]}, sent {PHRASES}")
    for result in answer.results:
        for box in result.boxes:
            if not (0 <= box.x1 <= box.x2 <= width and 0 <= box.y1 <= box.y2 <= height):
                found.append(f"{result.phrase!r}: box {box} outside the {width}x{height} image")
    return found


def main() -> int:
    """Send the request, print a one-line verdict, exit 0 when well formed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--image", required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    with Image.open(args.image) as image:
        size = image.size
    transport = _Recording()
    start = time.perf_counter()
    # No retries: one request, one answer, so the status seen is that answer's.
    with Client(base_url=args.base_url, api_key=args.api_key, timeout=args.timeout,
                max_retries=0, transport=transport) as client:  # fmt: skip
        answer = client.ground(args.image, PHRASES)
    seconds = time.perf_counter() - start
    found = problems(answer, size, transport.statuses)
    boxes = sum(len(r.boxes) for r in answer.results)
    verdict = "well formed" if not found else "MALFORMED"
    sys.stdout.write(f"ground: {verdict} in {seconds:.2f}s: status {transport.statuses}, "
                     f"image_size {answer.image_size.width}x{answer.image_size.height}, "
                     f"{boxes} box(es) for {len(answer.results)} phrase(s)\n")  # fmt: skip
    for line in found:
        sys.stderr.write(f"  {line}\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
