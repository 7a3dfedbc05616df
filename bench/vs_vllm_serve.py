"""`locvlm serve --engine vllm` against `vllm serve` on the same checkpoint, driven the same way.

    .venv-vllm/bin/python bench/vs_vllm_serve.py [--model default] [--requests 192] \
        [--rounds 3] [--levels 1,8,32] [--note "..."] [--out bench/results/vs-vllm-serve]

What a GPU user compares us with is vLLM's own OpenAI server on the same checkpoint,
with the prompt, the output constraint and the box parsing in their own client code:
- A: `locvlm serve --engine vllm`, posted `/v1/ground` with one phrase; boxes come back
  in the image's pixels.
- B: `python -m vllm.entrypoints.openai.api_server` on the same folder with the engine
  arguments A gives vLLM, posted what a user would write: a chat completion with the
  image as a PNG data URL, the same question, the same `structured_outputs` regex,
  greedy; the client reads the boxes out of the answer itself (`user_boxes`).
Both servers run at once; only one is driven at a time. Each concurrency level is a
closed loop (`_load.closed_loop`); rounds alternate which arm goes first, and each
figure is the median over rounds. Both arms must give the same text and the same boxes
for every request at concurrency 1. Target: A's requests/s >= 0.95x B's at every level.
Also reported: each server's time from start to ready, and the resident memory of its
processes at rest and after the highest level. Runs in the vLLM venv (`make vllm-env`).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

import uvloop
from _load import (
    SIZE,
    free_port,
    ground_request,
    load_arguments,
    parse_load_arguments,
    post,
    run_level,
    workload,
)
from _report import save
from _server import Server

from locvlm.coords import get_codec
from locvlm.engines.base import Constraint
from locvlm.engines.config import EngineConfig
from locvlm.model.sidecar import Sidecar
from locvlm.tasks import locpred

TARGET = 0.95  # locvlm requests/s over vllm serve's, at every level
SERVED_NAME = "locvlm-bench"
_QUAD = re.compile(r"\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]")


def user_boxes(text: str, size: tuple[int, int], bins: int) -> list[list[float]]:
    """What a user's client does with B's answer: IVB cells to the image's pixels.

    Each value is a cell of `bins` per side; its centre, times the side, is the pixel.
    """
    w, h = size
    return [
        [(int(v) + 0.5) / bins * side for v, side in zip(quad, (w, h, w, h), strict=True)]
        for quad in _QUAD.findall(text)
    ]


def _rss(server: Server) -> dict[str, float]:
    """Resident memory of the server process and of its children (the engine core), MiB."""
    own, children = server.rss_mib()
    return {"server": own, "children": children}


def _engine_flags(args: argparse.Namespace) -> dict[str, str]:
    """The engine arguments both arms give vLLM (A through LOCVLM_*, B as flags)."""
    return {
        "dtype": EngineConfig.dtype, "max_model_len": str(EngineConfig.max_model_len),
        "max_num_seqs": str(max(args.levels)),
        "gpu_memory_utilization": str(args.gpu_memory_utilization),
    }  # fmt: skip


def start_locvlm(args: argparse.Namespace, env: dict[str, str]) -> Server:
    """Arm A: `locvlm serve --engine vllm` (enforce_eager and seed 0, its defaults)."""
    flags = _engine_flags(args)
    env = {**env, **{f"LOCVLM_{k.upper()}": v for k, v in flags.items()},
           "LOCVLM_MAX_NEW_TOKENS": str(args.max_new_tokens),
           "LOCVLM_MAX_IN_FLIGHT": str(2 * max(args.levels)),
           "LOCVLM_LISTING": "false"}  # arm B's question: LocPred's  # fmt: skip
    port = free_port()
    command = [sys.executable, "-m", "locvlm", "serve", "--model", str(args.model),
               "--engine", "vllm", "--port", str(port)]  # fmt: skip
    return Server("locvlm", command, env, port, "/readyz")


def start_vllm(args: argparse.Namespace, env: dict[str, str]) -> Server:
    """Arm B: vLLM's OpenAI server with the same engine arguments."""
    port = free_port()
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
               "--model", str(args.model), "--served-model-name", SERVED_NAME,
               "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--seed", "0",
               "--limit-mm-per-prompt", '{"image": 1}']  # fmt: skip
    for key, value in _engine_flags(args).items():
        command += [f"--{key.replace('_', '-')}", value]
    return Server("vllm-serve", command, env, port, "/v1/models")


def requests_for(args: argparse.Namespace) -> tuple[list[bytes], list[bytes], list[str]]:
    """A's `/v1/ground` requests, B's chat completions, and each request's phrase."""
    codec = get_codec(**Sidecar.read(args.model).codec)
    work = workload(args.requests)
    a, b = [], []
    for png, phrase in work:
        a.append(ground_request(png, phrase))
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        chat = {
            "model": SERVED_NAME, "max_tokens": args.max_new_tokens, "temperature": 0.0,
            "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": url}},
                {"type": "text", "text": locpred.prompt(phrase)},
            ]}],
            "structured_outputs": {
                "regex": Constraint(regex=locpred.answer_regex(phrase, codec)).for_engine()
            },
        }  # fmt: skip
        b.append(post("/v1/chat/completions", json.dumps(chat).encode()))
    return a, b, [phrase for _, phrase in work]


def read_a(body: str) -> tuple[str, list[list[float]]]:
    """A's answer: the model's text and the boxes in pixels."""
    result = json.loads(body)["results"][0]
    return result["raw"].strip(), [
        [b[k] for k in ("x1", "y1", "x2", "y2")] for b in result["boxes"]
    ]


def read_b(body: str, bins: int) -> tuple[str, list[list[float]]]:
    """B's answer, read as the user's client would: the text, then `user_boxes`."""
    text = json.loads(body)["choices"][0]["message"]["content"] or ""
    return text.strip(), user_boxes(text, SIZE, bins)


def _same(a: list[tuple[str, list[list[float]]]], b: list[tuple[str, list[list[float]]]]) -> int:
    """How many requests got the same text and the same boxes (within 0.01 px) in both."""
    return sum(
        ta == tb and len(ba) == len(bb)
        and all(abs(x - y) < 0.01 for qa, qb in zip(ba, bb, strict=True)
                for x, y in zip(qa, qb, strict=True))
        for (ta, ba), (tb, bb) in zip(a, b, strict=True)
    )  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start both servers, warm them up, then alternate them level by level."""
    env = {**os.environ, "VLLM_TARGET_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}
    bins = int(Sidecar.read(args.model).codec.get("bins", 32))
    reqs = dict(zip(("locvlm", "vllm-serve"), requests_for(args)[:2], strict=True))
    readers = {"locvlm": read_a, "vllm-serve": lambda body: read_b(body, bins)}
    servers = {"locvlm": start_locvlm(args, env)}
    servers["vllm-serve"] = start_vllm(args, env)
    report: dict[str, Any] = {
        "ready_s": {n: round(s.ready_s, 1) for n, s in servers.items()},
        "rss_mib_at_rest": {n: _rss(s) for n, s in servers.items()},
    }
    rounds: dict[str, dict[int, list[dict[str, Any]]]] = {n: {} for n in servers}
    try:
        for name, server in servers.items():  # warm-up: grammars compiled, batches seen
            uvloop.run(run_level(server.port, reqs[name], min(8, max(args.levels)), name))
        for r in range(args.rounds):
            for c in args.levels:
                order = list(servers) if r % 2 == 0 else list(servers)[::-1]
                for name in order:
                    result = uvloop.run(run_level(servers[name].port, reqs[name], c, name))
                    result["answers"] = [readers[name](a) for a in result["answers"]]
                    rounds[name].setdefault(c, []).append(result)
                    print(f"round {r} c={c} {name}: {result['requests_per_s']} req/s", flush=True)
        report["rss_mib_after_load"] = {n: _rss(s) for n, s in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    report["levels"] = {str(c): _compare(rounds["locvlm"][c], rounds["vllm-serve"][c])
                        for c in args.levels}  # fmt: skip
    return report


def _compare(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    """Median figures of each arm over rounds, their ratio, and the same-answer check."""

    def median(runs: list[dict[str, Any]]) -> dict[str, float]:
        keys = ("requests_per_s", "whole_run_requests_per_s", "p50_ms", "p99_ms")
        return {k: round(statistics.median(run[k] for run in runs), 2) for k in keys}

    ma, mb = median(a), median(b)
    ratio = ma["requests_per_s"] / mb["requests_per_s"]
    pairs = list(zip(a[0]["answers"], b[0]["answers"], strict=True))
    differ = [{"request": i, "locvlm": pa, "vllm_serve": pb}
              for i, (pa, pb) in enumerate(pairs) if not _same([pa], [pb])]  # fmt: skip
    return {"locvlm": ma, "vllm_serve": mb, "locvlm_over_vllm_serve": round(ratio, 3),
            "met": ratio >= TARGET, "same_answers": f"{len(pairs) - len(differ)}/{len(pairs)}",
            "differ": differ[:10]}  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown: one row per concurrency level, then ready time and memory."""
    lines = [
        f"# locvlm serve --engine vllm vs vllm serve, same checkpoint ({report['machine']}, "
        f"{report['requests']} requests x {report['rounds']} rounds, "
        f"{report['max_new_tokens']} new tokens)",
        "",
        "| concurrency | vllm serve req/s | locvlm req/s | locvlm/vllm serve | vllm serve "
        "p50/p99 ms | locvlm p50/p99 ms | same text and boxes |",
        "|---|---|---|---|---|---|---|",
    ]
    for c, lv in report["levels"].items():
        a, b = lv["locvlm"], lv["vllm_serve"]
        lines.append(
            f"| {c} | {b['requests_per_s']} | {a['requests_per_s']} "
            f"| {lv['locvlm_over_vllm_serve']} | {b['p50_ms']} / {b['p99_ms']} "
            f"| {a['p50_ms']} / {a['p99_ms']} | {lv['same_answers']} |"
        )
    verdict = "met" if report["met"] else "NOT met"
    lines += ["", f"Target locvlm/vllm serve >= {TARGET} at every level (steady rate): {verdict}.",
              "", "| server | ready after (s) | RSS at rest: server / children (MiB) "
              "| after load |", "|---|---|---|---|"]  # fmt: skip
    for name, ready in report["ready_s"].items():
        rest, load = report["rss_mib_at_rest"][name], report["rss_mib_after_load"][name]
        lines.append(f"| {name} | {ready} | {rest['server']} / {rest['children']} "
                     f"| {load['server']} / {load['children']} |")  # fmt: skip
    return "\n".join([*lines, "", report["note"], ""])


def main() -> None:
    """Parse arguments, run, write JSON and markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    load_arguments(parser)
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.15,
                        help="each server's KV cache, as a share of host RAM on a CPU")  # fmt: skip
    parser.add_argument("--note", default="", help="what else ran on the machine, and so on")
    parser.add_argument("--out", type=Path, default=Path("bench/results/vs-vllm-serve"))
    args = parse_load_arguments(parser)
    load = os.getloadavg()[0]
    report = {
        "command": "python bench/vs_vllm_serve.py " + shlex.join(sys.argv[1:]),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "model": str(args.model), "requests": args.requests, "rounds": args.rounds,
        "max_new_tokens": args.max_new_tokens, **run(args),
    }  # fmt: skip
    report["met"] = all(lv["met"] for lv in report["levels"].values())
    report["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    report["note"] = f"Load average at start and end: {report['load_average']}. " + args.note
    save(args.out, report, markdown)


if __name__ == "__main__":
    main()
