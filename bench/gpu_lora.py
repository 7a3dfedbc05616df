"""GPU check: LoRA steps on a random model shaped like LLaVA-1.5-7B, in bf16.

    PYTHONPATH=server:client python bench/gpu_lora.py [--steps 8] [--batch 4] [--out r.json]
    python bench/gpu_lora.py --tiny --device cpu --steps 2   # the smoke test's few steps

No weights are downloaded: the config is LLaVA-1.5-7B's (CLIP ViT-L/14 at 336 px, 2-layer
MLP projector, Llama-2-7B with its 32064-token vocabulary), built and randomly
initialised on the GPU. Reports step time, tokens/s and peak memory for LoRA rank 16
on the LM's projections with gradient checkpointing (the `llava-1.5` preset's recipe).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

from locvlm.model.lora import add_lora

IMAGE_TOKEN = 32000
IMAGE_TOKENS = 576  # (336 / 14) ** 2, CLS dropped


def llava15_7b_config(tiny: bool = False) -> LlavaConfig:
    """LLaVA-1.5-7B's architecture, as in llava-hf/llava-1.5-7b-hf's config.

    `tiny` keeps the shapes that matter to the code path (image size, patch, vocabulary)
    and shrinks widths and depths, for a CPU smoke test.
    """
    width, depth = 64, 1  # only read when tiny
    vision = CLIPVisionConfig(
        hidden_size=width if tiny else 1024, intermediate_size=4 * width if tiny else 4096,
        num_hidden_layers=depth if tiny else 24, num_attention_heads=2 if tiny else 16,
        image_size=336, patch_size=14, projection_dim=width if tiny else 768,
    )  # fmt: skip
    text = LlamaConfig(
        vocab_size=32064, hidden_size=width if tiny else 4096,
        intermediate_size=4 * width if tiny else 11008, num_hidden_layers=depth if tiny else 32,
        num_attention_heads=2 if tiny else 32, num_key_value_heads=2 if tiny else 32,
        max_position_embeddings=4096, rms_norm_eps=1e-5,
    )  # fmt: skip
    return LlavaConfig(
        vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN,
        vision_feature_layer=-2, vision_feature_select_strategy="default",
        projector_hidden_act="gelu",
    )  # fmt: skip


def main() -> None:
    """Build, wrap with LoRA, run timed steps, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--text-tokens", type=int, default=128)
    parser.add_argument("--out", default="gpu_lora.json")
    parser.add_argument("--device", default="cuda", help="cuda; cpu only with --tiny")
    parser.add_argument("--tiny", action="store_true", help="a small model of the same shape")
    args = parser.parse_args()
    device = args.device
    cuda = device.startswith("cuda")
    torch.manual_seed(0)
    start = time.time()
    with torch.device(device):
        torch.set_default_dtype(torch.bfloat16)
        model = LlavaForConditionalGeneration(llava15_7b_config(args.tiny))
        torch.set_default_dtype(torch.float32)
    build_s = time.time() - start
    model.gradient_checkpointing_enable()
    model.enable_input_require_grads()
    model = add_lora(model, rank=16)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4)
    text = torch.randint(0, 32000, (args.batch, args.text_tokens), device=device)
    image = torch.full((args.batch, IMAGE_TOKENS), IMAGE_TOKEN, device=device)
    ids = torch.cat([text[:, :1], image, text[:, 1:]], dim=1)
    pixels = torch.randn(args.batch, 3, 336, 336, device=device, dtype=torch.bfloat16)
    times = []
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for step in range(args.steps):
        sync()
        t0 = time.time()
        loss = model(input_ids=ids, pixel_values=pixels, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        times.append(time.time() - t0)
        print(f"step {step} loss {loss.item():.3f} {times[-1]:.3f}s", flush=True)
    timed = times[2:] or times  # the first steps include kernel selection
    step_s = sum(timed) / len(timed)
    report = {
        "device": torch.cuda.get_device_name() if cuda else device,
        "tiny": args.tiny,
        "torch": torch.__version__,
        "params_total_b": round(sum(p.numel() for p in model.parameters()) / 1e9, 3),
        "params_trainable_m": round(sum(p.numel() for p in params) / 1e6, 2),
        "batch": args.batch,
        "tokens_per_sequence": ids.shape[1],
        "build_s": round(build_s, 1),
        "step_s_mean": round(step_s, 3),
        "tokens_per_s": round(args.batch * ids.shape[1] / step_s),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "steps": args.steps,
        "lora_rank": 16,
        "gradient_checkpointing": True,
    }
    print(json.dumps(report, indent=2))
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
