"""Validation accuracy vs training time, from training logs (`log.jsonl`), as PNG.

    python bench/plots.py docs/runs/final2-log.jsonl --out docs/plots/final2.png \
        [--metrics locpred,negpred,exists,...] [--title "..."]

One plot of several metrics for one run (`run_curves`), or one metric across runs
(`metric_curves`, used by bench/ablations.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DEFAULT_METRICS = ("locpred", "negpred", "exists", "revloc", "region", "spatial_side_evidence",
                   "spatial_yes_no_evidence", "counting")  # fmt: skip


def validation(log: Path, metric: str) -> list[tuple[float, float]]:
    """(minutes from the start, accuracy) of `metric` at each validation in `log`."""
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    valid = [r for r in rows if r.get("stage") == "validation" and metric in r]
    return [(r["t"] / 60, r[metric]) for r in valid]


def _axes(title: str) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.set(xlabel="training time (min)", ylabel="validation accuracy", ylim=(0, 1), title=title)
    ax.grid(alpha=0.3)
    return fig, ax


def _save(fig: Any, ax: Any, out: Path) -> None:
    import matplotlib.pyplot as plt

    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def run_curves(log: Path, metrics: list[str], out: Path, title: str) -> None:
    """One line per metric of one run."""
    fig, ax = _axes(title)
    for metric in metrics:
        points = validation(log, metric)
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=metric)
    _save(fig, ax, out)


def metric_curves(logs: dict[str, Path], metric: str, out: Path) -> None:
    """One line per run, for one metric."""
    fig, ax = _axes(metric)
    for name, log in logs.items():
        points = validation(log, metric)
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=name)
    _save(fig, ax, out)


def main() -> None:
    """Plot one run's validation curves."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--metrics", default=",".join(DEFAULT_METRICS))
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    run_curves(args.log, args.metrics.split(","), args.out, args.title or args.log.stem)


if __name__ == "__main__":
    main()
