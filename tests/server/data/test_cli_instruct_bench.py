import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from locvlm.cli import app
from locvlm.data.coco import load_coco

from .conftest import COCO_TINY

runner = CliRunner()
ANNOTATIONS = str(COCO_TINY / "annotations.json")
IMAGES = str(COCO_TINY / "images")


def _run(*args: str):
    result = runner.invoke(app, ["data", *args], env={"COLUMNS": "300"})
    # Rich draws errors in a box: keep the words only.
    return result, " ".join(result.output.replace("│", " ").split())


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_instruct_on_the_fixture(tmp_path):
    out = tmp_path / "train.jsonl"
    result, text = _run(
        "instruct", "--coco", ANNOTATIONS, "--images", IMAGES, "--codec", "ivb",
        "--codec-param", "bins=32", "--turns", "3", "--mix", "locpred=1", "--mix", "detect=0",
        "--negatives", "popular", "--seed", "2", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, text
    assert "wrote 5 rows" in text
    rows = _jsonl(out)
    assert [r["image"] for r in rows] == [
        f"{IMAGES}/{n}" for n in ("desk.png", "park.png", "crowd.png", "table.png", "touch.png")
    ]
    assert all(len(r["tasks"]) == 3 for r in rows)
    assert "detect" not in {t for r in rows for t in r["tasks"]}
    boxes = [t["value"] for r in rows for t in r["conversations"] if t["value"].startswith("[")]
    assert boxes
    assert all(
        int(v) < 32 for text in boxes for v in text.strip("[]").replace("]; [", ", ").split(", ")
    )


def test_instruct_captions(tmp_path):
    out = tmp_path / "captions.jsonl"
    result, text = _run(
        "instruct", "--coco", ANNOTATIONS, "--images", IMAGES, "--captions", "--out", str(out)
    )
    assert result.exit_code == 0, text
    assert [r["tasks"] for r in _jsonl(out)] == [["caption"]] * 5


def test_instruct_on_shapes_is_deterministic(shapes_dir, tmp_path):
    outs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for out in outs:
        args = ["--coco", str(shapes_dir / "annotations.json"), "--images", str(shapes_dir)]
        result, text = _run("instruct", *args, "--seed", "9", "--out", str(out))
        assert result.exit_code == 0, text
    assert outs[0].read_text() == outs[1].read_text()
    assert len(_jsonl(outs[0])) == 60


def test_bench_on_the_fixture(tmp_path):
    out = tmp_path / "bench.jsonl"
    kinds = "leftright,abovebelow,pope,grounding,region,counting"
    result, text = _run(
        "bench", "--kind", kinds, "--coco", ANNOTATIONS, "--images", IMAGES,
        "--negatives", "adversarial", "--max-per-image", "2", "--seed", "1", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, text
    rows = _jsonl(out)
    assert f"wrote {len(rows)} rows" in text
    assert set(Counter(r["bench"] for r in rows)) == set(kinds.split(","))
    assert {r["split"] for r in rows if r["bench"] == "pope"} == {"adversarial"}
    assert all(r["image"].startswith(IMAGES) for r in rows)


@pytest.mark.parametrize("upright", [None, "triangle", "red triangle", ""])
def test_bench_keeps_upside_down_triangles_out_of_shapes_benchmarks(shapes_dir, tmp_path, upright):
    # A shapes world triangle is drawn apex up: flipped top to bottom it is no triangle,
    # so by default (or when named) an image showing one gets no flipped copy.
    coco = shapes_dir / "annotations.json"
    named = {None: "triangle", "": "nothing"}.get(upright, upright)
    shows = {
        Path(r.file_name).name
        for r in load_coco(coco).records()
        if any(category.endswith(named) for category, _ in r.objects)
    }
    out = tmp_path / "bench.jsonl"
    given = [] if upright is None else ["--upright", upright]
    result, text = _run("bench", "--kind", "abovebelow", "--coco", str(coco), *given,
                        "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, text
    rows = _jsonl(out)
    flipped = {Path(r["image"]).name for r in rows if r["vflip"]}
    assert flipped
    assert not shows & flipped
    assert upright == "" or shows & {Path(r["image"]).name for r in rows}  # asked as shown
    for row in rows:  # no twin, no group
        assert (row["group"] is None) is (Path(row["image"]).name in shows)


def test_bench_motion_on_clips(clips_dir, tmp_path):
    out = tmp_path / "motion.jsonl"
    result, text = _run("bench", "--kind", "motion", "--coco", str(clips_dir / "annotations.json"),
                        "--images", str(clips_dir), "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, text
    rows = _jsonl(out)
    assert {r["task"] for r in rows} == {"locpred", "motion"}
    assert all(len(r["frames"]) == 16 for r in rows if r["task"] == "motion")


def _malformed(tmp_path: Path) -> str:
    body = json.loads((COCO_TINY / "annotations.json").read_text())
    body["annotations"][3]["bbox"] = [10, 10, -5, 4]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(body))
    return str(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--coco", "{tmp}/missing.json"], "missing.json: file not found"),  # no file
        (
            ["--coco", "{broken}"],
            "broken.json: annotations.3 (id 900103): bbox",
        ),  # names file, record, why
        (["--coco", "{tiny}", "--kind", "pope,video"], "unknown benchmark kind(s) video"),  # kind
        (["--coco", "{tiny}", "--kind", "motion"], "no image has a video_id"),  # not clips
        (["--coco", "{tiny}", "--negatives", "hard"], "unknown negatives 'hard'"),  # split
        (["--coco", "{tiny}", "--images", "{tmp}"], "desk.png not found under"),  # wrong folder
        (["--coco", "{tiny}", "--upright", "person,tree"], "supercategory of the dataset: tree"),
    ],
)
def test_bench_errors(tmp_path, args, message):
    values = {"tmp": tmp_path, "broken": _malformed(tmp_path), "tiny": ANNOTATIONS}
    args = [a.format(**values) for a in args]
    kind = [] if "--kind" in args else ["--kind", "pope"]
    out = tmp_path / "out.jsonl"
    result, text = _run("bench", *kind, *args, "--out", str(out))
    assert result.exit_code == 2, text
    assert message in text
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--coco", "{broken}"], "negative width or height"),  # malformed annotations
        (["--codec", "morse"], "unknown codec 'morse'"),  # codec
        (["--codec-param", "bins=1"], "bins must be"),  # codec parameter
        (["--codec-param", "bins"], "expected KEY=VALUE"),  # not a pair
        (["--mix", "levitate=1"], "unknown task(s) in mix: levitate"),  # task
        (["--mix", "locpred=lots"], "could not convert"),  # weight
        (["--negatives", "hard"], "unknown negatives 'hard'"),  # strategy
    ],
)
def test_instruct_errors(tmp_path, args, message):
    values = {"broken": _malformed(tmp_path)}
    args = [a.format(**values) for a in args]
    coco = [] if "--coco" in args else ["--coco", ANNOTATIONS]
    out = tmp_path / "out.jsonl"
    result, text = _run("instruct", *coco, "--images", IMAGES, *args, "--out", str(out))
    assert result.exit_code == 2, text
    assert message in text
    assert not out.exists()


@pytest.mark.parametrize("command", ["instruct", "bench"])
def test_relative_image_paths_resolve_from_the_output_folder(tmp_path, monkeypatch, command):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    for png in (COCO_TINY / "images").iterdir():
        (data / "images" / png.name).write_bytes(png.read_bytes())
    (data / "annotations.json").write_text((COCO_TINY / "annotations.json").read_text())
    monkeypatch.chdir(tmp_path)
    extra = ["--kind", "counting"] if command == "bench" else []
    args = [command, *extra, "--coco", "data/annotations.json", "--images", "data/images"]
    result, text = _run(*args, "--out", "runs/rows.jsonl")
    assert result.exit_code == 0, text
    rows = _jsonl(tmp_path / "runs" / "rows.jsonl")
    assert {r["image"] for r in rows} >= {"../data/images/desk.png"}
    assert all((tmp_path / "runs" / r["image"]).is_file() for r in rows)
