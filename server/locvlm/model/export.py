"""Export a trained LLaVA as a checkpoint directory that vLLM and transformers both load.

transformers 5 holds LLaVA as `model.vision_tower.*` (a CLIP vision model without its
`vision_model.` level), `model.language_model.*`, `model.multi_modal_projector.*` and
`lm_head.*`, and its `save_pretrained` writes `vision_tower.*` without `vision_model.`.
vLLM's loader wants the hub layout (`vision_tower.vision_model.*`, `language_model.model.*`,
`language_model.lm_head.*`, `multi_modal_projector.*`); transformers maps that layout back
on load. So the weights are renamed here and written with safetensors directly.

    path = export_llava(model, processor, "runs/export", {"codec": {"name": "ivb"}})
    model, processor = load_exported(path)
"""

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from transformers import (
    AutoProcessor,
    LlavaForConditionalGeneration,
    PreTrainedConfig,
    ProcessorMixin,
)

from locvlm.data._atomic import atomic_dir
from locvlm.model.sidecar import SIDECAR

__all__ = ["SIDECAR", "export_llava", "load_exported", "to_vllm_key"]

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}
# First match wins: a vision tower that still has its `vision_model.` level keeps one.
_RENAMES = (
    ("model.language_model.", "language_model.model."),
    ("lm_head.", "language_model.lm_head."),
    ("model.multi_modal_projector.", "multi_modal_projector."),
    ("model.vision_tower.vision_model.", "vision_tower.vision_model."),
    ("model.vision_tower.", "vision_tower.vision_model."),
)
_MAX_SHARD_BYTES = 4 * 2**30  # the usual hub shard; one file per 7B model part stays movable


def to_vllm_key(name: str) -> str:
    """The hub-layout name vLLM loads for a transformers 5 `LlavaForConditionalGeneration` key.

    Raises:
        ValueError: The name is outside the four LLaVA parts.
    """
    for old, new in _RENAMES:
        if name.startswith(old):
            return new + name[len(old) :]
    raise ValueError(f"no vLLM name for LLaVA weight {name!r}")


def export_llava(
    model: LlavaForConditionalGeneration,
    processor: ProcessorMixin,
    out_dir: str | os.PathLike[str],
    sidecar: dict[str, Any],
    *,
    dtype: str | torch.dtype | None = None,
    overwrite: bool = False,
    max_shard_bytes: int = _MAX_SHARD_BYTES,
) -> Path:
    """Write `model`, `processor` and the sidecar to `out_dir` in the layout vLLM loads.

    The directory appears whole or not at all: everything is written beside it and renamed.

    Args:
        model: The model to ship; left unchanged.
        processor: Its processor (tokenizer with `<image>` as an added special token, image
            processor, chat template).
        out_dir: Directory to create.
        sidecar: What a server needs beyond the weights (codec name and parameters, input
            resolution, task-template version, training data); must be plain JSON.
        dtype: Floating-point type of the shipped weights (`"fp16"`, `"bf16"`, a
            `torch.dtype`...); the model's own by default.
        overwrite: Replace an existing `out_dir` instead of failing.
        max_shard_bytes: Largest safetensors file; bigger models are split, with an index.

    Returns:
        The checkpoint directory.

    Raises:
        FileExistsError: `out_dir` exists and `overwrite` is false.
        ValueError: The sidecar is not plain JSON, `dtype` is unknown, or a weight has no
            vLLM name.
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True to replace it")
    sidecar_text = _sidecar_json(sidecar)
    target = _resolve_dtype(dtype) if dtype is not None else model.dtype
    with atomic_dir(out, overwrite=True) as tmp:
        _write_weights(_vllm_tensors(model, target), tmp, max_shard_bytes)
        _export_config(model, target).save_pretrained(tmp)
        if model.generation_config is not None:
            model.generation_config.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        (tmp / SIDECAR).write_text(sidecar_text, encoding="utf-8")
    return out


def load_exported(
    path: str | os.PathLike[str], *, dtype: str | torch.dtype | None = None
) -> tuple[LlavaForConditionalGeneration, ProcessorMixin]:
    """Reload an exported checkpoint in transformers, in eval mode.

    Args:
        path: A directory written by `export_llava`.
        dtype: Type to load the weights in; the checkpoint's own by default.

    Returns:
        The model and its processor.
    """
    load_dtype = _resolve_dtype(dtype) if dtype is not None else "auto"
    model = LlavaForConditionalGeneration.from_pretrained(path, dtype=load_dtype)
    processor = AutoProcessor.from_pretrained(path)
    return model.eval(), processor


def _sidecar_json(sidecar: dict[str, Any]) -> str:
    try:
        return json.dumps(sidecar, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as err:
        raise ValueError(f"the sidecar must be plain JSON: {err}") from err


def _resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in _DTYPES.values():
            raise ValueError(f"unsupported export dtype {dtype}")
        return dtype
    try:
        return _DTYPES[dtype.removeprefix("torch.")]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)}") from None


def _vllm_tensors(
    model: LlavaForConditionalGeneration, dtype: torch.dtype
) -> Iterator[tuple[str, torch.Tensor]]:
    """The weights under their vLLM names; a tied `lm_head` is left to the config."""
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    for name, tensor in model.state_dict().items():
        if tied and name.startswith("lm_head."):
            continue
        if tensor.is_floating_point():
            tensor = tensor.to(dtype)
        yield to_vllm_key(name), tensor.detach().to("cpu").contiguous()


def _write_weights(
    tensors: Iterator[tuple[str, torch.Tensor]], out: Path, max_shard_bytes: int
) -> None:
    """Save as `model.safetensors`, or as shards and their index beyond `max_shard_bytes`."""
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in tensors:
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    if len(shards) == 1:
        save_file(shards[0], out / "model.safetensors", metadata={"format": "pt"})
        return
    weight_map: dict[str, str] = {}
    total = 0
    for i, shard in enumerate(shards, start=1):
        file = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, out / file, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, file))
        total += sum(t.numel() * t.element_size() for t in shard.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")


def _export_config(model: LlavaForConditionalGeneration, dtype: torch.dtype) -> PreTrainedConfig:
    """A copy of the model's config that records the shipped dtype (vLLM's `dtype="auto"`)."""
    config = copy.deepcopy(model.config)
    # vLLM picks its model class (and generate vs. pooling) from `architectures`.
    config.architectures = [type(model).__name__]
    for part in (config, config.get_text_config(), getattr(config, "vision_config", None)):
        if isinstance(part, PreTrainedConfig):
            part.dtype = dtype
    return config
