"""Shikra: `[x1,y1,x2,y2;...]`, normalized floats with 3 decimals.

Format source: Shikra's `PlainBoxFormatter` (shikras/shikra, precision=3): numbers joined
by `,`, boxes of one object by `;`, inside one pair of square brackets.
"""

from collections.abc import Callable

import pytest

from locvlm.coords import get_codec
from locvlm_client import Box

Check = Callable[..., None]
CODEC = get_codec("shikra")
SIZE = (1000, 500)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[0.102,0.345,0.512,0.789]", [(102, 172.5, 512, 394.5)]),  # documented single box
        (
            "[0.102,0.345,0.512,0.789;0.600,0.100,0.900,0.400]",
            [(102, 172.5, 512, 394.5), (600, 50, 900, 200)],
        ),  # several boxes in one bracket pair
        (
            "A man[0.022,0.141,0.598,0.998] riding a horse[0.500,0.200,0.990,0.990].",
            [(22, 70.5, 598, 499), (500, 100, 990, 495)],
        ),  # boxes woven into prose
        ("[ 0.102 , 0.345,0.512 ,  0.789 ]", [(102, 172.5, 512, 394.5)]),  # extra whitespace
        ("0.102 0.345 0.512 0.789", [(102, 172.5, 512, 394.5)]),  # missing brackets and commas
        ("[0.512,0.789,0.102,0.345]", [(102, 172.5, 512, 394.5)]),  # swapped corners
        ("[-0.100,0.500,1.200,0.900]", [(0, 250, 1000, 450)]),  # out of range: clipped
        ("[1.100,1.200,1.500,1.900]", []),  # wholly outside the image: dropped
        (
            "[0.102,0.345,0.512,0.789;0.600,0.1",
            [(102, 172.5, 512, 394.5)],
        ),  # truncated second box
        ("I cannot see a dog in this image.", []),  # garbage
    ],
)
def test_decode(text: str, expected: list[tuple[object, ...]], check_decode: Check) -> None:
    check_decode(CODEC, text, SIZE, expected)


@pytest.mark.parametrize(
    ("boxes", "text"),
    [
        ([(10, 20, 300, 400)], "[0.010,0.040,0.300,0.800]"),  # one box
        (
            [(10, 20, 300, 400), (0, 0, 1000, 500)],
            "[0.010,0.040,0.300,0.800;0.000,0.000,1.000,1.000]",
        ),  # several boxes share the brackets
        ([], ""),  # no boxes
    ],
)
def test_encode(boxes: list[tuple[float, ...]], text: str, check_encode: Check) -> None:
    check_encode(CODEC, boxes, SIZE, text)


def test_encode_rejects_a_box_outside_the_image() -> None:
    with pytest.raises(ValueError, match="outside"):
        CODEC.encode([Box(x1=0, y1=0, x2=2000, y2=10)], SIZE)
