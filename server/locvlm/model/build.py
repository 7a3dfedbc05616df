"""Build a LLaVA model and its processor from a preset (from scratch or a local checkpoint).

The architecture is Hugging Face's `LlavaForConditionalGeneration` (CLIP vision tower,
2-layer MLP projector, Llama LM), so every checkpoint loads in transformers and vLLM.
"""

from __future__ import annotations

import torch
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
)

from locvlm.model.config import ModelPreset
from locvlm.model.prompt_format import IMAGE_TOKEN, chat_template

__all__ = ["build_model", "build_processor", "image_stats", "llava_config"]

# CLIP's normalisation: kept so a real CLIP tower could be swapped in unchanged.
_MEAN = [0.48145466, 0.4578275, 0.40821073]
_STD = [0.26862954, 0.26130258, 0.27577711]


def image_stats() -> tuple[list[float], list[float]]:
    """Per-channel mean and std the image processor normalises with."""
    return list(_MEAN), list(_STD)


def llava_config(preset: ModelPreset, tokenizer: PreTrainedTokenizerFast) -> LlavaConfig:
    """The `LlavaConfig` of a from-scratch preset."""
    v, t = preset.vision, preset.text
    vision = CLIPVisionConfig(
        image_size=v.image_size, patch_size=v.patch_size, hidden_size=v.hidden,
        num_hidden_layers=v.layers, num_attention_heads=v.heads, intermediate_size=v.mlp,
        projection_dim=v.hidden,
    )  # fmt: skip
    text = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=t.hidden, num_hidden_layers=t.layers,
        num_attention_heads=t.heads, num_key_value_heads=t.heads, intermediate_size=t.mlp,
        max_position_embeddings=t.max_positions, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )  # fmt: skip
    return LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=int(tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)),  # type: ignore[arg-type]
        vision_feature_select_strategy="default",  # drop CLS: one token per patch
        vision_feature_layer=-1,  # stage 0 trains the last layer's features
        projector_hidden_act="gelu",
        image_seq_length=preset.image_tokens,
        tie_word_embeddings=False,
    )


def build_model(
    preset: ModelPreset, tokenizer: PreTrainedTokenizerFast, seed: int = 0
) -> LlavaForConditionalGeneration:
    """A randomly initialised model of the preset, deterministic given `seed`."""
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(llava_config(preset, tokenizer))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def build_processor(preset: ModelPreset, tokenizer: PreTrainedTokenizerFast) -> LlavaProcessor:
    """The processor: squash-resize to the square input (no crop), CLIP normalisation.

    Squashing keeps normalized box coordinates valid for every aspect ratio, so the
    codec's answer maps straight back to the caller's original pixels.
    """
    side = preset.vision.image_size
    images = CLIPImageProcessor(
        size={"height": side, "width": side}, do_center_crop=False, do_resize=True,
        resample=3, image_mean=_MEAN, image_std=_STD, do_convert_rgb=True,
    )  # fmt: skip
    return LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=preset.vision.patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, dropped by "default"
        chat_template=chat_template(preset.image_first),
        image_token=IMAGE_TOKEN,
    )
