"""API overhead: `/v1/ground` through the HTTP server vs the same prompts straight to the engine.

    python bench/api.py --model /tmp/ae --threads 1 [--requests 192] [--rounds 3] \
        [--max-new-tokens 16] [--levels 1,8,32] [--batching micro|continuous] \
        [--note "..."] [--out bench/results/api]

Both arms run the transformers engine with the same settings in a process of their own,
started the same way (`python`, uvloop), in one run:
- api: `locvlm serve` (its engine in a child process, `LOCVLM_ENGINE_PROCESS=true`,
  unless `--no-engine-process`); this process posts `{"image": {"data": <PNG>}, "phrases": [p]}`
  over keep-alive connections, each request's bytes built beforehand: the client shares
  the cores with the server, so it is kept as lean as wrk (httpx cost ~1 ms a request);
- direct: a worker process (this script with `--worker`) sends each grounding question
  to `Engine.generate` itself, with the constraint `/v1/ground` uses, on the image the
  server would decode from the same PNG.
Each concurrency level (1, 8, 32) is a closed loop: that many clients each send their
next request when the previous one is answered; its rate is the steady one, between the
first and the last `concurrency` completions (see `closed_loop`). Rounds alternate which
arm goes first and each figure is the median over rounds. The answers at concurrency 1
(batches of one, so exact) must agree, and so must the tokens generated (the engines'
counters), or the arms did not do the same work. Target: api requests/s >= 0.95x direct
at every level (overhead <= 5%).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import uvloop
from _load import (
    Work,
    closed_loop,
    ground_request,
    load_arguments,
    parse_load_arguments,
    run_level,
    workload,
)
from _server import Server

from locvlm.adapters import get_adapter
from locvlm.api.images import ImageLimits, decode_image
from locvlm.api.settings import Settings
from locvlm.engines.base import Constraint, GenerationRequest
from locvlm.engines.factory import engine_class
from locvlm.model.sidecar import Sidecar

LEVELS = (1, 8, 32)  # the default concurrency levels (--levels)
TARGET = 0.95  # api requests/s over direct, at every level


# --- direct: the engine in a worker process, driven over stdin/stdout -----------------
def engine_requests(
    model: Path, work: Work, max_new_tokens: int, listing: bool = False
) -> list[GenerationRequest]:
    """What `/v1/ground` asks the engine for each (PNG, phrase): prompt, constraint, image.

    LocPred's question, or with `listing` the listing of every object (`Sidecar.listing`).
    """
    adapter = get_adapter(Sidecar.read(model).replace(listing=listing))
    out = []
    for png, phrase in work:
        image = decode_image(png, ImageLimits())
        asked = adapter.ground(phrase, image.size)
        out.append(GenerationRequest(image=image, question=asked.text,
                                     max_new_tokens=max_new_tokens,
                                     constraint=Constraint(regex=asked.regex)))  # fmt: skip
    return out


async def worker(args: argparse.Namespace) -> None:
    """Build the engine, then run each concurrency level read from stdin; JSON lines out."""
    settings = _settings(args)
    reqs = engine_requests(Path(settings.model), workload(args.requests), args.max_new_tokens,
                           args.listing)  # fmt: skip
    async with engine_class("transformers").open(settings.engine_config()) as engine:

        async def send(i: int) -> str:
            return (await engine.generate([reqs[i]]))[0].text

        print(json.dumps({"ready": True}), flush=True)
        while line := await asyncio.to_thread(sys.stdin.readline):
            before = engine.stats().details
            result = await closed_loop(send, len(reqs), int(line))
            print(json.dumps({**result, **_work(before, engine.stats().details)}), flush=True)


def _work(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Tokens generated and mean rows per batch, between two `EngineStats.details`."""
    grew = {k: after[k] - before[k] for k in ("completion_tokens", "batched", "batches")}
    rows = round(grew["batched"] / max(grew["batches"], 1), 2)
    return {"completion_tokens": grew["completion_tokens"], "rows_per_batch": rows}


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        model=str(args.model), engine="transformers", threads=args.threads,
        max_new_tokens=args.max_new_tokens, max_in_flight=2 * max(args.levels),
        batching=args.batching,
    )  # fmt: skip


class Direct:
    """The worker process of the direct arm."""

    def __init__(self, args: argparse.Namespace) -> None:
        command = [sys.executable, __file__, "--worker", "--model", str(args.model),
                   "--threads", str(args.threads), "--requests", str(args.requests),
                   "--max-new-tokens", str(args.max_new_tokens),
                   "--levels", ",".join(map(str, args.levels)),
                   "--batching", args.batching,
                   "--listing" if args.listing else "--no-listing"]  # fmt: skip
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)  # fmt: skip
        assert json.loads(self._read())["ready"]

    def _read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the direct worker exited ({self.proc.wait()})")
        return line

    def level(self, concurrency: int) -> dict[str, Any]:
        """One closed-loop run at `concurrency`."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{concurrency}\n")
        self.proc.stdin.flush()
        return dict(json.loads(self._read()))

    def stop(self) -> None:
        """Close its stdin; it shuts its engine down and exits."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# --- api: `locvlm serve`, posted to over loopback ----------------------------------------
class Api:
    """A `locvlm serve` process with the direct arm's settings, and a client for it."""

    def __init__(self, args: argparse.Namespace, work: Work, port: int) -> None:
        settings = _settings(args)
        env = {**os.environ, "LOCVLM_THREADS": str(settings.threads),
               "LOCVLM_MAX_NEW_TOKENS": str(settings.max_new_tokens),
               "LOCVLM_MAX_IN_FLIGHT": str(settings.max_in_flight),
               "LOCVLM_ENGINE_PROCESS": str(args.engine_process).lower(),
               "LOCVLM_BATCHING": settings.batching,
               "LOCVLM_LISTING": str(args.listing).lower()}  # fmt: skip
        command = [sys.executable, "-m", "locvlm", "serve", "--model", str(args.model),
                   "--engine", "transformers", "--port", str(port)]  # fmt: skip
        self.server = Server("api", command, env, port, timeout=300)
        self.port, self.url = port, self.server.url
        self.requests = [ground_request(png, phrase) for png, phrase in work]

    def engine_details(self) -> dict[str, float]:
        """The engine's counters (tokens, batches), from `/readyz`."""
        details: dict[str, float] = httpx.get(f"{self.url}/readyz").json()["engine"]["details"]
        return details

    async def level(self, concurrency: int) -> dict[str, Any]:
        """One closed-loop run at `concurrency`, a connection per client."""
        before = self.engine_details()
        result = await run_level(self.port, self.requests, concurrency, "/v1/ground")
        result["answers"] = [json.loads(a)["results"][0]["raw"] for a in result["answers"]]
        return {**result, **_work(before, self.engine_details())}

    def stop(self) -> None:
        """SIGTERM (drains), then wait."""
        self.server.stop(timeout=60)


# --- the run --------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    """Warm both arms up, then alternate them level by level for `args.rounds` rounds."""
    work = workload(args.requests)
    direct, api = Direct(args), Api(args, work, args.port)
    rounds: dict[str, dict[int, list[dict[str, Any]]]] = {"direct": {}, "api": {}}
    try:
        direct.level(8)  # warm-up: grammars compiled, batch shapes seen
        uvloop.run(api.level(8))
        for r in range(args.rounds):
            for c in args.levels:
                arms: Sequence[str] = ("direct", "api") if r % 2 == 0 else ("api", "direct")
                for arm in arms:
                    result = direct.level(c) if arm == "direct" else uvloop.run(api.level(c))
                    rounds[arm].setdefault(c, []).append(result)
                    print(f"round {r} c={c} {arm}: {result['requests_per_s']} req/s", flush=True)
    finally:
        direct.stop()
        api.stop()
    return {str(c): _compare(rounds["direct"][c], rounds["api"][c]) for c in args.levels}


def _compare(direct: list[dict[str, Any]], api: list[dict[str, Any]]) -> dict[str, Any]:
    """Median figures of each arm over rounds, their ratio, and the same-work checks."""

    def median(runs: list[dict[str, Any]]) -> dict[str, float]:
        keys = ("requests_per_s", "whole_run_requests_per_s", "p50_ms", "p99_ms",
                "completion_tokens", "rows_per_batch")  # fmt: skip
        return {k: round(statistics.median(run[k] for run in runs), 2) for k in keys}

    d, a = median(direct), median(api)
    ratio = a["requests_per_s"] / d["requests_per_s"]
    same = sum(x == y for x, y in zip(direct[0]["answers"], api[0]["answers"], strict=True))
    return {"direct": d, "api": a, "api_over_direct": round(ratio, 3), "met": ratio >= TARGET,
            "same_answers": f"{same}/{len(api[0]['answers'])}"}  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table, one row per concurrency level."""
    lines = [
        f"# API overhead: /v1/ground vs the engine ({report['machine']}, "
        f"{report['requests']} requests x {report['rounds']} rounds, "
        f"{report['max_new_tokens']} new tokens, threads {report['threads']}, "
        f"server engine {'in a child process' if report.get('engine_process') else 'in-process'}"
        f", {report.get('batching', 'micro')} batching"
        f"{', grounding from the listing' if report.get('listing') else ''})",
        "",
        "| concurrency | direct req/s | api req/s | api/direct | whole run: direct / api req/s "
        "(ratio) | direct p50/p99 ms | api p50/p99 ms | rows/batch direct/api | same answers "
        "| tokens direct/api |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c, lv in report["levels"].items():
        d, a = lv["direct"], lv["api"]
        whole = (d["whole_run_requests_per_s"], a["whole_run_requests_per_s"])
        lines.append(
            f"| {c} | {d['requests_per_s']} | {a['requests_per_s']} | {lv['api_over_direct']} "
            f"| {whole[0]} / {whole[1]} ({whole[1] / whole[0]:.3f}) "
            f"| {d['p50_ms']} / {d['p99_ms']} | {a['p50_ms']} / {a['p99_ms']} "
            f"| {d['rows_per_batch']} / {a['rows_per_batch']} | {lv['same_answers']} "
            f"| {d['completion_tokens']:g} / {a['completion_tokens']:g} |"
        )
    verdict = "met" if report["met"] else "NOT met"
    lines += ["", f"Target api/direct >= {TARGET} at every level (steady rate): {verdict}.",
              "Steady rate: the completions between the first and the last `concurrency` "
              "of each run, over their time; the whole-run figure includes the start (every "
              "client sends at once) and the drain.", ""]  # fmt: skip
    return "\n".join([*lines, report["note"], ""])


def main() -> None:
    """Parse arguments; run the worker, or the benchmark and write JSON and markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each engine")
    load_arguments(parser, ",".join(map(str, LEVELS)))
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--engine-process", action=argparse.BooleanOptionalAction, default=True,
                        help="the server's engine in a child process")  # fmt: skip
    parser.add_argument("--batching", choices=("micro", "continuous"), default="micro",
                        help="how the transformers engine of both arms batches")  # fmt: skip
    parser.add_argument("--listing", action=argparse.BooleanOptionalAction, default=False,
                        help="ground from the listing of every object (Sidecar.listing); "
                        "default: LocPred's question, as every earlier run")  # fmt: skip
    parser.add_argument("--note", default="", help="what else ran on the machine, and so on")
    parser.add_argument("--out", type=Path, default=Path("bench/results/api"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parse_load_arguments(parser)
    if args.worker:
        uvloop.run(worker(args))
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    levels = run(args)
    report = {
        "command": "python bench/api.py " + shlex.join(sys.argv[1:]),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "model": str(args.model), "requests": args.requests, "rounds": args.rounds,
        "max_new_tokens": args.max_new_tokens, "threads": args.threads,
        "engine_process": args.engine_process, "batching": args.batching,
        "listing": args.listing,
        "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
        "levels": levels, "met": all(lv["met"] for lv in levels.values()),
        "note": "Both arms share the machine with whatever else runs (load average at start "
        "and end above); rounds alternate the arms to spread that noise. " + args.note,
    }  # fmt: skip
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
