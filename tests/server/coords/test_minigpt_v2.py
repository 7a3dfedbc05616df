"""MiniGPT-v2: `{<x1><y1><x2><y2>}` on 0-100, phrases in `<p>...</p>`, boxes joined by `<delim>`.

Sources: the MiniGPT-v2 paper (arXiv 2310.09478: "{<Xleft><Ytop><Xright><Ybottom>}",
integers normalized to [0, 100]) and the answers quoted in the comments of the
MiniGPT-v2 demo (`demo_v2.py`, which divides by 100): `<p>sofas</p> {<57><49><70><72>}
<delim>{<26><48><43><71>}` and the grounded caption pieces `A young man</p> {<8><0><62><91>`,
`a suit</p> {<7><35><56><88>`. GeoChat, built on MiniGPT-v2, appends an angle `|<90>`.
"""

from collections.abc import Callable

import pytest

from locvlm.coords import get_codec
from locvlm_client import Box

Check = Callable[..., None]
CODEC = get_codec("minigpt_v2")
SIZE = (640, 480)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "<p>sofas</p> {<57><49><70><72>}<delim>{<26><48><43><71>}",
            [("sofas", (364.8, 235.2, 448, 345.6)), ("sofas", (166.4, 230.4, 275.2, 340.8))],
        ),  # demo answer: two boxes of one phrase
        (
            "<p>A young man</p> {<8><0><62><91>} wearing <p>a suit</p> {<7><35><56><88>}",
            [("A young man", (51.2, 0, 396.8, 436.8)), ("a suit", (44.8, 168, 358.4, 422.4))],
        ),  # demo grounded caption: labels
        ("{<10><20><30><40>}", [(None, (64, 96, 192, 192))]),  # no phrase
        ("{ < 10 > <20> <30><40> }", [(None, (64, 96, 192, 192))]),  # extra whitespace
        ("<10><20><30><40>", [(None, (64, 96, 192, 192))]),  # missing braces
        ("{<30><40><10><20>}", [(None, (64, 96, 192, 192))]),  # swapped corners
        ("{<50><50><120><150>}", [(None, (320, 240, 640, 480))]),  # out of range: clipped
        (
            "<p>a dog</p> sits next to {<10><20><30><40>}",
            [(None, (64, 96, 192, 192))],
        ),  # prose between phrase and box: no label
        (
            "{<80><8><100><24>|<90>}",
            [(None, (512, 38.4, 640, 115.2))],
        ),  # GeoChat's trailing angle ignored
        (
            "<p>sofas</p> {<57><49><70><72>}<delim>{<26><48><43>",
            [("sofas", (364.8, 235.2, 448, 345.6))],
        ),  # truncated second box
        ("There is no <p>cat</p> here.", []),  # garbage
    ],
)
def test_decode(text: str, expected: list[tuple[object, ...]], check_decode: Check) -> None:
    check_decode(CODEC, text, SIZE, expected)


@pytest.mark.parametrize(
    ("boxes", "text"),
    [
        ([(10, 20, 300, 400)], "{<2><4><47><83>}"),  # one box
        ([(0, 0, 640, 480)], "{<0><0><100><100>}"),  # the whole image: 100 is written
        (
            [(10, 20, 300, 400), (0, 0, 640, 480)],
            "{<2><4><47><83>}<delim>{<0><0><100><100>}",
        ),  # several boxes joined by <delim>
    ],
)
def test_encode(boxes: list[tuple[float, ...]], text: str, check_encode: Check) -> None:
    check_encode(CODEC, boxes, SIZE, text)


def test_encode_rejects_a_box_outside_the_image() -> None:
    with pytest.raises(ValueError, match="outside"):
        CODEC.encode([Box(x1=0, y1=0, x2=10, y2=481)], SIZE)
