"""Qwen2-VL: `<|object_ref_start|>label<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`.

Sources: the Qwen2-VL grounding format (model card / report: special tokens around the
phrase and the box, coordinates normalized to [0, 1000)); the answers below are Qwen2-VL
generations quoted in public code: a GUI grounding answer ending in `<|im_end|>` and a
multi-instance answer (`birch tree` with two box groups).
"""

from collections.abc import Callable

import pytest

from locvlm.coords import get_codec

Check = Callable[..., None]
CODEC = get_codec("qwen2_vl")
SIZE = (640, 480)
BIRCH_1 = (339.2, 168.48, 385.28, 247.68)  # (530,351),(602,516) of 1000
BIRCH_2 = (112.64, 50.88, 148.48, 76.8)  # (176,106),(232,160)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "<|object_ref_start|>language switch<|object_ref_end|>"
            "<|box_start|>(576,12),(592,42)<|box_end|><|im_end|>",
            [("language switch", (368.64, 5.76, 378.88, 20.16))],
        ),  # quoted answer with a label
        (
            "<|object_ref_start|>birch tree<|object_ref_end|><|box_start|>(530,351),(602,516)"
            "<|box_end|><|box_start|>(176,106),(232,160)<|box_end|>",
            [("birch tree", BIRCH_1), ("birch tree", BIRCH_2)],
        ),  # several boxes of one phrase
        ("birch tree(530,351),(602,516)", [(None, BIRCH_1)]),  # special tokens skipped
        (
            "<|box_start|>( 530 , 351 ) , ( 602, 516 )<|box_end|>",
            [(None, BIRCH_1)],
        ),  # extra whitespace
        ("<|box_start|>530,351,602,516<|box_end|>", [(None, BIRCH_1)]),  # missing parentheses
        ("<|box_start|>(602,516),(530,351)<|box_end|>", [(None, BIRCH_1)]),  # swapped corners
        (
            "<|box_start|>(-20,500),(1100,999)<|box_end|>",
            [(None, (0, 240, 640, 479.52))],
        ),  # out of range: clipped
        (
            "<|object_ref_start|>birch tree<|object_ref_end|><|box_start|>(530,351),(602,516)"
            "<|box_end|><|box_start|>(176,106),(23",
            [("birch tree", BIRCH_1)],
        ),  # truncated second box
        ("There is no birch tree in the image.", []),  # garbage
    ],
)
def test_decode(text: str, expected: list[tuple[object, ...]], check_decode: Check) -> None:
    check_decode(CODEC, text, SIZE, expected)


@pytest.mark.parametrize(
    ("boxes", "text"),
    [
        ([(10, 20, 300, 400)], "<|box_start|>(16,42),(469,833)<|box_end|>"),  # one box
        (
            [(10, 20, 300, 400), (0, 0, 640, 480)],
            "<|box_start|>(16,42),(469,833)<|box_end|><|box_start|>(0,0),(1000,1000)<|box_end|>",
        ),  # several boxes follow each other
    ],
)
def test_encode(boxes: list[tuple[float, ...]], text: str, check_encode: Check) -> None:
    check_encode(CODEC, boxes, SIZE, text)
