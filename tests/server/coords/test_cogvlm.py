"""CogVLM: `[[x1,y1,x2,y2]]`, thousandths zero-padded to three digits.

Sources: the CogVLM README (THUDM/CogVLM, "Format of coordination": relative coordinates
x 1000, prefixed with zeros to three digits; example `[[086,540,400,760]]`) and the
CogAgent example answer "... at the box [[212,498,787,564]]".
"""

from collections.abc import Callable

import pytest

from locvlm.coords import get_codec
from locvlm_client import Box

Check = Callable[..., None]
CODEC = get_codec("cogvlm")
SIZE = (1000, 500)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[086,540,400,760]]", [(86, 270, 400, 380)]),  # README example
        (
            "Grounded Operation:[combobox] Search -> TYPE: CogVLM at the box [[212,498,787,564]]",
            [(212, 249, 787, 282)],
        ),  # CogAgent README answer
        (
            "[[086,540,400,760];[520,110,730,700]]",
            [(86, 270, 400, 380), (520, 55, 730, 350)],
        ),  # several boxes of one object
        (
            "A man[[086,540,400,760]] rides a horse[[520,110,730,700]].",
            [(86, 270, 400, 380), (520, 55, 730, 350)],
        ),  # grounded caption, two objects
        ("[[ 086, 540 ,400 , 760 ]]", [(86, 270, 400, 380)]),  # extra whitespace
        ("[[86,540,400,760]]", [(86, 270, 400, 380)]),  # padding dropped
        ("[[400,760,086,540]]", [(86, 270, 400, 380)]),  # swapped corners
        ("[[900,100,1200,300]]", [(900, 50, 1000, 150)]),  # out of range: clipped
        ("[[086,540,400,760];[520,110", [(86, 270, 400, 380)]),  # truncated second box
        ("There is no such object in the picture.", []),  # garbage
    ],
)
def test_decode(text: str, expected: list[tuple[object, ...]], check_decode: Check) -> None:
    check_decode(CODEC, text, SIZE, expected)


@pytest.mark.parametrize(
    ("boxes", "text"),
    [
        ([(10, 20, 300, 400)], "[[010,040,300,800]]"),  # one box, zero-padded
        ([(0, 0, 1000, 500)], "[[000,000,999,999]]"),  # the far edge is written 999
        (
            [(10, 20, 300, 400), (86, 270, 400, 380)],
            "[[010,040,300,800];[086,540,400,760]]",
        ),  # several boxes share the outer brackets
    ],
)
def test_encode(boxes: list[tuple[float, ...]], text: str, check_encode: Check) -> None:
    check_encode(CODEC, boxes, SIZE, text)


def test_encode_rejects_a_box_outside_the_image() -> None:
    with pytest.raises(ValueError, match="outside"):
        CODEC.encode([Box(x1=0, y1=0, x2=10, y2=600)], SIZE)
