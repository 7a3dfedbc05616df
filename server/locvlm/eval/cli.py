"""`locvlm eval` and `locvlm export`: score a checkpoint on benchmarks; ship it for vLLM.

locvlm eval --model runs/tiny --bench bench.jsonl [--bench more.jsonl] [--out report.json]
            [--answers report.answers.jsonl]  # judge saved answers again, generate nothing
locvlm export runs/tiny exports/tiny [--dtype fp16]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["eval_command", "export_command"]


def eval_command(
    model: Annotated[str, typer.Option(help="Checkpoint folder, training run, or 'default'.")],
    bench: Annotated[list[Path], typer.Option(help="Benchmark JSONL (repeatable).")],
    out: Annotated[Path | None, typer.Option(help="Write the JSON report (and .md) here.")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows.")] = None,
    threads: Annotated[int, typer.Option(min=1)] = 2,
    answers: Annotated[
        Path | None,
        typer.Option(help="A previous run's .answers.jsonl: judge its texts again, no model run."),
    ] = None,
) -> None:
    """Evaluate a model on benchmark files and print the metrics table."""
    import torch

    from locvlm.data.cli import progress_bar
    from locvlm.eval.runner import evaluate, load_rows, markdown
    from locvlm.model.loading import load_model

    torch.set_num_threads(threads)
    try:
        rows = load_rows(bench)[:limit]
        loaded = load_model(model)
        saved = None if answers is None else _saved_answers(answers)
    except (ValueError, FileNotFoundError) as exc:
        raise typer.BadParameter(str(exc)) from None
    with progress_bar("questions", len(rows)) as advance:
        try:
            report, records = evaluate(
                rows,
                lambda images, prompts, regexes: loaded.generate(images, prompts, regexes=regexes),
                loaded.codec,
                loaded.sidecar.spatial_evidence,
                batch_size,
                advance,
                saved,
                loaded.sidecar.listing,
                loaded.sidecar.grounds_from,
                loaded.sidecar.vocabulary,
                loaded.sidecar.grounds_in_tiles,
                loaded.sidecar.detects_in_tiles,
            )
        except KeyError as exc:
            raise typer.BadParameter(f"{answers} has no answer to row {exc}") from None
    report["model"] = str(model)
    table = markdown(report)
    typer.echo(table)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        out.with_suffix(".md").write_text(table)
        out.with_suffix(".answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _saved_answers(path: Path) -> dict[str, list[str]]:
    """Row id -> answer texts, from an `.answers.jsonl` that `locvlm eval --out` wrote.

    Each row's own text first, then the texts of the questions it also needed.

    Raises:
        ValueError: a line is not such a record.
    """
    saved = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            record = json.loads(line)
            saved[str(record["id"])] = [str(record["text"]), *map(str, record.get("also", []))]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ValueError(f"{path}:{number}: not an answer record (id, text)") from None
    return saved


def export_command(
    source: Annotated[str, typer.Argument(help="Training run or checkpoint folder.")],
    target: Annotated[Path, typer.Argument(help="New folder for the vLLM-loadable export.")],
    dtype: Annotated[
        str | None, typer.Option(help="fp32 / fp16 / bf16 (default: as trained).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace TARGET if it exists.")] = False,
) -> None:
    """Export a checkpoint in the layout vLLM loads, with processor and locvlm.json."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    from locvlm.model.export import export_llava
    from locvlm.model.loading import resolve_model_dir
    from locvlm.model.sidecar import Sidecar

    try:
        path = resolve_model_dir(source)
        sidecar = Sidecar.read(path)
    except (FileNotFoundError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    model = LlavaForConditionalGeneration.from_pretrained(path)
    processor = AutoProcessor.from_pretrained(path)
    try:
        folder = export_llava(
            model, processor, target, sidecar.to_dict(), dtype=dtype, overwrite=overwrite
        )
    except (FileExistsError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"exported {path} -> {folder}")
