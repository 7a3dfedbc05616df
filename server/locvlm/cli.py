"""The `locvlm` command line: serve, train, eval, export, data and coords.

locvlm serve [--model DIR] [--engine auto|transformers|vllm|remote]
locvlm coords list
locvlm coords decode --codec qwen2_5_vl --size 1280x960 '{"bbox_2d": [10, 20, 300, 400]}'
locvlm coords encode --codec ivb --param bins=32 --size 640x480 10,20,300,400
locvlm coords demo
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from locvlm.api.serve import serve
from locvlm.assignments import parse_assignments
from locvlm.coords import CODECS, get_codec
from locvlm.coords.base import Codec
from locvlm.data.cli import app as data_app
from locvlm.data.cli import parse_size
from locvlm.eval.cli import eval_command, export_command
from locvlm.train.cli import selftrain, train
from locvlm_client import Box

app = typer.Typer(
    help="locvlm: a spatially aware vision-language model stack.", no_args_is_help=True
)
coords_app = typer.Typer(help="Encode and decode boxes in any model family's text form.")
app.add_typer(coords_app, name="coords")
app.add_typer(data_app, name="data")
app.command()(train)
app.command()(selftrain)
app.command("eval")(eval_command)
app.command("export")(export_command)
app.command()(serve)

CodecOpt = Annotated[str, typer.Option("--codec", "-c", help="Codec name (see `coords list`).")]
SizeOpt = Annotated[str, typer.Option("--size", "-s", help="Original image size, WIDTHxHEIGHT.")]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Codec parameter KEY=VALUE, repeatable.")
]


def _size(text: str) -> tuple[int, int]:
    size = parse_size(text, loose=False)
    assert size is not None
    return size


def _codec(name: str, params: list[str] | None) -> Codec:
    kwargs = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in parse_assignments(params or [], "--param").items()
    }
    try:
        return get_codec(name, **kwargs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@coords_app.command("list")
def list_codecs() -> None:
    """List the registered codecs and their default parameters."""
    table = Table("name", "parameters", "tolerance (fraction of side)")
    for name in sorted(CODECS):
        codec = get_codec(name)
        params = {k: v for k, v in codec.config.items() if k != "name"}
        table.add_row(name, json.dumps(params), f"{codec.tolerance:.2g}")
    Console().print(table)


@coords_app.command()
def decode(
    codec: CodecOpt,
    size: SizeOpt,
    text: Annotated[
        str | None, typer.Argument(help="Model text; read from stdin if omitted.")
    ] = None,
    param: ParamOpt = None,
) -> None:
    """Decode model text to boxes in the original image's pixels, as JSON."""
    source = sys.stdin.read() if text is None else text
    found = _codec(codec, param).decode_labeled(source, _size(size))
    out = [{"label": item.label, **item.box.model_dump()} for item in found]
    typer.echo(json.dumps(out))


@coords_app.command()
def encode(
    codec: CodecOpt,
    size: SizeOpt,
    boxes: Annotated[list[str], typer.Argument(help="Boxes as x1,y1,x2,y2 in pixels.")],
    param: ParamOpt = None,
) -> None:
    """Encode pixel boxes in a codec's text form."""
    parsed = []
    for item in boxes:
        try:
            parsed.append(Box.from_xyxy([float(v) for v in item.split(",")]))
        except ValueError as exc:
            raise typer.BadParameter(f"bad box {item!r}: {exc}") from None
    try:
        typer.echo(_codec(codec, param).encode(parsed, _size(size)))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@coords_app.command()
def demo() -> None:
    """Show one box written by every codec and read back, on a 640x480 image."""
    size = (640, 480)
    box = Box(x1=173, y1=298, x2=474, y2=479)
    table = Table("codec", "text", "decoded (pixels)", title=f"box {box.to_xyxy()} in 640x480")
    for name in sorted(CODECS):
        codec = get_codec(name)
        text = codec.encode([box], size)
        (back,) = codec.decode(text, size)
        table.add_row(name, text, ", ".join(f"{v:.1f}" for v in back.to_xyxy()))
    Console().print(table)


def main() -> None:
    """Entry point of the `locvlm` console script."""
    app()
