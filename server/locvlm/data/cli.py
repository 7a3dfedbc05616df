"""`locvlm data ...`: generate shapes datasets, instruction JSONL and benchmarks.

locvlm data shapes --n 200 --seed 1 --size 128 --out data/shapes
locvlm data clips --n 20 --frames 16 --seed 1 --out data/clips --video
locvlm data instruct --coco data/shapes/annotations.json --images data/shapes --codec ivb \
    --out data/train.jsonl
locvlm data bench --kind leftright,pope --coco data/shapes/annotations.json \
    --images data/shapes --out data/bench.jsonl
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from locvlm.data.benchmarks import (
    BENCHMARKS,
    BenchOptions,
    build_benchmarks,
    count_units,
    parse_kinds,
)
from locvlm.data.coco import CocoDataset, CocoFormatError, ImageRecord, load_coco
from locvlm.data.instructions import (
    InstructConfig,
    build_conversations,
    caption_rows,
    write_jsonl,
)
from locvlm.data.negatives import NegativeSampler, crowd_categories
from locvlm.data.shapes import CATEGORIES, UPRIGHT, ShapesConfig
from locvlm.data.shapes_writer import write_clips_dataset, write_shapes_dataset

app = typer.Typer(help="Generate datasets, instruction data and benchmarks.", no_args_is_help=True)

SizeOpt = Annotated[
    str, typer.Option(help="Image size: W, WxH, or 'random' (every size of the contract).")
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder (new or empty).")]


def parse_size(text: str, loose: bool = True) -> tuple[int, int] | None:
    """`160x96` -> (160, 96); with `loose`, also `128` -> (128, 128), `random` -> None.

    Raises:
        typer.BadParameter: anything else, or a zero side.
    """
    if loose and text.strip().lower() == "random":
        return None
    pattern = r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*" if loose else r"\s*(\d+)\s*[xX]\s*(\d+)\s*"
    m = re.fullmatch(pattern, text)
    if not m or int(m[1]) == 0 or int(m[2] or m[1]) == 0:
        wanted = "W, WxH or 'random'" if loose else "WIDTHxHEIGHT"
        raise typer.BadParameter(f"expected {wanted} with positive integers, got {text!r}")
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


CocoOpt = Annotated[Path, typer.Option("--coco", help="COCO instances file (annotations.json).")]
JsonlOpt = Annotated[Path, typer.Option("--out", "-o", help="Output JSONL (written atomically).")]
T = TypeVar("T")


def load_dataset(path: Path) -> CocoDataset:
    """Load a COCO file; a missing or malformed one is a CLI error naming file and record."""
    try:
        return load_coco(path)
    except CocoFormatError as exc:
        raise typer.BadParameter(str(exc), param_hint="--coco") from None


def check_images(records: Iterable[ImageRecord], root: Path) -> None:
    """Fail on the first record whose image file is not under `root`."""
    if not root.is_dir():
        raise typer.BadParameter(f"{root} is not a folder", param_hint="--images")
    for record in records:
        if not (root / record.file_name).is_file():
            raise typer.BadParameter(
                f"image {record.id}: {record.file_name} not found under {root}",
                param_hint="--images",
            )


def rows_root(images: Path, out: Path) -> str:
    """`images` as the rows name it, so that paths resolve from the output file's folder.

    An absolute folder stays as given; a relative one (to the working directory) is
    made relative to `out`'s folder, which is where `locvlm eval` resolves image paths.
    """
    if images.is_absolute():
        return str(images)
    return os.path.relpath(images.resolve(), out.resolve().parent)


def key_values(items: list[str] | None, option: str) -> dict[str, Any]:
    """`["bins=32", "name=x"]` -> `{"bins": 32, "name": "x"}` (values read as JSON if they can)."""
    found: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=option)
        try:
            found[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            found[key.strip()] = value
    return found


def advancing(items: Iterable[T], advance: Callable[[int], None]) -> Iterator[T]:
    """`items`, advancing a progress bar after each."""
    for item in items:
        yield item
        advance(1)


def instruct_config(
    codec: str, params: list[str] | None, mix: list[str] | None, **options: Any
) -> InstructConfig:
    """The instruction config of the CLI options; bad values are CLI errors."""
    codec_config = {"name": codec, **key_values(params, "--codec-param")}
    try:
        weights = {k: float(v) for k, v in key_values(mix, "--mix").items()}
        return InstructConfig(codec=codec_config, **options).with_weights(weights)
    except (TypeError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
def instruct(
    coco: CocoOpt,
    images: Annotated[Path, typer.Option(help="Image folder the file names are relative to.")],
    out: JsonlOpt,
    codec: Annotated[str, typer.Option(help="Coordinate codec (`locvlm coords list`).")] = "ivb",
    codec_param: Annotated[
        list[str] | None, typer.Option(help="Codec KEY=VALUE, repeatable.")
    ] = None,
    turns: Annotated[int, typer.Option(min=1, help="Questions per image.")] = 4,
    mix: Annotated[
        list[str] | None,
        typer.Option(help="TASK=WEIGHT, repeatable: changes the default mix; 0 drops a task."),
    ] = None,
    negatives: Annotated[str, typer.Option(help="random, popular or adversarial.")] = "random",
    captions: Annotated[bool, typer.Option(help="Write stage-1 caption rows instead.")] = False,
    seed: Annotated[int, typer.Option(help="Image i draws from (seed, image id).")] = 0,
) -> None:
    """Write LLaVA-style instruction JSONL (LocPred, NegPred, RevLoc, spatial VQA, ...).

    Image paths in the rows resolve from the output file's folder.
    """
    config = instruct_config(
        codec, codec_param, mix, turns_per_image=turns, negatives=negatives, seed=seed
    )
    dataset = load_dataset(coco)
    records = list(dataset.records())
    check_images(records, images)
    root = rows_root(images, out)
    with progress_bar("images", len(records)) as advance:
        if captions:
            rows = caption_rows(advancing(records, advance), root)
        else:
            names = dataset.category_names()
            sampler = NegativeSampler.from_records(records, names, config.negatives)
            rows = build_conversations(
                advancing(records, advance), names, config, sampler,
                image_root=root, crowds=crowd_categories(dataset),
            )  # fmt: skip
        count = write_jsonl(rows, out)
    typer.echo(f"wrote {count} rows to {out}")


def _upright(given: str | None, dataset: CocoDataset) -> tuple[str, ...]:
    """`--upright` as names, or the shapes world's upright shapes for a shapes dataset.

    Raises:
        ValueError: a name is neither a category nor a supercategory of `dataset`.
    """
    if given is None:
        return UPRIGHT if set(dataset.category_names()) <= set(CATEGORIES) else ()
    names = tuple(name.strip() for name in given.split(",") if name.strip())
    known = {n for c in dataset.categories for n in (c.name, c.supercategory)}
    if unknown := [n for n in names if n not in known]:
        raise ValueError(f"not a category or supercategory of the dataset: {', '.join(unknown)}")
    return names


@app.command()
def bench(
    kind: Annotated[str, typer.Option(help=f"Comma-separated: {', '.join(BENCHMARKS)}.")],
    coco: CocoOpt,
    out: JsonlOpt,
    images: Annotated[
        Path | None, typer.Option(help="Image folder of the file names (default: --coco's folder).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Rows of image i draw from (seed, kind, i).")] = 0,
    max_per_image: Annotated[int, typer.Option(min=1, help="Questions per image and kind.")] = 3,
    negatives: Annotated[
        str | None,
        typer.Option(help="One POPE split (default: all three); adds NegPred rows to grounding."),
    ] = None,
    upright: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated categories or supercategories that are not their own "
            "top-to-bottom mirror: images showing one get no flipped above/below copy "
            "(default: 'triangle' for a shapes-world dataset, none otherwise)."
        ),
    ] = None,
) -> None:
    """Write benchmark JSONL: each question with its expected structured answer.

    Image paths in the rows resolve from the output file's folder, as `locvlm eval` reads them.
    """
    try:
        kinds = parse_kinds(kind)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--kind") from None
    try:
        # Without --images, file names stay relative to the annotations' folder (as the
        # shapes writer lays datasets out), rewritten to resolve from the output file.
        root = rows_root(images or coco.parent, out)
        options = BenchOptions(seed, max_per_image, negatives, root)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    dataset = load_dataset(coco)
    try:
        options = replace(options, upright=_upright(upright, dataset))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--upright") from None
    if images is not None:
        check_images(dataset.records(), images)
    try:
        total = count_units(dataset, kinds)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--kind") from None
    with progress_bar("images", total) as advance:
        count = write_jsonl(build_benchmarks(dataset, kinds, options, advance), out)
    typer.echo(f"wrote {count} rows ({', '.join(kinds)}) to {out}")
