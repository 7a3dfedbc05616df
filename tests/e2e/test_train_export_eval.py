"""The issue's acceptance chain on a fresh clone: train -> export -> eval (slow tier)."""

import json
from pathlib import Path

import pytest

from tests.conftest import run_locvlm

pytestmark = pytest.mark.slow


def test_train_export_eval_end_to_end(tmp_path: Path) -> None:
    data, bench = tmp_path / "shapes", tmp_path / "bench.jsonl"
    run_locvlm(
        "data", "shapes", "--n", "20", "--seed", "77", "--size", "random", "--out", str(data)
    )
    coco = str(data / "annotations.json")
    kinds = "grounding,pope,leftright"
    run_locvlm(
        "data", "bench", "--kind", kinds, "--coco", coco, "--images", str(data), "--out", str(bench)
    )
    run_locvlm(
        "train",
        "--preset",
        "tiny-shapes",
        "--steps",
        "200",
        "--out",
        str(tmp_path / "D"),
        "--no-progress",
    )
    run_locvlm("export", str(tmp_path / "D"), str(tmp_path / "E"))
    assert json.loads((tmp_path / "E" / "locvlm.json").read_text())["codec"]["name"] == "ivb"
    out = run_locvlm(
        "eval",
        "--model",
        str(tmp_path / "E"),
        "--bench",
        str(bench),
        "--out",
        str(tmp_path / "r.json"),
    )
    assert "| grounding | locpred |" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["overall"]["n"] > 0
    assert set(report["benches"]) == {"grounding", "pope", "leftright"}
    # The saved answers, judged again without running the model, give the same report.
    saved = str(tmp_path / "r.answers.jsonl")
    run_locvlm("eval", "--model", str(tmp_path / "E"), "--bench", str(bench), "--answers", saved,
               "--out", str(tmp_path / "again.json"))  # fmt: skip
    assert json.loads((tmp_path / "again.json").read_text()) == report
