"""Start-up and memory of `locvlm serve`: time to `/readyz` 200, RSS at rest and under load.

    python bench/ready.py [--engine transformers] [--runs 3] [--out bench/results/ready]
    .venv-vllm/bin/python bench/ready.py --engine vllm --out bench/results/ready-vllm

Each run starts the server with the shipped model and polls every 50 ms: `/healthz`
until the HTTP parent answers (its share: imports and app build), then `/readyz` until
the engine is loaded. Then, for the last run, it measures
the resident memory of the HTTP parent and of the engine's processes at rest, and
their peak while `--clients` closed-loop clients post `/v1/ground` for `--seconds`.
Targets (issue 20): ready <= 10 s for the transformers default, <= 60 s for vLLM on CPU,
on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _load import Connection, free_port, ground_request, workload
from _report import save
from _server import Server

TARGETS = {"transformers": 10.0, "vllm": 60.0}  # seconds to ready on an idle machine


def start(engine: str, env: dict[str, str]) -> tuple[Server, float, float]:
    """`locvlm serve`; seconds until `/healthz` (HTTP up) and `/readyz` (engine) answer 200."""
    port = free_port()
    command = [sys.executable, "-m", "locvlm", "serve", "--engine", engine, "--port", str(port)]
    server = Server("ready", command, env, port, ready_path=None)
    return server, server.wait("/healthz", poll_s=0.05), server.wait("/readyz", poll_s=0.05)


def _rss(server: Server) -> dict[str, float]:
    """Resident memory of the HTTP parent and of its descendants (the engine), MiB."""
    parent, engine = server.rss_mib()
    return {"parent": parent, "engine": engine}


def under_load(server: Server, clients: int, seconds: float) -> dict[str, Any]:
    """Peak RSS of parent and engine while `clients` closed-loop clients post `/v1/ground`."""
    bodies = [ground_request(png, phrase) for png, phrase in workload(64)]
    peak = {"parent": 0.0, "engine": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            now = _rss(server)
            for key in peak:
                peak[key] = max(peak[key], now[key])
            time.sleep(0.1)

    async def drive() -> int:
        end = time.monotonic() + seconds
        answered = 0

        async def client(k: int) -> None:
            nonlocal answered
            connection = await Connection.open(server.port)
            try:
                i = k
                while time.monotonic() < end:
                    status, _ = await connection.exchange(bodies[i % len(bodies)])
                    answered += status == 200
                    i += clients
            finally:
                connection.close()

        await asyncio.gather(*(client(k) for k in range(clients)))
        return answered

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        answered = asyncio.run(drive())
    finally:
        done.set()
        sampler.join()
    return {"clients": clients, "seconds": seconds, "answered": answered, "peak_rss_mib": peak}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """`args.runs` cold starts; memory at rest and under load on the last one."""
    env = {**os.environ, "VLLM_TARGET_DEVICE": "cpu", "HF_HUB_OFFLINE": "1",
           "LOCVLM_MAX_IN_FLIGHT": str(2 * args.clients)}  # fmt: skip
    if args.engine == "vllm":
        env.setdefault("LOCVLM_GPU_MEMORY_UTILIZATION", "0.15")
    starts: list[dict[str, Any]] = []
    for k in range(args.runs):
        server, listening_s, ready_s = start(args.engine, env)
        starts.append({"ready_s": ready_s, "listening_s": listening_s})
        print(f"run {k}: ready after {ready_s} s (listening at {listening_s} s)")
        if k < args.runs - 1:
            server.stop()
    try:
        time.sleep(2)  # let start-up garbage settle
        at_rest = _rss(server)
        loaded = under_load(server, args.clients, args.seconds)
    finally:
        server.stop()
    ready = [s["ready_s"] for s in starts]
    return {
        "starts": starts, "ready_s_median": round(statistics.median(ready), 2),
        "target_s": TARGETS[args.engine], "met": statistics.median(ready) <= TARGETS[args.engine],
        "rss_mib_at_rest": at_rest, "under_load": loaded,
    }  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    """The report as a short markdown table."""
    load = report["under_load"]
    rest, peak = report["rss_mib_at_rest"], load["peak_rss_mib"]
    starts = ", ".join(f"{s['ready_s']}" for s in report["starts"])
    return "\n".join([
        f"# `locvlm serve --engine {report['engine']}`: start-up and memory "
        f"({report['machine']})", "",
        "| ready (median s) | each run (s) | HTTP up at (s) | target | "
        "RSS at rest parent / engine (MiB) | peak at c=" + str(load["clients"]) + " |",
        "|---|---|---|---|---|---|",
        f"| {report['ready_s_median']} | {starts} | {report['starts'][0]['listening_s']} "
        f"| <= {report['target_s']} s ({'met' if report['met'] else 'NOT met'}) "
        f"| {rest['parent']} / {rest['engine']} | {peak['parent']} / {peak['engine']} |",
        "", f"{load['answered']} requests answered in {load['seconds']} s of load. "
        + report["note"], "",
    ])  # fmt: skip


def main() -> None:
    """Parse arguments, run, write JSON and markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(TARGETS), default="transformers")
    parser.add_argument("--runs", type=int, default=3, help="cold starts")
    parser.add_argument("--clients", type=int, default=32, help="concurrency of the load")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the load runs")
    parser.add_argument("--note", default="", help="what else ran on the machine, and so on")
    parser.add_argument("--out", type=Path, default=Path("bench/results/ready"))
    args = parser.parse_args()
    load = os.getloadavg()[0]
    report = {"command": "python bench/ready.py " + shlex.join(sys.argv[1:]),
              "machine": f"{platform.machine()} {os.cpu_count()} cores", "engine": args.engine,
              **run(args)}  # fmt: skip
    report["note"] = (
        f"Load average at start and end: {[round(load, 2), round(os.getloadavg()[0], 2)]}. "
        + args.note
    )
    save(args.out, report, markdown)


if __name__ == "__main__":
    main()
