"""LoRA on the language model of a LLaVA (peft), and merging it back for export.

The `llava-1.5` preset fine-tunes a local LLaVA-1.5 checkpoint with LoRA adapters on
every attention and MLP projection of the LM (the vision tower and projector are left
as they are, as in LLaVA-1.5's own LoRA recipe); `merge` folds the adapters into the
weights so the export is a plain LLaVA that vLLM loads.
"""

from __future__ import annotations

from transformers import LlavaForConditionalGeneration

__all__ = ["LM_TARGETS", "add_lora", "merge"]

LM_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def add_lora(
    model: LlavaForConditionalGeneration, rank: int, alpha: int | None = None, dropout: float = 0.05
) -> LlavaForConditionalGeneration:
    """Wrap the LM's projections with LoRA adapters.

    Only the adapters and the multimodal projector (which LLaVA always tunes) stay
    trainable.
    """
    from peft import LoraConfig, get_peft_model

    if rank <= 0:
        raise ValueError(f"LoRA rank must be positive, got {rank}")
    # A regex over module names: only the language model's projections, never CLIP's.
    pattern = r".*language_model.*\.(" + "|".join(LM_TARGETS) + r")$"
    config = LoraConfig(
        r=rank, lora_alpha=alpha or 2 * rank, lora_dropout=dropout, target_modules=pattern,
        modules_to_save=["multi_modal_projector"], bias="none",
    )  # fmt: skip
    return get_peft_model(model, config)  # type: ignore[return-value]


def merge(model: LlavaForConditionalGeneration) -> LlavaForConditionalGeneration:
    """Fold LoRA adapters into the base weights and drop the peft wrapper."""
    merged = getattr(model, "merge_and_unload", None)
    return merged() if merged is not None else model
