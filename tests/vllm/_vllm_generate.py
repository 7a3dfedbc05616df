"""Greedy generation with the real vLLM engine on the CPU, run in the vLLM venv.

    .venv-vllm/bin/python tests/vllm/_vllm_generate.py REQUEST.json RESULT.json

REQUEST: `{"model": DIR, "max_new_tokens": N, "max_model_len": L, "logprobs": K (optional),
"cases": [{"image": PNG_PATH, "prompt": TEXT}, ...]}`.
RESULT: `{"texts": [...], "token_ids": [[...], ...], "prompt_token_ids": [[...], ...]}` in
the order of the cases (prompt ids as the engine expanded them, `<image>` repeated); with
`logprobs`, also `"logprobs"`: per case, per generated token, `{token id: log-prob}` of the
K most likely tokens and the chosen one (raw log-softmax of the logits).
The main venv never imports vllm; tests run this file as a subprocess instead.
"""

import json
import os
import sys
from pathlib import Path
from typing import Any


def generate(request: dict[str, Any]) -> dict[str, Any]:
    """Run every case of `request` through one `vllm.LLM` and collect the completions."""
    from PIL import Image
    from vllm import LLM, SamplingParams  # type: ignore[import-not-found]  # .venv-vllm only

    llm = LLM(
        model=request["model"],
        dtype="float32",
        enforce_eager=True,  # no graph capture: start-up in seconds on a CPU
        max_model_len=request["max_model_len"],
        limit_mm_per_prompt={"image": 1},
        seed=0,
        # The worker runs inside this process (with VLLM_ENABLE_V1_MULTIPROCESSING=0, so
        # does the engine core): one interpreter importing vLLM instead of three, which
        # took this script from ~100 s to ~35 s on 2 busy cores, with the same generated ids.
        distributed_executor_backend="uni",
    )
    params = SamplingParams(
        temperature=0.0, max_tokens=request["max_new_tokens"], logprobs=request.get("logprobs")
    )
    prompts = [
        {
            "prompt": c["prompt"],
            "multi_modal_data": {"image": Image.open(c["image"]).convert("RGB")},
        }
        for c in request["cases"]
    ]
    outputs = llm.generate(prompts, params, use_tqdm=False)
    result: dict[str, Any] = {
        "texts": [o.outputs[0].text for o in outputs],
        "token_ids": [list(o.outputs[0].token_ids) for o in outputs],
        "prompt_token_ids": [list(o.prompt_token_ids or []) for o in outputs],
    }
    if request.get("logprobs") is not None:
        result["logprobs"] = [
            [{t: p.logprob for t, p in step.items()} for step in o.outputs[0].logprobs or []]
            for o in outputs
        ]
    return result


def main(argv: list[str]) -> None:
    """Read the request file, generate, write the result file."""
    request_path, result_path = argv
    request = json.loads(Path(request_path).read_text())
    result = generate(request)
    Path(result_path).write_text(json.dumps(result))


if __name__ == "__main__":  # vLLM spawns its engine core: the guard keeps it from rerunning this
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of host memory for the KV cache
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine core in-process
    main(sys.argv[1:])
