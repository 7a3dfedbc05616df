"""What square tiles cost: `/v1/detect` and `/v1/ground` on non-square images, on vs off.

    python bench/tiles_latency.py [--model default] [--size 128x256] [--threads 1] \
        [--requests 24] [--rounds 3] [--levels 1,4] [--out bench/results/tiles-latency]

Two `locvlm serve` of one checkpoint (transformers engine, `--threads` each): as it is
(the shipped one lists a non-square image's square crops too, `Sidecar.detects_in_tiles`,
and reads its phrases from that detection, `grounds_in_tiles`), and a copy with both
off (the whole image only). Each request posts a shapes scene of `--size` to
`/v1/detect` (second look on, the default) or to `/v1/ground` with one phrase (an object
of the scene), over keep-alive connections, in closed loops at each concurrency level
(`_load.closed_loop`). Only one server is sent requests at a time; rounds alternate which
goes first, each figure is the median over rounds, and each ratio (tiles over whole) is
taken within the run, so the machine's speed cancels out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _load import (
    free_port,
    ground_request,
    load_arguments,
    parse_load_arguments,
    run_level,
    workload,
)
from _report import save
from _server import Server
from detect_latency import detect_request

from locvlm.api.settings import Settings

ARMS = ("whole", "tiles")
ROUTES = ("/v1/detect", "/v1/ground")


def untiled(model: Path, into: Path) -> Path:
    """A copy of the checkpoint folder `model` with tiles off in its `locvlm.json`."""
    copy = into / "untiled"
    shutil.copytree(model, copy)
    sidecar = json.loads((copy / "locvlm.json").read_text())
    sidecar.update(detects_in_tiles=False, grounds_in_tiles=False)
    (copy / "locvlm.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return copy


async def _round(ports: dict[str, int], requests: dict[str, list[bytes]], levels: list[int],
                 first: int) -> dict[str, dict[str, dict[int, dict[str, Any]]]]:  # fmt: skip
    """Every route and level for both arms, `ARMS[first]` first at each."""
    out: dict[str, dict[str, dict[int, dict[str, Any]]]] = {
        route: {arm: {} for arm in ARMS} for route in ROUTES
    }
    for route in ROUTES:
        for level in levels:
            for arm in (ARMS[first], ARMS[1 - first]):
                result = await run_level(ports[arm], requests[route], level, route)
                result.pop("answers")
                out[route][arm][level] = result
    return out


def main() -> None:
    """Run both arms on both routes at every level for `--rounds` rounds; save the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    load_arguments(parser, levels="1,4")
    parser.set_defaults(requests=24, max_new_tokens=Settings().max_new_tokens)  # listings
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", default="128x256", help="every scene's WIDTHxHEIGHT")
    parser.add_argument("--out", type=Path, default=Path("bench/results/tiles-latency"))
    args = parse_load_arguments(parser)
    width, height = (int(v) for v in args.size.split("x"))
    work = workload(args.requests, (width, height))
    requests = {"/v1/detect": [detect_request(png, True) for png, _ in work],
                "/v1/ground": [ground_request(png, phrase) for png, phrase in work]}  # fmt: skip
    env = {**os.environ, "LOCVLM_THREADS": str(args.threads),
           "LOCVLM_MAX_NEW_TOKENS": str(args.max_new_tokens)}  # fmt: skip
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory() as tmp:
        models = {"tiles": Path(args.model), "whole": untiled(Path(args.model), Path(tmp))}
        try:
            for arm in ARMS:
                port = free_port()
                command = [sys.executable, "-m", "locvlm", "serve", "--model", str(models[arm]),
                           "--engine", "transformers", "--port", str(port)]  # fmt: skip
                servers[arm] = Server(f"tiles-{arm}", command, env, port, timeout=300)
            ports = {arm: server.port for arm, server in servers.items()}
            rounds = [
                asyncio.run(_round(ports, requests, args.levels, i % 2)) for i in range(args.rounds)
            ]
        finally:
            for server in servers.values():
                server.stop(timeout=60)
    table: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        for level in args.levels:
            row = {arm: {k: statistics.median(r[route][arm][level][k] for r in rounds)
                         for k in ("requests_per_s", "p50_ms", "p99_ms")}
                   for arm in ARMS}  # fmt: skip
            ratio = row["tiles"]["requests_per_s"] / row["whole"]["requests_per_s"]
            table[f"{route} c={level}"] = {**row, "ratio": round(ratio, 3)}
    report = {"machine": f"{platform.machine()} {os.cpu_count()} cores", "model": str(args.model),
              "size": args.size, "threads": args.threads, "requests": args.requests,
              "rounds": args.rounds, "load_average": os.getloadavg(), "levels": table}  # fmt: skip
    save(args.out, report, _markdown)


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"# Square tiles' cost on {report['size']} images ({report['machine']}, "
             f"{report['requests']} requests x {report['rounds']} rounds, threads "
             f"{report['threads']} a server, load average at the end "
             f"{report['load_average'][0]:.2f})", "",
             "| route, concurrency | whole: req/s, p50 / p99 ms | tiles: req/s, p50 / p99 ms "
             "| tiles / whole req/s |", "|---|---|---|---|"]  # fmt: skip
    for name, row in report["levels"].items():
        cells = [f"{row[a]['requests_per_s']:.2f}, {row[a]['p50_ms']:.0f} / "
                 f"{row[a]['p99_ms']:.0f}" for a in ARMS]  # fmt: skip
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | **{row['ratio']:.3f}** |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
