"""`locvlm data ...`: generate shapes datasets, instruction JSONL and benchmarks.

locvlm data shapes --n 200 --seed 1 --size 128 --out data/shapes
locvlm data clips --n 20 --frames 16 --seed 1 --out data/clips --video
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from locvlm.data.shapes import ShapesConfig
from locvlm.data.shapes_writer import write_clips_dataset, write_shapes_dataset

app = typer.Typer(help="Generate datasets, instruction data and benchmarks.", no_args_is_help=True)

SizeOpt = Annotated[
    str, typer.Option(help="Image size: W, WxH, or 'random' (every size of the contract).")
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder (new or empty).")]


def parse_size(text: str) -> tuple[int, int] | None:
    """`128` -> (128, 128); `160x96` -> (160, 96); `random` -> None."""
    if text.strip().lower() == "random":
        return None
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", text)
    if not m:
        raise typer.BadParameter(f"expected W, WxH or 'random', got {text!r}")
    return int(m[1]), int(m[2] or m[1])


def shapes_config(size: str, max_objects: int) -> ShapesConfig:
    """Build a generator config, turning contract violations into CLI errors."""
    try:
        return ShapesConfig(size=parse_size(size), max_objects=max_objects)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar; yields a callback that advances it."""
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda k: bar.advance(task, k)


@app.command()
def shapes(
    out: OutOpt,
    n: Annotated[int, typer.Option(min=1, help="Number of scenes.")] = 200,
    seed: Annotated[int, typer.Option(help="Scene i is drawn from (seed, i).")] = 0,
    size: SizeOpt = "128",
    max_objects: Annotated[int, typer.Option(min=1, max=5)] = 5,
) -> None:
    """Write a shapes-world COCO dataset (annotations.json + images/)."""
    config = shapes_config(size, max_objects)
    try:
        with progress_bar("scenes", n) as advance:
            write_shapes_dataset(out, n, seed, config, progress=advance)
    except FileExistsError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    typer.echo(f"wrote {n} scenes to {out}/annotations.json")


@app.command()
def clips(
    out: OutOpt,
    n: Annotated[int, typer.Option(min=1, help="Number of clips.")] = 20,
    frames: Annotated[int, typer.Option(min=8, max=64, help="Frames per clip.")] = 16,
    seed: Annotated[int, typer.Option(help="Clip i is drawn from (seed, i).")] = 0,
    size: SizeOpt = "128",
    max_objects: Annotated[int, typer.Option(min=1, max=5)] = 5,
    video: Annotated[bool, typer.Option(help="Also write each clip as an MP4.")] = False,
) -> None:
    """Write moving-shapes clips: frame folders (+ MP4s) and per-frame annotations."""
    config = shapes_config(size, max_objects)
    try:
        with progress_bar("clips", n) as advance:
            write_clips_dataset(out, n, seed, frames, config, video, progress=advance)
    except FileExistsError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    typer.echo(f"wrote {n} clips of {frames} frames to {out}/annotations.json")
