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
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from _load import Connection, free_port, ground_request, workload
from _report import save

TARGETS = {"transformers": 10.0, "vllm": 60.0}  # seconds to ready on an idle machine


class Started:
    """One `locvlm serve` process, timed from its start to `/readyz` 200."""

    def __init__(self, engine: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.gettempdir()) / f"locvlm-bench-ready-{self.port}.log"
        command = [sys.executable, "-m", "locvlm", "serve", "--engine", engine,
                   "--port", str(self.port)]  # fmt: skip
        self.began = time.time()
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.listening_s, self.ready_s = self._wait()

    def _wait(self, timeout: float = 600) -> tuple[float, float]:
        """Seconds from the start to the first `/healthz` 200 (HTTP up) and `/readyz` 200."""
        listening = None
        while True:
            path = "/readyz" if listening else "/healthz"
            try:
                if httpx.get(self.url + path, timeout=5).status_code == 200:
                    now = round(time.time() - self.began, 2)
                    if listening:
                        return listening, now
                    listening = now
                    continue
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.time() - self.began > timeout:
                raise RuntimeError(f"not ready ({self.log}):\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of the HTTP parent and of all its descendants (the engine), MiB."""
        parent = psutil.Process(self.proc.pid)
        mib = 1024 * 1024
        children = 0
        for child in parent.children(recursive=True):
            try:
                children += child.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return {"parent": round(parent.memory_info().rss / mib, 1),
                "engine": round(children / mib, 1)}  # fmt: skip

    def stop(self) -> None:
        """SIGTERM and wait (the parent stops its engine)."""
        self.proc.terminate()
        self.proc.wait(timeout=90)


def under_load(server: Started, clients: int, seconds: float) -> dict[str, Any]:
    """Peak RSS of parent and engine while `clients` closed-loop clients post `/v1/ground`."""
    bodies = [ground_request(png, phrase) for png, phrase in workload(64)]
    peak = {"parent": 0.0, "engine": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            now = server.rss_mib()
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
        server = Started(args.engine, env)
        starts.append({"ready_s": server.ready_s, "listening_s": server.listening_s})
        print(f"run {k}: ready after {server.ready_s} s (listening at {server.listening_s} s)")
        if k < args.runs - 1:
            server.stop()
    try:
        time.sleep(2)  # let start-up garbage settle
        at_rest = server.rss_mib()
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
