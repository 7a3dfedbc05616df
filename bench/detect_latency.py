"""What `/v1/detect`'s second look costs: requests/s with it vs the listing alone, one server.

    python bench/detect_latency.py [--model default] [--threads 1] [--requests 48] \
        [--rounds 3] [--levels 1,8] [--out bench/results/detect-latency]

One `locvlm serve` (transformers engine, `--threads`); each request posts a shapes scene
(the serving benches' workload, `_load.workload`) to `/v1/detect` with `second_look`
true or false, over keep-alive connections, in closed loops at each concurrency level
(`_load.closed_loop`: steady requests/s, p50/p99 latency), answers up to the server's
default length. Rounds alternate which arm
goes first; each figure is the median over rounds, and the ratio (second look over
listing alone) is taken within the run, so the machine's speed cancels out. Detections
per image are counted for each arm (the second look only ever adds).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

from _load import free_port, load_arguments, parse_load_arguments, post, run_level, workload
from _report import save
from _server import Server

from locvlm.api.settings import Settings

ARMS = ("listing alone", "second look")


def detect_request(png: bytes, second_look: bool) -> bytes:
    """The whole HTTP request that asks `/v1/detect` about the PNG `png`."""
    body = {"image": {"data": base64.b64encode(png).decode()}, "second_look": second_look}
    return post("/v1/detect", json.dumps(body).encode())


async def _round(port: int, requests: dict[str, list[bytes]], levels: list[int], first: int
                 ) -> dict[str, dict[int, dict[str, Any]]]:  # fmt: skip
    """Every level for both arms, `ARMS[first]` first at each level."""
    out: dict[str, dict[int, dict[str, Any]]] = {arm: {} for arm in ARMS}
    for level in levels:
        for arm in (ARMS[first], ARMS[1 - first]):
            result = await run_level(port, requests[arm], level, "/v1/detect")
            counts = [len(json.loads(a)["detections"]) for a in result.pop("answers")]
            out[arm][level] = {**result, "detections_per_image": statistics.mean(counts)}
    return out


def main() -> None:
    """Run both arms at every level for `--rounds` rounds; save the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    load_arguments(parser, levels="1,8")
    parser.set_defaults(requests=48, max_new_tokens=Settings().max_new_tokens)  # a listing is long
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/results/detect-latency"))
    args = parse_load_arguments(parser)
    work = workload(args.requests)
    requests = {arm: [detect_request(png, arm == ARMS[1]) for png, _ in work] for arm in ARMS}
    port = free_port()
    env = {**os.environ, "LOCVLM_THREADS": str(args.threads),
           "LOCVLM_MAX_NEW_TOKENS": str(args.max_new_tokens)}  # fmt: skip
    command = [sys.executable, "-m", "locvlm", "serve", "--model", str(args.model),
               "--engine", "transformers", "--port", str(port)]  # fmt: skip
    server = Server("detect", command, env, port, timeout=300)
    try:
        rounds = [
            asyncio.run(_round(port, requests, args.levels, i % 2)) for i in range(args.rounds)
        ]
    finally:
        server.stop(timeout=60)
    levels: dict[str, dict[str, Any]] = {}
    for level in args.levels:
        row = {arm: {k: statistics.median(r[arm][level][k] for r in rounds)
                     for k in ("requests_per_s", "p50_ms", "p99_ms", "detections_per_image")}
               for arm in ARMS}  # fmt: skip
        ratio = row[ARMS[1]]["requests_per_s"] / row[ARMS[0]]["requests_per_s"]
        levels[str(level)] = {**row, "ratio": round(ratio, 3)}
    report = {"machine": f"{platform.machine()} {os.cpu_count()} cores", "model": str(args.model),
              "threads": args.threads, "requests": args.requests, "rounds": args.rounds,
              "max_new_tokens": args.max_new_tokens, "load_average": os.getloadavg(),
              "levels": levels}  # fmt: skip
    save(args.out, report, _markdown)


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"# /v1/detect: the second look's cost ({report['machine']}, {report['requests']} "
             f"requests x {report['rounds']} rounds, threads {report['threads']}, load average "
             f"at the end {report['load_average'][0]:.2f})", "",
             "| concurrency | arm | req/s | p50 / p99 ms | detections per image |",
             "|---|---|---|---|---|"]  # fmt: skip
    for level, row in report["levels"].items():
        for arm in ARMS:
            r = row[arm]
            lines.append(f"| {level} | {arm} | {r['requests_per_s']:.2f} | {r['p50_ms']:.0f} / "
                         f"{r['p99_ms']:.0f} | {r['detections_per_image']:.2f} |")  # fmt: skip
        lines.append(f"| {level} | second look / listing alone | **{row['ratio']:.3f}** | | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
