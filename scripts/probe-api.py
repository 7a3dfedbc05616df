"""Probe a running `locvlm serve` the way issue 17's outside suite did, and print a table.

    LOCVLM_API_KEYS=k locvlm serve --port 8765 &
    python scripts/probe-api.py --base http://127.0.0.1:8765 --key k [--big PNG]

Probes: a NUL byte and a lone surrogate in a phrase, sent in one burst with innocent
requests (their statuses); `/healthz` latency while a 40-megapixel PNG with 32 phrases
is grounded (`--big`: such a PNG; made here if absent); four sequential keep-alive
clients against `LOCVLM_MAX_IN_FLIGHT` 4 (their 429 share; start the server with that
bound); an unknown chat model and a JSON `response_format`; an out-of-vocabulary phrase.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from locvlm.data.shapes import ShapesConfig, render_scene


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _scene_b64() -> str:
    image, _ = render_scene((4242, 0), ShapesConfig(size=(160, 120)))
    return base64.b64encode(_png(image)).decode()


def _image() -> dict[str, str]:
    return {"data": _scene_b64()}


def poisoned_batch(client: httpx.Client) -> dict[str, Any]:
    """Bad phrases sent among 9 innocent requests, 4 at a time: every status."""
    image = _image()
    bodies = [{"image": image, "phrases": ["red circle"]} for _ in range(9)]
    bodies += [{"image": image, "phrases": ["red\x00circle"]},
               {"image": image, "phrases": ["red \ud800circle"]}]  # fmt: skip

    def post(body: dict[str, Any]) -> int:
        data = json.dumps(body).encode("utf-8", "surrogatepass")
        headers = {"content-type": "application/json"}
        return client.post("/v1/ground", content=data, headers=headers).status_code

    order = [9, 0, 1, 2, 10, 3, 4, 5, 6, 7, 8]  # the bad ones among the first in flight
    with ThreadPoolExecutor(4) as pool:  # within the server's bound (LOCVLM_MAX_IN_FLIGHT 4)
        sent = dict(zip(order, pool.map(post, [bodies[k] for k in order]), strict=True))
    codes = [sent[k] for k in range(len(bodies))]
    return {"innocent": codes[:9], "nul": codes[9], "surrogate": codes[10]}


def healthz_under_big_image(client: httpx.Client, base: str, big: Path) -> dict[str, Any]:
    """`/healthz`'s worst latency while a 40 MP PNG with 32 phrases is grounded."""
    if not big.exists():
        Image.new("RGBA", (8000, 5000), (40, 90, 200, 255)).save(big)
    phrases = ["red circle", "blue square", "green triangle", "yellow diamond"] * 8
    result: dict[str, Any] = {}

    def ground() -> None:
        start = time.perf_counter()
        files = {"file": ("big.png", big.read_bytes(), "image/png")}
        response = client.post("/v1/ground/upload", files=files,
                               data={"phrases": phrases}, timeout=300)  # fmt: skip
        result["ground_status"], result["ground_s"] = (
            response.status_code,
            time.perf_counter() - start,
        )

    worker = threading.Thread(target=ground)
    worker.start()
    worst = 0.0
    with httpx.Client(base_url=base, timeout=30) as probe:
        while worker.is_alive():
            start = time.perf_counter()
            probe.get("/healthz")
            worst = max(worst, time.perf_counter() - start)
            time.sleep(0.05)
    worker.join()
    return result | {"healthz_worst_s": round(worst, 3), "ground_s": round(result["ground_s"], 2)}


def keep_alive_429s(base: str, key: str, clients: int = 4, each: int = 25) -> dict[str, Any]:
    """`clients` sequential keep-alive clients: the share of 429s they get."""
    body = {"image": _image(), "phrases": ["red circle"]}

    def run(_: int) -> list[int]:
        with httpx.Client(base_url=base, headers={"authorization": f"Bearer {key}"},
                          timeout=60) as c:  # fmt: skip
            return [c.post("/v1/ground", json=body).status_code for _ in range(each)]

    with ThreadPoolExecutor(clients) as pool:
        codes = [code for row in pool.map(run, range(clients)) for code in row]
    return {"requests": len(codes), "429": codes.count(429), "share": codes.count(429) / len(codes)}


def chat_and_vocabulary(client: httpx.Client) -> dict[str, Any]:
    """An unknown model name, a JSON response_format, a phrase the model does not know."""
    url = "data:image/png;base64," + _scene_b64()
    content = [
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "text", "text": "Where is the red circle?"},
    ]
    messages = [{"role": "user", "content": content}]
    unknown = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": messages})
    fmt = {"type": "json_object"}
    json_mode = client.post(
        "/v1/chat/completions",
        json={"model": "default", "messages": messages, "response_format": fmt},
    )
    oov = client.post("/v1/ground", json={"image": _image(), "phrases": ["the cat"]})
    assert oov.status_code == 200, oov.text
    result = oov.json()["results"][0]
    return {"unknown_model": unknown.status_code, "json_response_format": json_mode.status_code,
            "oov_found": result["found"], "oov_warning": bool(result.get("warning"))}  # fmt: skip


def main() -> None:
    """Run every probe against `--base` and print the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8765")
    parser.add_argument("--key", default="")
    parser.add_argument("--big", type=Path, default=Path("/tmp/probe-40mp.png"))
    args = parser.parse_args()
    headers = {"authorization": f"Bearer {args.key}"} if args.key else {}
    report: dict[str, Any] = {}
    with httpx.Client(base_url=args.base, headers=headers, timeout=120) as client:
        report["poisoned_batch"] = poisoned_batch(client)
        report["big_image"] = healthz_under_big_image(client, args.base, args.big)
        report["chat_and_vocabulary"] = chat_and_vocabulary(client)
    report["keep_alive"] = keep_alive_429s(args.base, args.key)
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
