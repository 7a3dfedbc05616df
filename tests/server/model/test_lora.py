"""LoRA wiring on a tiny randomly initialised model shaped like LLaVA-1.5 (no download)."""

import torch
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

from locvlm.model.lora import add_lora, merge


def _tiny_llava_15() -> LlavaForConditionalGeneration:
    # LLaVA-1.5's structure (CLIP ViT, 2-layer GELU projector, Llama with SwiGLU MLP,
    # penultimate-layer features, CLS dropped) at toy sizes.
    torch.manual_seed(0)
    vision = CLIPVisionConfig(
        image_size=28, patch_size=14, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64,
    )  # fmt: skip
    text = LlamaConfig(
        vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=128, max_position_embeddings=64,
    )  # fmt: skip
    config = LlavaConfig(
        vision_config=vision, text_config=text, image_token_index=99, vision_feature_layer=-2,
        vision_feature_select_strategy="default", projector_hidden_act="gelu",
    )  # fmt: skip
    return LlavaForConditionalGeneration(config)


def _inputs() -> dict[str, torch.Tensor]:
    ids = torch.tensor([[1, 99, 99, 99, 99, 5, 6, 7]])
    return {
        "input_ids": ids,
        "pixel_values": torch.randn(1, 3, 28, 28),
        "attention_mask": torch.ones_like(ids),
    }


def test_only_lm_adapters_and_projector_train() -> None:
    model = add_lora(_tiny_llava_15(), rank=4)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    assert all("lora_" in n or "multi_modal_projector" in n for n in trainable), trainable
    assert not any("vision_tower" in n for n in trainable)
    lm_adapters = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable if "lora_" in n}
    assert lm_adapters == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }


def test_merge_gives_a_plain_llava_with_the_same_outputs() -> None:
    model = add_lora(_tiny_llava_15(), rank=4)
    with torch.no_grad():  # adapters start at zero; make them matter
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    model.eval()
    inputs = _inputs()
    with torch.no_grad():
        before = model(**inputs).logits
        merged = merge(model)
        after = merged(**inputs).logits
    assert isinstance(merged, LlavaForConditionalGeneration)
    assert not any("lora" in k for k in merged.state_dict())
    assert torch.allclose(before, after, atol=1e-4)
