import numpy as np
import pytest
import torch
from PIL import Image
from transformers import PreTrainedTokenizerFast

from locvlm.coords import get_codec
from locvlm.model.build import build_processor, image_stats
from locvlm.model.config import get_preset
from locvlm.model.inputs import IGNORE, Encoder, pixels, prompt_batch, rows_batch
from locvlm.model.tokenizer import build_tokenizer, task_corpus


@pytest.fixture(scope="module")
def tok() -> PreTrainedTokenizerFast:
    codec = get_codec("ivb", bins=32)
    return build_tokenizer(codec, 640, list(task_corpus(codec, scenes=100)))


def _image(w: int, h: int) -> Image.Image:
    rng = np.random.default_rng(w * h)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def test_pixels_match_the_saved_processor(tok: PreTrainedTokenizerFast) -> None:
    preset = get_preset("tiny-shapes")
    processor = build_processor(preset, tok)
    images = [_image(200, 100), _image(48, 96)]
    ours = pixels(images, preset.vision.image_size, *image_stats())
    theirs = processor.image_processor(images, return_tensors="pt")["pixel_values"]
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_prompt_ids_match_the_processor_expansion(tok: PreTrainedTokenizerFast) -> None:
    preset = get_preset("tiny-shapes")
    processor = build_processor(preset, tok)
    encoder = Encoder(tok, preset.image_tokens, 64, *image_stats())
    from locvlm.model.prompt_format import prompt

    text = prompt("Where is the red circle?")
    theirs = processor(images=[_image(64, 64)], text=[text], return_tensors="pt")["input_ids"][0]
    assert encoder.prompt_ids("Where is the red circle?") == theirs.tolist()


def test_labels_cover_only_the_answer(tok: PreTrainedTokenizerFast) -> None:
    encoder = Encoder(tok, 64, 64, *image_stats())
    batch = encoder.batch(
        [(_image(64, 64), "Where is it?", "[1, 2, 3, 4]"), (_image(64, 64), "Q?", "no")]
    )
    for row in range(2):
        labelled = batch.labels[row][batch.labels[row] != IGNORE].tolist()
        text = tok.decode(labelled)
        assert text.strip() in {"[1, 2, 3, 4]</s>", "no</s>"}
        assert labelled[-1] == tok.eos_token_id
    assert batch.pixel_values.shape == (2, 3, 64, 64)


def test_prompt_batch_is_left_padded(tok: PreTrainedTokenizerFast) -> None:
    encoder = Encoder(tok, 64, 64, *image_stats())
    batch = prompt_batch(encoder, [_image(64, 64)] * 2, ["Q?", "A much longer question here?"])
    assert batch["attention_mask"][0, 0] == 0
    assert batch["attention_mask"][0, -1] == 1
    assert batch["input_ids"][0, -1] == batch["input_ids"][1, -1]  # both end with the prompt end


def test_rows_batch_pads_rows_already_built(tok: PreTrainedTokenizerFast) -> None:
    encoder = Encoder(tok, 64, 64, *image_stats())
    first = encoder.prompt_ids("List every object.") + encoder.answer_ids("red circle [1, 2, 3, 4]")
    rows = [encoder.prompt_ids("Q?"), first + encoder.follow_up_ids("Where is it?")]
    batch = rows_batch(encoder, [_image(64, 64)] * 2, rows)
    assert batch["input_ids"].shape == (2, len(rows[1]))
    assert batch["input_ids"][1].tolist() == rows[1]
    assert batch["input_ids"][0, -len(rows[0]) :].tolist() == rows[0]
    assert int(batch["attention_mask"][0].sum()) == len(rows[0])  # left padding masked
    same = prompt_batch(encoder, [_image(64, 64)], ["Q?"])
    assert torch.equal(
        rows_batch(encoder, [_image(64, 64)], rows[:1])["input_ids"], same["input_ids"]
    )
    assert batch["pixel_values"].shape[0] == 2


def test_conversations_match_the_chat_template(tok: PreTrainedTokenizerFast) -> None:
    preset = get_preset("tiny-shapes")
    processor = build_processor(preset, tok)
    encoder = Encoder(tok, preset.image_tokens, 64, *image_stats(), preset.image_first)
    turns = [("Where is the red circle?", "[1, 2, 3, 4]"), ("How many circles?", "2")]
    messages = [
        {"role": "user", "content": [{"type": "text", "text": turns[0][0]}, {"type": "image"}]},
        {"role": "assistant", "content": turns[0][1]},
        {"role": "user", "content": turns[1][0]},
        {"role": "assistant", "content": turns[1][1]},
    ]
    text = processor.apply_chat_template(messages, tokenize=False)
    # the template writes BOS itself (as vLLM's chat endpoint expects): no second one
    theirs = processor(images=[_image(64, 64)], text=[text], return_tensors="pt",
                       add_special_tokens=False)["input_ids"][0]  # fmt: skip
    batch = encoder.conversations([(_image(64, 64), turns)])
    assert batch.input_ids[0].tolist() == theirs.tolist()
    labelled = batch.labels[0][batch.labels[0] != IGNORE].tolist()
    assert tok.decode(labelled) == " [1, 2, 3, 4]</s> 2</s>"


def test_a_conversation_needs_a_question(tok: PreTrainedTokenizerFast) -> None:
    with pytest.raises(ValueError, match="at least one"):
        Encoder(tok, 64, 64, *image_stats()).conversations([(_image(64, 64), [])])
