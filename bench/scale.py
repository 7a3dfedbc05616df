"""Throughput and p99 latency against concurrency, per engine, from the serving benches' JSON.

    python bench/scale.py bench/results/scale-transformers.json \
        bench/results/scale-vllm.json --out docs/plots/scale.png

Reads reports of bench/api.py (its `api` arm: `locvlm serve`, transformers engine; its
`direct` arm: the engine alone) and bench/vs_vllm_serve.py (`locvlm serve --engine vllm`
and `vllm serve`), run with `--levels 1,2,4,8,16,32,64`. Draws requests/s and p99 per
arm against concurrency (log 2), and names each arm's knee: the first level after which
throughput grows by less than `KNEE_GAIN` per step up in concurrency: beyond it more
clients only queue (p99 climbs, requests/s does not).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

KNEE_GAIN = 1.10  # below a 10% gain per step up in concurrency, clients only queue
ARMS = {  # report arm -> the label on the plot
    "api": "locvlm serve (transformers)",
    "direct": "transformers engine alone",
    "locvlm": "locvlm serve (vLLM)",
    "vllm_serve": "vllm serve",
}


def curves(report: dict[str, Any]) -> dict[str, list[tuple[int, float, float]]]:
    """Per arm of one report: (concurrency, requests/s, p99 ms) by increasing concurrency."""
    out: dict[str, list[tuple[int, float, float]]] = {}
    for level, figures in sorted(report["levels"].items(), key=lambda kv: int(kv[0])):
        for arm in ARMS:
            if arm in figures:
                f = figures[arm]
                out.setdefault(arm, []).append((int(level), f["requests_per_s"], f["p99_ms"]))
    return out


def knee(points: list[tuple[int, float, float]]) -> int:
    """The first concurrency whose next level raises requests/s by less than `KNEE_GAIN`."""
    for (c, rate, _), (_, after, _) in itertools.pairwise(points):
        if after < rate * KNEE_GAIN:
            return c
    return points[-1][0]


def plot(arms: dict[str, list[tuple[int, float, float]]], out: Path, title: str) -> None:
    """Two panels, requests/s and p99, one line per arm, each knee marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rate_ax, p99_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for arm, points in arms.items():
        c = [p[0] for p in points]
        k = knee(points)
        (line,) = rate_ax.plot(c, [p[1] for p in points], marker="o",
                               label=f"{ARMS[arm]} (knee {k})")  # fmt: skip
        p99_ax.plot(c, [p[2] for p in points], marker="o", color=line.get_color())
        at = next(p for p in points if p[0] == k)
        rate_ax.scatter([k], [at[1]], s=160, facecolors="none", edgecolors=line.get_color())
    for ax, name in ((rate_ax, "requests/s (steady)"), (p99_ax, "p99 latency (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    p99_ax.set_yscale("log")
    rate_ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main() -> None:
    """Read the reports, print each arm's knee, write the PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="JSON reports of the benches")
    parser.add_argument("--out", type=Path, default=Path("docs/plots/scale.png"))
    parser.add_argument("--title", default="/v1/ground on the shipped checkpoint, 2 CPU cores")
    args = parser.parse_args()
    arms: dict[str, list[tuple[int, float, float]]] = {}
    for path in args.reports:
        arms.update(curves(json.loads(path.read_text())))
    for arm, points in arms.items():
        print(f"{ARMS[arm]}: knee at {knee(points)}; " + ", ".join(
            f"c={c} {rate} req/s p99 {p99} ms" for c, rate, p99 in points))  # fmt: skip
    plot(arms, args.out, args.title)


if __name__ == "__main__":
    main()
