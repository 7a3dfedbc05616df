"""Engine throughput and latency: requests/s, p50/p99 at concurrency 1, 4, 8 and 16.

    python bench/engines.py --model runs/tiny/export [--engine transformers] [--threads 1] \
        [--requests 48] [--max-new-tokens 16] [--constrained] [--out bench/results/engines]

Every engine answers the same grounding questions ("Where is the red circle?") on the
same shapes-world scenes, greedily, in one run. Each concurrency level is a closed loop:
that many clients each send their next request when the previous one is answered.
`ready_s` is the time from building the engine to its first answer (weights loaded,
first request served). Engines: `transformers` always; `vllm` where the package is
installed (run this from the vLLM venv); `remote` given `--remote-url`. Targets of issue
6, as ratios of the same run: transformers at 8 >= 2.5x its rate at 1 (micro-batching),
ready <= 10 s; vLLM CPU at 16 >= 4x its rate at 1, ready <= 60 s. Writes JSON + markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import re
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from locvlm.api.settings import Settings
from locvlm.data.shapes import ShapesConfig, render_scene
from locvlm.engines.base import Constraint, GenerationRequest
from locvlm.engines.factory import engine_class
from locvlm.model.loading import resolve_model_dir
from locvlm.model.sidecar import Sidecar
from locvlm.tasks import locpred

LEVELS = (1, 4, 8, 16)
TARGETS = {  # engine -> (concurrency compared with 1, least speed-up, most ready seconds)
    "transformers": (8, 2.5, 10.0),
    "vllm": (16, 4.0, 60.0),
}


def requests(
    model: Path, n: int, max_new_tokens: int, constrained: bool
) -> list[GenerationRequest]:
    """`n` grounding questions on shapes scenes (seeds (5, i)), optionally constrained."""
    codec_regex = _codec_regex(model) if constrained else None
    out = []
    for i in range(n):
        image, objects = render_scene(seed=(5, i), config=ShapesConfig(size=(128, 128)))
        phrase = objects[0].category
        constraint = None
        if codec_regex is not None:
            absent = re.escape(locpred.absent_answer(phrase))
            constraint = Constraint(regex=f"(?:{codec_regex})|{absent}")
        out.append(GenerationRequest(image, locpred.prompt(phrase), max_new_tokens, constraint))
    return out


def _codec_regex(model: Path) -> str:
    from locvlm.coords import get_codec

    return get_codec(**Sidecar.read(model).codec).regex


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _level(engine: Any, reqs: list[GenerationRequest], concurrency: int) -> dict[str, float]:
    """Serve `reqs` with `concurrency` closed-loop clients; rate and latencies."""
    latencies: list[float] = []
    todo = iter(reqs)

    async def client() -> None:
        for request in todo:  # a shared iterator: each request is sent once
            start = time.perf_counter()
            await engine.generate([request])
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / wall, 2),
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
    }


async def bench_engine(kind: str, settings: Settings, reqs: list[GenerationRequest]) -> dict:
    """Build one engine, time its first answer, then every concurrency level."""
    start = time.perf_counter()
    engine = await engine_class(kind).create(settings.engine_config())
    try:
        await engine.generate(reqs[:1])
        ready = time.perf_counter() - start
        await _level(engine, reqs[:16], 16)  # warm-up: first batches of each shape are slow
        levels = {str(c): await _level(engine, reqs, c) for c in LEVELS}
        stats = engine.stats()
    finally:
        await engine.shutdown()
    result: dict[str, Any] = {"ready_s": round(ready, 2), "levels": levels,
                              "stats": {"finished": stats.finished, **stats.details}}  # fmt: skip
    if kind in TARGETS:
        at, speedup, ready_max = TARGETS[kind]
        ratio = levels[str(at)]["requests_per_s"] / levels["1"]["requests_per_s"]
        result["targets"] = {
            f"throughput_{at}_over_1": round(ratio, 2),
            f"throughput_{at}_over_1_min": speedup,
            "ready_s_max": ready_max,
            "met": ratio >= speedup and ready <= ready_max,
        }
    return result


def markdown(report: dict) -> str:
    """The report as markdown tables, one row per engine and concurrency."""
    lines = [
        f"# Engine benchmark ({report['machine']}, {report['requests']} requests, "
        f"{report['max_new_tokens']} new tokens, threads {report['threads']})",
        "",
        "| engine | concurrency | requests/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for kind, res in report["engines"].items():
        for c, lv in res["levels"].items():
            lines.append(
                f"| {kind} | {c} | {lv['requests_per_s']} | {lv['p50_ms']} | {lv['p99_ms']} |"
            )
    lines.append("")
    for kind, res in report["engines"].items():
        line = f"- {kind}: ready {res['ready_s']} s"
        if t := res.get("targets"):
            ratio = next(k for k in t if k.endswith("_over_1"))
            verdict = "met" if t["met"] else "NOT met"
            line += (
                f"; {ratio.replace('_', ' ')} = {t[ratio]}x (target >= {t[ratio + '_min']}x), "
                f"ready target <= {t['ready_s_max']} s: {verdict}"
            )
        lines.append(line)
    return "\n".join([*lines, "", report["note"], ""])


def _available(remote_urls: list[str]) -> list[str]:
    kinds = ["transformers"]
    if importlib.util.find_spec("vllm") is not None:
        kinds.append("vllm")
    if remote_urls:
        kinds.append("remote")
    return kinds


def main() -> None:
    """Parse arguments, benchmark each engine, write the JSON and markdown reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="checkpoint folder (an export)")
    parser.add_argument(
        "--engine",
        action="append",
        choices=["transformers", "vllm", "remote"],
        help="engine to run (repeatable); default: every one that works here",
    )
    parser.add_argument("--remote-url", action="append", default=[])
    parser.add_argument("--threads", type=int, default=Settings().threads)
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--constrained", action="store_true", help="grounding constraint on")
    parser.add_argument("--note", default="", help="what else ran on the machine, and so on")
    parser.add_argument("--out", type=Path, default=Path("bench/results/engines"))
    args = parser.parse_args()
    try:
        model = resolve_model_dir(args.model)
    except FileNotFoundError as exc:
        parser.error(f"{exc}; pass --model DIR (an exported checkpoint)")
    settings = Settings(model=str(model), threads=args.threads, remote_urls=args.remote_url)
    reqs = requests(model, args.requests, args.max_new_tokens, args.constrained)
    engines = {}
    for kind in args.engine or _available(args.remote_url):
        print(f"{kind}: benchmarking ...", flush=True)
        engines[kind] = asyncio.run(bench_engine(kind, settings, reqs))
    report = {
        "command": "python bench/engines.py " + shlex.join(sys.argv[1:]),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "model": str(model),
        "requests": args.requests,
        "max_new_tokens": args.max_new_tokens,
        "constrained": args.constrained,
        "threads": args.threads,
        "engines": engines,
        "note": "Absolute rates drop when other processes share the cores; the ratios of one "
        f"run are the figures to compare. {args.note}".strip(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":  # vLLM spawns its engine core: the guard keeps it from rerunning this
    main()
