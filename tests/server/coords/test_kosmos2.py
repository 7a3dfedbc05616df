"""Kosmos-2: `<patch_index_NNNN>` pairs on a 32 x 32 grid, phrases in `<phrase>...</phrase>`.

Source: the transformers Kosmos-2 docs / `Kosmos2Processor.post_process_generation`
example: the raw generation below and its entities `('a snowman', ...,
[(0.390625, 0.046875, 0.984375, 0.828125)])`, `('a fire', ..., [(0.171875, 0.015625,
0.484375, 0.890625)])`; `patch_index_to_coordinate` for the whole-cell cases.
"""

from collections.abc import Callable

import pytest

from locvlm.coords import get_codec

Check = Callable[..., None]
CODEC = get_codec("kosmos2")
SIZE = (640, 480)
SNOWMAN = (250, 22.5, 630, 397.5)  # (0.390625, 0.046875, 0.984375, 0.828125) of 640 x 480
FIRE = (110, 7.5, 310, 427.5)  # (0.171875, 0.015625, 0.484375, 0.890625)
DOCS = (
    "<grounding> An image of<phrase> a snowman</phrase><object><patch_index_0044>"
    "<patch_index_0863></object> warming himself by<phrase> a fire</phrase><object>"
    "<patch_index_0005><patch_index_0911></object>."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DOCS, [("a snowman", SNOWMAN), ("a fire", FIRE)]),  # transformers docs example
        (
            "<phrase> two things</phrase><object><patch_index_0044><patch_index_0863>"
            "</delimiter_of_multi_objects/><patch_index_0005><patch_index_0911></object>",
            [("two things", SNOWMAN), ("two things", FIRE)],
        ),  # several boxes in one object
        ("<object><patch_index_0044><patch_index_0863></object>", [(None, SNOWMAN)]),  # no phrase
        (
            "<phrase> a snowman </phrase> <object> <patch_index_0044> <patch_index_0863> </object>",
            [("a snowman", SNOWMAN)],
        ),  # extra whitespace
        ("<object><patch_index_0863><patch_index_0044></object>", [(None, SNOWMAN)]),  # swapped
        (
            "<object><patch_index_0033><patch_index_0040></object>",
            [(None, (20, 15, 180, 30))],
        ),  # same row: whole cells
        (
            "<object><patch_index_0005><patch_index_0101></object>",
            [(None, (100, 0, 120, 60))],
        ),  # same column: whole cells
        (
            "<object><patch_index_0000><patch_index_0000></object>",
            [(None, (0, 0, 20, 15))],
        ),  # one cell
        ("<object><patch_index_1024><patch_index_1030></object>", []),  # beyond the grid: dropped
        (DOCS[: DOCS.index("<patch_index_0911>")], [("a snowman", SNOWMAN)]),  # truncated 2nd box
        (
            "<phrase> a snowman</phrase><object><patch_index_0044><patch_index_0863>",
            [("a snowman", SNOWMAN)],
        ),  # truncated before </object>: the pair is complete
        ("An image of a snowman warming himself by a fire.", []),  # garbage
    ],
)
def test_decode(text: str, expected: list[tuple[object, ...]], check_decode: Check) -> None:
    check_decode(CODEC, text, SIZE, expected)


@pytest.mark.parametrize(
    ("boxes", "text"),
    [
        (
            [SNOWMAN],
            "<object><patch_index_0044><patch_index_0863></object>",
        ),  # the docs' box encodes to the docs' tokens
        ([(10, 20, 300, 400)], "<object><patch_index_0032><patch_index_0846></object>"),  # one box
        (
            [(0, 0, 640, 480)],
            "<object><patch_index_0000><patch_index_1023></object>",
        ),  # whole image
        (
            [SNOWMAN, FIRE],
            "<object><patch_index_0044><patch_index_0863></delimiter_of_multi_objects/>"
            "<patch_index_0005><patch_index_0911></object>",
        ),  # several boxes in one object
    ],
)
def test_encode(boxes: list[tuple[float, ...]], text: str, check_encode: Check) -> None:
    check_encode(CODEC, boxes, SIZE, text)


def test_bad_grid_is_rejected() -> None:
    with pytest.raises(ValueError, match="kosmos2"):
        get_codec("kosmos2", grid=101)
