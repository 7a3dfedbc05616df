"""Every benchmark script runs end to end, a few steps each, and writes its report.

Numbers are not checked here (they are measured runs, in bench/results/); what is
checked is that each script still works with the code it measures and writes what its
docstring says. The longer ones are in the slow tier.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.train.conftest import MICRO_MODEL

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "docs" / "runs" / "final2-log.jsonl"  # a real training log, committed


def _run(script: str, *args: str, timeout: float = 600) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        check=True, cwd=ROOT, timeout=timeout, capture_output=True, text=True,
    )  # fmt: skip


def test_codecs(tmp_path: Path) -> None:
    _run("codecs.py", "--seconds", "0.01", "--out", str(tmp_path / "codecs.json"))
    report = json.loads((tmp_path / "codecs.json").read_text())
    assert "ivb" in json.dumps(report)


def test_data(tmp_path: Path) -> None:
    _run("data.py", "--seconds", "0.05", "--out", str(tmp_path / "data.json"))
    assert json.loads((tmp_path / "data.json").read_text())


def test_plots(tmp_path: Path) -> None:
    _run("plots.py", str(LOG), "--out", str(tmp_path / "curve.png"))
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_gpu_lora_runs_a_tiny_model_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "lora.json"
    _run("gpu_lora.py", "--tiny", "--device", "cpu", "--steps", "1", "--batch", "1",
         "--text-tokens", "8", "--out", str(out))  # fmt: skip
    report = json.loads(out.read_text())
    assert report["tiny"]
    assert report["params_trainable_m"] > 0


def test_detect_confidence(tmp_path: Path) -> None:
    out = tmp_path / "confidence"
    _run("detect_confidence.py", "--scenes", "2", "--out", str(out))
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["objects"] > 0
    assert set(report["thresholds"]) == {"0.5", "0.7", "0.8", "0.9", "0.95"}
    assert "| confidence >= |" in out.with_suffix(".md").read_text()


def test_detect_second_look_tables_each_way(tmp_path: Path) -> None:
    data, bench = tmp_path / "data", tmp_path / "bench.jsonl"
    locvlm = [sys.executable, "-m", "locvlm", "data"]
    subprocess.run([*locvlm, "shapes", "--n", "2", "--seed", "5", "--out", str(data)], check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run([*locvlm, "bench", "--kind", "detection", "--coco",
                    str(data / "annotations.json"), "--out", str(bench)],
                   check=True, capture_output=True)  # fmt: skip
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "detect_second_look.py"), "--bench", str(bench),
         "--limit", "1"], check=True, cwd=ROOT, timeout=600, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert out.startswith("1 images, ")
    assert out.count("| ") >= 6 * 4  # the header and five ways, four cells each
    assert "| both |" in out


def test_grounding_tiles_tables_whole_and_tiled_by_aspect(tmp_path: Path) -> None:
    data, bench = tmp_path / "data", tmp_path / "bench.jsonl"
    locvlm = [sys.executable, "-m", "locvlm", "data"]
    subprocess.run([*locvlm, "shapes", "--n", "3", "--seed", "5", "--size", "96x192",
                    "--out", str(data)], check=True, capture_output=True)  # fmt: skip
    subprocess.run([*locvlm, "bench", "--kind", "grounding", "--coco",
                    str(data / "annotations.json"), "--out", str(bench)],
                   check=True, capture_output=True)  # fmt: skip
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "grounding_tiles.py"), "--bench", str(bench),
         "--limit", "2", "--margins", "0.05"], check=True, cwd=ROOT, timeout=600,
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert out.startswith("2 grounding rows (LocPred and NegPred)")
    assert "locpred, right by aspect:" in out
    assert "| way | square (0) | tall (2) | wide (0) | all |" in out
    assert "| whole | - | " in out
    assert "| tiles, margin 0.05 | - | " in out


def test_detect_tiles_tables_each_way_by_aspect(tmp_path: Path) -> None:
    data, bench, report = tmp_path / "data", tmp_path / "bench.jsonl", tmp_path / "eval.json"
    locvlm = [sys.executable, "-m", "locvlm"]
    subprocess.run([*locvlm, "data", "shapes", "--n", "2", "--seed", "5", "--size", "96x192",
                    "--out", str(data)], check=True, capture_output=True)  # fmt: skip
    subprocess.run([*locvlm, "data", "bench", "--kind", "detection", "--coco",
                    str(data / "annotations.json"), "--out", str(bench)],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run([*locvlm, "eval", "--model", "default", "--bench", str(bench), "--out",
                    str(report)], check=True, capture_output=True, timeout=600)  # fmt: skip
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "detect_tiles.py"), "--bench", str(bench),
         "--answers", str(report.with_suffix(".answers.jsonl"))], check=True, cwd=ROOT,
        timeout=600, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert out.startswith("2 detection rows")
    assert "| way | square (P / R / images) | tall (P / R / images) |" in out
    assert "| whole: listing + second look | 0.000 / 0.000 / 0.000 | " in out  # no square
    assert "| crop listings, supported or confirmed + second look (shipped) |" in out


def test_detect_latency_times_both_arms_at_each_level(tmp_path: Path) -> None:
    out = tmp_path / "latency"
    _run("detect_latency.py", "--requests", "3", "--levels", "1", "--rounds", "1",
         "--out", str(out))  # fmt: skip
    report = json.loads(out.with_suffix(".json").read_text())
    level = report["levels"]["1"]
    assert set(level) == {"listing alone", "second look", "ratio"}
    assert (
        level["second look"]["detections_per_image"]
        >= level["listing alone"]["detections_per_image"]
    )  # the second look only adds
    assert "| 1 | second look / listing alone |" in out.with_suffix(".md").read_text()


def test_tiles_latency_times_both_servers_on_both_routes(tmp_path: Path) -> None:
    out = tmp_path / "tiles"
    _run("tiles_latency.py", "--requests", "3", "--levels", "1", "--rounds", "1",
         "--size", "64x128", "--out", str(out))  # fmt: skip
    report = json.loads(out.with_suffix(".json").read_text())
    assert set(report["levels"]) == {"/v1/detect c=1", "/v1/ground c=1"}
    for row in report["levels"].values():
        assert row["whole"]["requests_per_s"] > 0
        assert row["tiles"]["requests_per_s"] > 0
    assert "| /v1/ground c=1 |" in out.with_suffix(".md").read_text()


@pytest.mark.slow
def test_train(tmp_path: Path) -> None:
    _run("train.py", "--steps", "1", "--threads", "1", "--out", str(tmp_path / "train.json"))
    report = json.loads((tmp_path / "train.json").read_text())
    assert report["stage2_steps_per_s"] > 0


@pytest.mark.slow
def test_engines(tmp_path: Path) -> None:
    out = tmp_path / "engines"
    _run("engines.py", "--requests", "2", "--max-new-tokens", "2", "--threads", "1",
         "--out", str(out))  # fmt: skip
    assert list(tmp_path.glob("engines*"))


@pytest.mark.slow
def test_api(tmp_path: Path) -> None:
    out = tmp_path / "api"
    _run("api.py", "--requests", "72", "--rounds", "1", "--max-new-tokens", "2",
         "--port", "8791", "--out", str(out))  # fmt: skip
    assert list(tmp_path.glob("api*"))


@pytest.mark.slow
def test_ablations(tmp_path: Path) -> None:
    model = json.dumps(MICRO_MODEL)
    _run("ablations.py", "--only", "codec", "--stage0-steps", "1", "--steps", "4", "--jobs", "1",
         "--scenes", "3", "--out", str(tmp_path), f"--set=model={model}",
         "--set=tokenizer_scenes=40", "--set=stage1.steps=1", "--set=eval_per_task=1",
         timeout=1500)  # fmt: skip
    assert (tmp_path / "ablations.md").read_text().count("| codec-") == 3


def test_scale_plots_each_arm_and_names_its_knee(tmp_path: Path) -> None:
    def level(rate: float, p99: float) -> dict[str, float]:
        return {"requests_per_s": rate, "p99_ms": p99}

    rates = {1: 10.0, 2: 19.0, 4: 30.0, 8: 31.0, 16: 31.5}  # flat after 4: the knee
    report = {"levels": {str(c): {"api": level(r, 10.0 * c), "direct": level(r * 1.1, 9.0 * c)}
                         for c, r in rates.items()}}  # fmt: skip
    (tmp_path / "t.json").write_text(json.dumps(report))
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), str(tmp_path / "t.json"),
         "--out", str(tmp_path / "scale.png")],
        check=True, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "locvlm serve (transformers): knee at 4;" in done.stdout
    assert "transformers engine alone: knee at 4;" in done.stdout
    assert (tmp_path / "scale.png").read_bytes()[:4] == b"\x89PNG"


def test_ready_times_starts_and_measures_memory(tmp_path: Path) -> None:
    out = tmp_path / "ready"
    _run("ready.py", "--runs", "1", "--clients", "2", "--seconds", "1", "--phases", "1",
         "--out", str(out))  # fmt: skip
    report = json.loads(out.with_suffix(".json").read_text())
    assert 0 < report["starts"][0]["listening_s"] <= report["ready_s_median"]
    phases = report["phases_s"]
    assert list(phases) == ["import_server", "import_engine", "load_model", "first_answer",
                            "second_answer"]  # fmt: skip
    assert all(seconds > 0 for seconds in phases.values())
    assert "Where start-up goes" in out.with_suffix(".md").read_text()
    assert report["under_load"]["answered"] > 0
    assert report["rss_mib_at_rest"]["parent"] > 0
    assert report["under_load"]["peak_rss_mib"]["engine"] > 0


def test_video_tracks_and_asks_through_the_api(tmp_path: Path) -> None:
    out = tmp_path / "video"
    _run("video.py", "--clips", "2", "--frames", "8", "--out", str(out))
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["clips"] == 2
    assert report["object_frames"] >= 16  # at least one object in each of 8 frames, twice
    assert 0 <= report["tracking_id_consistent"] <= report["grounding_per_frame"] <= 1
    assert 0 <= report["motion_accuracy"] <= 1
    assert "ID-consistent" in out.with_suffix(".md").read_text()
