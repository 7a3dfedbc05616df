"""Tiny random-weight checkpoints of other model families, built offline in the tests.

Each is the family's own transformers config, model class and processor class at a few
MB, with a tokenizer of our own (byte-level BPE over printable ASCII and the digits,
plus the family's special tokens), saved with `save_pretrained` so that
`locvlm serve --model DIR` loads it as it would the real checkpoint. Nothing is
downloaded, nothing is committed. Text models have one 32-wide head (vLLM's CPU
attention takes head sizes from 32).
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

os.environ.setdefault("HF_HUB_OFFLINE", "1")

__all__ = ["FAMILIES", "build_family"]

_CORPUS = [
    "Locate every red circle in the image and output the bbox coordinates in JSON format.",
    '[{"bbox_2d": [12, 40, 56, 90], "label": "red circle"}]',
    "detect blue square ; green triangle",
    "There is no yellow star.",
    string.printable,
]


def _tokenizer(
    special: list[str], extra: list[str], named: dict[str, str] | None = None, **roles: str
) -> PreTrainedTokenizerFast:
    """BPE over `_CORPUS` with `special` tokens and `extra` ones that are not special.

    `roles` names the pad, eos, bos and unk tokens, `named` extra special roles such as
    `image_token`; `extra` tokens are box markup the decoder must keep.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=special, show_progress=False)
    tok.train_from_iterator(_CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        extra_special_tokens=named or {},
        **{f"{k}_token": v for k, v in roles.items()},
    )
    fast.add_tokens(extra)
    return fast


def _widen(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Wider random weights: greedy decoding then picks well-separated tokens."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.3)
    return model.eval()


_QWEN_SPECIAL = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|image_pad|>", "<|video_pad|>",
]  # fmt: skip
_QWEN_BOXES = ["<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>"]


def _qwen(out: Path, family: str, seed: int) -> None:
    import transformers as tf

    tok = _tokenizer(_QWEN_SPECIAL, _QWEN_BOXES, pad="<|endoftext|>", eos="<|im_end|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in _QWEN_SPECIAL}
    text = {
        "vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 1, "num_attention_heads": 1, "num_key_value_heads": 1,
        "max_position_embeddings": 2048,
        "rope_scaling": {"type": "mrope", "mrope_section": [4, 6, 6]},
        "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"],
    }  # fmt: skip
    vision = {"depth": 1, "hidden_size": 32, "num_heads": 1, "patch_size": 14,
              "spatial_merge_size": 2, "temporal_patch_size": 2}  # fmt: skip
    if family == "qwen2_vl":
        config_cls, model_cls, proc_cls = (
            tf.Qwen2VLConfig,
            tf.Qwen2VLForConditionalGeneration,
            tf.Qwen2VLProcessor,
        )
        vision |= {"embed_dim": 32, "mlp_ratio": 2}
    elif family == "qwen2_5_vl":
        config_cls, model_cls, proc_cls = (
            tf.Qwen2_5_VLConfig,
            tf.Qwen2_5_VLForConditionalGeneration,
            tf.Qwen2_5_VLProcessor,
        )
        vision |= {"intermediate_size": 64, "out_hidden_size": 32, "window_size": 112,
                   "fullatt_block_indexes": [0]}  # fmt: skip
    else:
        config_cls, model_cls, proc_cls = (
            tf.Qwen3VLConfig,
            tf.Qwen3VLForConditionalGeneration,
            tf.Qwen3VLProcessor,
        )
        vision |= {"intermediate_size": 64, "out_hidden_size": 32, "num_position_embeddings": 64,
                   "deepstack_visual_indexes": [], "patch_size": 16}  # fmt: skip
        text |= {
            "head_dim": 32,
            "rope_scaling": {
                "rope_type": "default",
                "mrope_section": [4, 6, 6],
                "mrope_interleaved": True,
            },
        }
    config = config_cls(
        text_config=text, vision_config=vision, image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )  # fmt: skip
    torch.manual_seed(seed)
    model = _widen(model_cls(config), seed)
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    # Small images: at most 8 x 8 patches of 14 px (the real default allows 1280 x 4).
    images = tf.Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=112 * 112)
    if family == "qwen3_vl":
        images = tf.Qwen2VLImageProcessorPil(
            min_pixels=32 * 32, max_pixels=128 * 128, patch_size=16
        )
    del proc_cls  # it cannot be built without torchvision: its parts are saved instead
    model.save_pretrained(out)
    images.save_pretrained(out)
    tok.save_pretrained(out)


def _paligemma(out: Path, family: str, seed: int) -> None:
    import transformers as tf

    # "\n" is one token of Gemma's vocabulary; the prompt ends with it (vLLM looks it up).
    tok = _tokenizer(
        ["<pad>", "<eos>", "<bos>", "<unk>"], ["\n"], pad="<pad>", eos="<eos>", bos="<bos>"
    )
    images = tf.SiglipImageProcessorPil(size={"height": 32, "width": 32})
    images.image_seq_length = 16  # (32 / 8) ** 2 patches
    processor = tf.PaliGemmaProcessor(image_processor=images, tokenizer=tok)  # adds <loc>, <seg>
    config = tf.PaliGemmaConfig(
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                       "num_attention_heads": 1, "image_size": 32, "patch_size": 8,
                       "projection_dim": 32, "vision_use_head": False},
        text_config={"model_type": "gemma", "vocab_size": len(tok), "hidden_size": 32,
                     "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 1,
                     "num_key_value_heads": 1, "head_dim": 32, "max_position_embeddings": 512},
        image_token_index=processor.image_token_id, projection_dim=32,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = _widen(tf.PaliGemmaForConditionalGeneration(config), seed)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    _hub_layout(out / "model.safetensors", "vision_tower.", "vision_tower.vision_model.")


def _hub_layout(path: Path, old: str, new: str) -> None:
    """Rename weights to the released checkpoints' layout, where transformers 5 saves
    another (vLLM's loaders read the released one; transformers reads both)."""
    from safetensors.torch import load_file, save_file

    weights = load_file(path)
    renamed = {(new + k[len(old) :] if k.startswith(old) else k): v for k, v in weights.items()}
    save_file(renamed, path, metadata={"format": "pt"})


def _kosmos2(out: Path, family: str, seed: int) -> None:
    import transformers as tf

    tok = _tokenizer(
        ["<s>", "<pad>", "</s>", "<unk>"], [], pad="<pad>", eos="</s>", bos="<s>", unk="<unk>"
    )
    images = tf.CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor = tf.Kosmos2Processor(images, tok)  # adds the tags and patch-index tokens
    config = tf.Kosmos2Config(
        text_config={"vocab_size": len(tok), "embed_dim": 32, "layers": 1, "attention_heads": 1,
                     "ffn_dim": 64, "max_position_embeddings": 512,
                     "pad_token_id": tok.pad_token_id, "eos_token_id": tok.eos_token_id,
                     "bos_token_id": tok.bos_token_id},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                       "num_attention_heads": 1, "image_size": 32, "patch_size": 8},
        latent_query_num=64,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = _widen(tf.Kosmos2ForConditionalGeneration(config), seed)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)


def _florence2(out: Path, family: str, seed: int) -> None:
    import transformers as tf

    locs = [f"<loc_{k}>" for k in range(1000)]
    tasks = ["<OD>", "<CAPTION_TO_PHRASE_GROUNDING>", "<OPEN_VOCABULARY_DETECTION>",
             "<REGION_TO_DESCRIPTION>"]  # fmt: skip
    tok = _tokenizer(["<s>", "<pad>", "</s>", "<unk>", "<image>"], locs + tasks,
                     {"image_token": "<image>"},
                     pad="<pad>", eos="</s>", bos="<s>", unk="<unk>")  # fmt: skip
    images = tf.CLIPImageProcessorPil(
        size={"height": 32, "width": 32},
        crop_size={"height": 32, "width": 32},
        do_center_crop=False,
    )
    images.image_seq_length = 17  # 4 x 4 patches after two stages, and the pooled one
    processor = tf.Florence2Processor(image_processor=images, tokenizer=tok)
    ids = {"pad_token_id": tok.pad_token_id, "eos_token_id": tok.eos_token_id,
           "bos_token_id": tok.bos_token_id}  # fmt: skip
    config = tf.Florence2Config(
        vision_config={"depths": [1, 1], "patch_size": [7, 3], "patch_stride": [4, 2],
                       "patch_padding": [3, 1], "patch_prenorm": [False, True],
                       "embed_dim": [32, 32], "num_heads": [1, 1], "num_groups": [1, 1],
                       "window_size": 2, "projection_dim": 32},
        text_config={"model_type": "bart", "vocab_size": len(tok), "d_model": 32,
                     "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 1,
                     "decoder_attention_heads": 1, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
                     "max_position_embeddings": 512, "decoder_start_token_id": tok.eos_token_id,
                     "forced_bos_token_id": tok.bos_token_id, **ids},
        image_token_id=tok.image_token_id, **ids,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = _widen(tf.Florence2ForConditionalGeneration(config), seed)
    model.generation_config.decoder_start_token_id = tok.eos_token_id
    model.generation_config.forced_bos_token_id = tok.bos_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)


FAMILIES: dict[str, Callable[[Path, str, int], None]] = {
    "florence2": _florence2,
    "paligemma": _paligemma,
    "kosmos2": _kosmos2,
    "qwen2_vl": _qwen,
    "qwen2_5_vl": _qwen,
    "qwen3_vl": _qwen,
}
"""The families with a tiny builder, by adapter name."""


def build_family(family: str, out: Path, seed: int = 0) -> Path:
    """Build the tiny checkpoint of `family` into `out` (created) and return it."""
    out.mkdir(parents=True, exist_ok=True)
    FAMILIES[family](out, family, seed)
    return out
