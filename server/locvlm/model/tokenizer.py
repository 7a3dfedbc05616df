"""A small byte-level BPE tokenizer learnt from the task texts of the shapes world.

Byte-level, so any text a user sends encodes (no unknown tokens) and every token's raw
string concatenates back to the text — what constrained decoding matches against
(`vllm-cpu.md`). Trained on the prompts and answers the task modules write with the
preset's codec, so every coordinate value becomes a single token.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from locvlm.coords import Codec
from locvlm.data.shapes import CATEGORIES, ShapesConfig, render_scene, task_scene
from locvlm.model.prompt_format import ANSWER_PREFIX, IMAGE_TOKEN, prompt
from locvlm.tasks import TASKS

__all__ = ["SPECIAL_TOKENS", "build_tokenizer", "task_corpus"]

BOS, EOS, PAD = "<s>", "</s>", "<pad>"
SPECIAL_TOKENS = (PAD, BOS, EOS, IMAGE_TOKEN)


def task_corpus(codec: Codec, scenes: int = 3000, seed: int = 0) -> Iterator[str]:
    """Prompt + answer texts of every task over random scenes of every contract size."""
    rng = random.Random(seed)
    for i in range(scenes):
        size = None if i % 2 else (128, 128)
        image, objects = render_scene((seed, i), ShapesConfig(size=size))
        scene = task_scene(image.size, objects)
        for task in TASKS.values():
            turn = task.sample(scene, codec, rng, CATEGORIES)
            if turn is not None:
                # question-first, as every tokenizer so far was learnt from (the order
                # moves one newline; changing it would change the learnt merges)
                yield f"{prompt(turn.prompt, image_first=False)} {turn.answer}"
    yield " ".join(CATEGORIES)


def _numbers(codec: Codec) -> list[str]:
    """Every value the codec writes, so each is a token whatever the corpus held."""
    bins = int(codec.config.get("bins", 0))
    return [s for k in range(bins) for s in (str(k), f" {k}")] if bins else []


def build_tokenizer(
    codec: Codec, vocab_size: int, corpus: Sequence[str] | None = None
) -> PreTrainedTokenizerFast:
    """Train the tokenizer; `<image>` and the control tokens are special tokens."""
    texts = list(corpus) if corpus is not None else list(task_corpus(codec))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    # Numbers repeated so that merges for every value are learnt before rarer words.
    tok.train_from_iterator([*texts, *(_numbers(codec) * 20), ANSWER_PREFIX], trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
        extra_special_tokens={"image_token": IMAGE_TOKEN},
    )  # fmt: skip
    fast.padding_side = "left"  # batched generation appends after the prompt
    return fast
