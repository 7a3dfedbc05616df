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

For the transformers engine it also times where start-up goes (`--phases N`: N fresh
processes, each doing in order what the server's two processes do): the imports of the
command line and the app (the HTTP parent), the imports the engine adds (torch,
transformers, xgrammar: the child), loading the model, and the first and second answers
(the first pays for compiling its grammar; `/readyz` does not wait for it).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shlex
import statistics
import subprocess
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


def phases(runs: int) -> dict[str, float]:
    """Median seconds of each start-up phase over `runs` fresh processes (`_phases_worker`)."""
    measured = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, __file__, "--phases-worker"], check=True,
                              capture_output=True, text=True)  # fmt: skip
        measured.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {k: round(statistics.median(m[k] for m in measured), 3) for k in measured[0]}


def _phases_worker() -> None:
    """The server's start-up in one process, phase by phase; one JSON line of seconds."""
    from PIL import Image

    times = [time.perf_counter()]
    import locvlm.api.app  # imported for its cost
    import locvlm.cli  # noqa: F401

    times.append(time.perf_counter())
    from locvlm.engines.base import Constraint, GenerationRequest
    from locvlm.engines.config import EngineConfig
    from locvlm.engines.transformers_engine import TransformersEngine

    times.append(time.perf_counter())

    async def serve() -> None:
        engine = await TransformersEngine.create(EngineConfig(kind="transformers"))
        times.append(time.perf_counter())
        question = engine.adapter.ground("red circle", (128, 128))
        request = GenerationRequest(Image.new("RGB", (128, 128), "white"), question.text,
                                    16, Constraint(regex=question.regex))  # fmt: skip
        for _ in range(2):
            await engine.generate([request])
            times.append(time.perf_counter())
        await engine.shutdown()

    asyncio.run(serve())
    names = ("import_server", "import_engine", "load_model", "first_answer", "second_answer")
    spans = itertools.pairwise(times)
    print(json.dumps({name: b - a for name, (a, b) in zip(names, spans, strict=True)}))


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
        "phases_s": phases(args.phases) if args.engine == "transformers" and args.phases else {},
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
        + report["note"], "", *_phase_lines(report.get("phases_s") or {}),
    ])  # fmt: skip


def _phase_lines(phases_s: dict[str, float]) -> list[str]:
    if not phases_s:
        return []
    return ["Where start-up goes (seconds, median of fresh processes, in order):", "",
            "| " + " | ".join(phases_s) + " |", "|" + "---|" * len(phases_s),
            "| " + " | ".join(str(v) for v in phases_s.values()) + " |", ""]  # fmt: skip


def main() -> None:
    """Parse arguments, run, write JSON and markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(TARGETS), default="transformers")
    parser.add_argument("--runs", type=int, default=3, help="cold starts")
    parser.add_argument("--clients", type=int, default=32, help="concurrency of the load")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the load runs")
    parser.add_argument(
        "--phases",
        type=int,
        default=3,
        help="processes timing each start-up phase (transformers; 0: none)",
    )
    parser.add_argument("--note", default="", help="what else ran on the machine, and so on")
    parser.add_argument("--out", type=Path, default=Path("bench/results/ready"))
    parser.add_argument("--phases-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phases_worker:
        _phases_worker()
        return
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
