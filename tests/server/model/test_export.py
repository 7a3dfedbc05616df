import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from transformers import LlavaForConditionalGeneration, LlavaProcessor

from locvlm.model.export import SIDECAR, export_llava, load_exported, to_vllm_key
from tests.server.model.tiny_llava import (
    QUESTIONS,
    build_images,
    build_model,
    greedy_texts,
    question_prompt,
)

VLLM_PREFIXES = (
    "vision_tower.vision_model.",
    "language_model.model.",
    "language_model.lm_head.",
    "multi_modal_projector.",
)


def _file_keys(path: Path) -> dict[str, torch.dtype]:
    keys = {}
    for file in sorted(path.glob("*.safetensors")):
        with safe_open(file, "pt") as f:
            keys.update({k: f.get_slice(k).get_dtype() for k in f.keys()})  # noqa: SIM118
    return keys


def _assert_same_weights(
    a: LlavaForConditionalGeneration, b: LlavaForConditionalGeneration
) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("model.vision_tower.embeddings.patch_embedding.weight",
         "vision_tower.vision_model.embeddings.patch_embedding.weight"),  # flat CLIP tower
        ("model.vision_tower.vision_model.post_layernorm.bias",
         "vision_tower.vision_model.post_layernorm.bias"),  # tower that kept its level
        ("model.language_model.layers.0.self_attn.q_proj.weight",
         "language_model.model.layers.0.self_attn.q_proj.weight"),  # text decoder
        ("lm_head.weight", "language_model.lm_head.weight"),  # output head
        ("model.multi_modal_projector.linear_1.bias",
         "multi_modal_projector.linear_1.bias"),  # projector
    ],
)  # fmt: skip
def test_to_vllm_key(name: str, expected: str) -> None:
    assert to_vllm_key(name) == expected


def test_to_vllm_key_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="no vLLM name"):
        to_vllm_key("model.extra_head.weight")


def test_keys_use_the_vllm_layout(exported: Path, tiny_model: LlavaForConditionalGeneration):
    keys = _file_keys(exported)
    assert keys.keys() == {to_vllm_key(k) for k in tiny_model.state_dict()}
    assert all(k.startswith(VLLM_PREFIXES) for k in keys)
    assert "language_model.lm_head.weight" in keys
    assert "vision_tower.vision_model.embeddings.class_embedding" in keys
    assert set(keys.values()) == {"F32"}


def test_directory_holds_what_vllm_and_the_server_read(exported: Path, sidecar: dict[str, Any]):
    names = {p.name for p in exported.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "locvlm.json"} <= names
    assert {"tokenizer.json", "tokenizer_config.json", "processor_config.json"} <= names
    config = json.loads((exported / "config.json").read_text())
    assert config["architectures"] == ["LlavaForConditionalGeneration"]
    added = json.loads((exported / "tokenizer.json").read_text())["added_tokens"]
    assert {"content": "<image>", "special": True}.items() <= next(
        t for t in added if t["content"] == "<image>"
    ).items()
    assert json.loads((exported / SIDECAR).read_text()) == sidecar
    assert not list(exported.parent.glob(".*"))  # no temporary left beside it


def test_reloads_identical(
    exported: Path,
    tiny_model: LlavaForConditionalGeneration,
    tiny_processor: LlavaProcessor,
):
    model, processor = load_exported(exported)
    _assert_same_weights(model, tiny_model)
    assert processor.chat_template == tiny_processor.chat_template
    assert processor.tokenizer.get_vocab() == tiny_processor.tokenizer.get_vocab()
    cases = [
        (img, question_prompt(q)) for img, q in zip(build_images(3), QUESTIONS[:3], strict=True)
    ]
    want = greedy_texts(tiny_model, tiny_processor, cases)
    assert greedy_texts(model, processor, cases) == want
    assert any(want)  # the comparison is not between empty completions


@pytest.mark.parametrize(
    ("dtype", "torch_dtype", "file_dtype"),
    [
        ("fp16", torch.float16, "F16"),  # short name
        (torch.bfloat16, torch.bfloat16, "BF16"),  # torch dtype
    ],
)
def test_exports_in_a_smaller_dtype(
    tiny_model: LlavaForConditionalGeneration,
    tiny_processor: LlavaProcessor,
    sidecar: dict[str, Any],
    tmp_path: Path,
    dtype: str | torch.dtype,
    torch_dtype: torch.dtype,
    file_dtype: str,
):
    path = export_llava(tiny_model, tiny_processor, tmp_path / "half", sidecar, dtype=dtype)
    assert set(_file_keys(path).values()) == {file_dtype}
    assert json.loads((path / "config.json").read_text())["dtype"] == str(torch_dtype)[6:]
    model, _ = load_exported(path)
    assert model.dtype == torch_dtype
    _assert_same_weights(model, build_model(tiny_processor).to(torch_dtype))
    assert tiny_model.dtype == torch.float32  # the caller's model is left alone


def test_tied_embeddings_ship_once(
    tiny_processor: LlavaProcessor, sidecar: dict[str, Any], tmp_path: Path
):
    tied = build_model(tiny_processor, tie_embeddings=True)
    path = export_llava(tied, tiny_processor, tmp_path / "tied", sidecar)
    assert "language_model.lm_head.weight" not in _file_keys(path)
    model, _ = load_exported(path)
    _assert_same_weights(model, tied)


def test_shards_a_large_model(
    tiny_model: LlavaForConditionalGeneration,
    tiny_processor: LlavaProcessor,
    sidecar: dict[str, Any],
    tmp_path: Path,
):
    path = export_llava(tiny_model, tiny_processor, tmp_path / "s", sidecar, max_shard_bytes=4096)
    index = json.loads((path / "model.safetensors.index.json").read_text())
    shards = sorted(path.glob("model-*-of-*.safetensors"))
    assert len(shards) > 1
    assert set(index["weight_map"].values()) == {s.name for s in shards}
    model, _ = load_exported(path)
    _assert_same_weights(model, tiny_model)


@pytest.mark.parametrize(
    ("bad_sidecar", "kwargs", "match"),
    [
        ({"codec": object()}, {}, "plain JSON"),  # sidecar not JSON at all
        ({"score": float("nan")}, {}, "plain JSON"),  # NaN is not JSON
        (None, {"dtype": "int8"}, "unknown dtype"),  # dtype name
        (None, {"dtype": torch.int8}, "unsupported export dtype"),  # integer torch dtype
    ],
)
def test_rejects_bad_arguments_before_writing(
    tiny_model: LlavaForConditionalGeneration,
    tiny_processor: LlavaProcessor,
    sidecar: dict[str, Any],
    tmp_path: Path,
    bad_sidecar: dict[str, Any] | None,
    kwargs: dict[str, Any],
    match: str,
):
    with pytest.raises(ValueError, match=match):
        export_llava(tiny_model, tiny_processor, tmp_path / "out", bad_sidecar or sidecar, **kwargs)
    assert not list(tmp_path.iterdir())


def test_existing_directory_needs_overwrite(
    tiny_model: LlavaForConditionalGeneration,
    tiny_processor: LlavaProcessor,
    sidecar: dict[str, Any],
    tmp_path: Path,
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    with pytest.raises(FileExistsError):
        export_llava(tiny_model, tiny_processor, out, sidecar)
    export_llava(tiny_model, tiny_processor, out, sidecar, overwrite=True)
    assert not (out / "stale.txt").exists()
    assert (out / "model.safetensors").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failure_leaves_nothing_behind(
    tiny_model: LlavaForConditionalGeneration,
    tiny_processor: LlavaProcessor,
    sidecar: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    def fail(*_: object, **__: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(tiny_processor, "save_pretrained", fail)
    with pytest.raises(OSError, match="disk full"):
        export_llava(tiny_model, tiny_processor, tmp_path / "out", sidecar)
    assert not list(tmp_path.iterdir())
