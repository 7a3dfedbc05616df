"""bench/vs_vllm_serve.py runs end to end, a few requests a level, on the shipped checkpoint.

Its numbers are measured runs (bench/results/); what is checked here is that both arms
start, answer every request, and give the same text and boxes at concurrency 1.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]


def test_both_arms_answer_alike(tmp_path: Path) -> None:
    out = tmp_path / "vs"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "vs_vllm_serve.py"), "--requests", "9",
         "--levels", "1,4", "--rounds", "1", "--gpu-memory-utilization", "0.08",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=840,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(out.with_suffix(".json").read_text())
    assert set(report["levels"]) == {"1", "4"}
    assert report["levels"]["1"]["same_answers"] == "9/9"
    for level in report["levels"].values():
        assert level["locvlm"]["requests_per_s"] > 0
        assert level["vllm_serve"]["requests_per_s"] > 0
    assert all(report["ready_s"][name] > 0 for name in ("locvlm", "vllm-serve"))
    assert "| 4 |" in out.with_suffix(".md").read_text()


def test_user_boxes_reads_cells_as_the_ivb_codec_does() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from vs_vllm_serve import user_boxes
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from locvlm.coords import get_codec

    text = " [3, 10, 9, 16]; [20, 0, 31, 5]"
    codec = get_codec("ivb", bins=32)
    expected = [b.to_xyxy() for b in codec.decode(text, (160, 128))]
    got = user_boxes(text, (160, 128), 32)
    assert len(got) == len(expected) == 2
    for mine, theirs in zip(got, expected, strict=True):
        assert mine == pytest.approx(list(theirs))
