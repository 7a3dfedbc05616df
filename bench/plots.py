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


def _stage(row: dict[str, Any]) -> str:
    return "stage2" if row.get("stage") == "validation" else str(row.get("stage"))


def _checkpoint_validation(row: dict[str, Any], step: int) -> bool:
    """Whether `row` validates the model of the checkpoint at stage-2 `step`."""
    return row.get("stage") == "validation" and row.get("step") == step


def timeline(log: Path) -> list[dict[str, Any]]:
    """The records of `log`, with one clock across a resume.

    Trainers from before the clock was saved in `state.pt` restarted `t` at zero on
    resume, after re-logging the steps since the checkpoint. Such a restart continues
    from the last earlier record of the same stage before the new segment's first step,
    and the earlier records it re-did are dropped. Trainers that save the clock log a
    resume's start at the checkpoint's time: records after it were redone, and dropped,
    except the validation of the checkpoint's own step, which a resume does not redo.
    """
    rows: list[dict[str, Any]] = []
    offset = 0.0
    for line in log.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("event") == "setting changed":  # logged before the clock is restored
            continue
        if row.get("event") == "start" and row.get("resume_step") and row["t"] > 1.0:
            # a resume with the saved clock: what was logged after the checkpoint is redone,
            # but the validation of the checkpoint's own step is not: it is kept, at the
            # checkpoint's time (the saved clock leaves out the seconds it took)
            at = row["t"] + offset
            rows = [
                r if r["t"] <= at else {**r, "t": at}
                for r in rows
                if r["t"] <= at or _checkpoint_validation(r, row["resume_step"])
            ]
        if rows and row["t"] + offset < rows[-1]["t"]:  # the clock restarted: a resume
            stage, step = _stage(row), row.get("step", 0)
            rows = [r for r in rows if not (_stage(r) == stage and r.get("step", -1) >= step)]
            before = [r["t"] for r in rows if _stage(r) == stage and "step" in r]
            offset = before[-1] if before else rows[-1]["t"] if rows else 0.0
        rows.append({**row, "t": row["t"] + offset})
    return rows


def validation(log: Path, metric: str) -> list[tuple[float, float]]:
    """(minutes from the start, accuracy) of `metric` at each validation in `log`."""
    rows = timeline(log)
    valid = [r for r in rows if r.get("stage") == "validation" and metric in r]
    return [(r["t"] / 60, r[metric]) for r in valid]


def train_minutes(log: Path) -> float:
    """Training time of the run in `log`, in minutes (its last record's time)."""
    rows = timeline(log)
    return rows[-1]["t"] / 60 if rows else 0.0


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
    """One line per run, for one metric; a run keeps its colour in every plot."""
    fig, ax = _axes(metric)
    for index, (name, log) in enumerate(logs.items()):
        points = validation(log, metric)
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=name, color=f"C{index}")
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
