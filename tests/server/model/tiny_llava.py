"""A tiny random LLaVA (CLIP vision + Llama text) and its processor, built offline.

Shared by the export tests and the vLLM tier (`from tests.server.model.tiny_llava import ...`).
The model and processor come from the project's own builders (`locvlm.model.build`) with a
tiny preset; only the tokenizer is the tests' own (see `build_tokenizer`). Sizes respect
vLLM's CPU backend: its attention kernels take head sizes from 32 up, so the text model has
one 32-wide head.
"""

import os
import string

import numpy as np
import torch
from PIL import Image
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast

from locvlm.model import build
from locvlm.model.config import ModelPreset, TextConfig, VisionConfig
from locvlm.model.prompt_format import IMAGE_TOKEN, prompt

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TINY = ModelPreset(
    name="test-tiny",
    vision=VisionConfig(image_size=32, patch_size=8, hidden=32, layers=2, heads=1, mlp=64),
    text=TextConfig(hidden=32, layers=2, heads=1, mlp=64, max_positions=256),
    image_first=True,  # "USER: <image>\n{question} ASSISTANT:", LLaVA-1.5's order
)
IMAGE_SIZE = TINY.vision.image_size
QUESTIONS = [
    "Where is the red square?",
    "Detect every circle.",
    "How many triangles are there?",
    "What is left of the blue box?",
    "Describe the image.",
    "Find the green shape.",
    "Is the star above the moon?",
    "Give the box of the largest object.",
    "Which shape is closest to the corner?",
    "Count the small squares.",
]
_CORPUS = [
    *QUESTIONS,
    "USER: ASSISTANT: the red square is at the top left of the image.",
    "There are three circles and two triangles on a white background.",
    "The box is [12, 40, 56, 90] and the label is square.",
    "A blue star sits below a yellow moon near the right edge.",
]
ASSORTED_SIZES = ((32, 32), (48, 40), (64, 64), (40, 56))


def question_prompt(question: str) -> str:
    """The model input for `question`, as the server writes it."""
    return prompt(question, image_first=TINY.image_first)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on a few sentences; `<image>` is an added special token.

    Its alphabet is printable ASCII only (no byte fallback), so whatever a random model
    generates decodes to whole characters: two engines' texts compare exactly instead of
    differing in how they show a trailing half of a UTF-8 sequence.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<pad>", "<s>", "</s>", IMAGE_TOKEN],
        show_progress=False,
    )
    tok.train_from_iterator([*_CORPUS, string.printable], trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        extra_special_tokens={"image_token": IMAGE_TOKEN},
    )


def build_processor() -> LlavaProcessor:
    """The project's processor for the tiny preset, beside the tests' tokenizer."""
    return build.build_processor(TINY, build_tokenizer())


def build_model(
    processor: LlavaProcessor, seed: int = 0, tie_embeddings: bool = False
) -> LlavaForConditionalGeneration:
    """A random fp32 LLaVA of the tiny preset, sized to the processor's tokenizer."""
    model = build.build_model(TINY, processor.tokenizer, seed=seed)
    if tie_embeddings:
        config = model.config
        config.tie_word_embeddings = config.get_text_config().tie_word_embeddings = True
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(config)
    # Random init at std 0.02 gives near-uniform logits, where fp32 rounding differences
    # between two engines flip argmaxes; wider weights make greedy decoding well separated.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.3)
    return model.eval()


def build_images(
    n: int, seed: int = 0, sizes: tuple[tuple[int, int], ...] = ASSORTED_SIZES
) -> list[Image.Image]:
    """`n` random RGB images, cycling through `sizes` (width, height)."""
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for w, h in (sizes[i % len(sizes)] for i in range(n))
    ]


@torch.no_grad()
def greedy_texts(
    model: LlavaForConditionalGeneration,
    processor: LlavaProcessor,
    cases: list[tuple[Image.Image, str]],
    max_new_tokens: int = 8,
) -> list[str]:
    """Greedy completions (new tokens only, special tokens dropped) of `(image, prompt)`s."""
    texts = []
    for image, text in cases:
        inputs = processor(images=image, text=text, return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        new = out[0, inputs["input_ids"].shape[1] :]
        texts.append(processor.tokenizer.decode(new, skip_special_tokens=True))
    return texts
