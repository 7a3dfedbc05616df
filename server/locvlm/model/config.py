"""Model presets: frozen dataclasses whose defaults say why they are what they are.

`tiny-shapes` is sized to be trained from scratch on 2 CPU cores in the shapes world;
`llava-1.5` fine-tunes a local LLaVA-1.5 checkpoint (LoRA by default) on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

__all__ = ["PRESETS", "ModelPreset", "TextConfig", "VisionConfig", "get_preset"]


@dataclass(frozen=True)
class VisionConfig:
    """The CLIP vision tower of a from-scratch preset."""

    image_size: int = 128  # squashed 2:1 images keep their narrowest objects ~8 px wide
    patch_size: int = 16  # 8x8 = 64 image tokens: the LM's sequence stays short on a CPU
    hidden: int = 128  # enough for per-patch category + box-edge features (stage 0)
    layers: int = 4
    heads: int = 4
    mlp: int = 512


@dataclass(frozen=True)
class TextConfig:
    """The Llama language model of a from-scratch preset."""

    hidden: int = 192
    layers: int = 4  # question -> patch matching -> read-out needs a few hops
    heads: int = 3  # head size 64: vLLM's CPU attention takes 32, 64, 80, ... (not 48)
    mlp: int = 512
    max_positions: int = 512  # image tokens + the longest answer with margin


@dataclass(frozen=True)
class ModelPreset:
    """Everything that fixes a model's architecture, tokenizer and text formats."""

    name: str
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    codec: dict[str, Any] = field(default_factory=lambda: {"name": "ivb", "bins": 32})
    image_first: bool = True  # LLaVA's order; measured lower loss than question-first (results.md)
    vocab_size: int = 640  # byte-level BPE over task text: every number one token
    base_model: str | None = None  # a local HF LLaVA directory (llava-1.5) instead of scratch
    lora_rank: int = 0  # > 0: LoRA adapters on the LM instead of full fine-tuning

    def __post_init__(self) -> None:
        if self.vision.image_size % self.vision.patch_size:
            raise ValueError("image_size must be a multiple of patch_size")

    @property
    def image_tokens(self) -> int:
        """Image tokens the LM sees (the CLS token is dropped, LLaVA's 'default')."""
        return (self.vision.image_size // self.vision.patch_size) ** 2


PRESETS: dict[str, ModelPreset] = {
    "tiny-shapes": ModelPreset(name="tiny-shapes"),
    "llava-1.5": ModelPreset(
        name="llava-1.5",
        vision=VisionConfig(
            image_size=336, patch_size=14, hidden=1024, layers=24, heads=16, mlp=4096
        ),
        text=TextConfig(hidden=4096, layers=32, heads=32, mlp=11008, max_positions=4096),
        codec={"name": "ivb", "bins": 224},  # the paper's grid matched its 224 px input
        image_first=True,  # LLaVA-1.5's pretraining order
        vocab_size=32064,
        base_model="llava-hf/llava-1.5-7b-hf",  # a local copy; nothing is downloaded
        lora_rank=16,
    ),
}


def get_preset(name: str, **overrides: Any) -> ModelPreset:
    """The preset `name` with fields replaced; `vision`/`text` take dicts of their fields.

    Raises:
        ValueError: for an unknown preset or field.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    known = {f.name for f in fields(ModelPreset)}
    if unknown := set(overrides) - known:
        raise ValueError(f"unknown preset fields {sorted(unknown)}; known: {sorted(known)}")
    for part in ("vision", "text"):
        if isinstance(overrides.get(part), dict):
            sub = getattr(preset, part)
            bad = set(overrides[part]) - {f.name for f in fields(sub)}
            if bad:
                raise ValueError(f"unknown {part} fields {sorted(bad)}")
            overrides[part] = replace(sub, **overrides[part])
    return replace(preset, **overrides)
