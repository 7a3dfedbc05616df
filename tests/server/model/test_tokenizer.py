import pytest
from transformers import PreTrainedTokenizerFast

from locvlm.coords import get_codec
from locvlm.model.prompt_format import IMAGE_TOKEN, prompt
from locvlm.model.tokenizer import build_tokenizer, task_corpus


@pytest.fixture(scope="module")
def tok() -> PreTrainedTokenizerFast:
    codec = get_codec("ivb", bins=32)
    return build_tokenizer(codec, 640, list(task_corpus(codec, scenes=150)))


def test_every_bin_is_one_token(tok: PreTrainedTokenizerFast) -> None:
    for k in range(32):
        for text in (str(k), f" {k}"):
            assert len(tok(text, add_special_tokens=False).input_ids) == 1, text


@pytest.mark.parametrize(
    "text",
    [
        "Where is the red circle?",  # in vocabulary
        "Where is the zebra crossing? 🦓 ünïcode",  # never seen: bytes still encode
        "  odd\tspacing\n",  # whitespace kept
    ],
)
def test_byte_level_round_trip(tok: PreTrainedTokenizerFast, text: str) -> None:
    ids = tok(text, add_special_tokens=False).input_ids
    assert tok.unk_token_id not in ids
    assert tok.decode(ids) == text
    # raw token strings concatenate to the text (what constrained decoding matches)
    raw = "".join(tok.convert_ids_to_tokens(ids))
    assert tok.convert_tokens_to_string(tok.convert_ids_to_tokens(ids)) == text
    assert raw  # byte-level symbols, one per byte sequence


def test_image_token_is_special_and_bos_is_added(tok: PreTrainedTokenizerFast) -> None:
    ids = tok(prompt("Where is the red circle?")).input_ids
    image_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    assert ids[0] == tok.bos_token_id
    assert ids.count(image_id) == 1
    assert IMAGE_TOKEN in tok.all_special_tokens
