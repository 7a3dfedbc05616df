"""Run a model over benchmark JSONL files and report the metrics (JSON + markdown).

locvlm eval --model runs/tiny/model --bench bench.jsonl [--out report.json]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from locvlm.coords import Codec
from locvlm.eval.metrics import summarize
from locvlm.eval.questions import SERVED, BenchQuestion, question, served_question
from locvlm.tasks import Judged

__all__ = ["Generate", "evaluate", "load_rows", "markdown", "open_image"]

Generate = Callable[[Sequence[Image.Image], Sequence[str], Sequence[str | None]], list[str]]
"""Greedy answers for a batch of (image, prompt, constraint) triples (`LoadedModel.generate`).

A constraint is a regular expression as engines take it (`Constraint.for_engine`), or
None: unconstrained."""

_REQUIRED = ("id", "bench", "task", "size")


def load_rows(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Rows of benchmark JSONL files; relative image paths resolved against each file.

    Raises:
        ValueError: naming the file and line of a malformed row, or of a row whose id an
            earlier row has (answers and records are kept by id).
    """
    rows = []
    seen: dict[str, str] = {}  # row id -> where it was first
    for path in paths:
        base = Path(path).parent
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
            if missing := [k for k in _REQUIRED if k not in row]:
                raise ValueError(f"{path}:{number}: missing fields {missing}")
            where = f"{path}:{number}"
            if (first := seen.setdefault(str(row["id"]), where)) != where:
                raise ValueError(f"{where}: row id {row['id']!r} is also at {first}; ids "
                                 "must be unique across the files evaluated together")  # fmt: skip
            for key in ("image",):
                if row.get(key) and not Path(row[key]).is_absolute():
                    row[key] = str(base / row[key])
            rows.append(row)
    return rows


def open_image(row: dict[str, Any]) -> Image.Image:
    """The row's image, EXIF orientation applied, mirrored when the row says so."""
    image = ImageOps.exif_transpose(Image.open(row["image"])).convert("RGB")
    if row.get("hflip"):
        image = ImageOps.mirror(image)
    if row.get("vflip"):
        image = ImageOps.flip(image)
    return image


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def evaluate(
    rows: Sequence[dict[str, Any]],
    generate: Generate,
    codec: Codec,
    evidence: bool,
    batch_size: int = 32,
    advance: Callable[[int], None] | None = None,
    answers: Mapping[str, str | Sequence[str]] | None = None,
    listing: bool = False,
    grounds_from: str = "listing",
    vocabulary: Sequence[str] = (),
    tiles: bool = False,
    detect_tiles: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ask every supported row, judge the answers; returns (report, per-row records).

    With `answers` (row id -> text, or its texts for a question with `also` ones: a
    previous run's records) nothing is generated: the saved texts are judged again, as
    after a change to a judge. `listing` is the checkpoint's (`Sidecar.listing`): whether
    the API reads the scene from its listing, and `grounds_from` how it grounds with it
    (`Sidecar.grounds_from`; `tiles`: `Sidecar.grounds_in_tiles`; `detect_tiles`:
    `Sidecar.detects_in_tiles`), and `vocabulary` the
    categories its constraints list
    (`Sidecar.vocabulary`): served rows are decoded with the API's constraints. The same
    question about the same image, under the same constraint, is generated once (greedy:
    the same answer).

    Raises:
        KeyError: `answers` lacks a row that is asked.
    """
    asked = [(row, q) for row in rows if row.get("image") and (q := question(row, codec, evidence))]
    skipped = len(rows) - len(asked)
    asked += [  # rows again, as the API asks them (`served_question`); saved answers
        # from before these rows existed have none, and are judged without them
        (served, q) for row in rows
        if row.get("image")
        and (q := served_question(row, codec, evidence, listing, grounds_from, vocabulary,
                                  tiles, detect_tiles))
        and (served := _served_row(row)) and (answers is None or served["id"] in answers)
    ]  # fmt: skip
    judged: list[tuple[dict[str, Any], Judged]] = []
    records = []
    said: dict[tuple[Any, ...], str] = {}  # (image, flips, prompt, constraint) -> the answer
    for chunk in _batches(asked, batch_size):
        if answers is None:
            texts = _answer(chunk, generate, said)
        else:
            texts = [_saved(answers[r["id"]]) for r, _ in chunk]
        for (row, q), (text, *also) in zip(chunk, texts, strict=True):
            result = q.judge(text, *also)
            judged.append((row, result))
            records.append({"id": row["id"], "prompt": q.prompt, "text": text,
                            "correct": result.correct, "parsed": result.parsed,
                            **({"also": also} if also else {})})  # fmt: skip
        if advance:
            advance(len(chunk))
    report = summarize(judged)
    report["skipped"] = skipped
    return report, records


def _answer(
    chunk: Sequence[tuple[dict[str, Any], BenchQuestion]],
    generate: Generate,
    said: dict[tuple[Any, ...], str],
) -> list[list[str]]:
    """Each question's answers, its own then its `also` ones'.

    Only those not in `said` are generated (and added to it).
    """
    keys = [[(r["image"], bool(r.get("hflip")), bool(r.get("vflip")), crop, p, c)
             for p, c, crop in q.asked()] for r, q in chunk]  # fmt: skip
    new = {k: r for ks, (r, _) in zip(keys, chunk, strict=True) for k in ks if k not in said}
    if new:
        opened: dict[tuple[Any, ...], Image.Image] = {}  # one object an image (flips, crop):
        for k, r in new.items():  # its rows prefill the image once (`model.prefix`)
            if k[:3] not in opened:
                opened[k[:3]] = open_image(r)
            if k[:4] not in opened:
                opened[k[:4]] = opened[k[:3]] if k[3] is None else opened[k[:3]].crop(k[3])
        images = [opened[k[:4]] for k in new]
        texts = generate(images, [k[4] for k in new], [k[5] for k in new])
        said.update(zip(new, texts, strict=True))
    return [[said[k] for k in ks] for ks in keys]


def _saved(answer: str | Sequence[str]) -> list[str]:
    """A saved answer as texts: its own, then its `also` questions'."""
    return [answer] if isinstance(answer, str) else list(answer)


def _served_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row's twin judged as the API answers it, in a flip group of its own."""
    group = row.get("group")
    return {**row, "id": f"{row['id']}/served", "task": f"{row['task']}{SERVED}",
            "group": f"{group}/served" if group else None}  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    """A markdown table of the report's headline numbers."""
    aspects = ("square", "tall", "wide")
    lines = ["| bench | task | n | accuracy | " + " | ".join(aspects) + " | parse failures |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for bench, entry in report["benches"].items():
        for task, t in entry["tasks"].items():
            by = t.get("by_aspect", {})
            cells = " | ".join(f"{by[a]:.3f}" if a in by else "-" for a in aspects)
            lines.append(f"| {bench} | {task} | {t['n']} | {t['accuracy']:.3f} | {cells} "
                         f"| {t['parse_failures']:.3f} |")  # fmt: skip
    extra = []
    for bench, entry in report["benches"].items():
        if "flip_consistency" in entry:
            pairs = f" ({entry['pairs']} pairs)" if "pairs" in entry else ""
            extra.append(f"- {bench}: flip consistency {entry['flip_consistency']:.3f}{pairs}")
        if "evidence_accuracy" in entry:
            extra.append(f"- {bench}: evidence boxes right {entry['evidence_accuracy']:.3f}")
        for task, t in entry["tasks"].items():
            if "detection" in t:
                d = t["detection"]
                extra.append(f"- {bench} {task}: precision {d['precision']:.3f}, recall "
                             f"{d['recall']:.3f} ({d['objects']} objects)")  # fmt: skip
            if "flip_consistency" in t:
                pairs = f" ({t['pairs']} pairs)" if "pairs" in t else ""
                flips = f"flip consistency {t['flip_consistency']:.3f}{pairs}"
                extra.append(f"- {bench} {task}: {flips}")
            if "by_boxes" in t:
                parts = ", ".join(f"{k} {v:.3f}" for k, v in t["by_boxes"].items())
                extra.append(f"- {bench} {task} by boxes expected: {parts}")
            if "by_object_size" in t:
                parts = ", ".join(f"{k} {v:.3f}" for k, v in t["by_object_size"].items())
                extra.append(f"- {bench} {task} by object size (narrowest side / side, "
                             f"squashed): {parts}")  # fmt: skip
            if "mistakes" in t:
                parts = ", ".join(f"{k} {n}" for k, n in t["mistakes"].items())
                extra.append(f"- {bench} {task} wrong answers by kind: {parts}")
        for split, m in entry.get("pope", {}).items():
            extra.append(f"- POPE {split}: acc {m['accuracy']:.3f}, F1 {m['f1']:.3f}, "
                         f"yes-ratio {m['yes_ratio']:.3f}")  # fmt: skip
        if entry.get("by_aspect"):
            parts = ", ".join(f"{a} {v:.3f}" for a, v in entry["by_aspect"].items())
            extra.append(f"- {bench} by aspect: {parts}")
    return "\n".join([*lines, "", *extra]) + "\n"
